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
