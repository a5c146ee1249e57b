"""cnnfast.optimizers against torch.optim, step by step in float64, and their argument checks."""
import numpy as np
import pytest

from cnnfast import optimizers

STEPS = 6
SHAPES = [(4, 3, 3, 3), (7,), (5, 11)]

CASES = [
    ("SGD", dict(learning_rate=0.1), dict(lr=0.1)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
     dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("SGD", dict(learning_rate=0.05, momentum=0.5, weight_decay=0.1),
     dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("Adam", dict(), dict()),
    ("Adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, weight_decay=0.05),
     dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(learning_rate=0.01, beta_1=0.3), dict(lr=0.01, betas=(0.3, 0.999))),
    ("AdamW", dict(), dict()),
    ("AdamW", dict(learning_rate=0.02, beta_1=0.85, weight_decay=0.3),
     dict(lr=0.02, betas=(0.85, 0.999), weight_decay=0.3)),
]


@pytest.mark.parametrize("name, ours_kw, torch_kw", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch_optim(name, ours_kw, torch_kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s) for s in SHAPES]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    ours = getattr(optimizers, name)(**ours_kw)
    theirs = getattr(torch.optim, name)(tparams, **torch_kw)
    held = [p for p in params]          # the arrays must be updated in place, never replaced
    for _ in range(STEPS):
        grads = [rng.standard_normal(s) for s in SHAPES]
        before = [g.copy() for g in grads]
        ours.step(params, grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        theirs.step()
        for p, tp, g, g0 in zip(params, tparams, grads, before):
            np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
            np.testing.assert_array_equal(g, g0)      # gradients are left as given
    assert all(a is b for a, b in zip(params, held))
    assert ours.iterations == STEPS


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_in_dtype_without_new_arrays(dtype):
    p = np.ones(10, dtype)
    opt = optimizers.Adam(learning_rate=0.1)
    opt.step([p], [np.full(10, 2.0, dtype)])
    assert p.dtype == dtype
    np.testing.assert_allclose(p, 0.9, rtol=1e-6)     # Adam's first step is lr * sign(g)


def test_get_by_name_and_instance():
    assert isinstance(optimizers.get("sgd"), optimizers.SGD)
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    assert isinstance(optimizers.get("adamw"), optimizers.AdamW)
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="optimizer"):
        optimizers.get("rmsprop")
    with pytest.raises(TypeError, match="optimizer"):
        optimizers.get(3)


@pytest.mark.parametrize("cls, kw, exc, word", [
    (optimizers.SGD, dict(learning_rate=-1.0), ValueError, "learning_rate"),
    (optimizers.SGD, dict(learning_rate="0.1"), TypeError, "learning_rate"),
    (optimizers.SGD, dict(momentum=-0.1), ValueError, "momentum"),
    (optimizers.SGD, dict(nesterov=True), ValueError, "nesterov"),
    (optimizers.SGD, dict(nesterov=1, momentum=0.9), TypeError, "nesterov"),
    (optimizers.Adam, dict(beta_1=1.0), ValueError, "beta_1"),
    (optimizers.Adam, dict(beta_2=-0.5), ValueError, "beta_2"),
    (optimizers.Adam, dict(epsilon=float("nan")), ValueError, "epsilon"),
    (optimizers.AdamW, dict(weight_decay=True), TypeError, "weight_decay"),
])
def test_bad_arguments(cls, kw, exc, word):
    with pytest.raises(exc, match=word):
        cls(**kw)


def test_step_checks_pairs():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        opt.step([np.zeros(2), np.zeros(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match="shape"):
        opt.step([np.zeros(2)], [np.zeros(3)])


def test_reset_forgets_state():
    p = np.zeros(3)
    opt = optimizers.SGD(learning_rate=1.0, momentum=0.5)
    opt.step([p], [np.ones(3)])
    opt.step([p], [np.ones(3)])
    np.testing.assert_allclose(p, -2.5)
    opt.reset()
    opt.step([p], [np.ones(3)])
    np.testing.assert_allclose(p, -3.5)
    assert opt.iterations == 1


# ---- adam_step: the C kernel of Adam and AdamW ---------------------------------------------------

import cnnfast  # noqa: E402
from cnnfast import reference as ref  # noqa: E402

ADAM_SETTINGS = [
    dict(),                                                     # lerp weight 0.1: m + w*(g - m)
    dict(beta_1=0.3, weight_decay=0.05),                        # lerp weight 0.7: g - (1-w)*(g - m)
    dict(learning_rate=0.02, weight_decay=0.3, decoupled=True),  # AdamW
]


def _adam_arrays(n, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype),
            (0.1 * rng.standard_normal(n)).astype(dtype), rng.uniform(0, 0.01, n).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", ADAM_SETTINGS, ids=["adam", "adam-lerp-large", "adamw"])
def test_adam_step_equals_the_reference_bit_for_bit(isa, nthreads, dtype, kw):
    """Every operation rounds in the data type in the reference's order (no fused multiply-add):
    whole vectors, a masked tail, one value, and chunks over threads."""
    for n in (1, 15, 16, 17, 1000, 70001):
        got, want = _adam_arrays(n, dtype, n), _adam_arrays(n, dtype, n)
        for step in (1, 2, 7):
            out = cnnfast.adam_step(*got, step, **kw)
            ref.adam_step(*want, step, **kw)
            assert all(a is b for a, b in zip(out, (got[0], got[2], got[3])))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, kw", [("Adam", dict(weight_decay=0.05)),
                                      ("AdamW", dict(learning_rate=0.02, weight_decay=0.3))])
def test_optimizer_takes_the_adam_step(name, kw):
    """The optimizer's fast path and the functional op are the same update; arrays it may not
    update in place get the functional op's error."""
    opt = getattr(optimizers, name)(**kw)
    p, g, m, v = _adam_arrays(300, np.float32, 1)
    m[:], v[:] = 0, 0
    want = p.copy()
    fortran_grad = np.asfortranarray(np.tile(g, (2, 1)))[0]   # a strided gradient: checked path
    for step in (1, 2, 3):
        opt.step([p], [g if step != 2 else fortran_grad])
        cnnfast.adam_step(want, g, m, v, step, decoupled=name == "AdamW", **kw)
    np.testing.assert_array_equal(p, want)
    with pytest.raises(ValueError, match="param is updated in place and must be C-contiguous"):
        opt.step([np.zeros((4, 4), np.float32).T], [np.zeros((4, 4), np.float32)])


P, G, M, V = _adam_arrays(6, np.float64, 0)
RO = P.copy()
RO.flags.writeable = False
ADAM_BAD = [
    ((P, G, M, V, 0), {}),
    ((P, G, M, V, 1.0), {}),
    ((P, G[:5], M, V, 1), {}),
    ((P, G.astype(np.float32), M, V, 1), {}),
    ((P.astype(np.float16), G, M, V, 1), {}),
    ((RO, G, M, V, 1), {}),
    ((P, G, M[::-1], V, 1), {}),
    ((P, G, P, V, 1), {}),
    ((P, G, M, V, 1), dict(beta_1=1.0)),
    ((P, G, M, V, 1), dict(beta_2=-0.1)),
    ((P, G, M, V, 1), dict(learning_rate=float("nan"))),
    ((P, G, M, V, 1), dict(epsilon=-1.0)),
    ((P, G, M, V, 1), dict(decoupled=1)),
]


@pytest.mark.parametrize("args, kw", ADAM_BAD, ids=[str(i) for i in range(len(ADAM_BAD))])
def test_adam_step_refuses_bad_input_as_the_reference(args, kw):
    copies = [a.copy() for a in args if isinstance(a, np.ndarray)]
    with pytest.raises((ValueError, TypeError, OverflowError)) as want:
        ref.adam_step(*args, **kw)
    with pytest.raises(want.type) as got:
        cnnfast.adam_step(*args, **kw)
    assert str(got.value) == str(want.value)
    for a, c in zip([a for a in args if isinstance(a, np.ndarray)], copies):
        np.testing.assert_array_equal(a, c)
