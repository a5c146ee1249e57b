"""The reference batch normalisation (batch_norm, batch_norm_backward) and its fused twins
(batch_norm_relu, batch_norm_relu_backward, fold_batch_norm) against torch.nn.functional when
installed, finite differences, invariants, edge cases and every class of bad input."""
import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cnnfast import reference as ref

DTYPES = [np.float32, np.float64]


def make(shape, dtype, seed=0, affine=True, stats=True):
    """x, gamma, beta, running_mean, running_var (None where not wanted)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + rng.standard_normal((1, c) + (1,) * (len(shape) - 2))
         ).astype(dtype)
    gamma = rng.standard_normal(c).astype(dtype) if affine else None
    beta = rng.standard_normal(c).astype(dtype) if affine else None
    running_mean = rng.standard_normal(c).astype(dtype) if stats else None
    running_var = (rng.random(c) + 0.5).astype(dtype) if stats else None
    return x, gamma, beta, running_mean, running_var


def copy(a):
    return None if a is None else a.copy()


def torch_batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps, dy,
                     relu=False):
    """torch's y, dx, dgamma, dbeta, running_mean, running_var (after the call), in x's dtype."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = (None if a is None else torch.tensor(a, requires_grad=True) for a in (gamma, beta))
    trm, trv = (None if a is None else torch.tensor(a) for a in (running_mean, running_var))
    y = F.batch_norm(tx, trm, trv, tg, tb, training, momentum, eps)
    if relu:
        y = F.relu(y)
    y.backward(torch.tensor(dy))
    grad = (lambda t: None if t is None else t.grad.numpy())
    return (y.detach().numpy(), tx.grad.numpy(), grad(tg), grad(tb),
            None if trm is None else trm.numpy(), None if trv is None else trv.numpy())


def check_against_torch(shape, dtype, training, affine=True, stats=True, momentum=0.1, eps=1e-5,
                        seed=0, relu=False):
    """Each result is a reduction over m = N*H*W values per channel: both sides may err by about
    m*eps(dtype) relative to the magnitudes involved. For y = (x - mean) * invstd those include
    |x| * invstd: the rounding of mean (to |x| * eps) is amplified by invstd, which matters when a
    channel's spread is small next to its values (float32 PyTorch computes mean in float32)."""
    x, gamma, beta, rm, rv = make(shape, dtype, seed, affine, stats)
    forward, backward = ((ref.batch_norm_relu, ref.batch_norm_relu_backward) if relu else
                         (ref.batch_norm, ref.batch_norm_backward))
    rm_ref, rv_ref = copy(rm), copy(rv)
    y, save_mean, save_invstd = forward(x, gamma, beta, rm_ref, rv_ref, training, momentum, eps)
    dy = np.random.default_rng(seed + 1).standard_normal(shape).astype(dtype)
    extra = (y,) if relu else ()
    dx, dgamma, dbeta = backward(dy, *extra, x, gamma, save_mean, save_invstd, training)
    ty, tdx, tdgamma, tdbeta, trm, trv = torch_batch_norm(x, gamma, beta, copy(rm), copy(rv),
                                                          training, momentum, eps, dy, relu)
    m = x.size // shape[1] + 1
    tol = 8 * m * np.finfo(dtype).eps
    scale_dx = 3 * np.abs(dy).max(initial=0) * np.abs(save_invstd.astype(np.float64)).max() * (
        1 if gamma is None else np.abs(gamma).max())
    scale_y = 1 + np.abs(ty).max(initial=0) + (
        np.abs(x).max(initial=0) * np.abs(save_invstd.astype(np.float64)).max(initial=0) *
        (1 if gamma is None else np.abs(gamma).max(initial=0)))
    for got, want, scale in ((y, ty, scale_y), (dx, tdx, scale_dx),
                             (dgamma, tdgamma, 1 + np.abs(dy).sum(axis=0).max(initial=0) * 3),
                             (dbeta, tdbeta, 1 + np.abs(dy).sum(axis=0).max(initial=0)),
                             (rm_ref, trm, 1 + np.abs(x).max(initial=0)),
                             (rv_ref, trv, 1 + np.abs(x).max(initial=0) ** 2)):
        if want is None:
            continue
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)
    return x, save_mean, save_invstd


# ---- against PyTorch ---------------------------------------------------------------------------

SHAPES = [(6, 3), (4, 3, 5, 6), (2, 1, 3, 3), (1, 4, 2, 1), (7, 5, 1, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_matches_torch(shape, training, dtype):
    check_against_torch(shape, dtype, training, momentum=0.3, eps=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine,stats,training", [(False, True, True), (False, False, True),
                                                   (True, False, True), (False, True, False)])
def test_optional_gamma_beta_and_running_stats_match_torch(affine, stats, training, dtype):
    check_against_torch((4, 3, 3, 2), dtype, training, affine=affine, stats=stats)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_relu_matches_torch_composition(shape, training, dtype):
    check_against_torch(shape, dtype, training, relu=True)


def test_save_statistics_match_torch_native_batch_norm():
    torch = pytest.importorskip("torch")
    x, gamma, beta, rm, rv = make((4, 3, 5, 2), np.float64)
    _, save_mean, save_invstd = ref.batch_norm(x, gamma, beta, copy(rm), copy(rv), True)
    _, tmean, tinvstd = torch.native_batch_norm(torch.tensor(x), torch.tensor(gamma),
                                                torch.tensor(beta), torch.tensor(rm),
                                                torch.tensor(rv), True, 0.1, 1e-5)
    np.testing.assert_allclose(save_mean, tmean.numpy(), rtol=1e-13)
    np.testing.assert_allclose(save_invstd, tinvstd.numpy(), rtol=1e-13)


@settings(max_examples=40, deadline=None)
@given(two_d=st.booleans(), n=st.integers(1, 4), c=st.integers(1, 4), h=st.integers(1, 3),
       w=st.integers(1, 3), training=st.booleans(), affine=st.booleans(),
       stats=st.booleans(), momentum=st.floats(0, 1), eps=st.floats(1e-6, 1.0),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 99), relu=st.booleans())
def test_any_consistent_setting_matches_torch(two_d, n, c, h, w, training, affine, stats,
                                              momentum, eps, dtype, seed, relu):
    training = training or not stats        # eval needs running statistics
    shape = (n, c) if two_d else (n, c, h, w)
    if training and n * (1 if two_d else h * w) == 1:
        shape = (2,) + shape[1:]             # training needs two values per channel
    check_against_torch(shape, dtype, training, affine, stats, momentum, eps, seed, relu)


# ---- finite differences ------------------------------------------------------------------------

def numerical_grads(f, arrays, dy, h=1e-6):
    """Central differences of sum(f(*arrays) * dy) with respect to every array (float64)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            plus = np.sum(f(*arrays) * dy)
            a[i] = old - h
            minus = np.sum(f(*arrays) * dy)
            a[i] = old
            g[i] = (plus - minus) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 2, 3)])
@pytest.mark.parametrize("relu", [False, True], ids=["bn", "bn_relu"])
def test_backward_matches_finite_differences(shape, training, relu):
    x, gamma, beta, rm, rv = make(shape, np.float64)
    forward = ref.batch_norm_relu if relu else ref.batch_norm

    def f(x, gamma, beta):  # running statistics copied: only the batch's own are differentiated
        return forward(x, gamma, beta, rm.copy(), rv.copy(), training, 0.1, 1e-5)[0]

    y, save_mean, save_invstd = forward(x, gamma, beta, rm.copy(), rv.copy(), training)
    dy = np.random.default_rng(1).standard_normal(shape)
    if relu:
        got = ref.batch_norm_relu_backward(dy, y, x, gamma, save_mean, save_invstd, training)
    else:
        got = ref.batch_norm_backward(dy, x, gamma, save_mean, save_invstd, training)
    for g, want in zip(got, numerical_grads(f, [x, gamma, beta], dy)):
        np.testing.assert_allclose(g, want, atol=1e-5, rtol=1e-3)


# ---- invariants and edge cases -----------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 3), (3, 4, 5, 2)])
def test_training_dx_sums_to_zero_per_channel(shape):
    x, gamma, beta, rm, rv = make(shape, np.float64)
    _, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, True)
    dy = np.random.default_rng(1).standard_normal(shape)
    dx, _, _ = ref.batch_norm_backward(dy, x, gamma, mean, invstd)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    np.testing.assert_allclose(dx.sum(axis=axes), 0, atol=1e-12 * np.abs(dx).sum())


@pytest.mark.parametrize("dtype", DTYPES)
def test_constant_channel_gives_beta_and_finite_gradients(dtype):
    x, gamma, beta, rm, rv = make((4, 3, 2, 2), dtype)
    x[:, 1] = 7.25
    rv_before = rv.copy()
    y, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, True)
    np.testing.assert_allclose(y[:, 1], beta[1], rtol=0, atol=0)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    grads = ref.batch_norm_backward(dy, x, gamma, mean, invstd)
    assert all(np.isfinite(g).all() for g in grads)
    np.testing.assert_allclose(rv[1], 0.9 * rv_before[1], rtol=1e-6)     # its variance is 0


def test_running_statistics_are_updated_in_place_with_the_unbiased_variance():
    x, gamma, beta, rm, rv = make((5, 3, 2, 2), np.float64)
    rm0, rv0 = rm.copy(), rv.copy()
    ids = id(rm), id(rv)
    _, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, True, momentum=0.25)
    assert (id(rm), id(rv)) == ids
    np.testing.assert_allclose(rm, 0.75 * rm0 + 0.25 * x.mean(axis=(0, 2, 3)), rtol=1e-14)
    np.testing.assert_allclose(rv, 0.75 * rv0 + 0.25 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-14)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-14)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(x.var(axis=(0, 2, 3)) + 1e-5), rtol=1e-14)


def test_eval_uses_and_returns_the_running_statistics_without_changing_them():
    x, gamma, beta, rm, rv = make((5, 3), np.float64)
    rm0, rv0 = rm.copy(), rv.copy()
    y, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, False, eps=1e-3)
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)
    np.testing.assert_array_equal(mean, rm0)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(rv0 + 1e-3), rtol=1e-15)
    assert not np.shares_memory(mean, rm)
    np.testing.assert_allclose(y, (x - rm0) / np.sqrt(rv0 + 1e-3) * gamma + beta, rtol=1e-13)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4, 4), (2, 3, 0, 5)])
def test_empty_batch_changes_nothing(shape):
    """As torch: an empty output, running statistics unchanged, zero parameter gradients."""
    x, gamma, beta, rm, rv = make(shape, np.float64)
    rm0, rv0 = rm.copy(), rv.copy()
    y, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, True, eps=0.25)
    assert y.shape == shape
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(invstd, 2)
    dx, dgamma, dbeta = ref.batch_norm_backward(np.zeros(shape), x, gamma, mean, invstd)
    assert dx.shape == shape and not dgamma.any() and not dbeta.any()
    pytest.importorskip("torch")
    check_against_torch(shape, np.float64, True)


def test_float32_channel_with_large_mean_keeps_its_precision():
    """Mean 1e4, std 1 in float32: the statistics come from float64 sums, so y carries only the
    final rounding to float32 (a naive float32 E[x^2] - E[x]^2 would lose every digit)."""
    rng = np.random.default_rng(0)
    x = (1e4 + rng.standard_normal((64, 2, 4, 4))).astype(np.float32)
    y, _, _ = ref.batch_norm(x, None, None, None, None, True)
    x64 = x.astype(np.float64)
    want = (x64 - x64.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(
        x64.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, want, rtol=0, atol=4 * np.finfo(np.float32).eps * np.abs(want).max())


def test_gamma_and_beta_none_mean_one_and_zero():
    x, _, _, rm, rv = make((4, 3, 2, 2), np.float64)
    ones, zeros = np.ones(3), np.zeros(3)
    for training in (True, False):
        a = ref.batch_norm(x, None, None, rm.copy(), rv.copy(), training)
        b = ref.batch_norm(x, ones, zeros, rm.copy(), rv.copy(), training)
        for p, q in zip(a, b):
            np.testing.assert_array_equal(p, q)
        dy = np.random.default_rng(1).standard_normal(x.shape)
        for p, q in zip(ref.batch_norm_backward(dy, x, None, a[1], a[2], training),
                        ref.batch_norm_backward(dy, x, ones, a[1], a[2], training)):
            np.testing.assert_array_equal(p, q)


def test_fused_paths_equal_the_composition():
    x, gamma, beta, rm, rv = make((4, 3, 3, 2), np.float64)
    for training in (True, False):
        rm1, rv1, rm2, rv2 = rm.copy(), rv.copy(), rm.copy(), rv.copy()
        y, mean, invstd = ref.batch_norm_relu(x, gamma, beta, rm1, rv1, training)
        z, mean2, invstd2 = ref.batch_norm(x, gamma, beta, rm2, rv2, training)
        for p, q in ((y, np.maximum(z, 0)), (mean, mean2), (invstd, invstd2), (rm1, rm2), (rv1, rv2)):
            np.testing.assert_array_equal(p, q)
        dy = np.random.default_rng(1).standard_normal(x.shape)
        for p, q in zip(ref.batch_norm_relu_backward(dy, y, x, gamma, mean, invstd, training),
                        ref.batch_norm_backward(dy * (z > 0), x, gamma, mean, invstd, training)):
            np.testing.assert_array_equal(p, q)


def test_batch_norm_relu_propagates_nan():
    x, gamma, beta, rm, rv = make((4, 3), np.float64)
    x[0, 1] = np.nan
    y, _, _ = ref.batch_norm_relu(x, gamma, beta, rm, rv, False)
    assert np.isnan(y[0, 1]) and np.isfinite(np.delete(y.ravel(), 1)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine,with_bias", [(True, True), (False, False)])
def test_fold_batch_norm_into_conv_and_linear(affine, with_bias, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 5)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype) if with_bias else None
    _, gamma, beta, rm, rv = make((1, 6), dtype, seed=3, affine=affine)
    fw, fb = ref.fold_batch_norm(w, b, gamma, beta, rm, rv, 1e-3)
    assert fw.dtype == fb.dtype == dtype and fw.shape == w.shape and fb.shape == (6,)
    got = ref.conv2d(x, fw, fb, padding=1, groups=2)
    want, _, _ = ref.batch_norm(ref.conv2d(x, w, b, padding=1, groups=2), gamma, beta, rm, rv,
                                False, eps=1e-3)
    tol = 64 * np.finfo(dtype).eps * (1 + np.abs(want).max())
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    # a linear layer's (out, in) weight folds the same way
    xl = rng.standard_normal((5, 7)).astype(dtype)
    wl = rng.standard_normal((6, 7)).astype(dtype)
    fwl, fbl = ref.fold_batch_norm(wl, b, gamma, beta, rm, rv, 1e-3)
    want, _, _ = ref.batch_norm(xl @ wl.T + (0 if b is None else b), gamma, beta, rm, rv, False,
                                eps=1e-3)
    np.testing.assert_allclose(xl @ fwl.T + fbl, want, rtol=0, atol=tol)


# ---- layouts, freshness ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_and_fresh_outputs(dtype):
    x, gamma, beta, rm, rv = make((4, 3, 5, 6), dtype)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    rm_a, rv_a = rm.copy(), rv.copy()
    want_fwd = ref.batch_norm(x, gamma, beta, rm_a, rv_a, True)
    want_bwd = ref.batch_norm_backward(dy, x, gamma, *want_fwd[1:])
    for view in (np.asfortranarray, lambda a: np.ascontiguousarray(a[::-1])[::-1],
                 lambda a: np.repeat(a, 2, axis=-1)[..., ::2]):
        xv, gv, bv, dyv = view(x), view(gamma), view(beta), view(dy)
        rmv, rvv = view(rm.copy()), view(rv.copy())
        before = [a.copy() for a in (xv, gv, bv, dyv)]
        got_fwd = ref.batch_norm(xv, gv, bv, rmv, rvv, True)
        got_bwd = ref.batch_norm_backward(dyv, xv, gv, *got_fwd[1:])
        for g, w in zip(got_fwd + got_bwd, want_fwd + want_bwd):
            np.testing.assert_array_equal(g, w)
            assert g.flags.c_contiguous and g.dtype == dtype
            assert not any(np.shares_memory(g, a) for a in (xv, gv, bv, dyv, rmv, rvv))
        np.testing.assert_array_equal(rmv, rm_a)
        np.testing.assert_array_equal(rvv, rv_a)
        for a, a0 in zip((xv, gv, bv, dyv), before):
            np.testing.assert_array_equal(a, a0)


# ---- bad input ---------------------------------------------------------------------------------

X, G, B, RM, RV = make((4, 3, 2, 2), np.float64)
DY = np.ones_like(X)
SM, SI = np.zeros(3), np.ones(3)
RO = RM.copy()
RO.flags.writeable = False
X2 = X[:, :, 0, 0].copy()


def bn(**kw):
    args = dict(x=X, gamma=G, beta=B, running_mean=RM.copy(), running_var=RV.copy(), training=True)
    args.update(kw)
    return lambda: ref.batch_norm(**args)


def bn_back(**kw):
    args = dict(dy=DY, x=X, gamma=G, save_mean=SM, save_invstd=SI, training=True)
    args.update(kw)
    return lambda: ref.batch_norm_backward(**args)


def fold(**kw):
    args = dict(weight=np.ones((3, 2, 3, 3)), bias=np.ones(3), gamma=G, beta=B, running_mean=RM,
                running_var=RV, eps=1e-5)
    args.update(kw)
    return lambda: ref.fold_batch_norm(**args)


BAD = [
    # shapes
    (bn(x=X[0]), ValueError, r"x must have 2 or 4 dimensions, got 3"),
    (bn(x=np.ones((4, 0)), gamma=None, beta=None, running_mean=None, running_var=None),
     ValueError, r"zero channels"),
    (bn(gamma=np.ones(4)), ValueError, r"gamma must have shape \(3,\)"),
    (bn(beta=np.ones((3, 1))), ValueError, r"beta must have shape \(3,\)"),
    (bn(running_mean=np.ones(2)), ValueError, r"running_mean must have shape \(3,\)"),
    (bn(running_var=np.ones(4), training=False), ValueError, r"running_var must have shape"),
    # statistics
    (bn(running_var=None), ValueError, r"both be arrays or both be None"),
    (bn(running_mean=None, running_var=None, training=False), ValueError, r"required when training is False"),
    (bn(x=np.ones((1, 3))), ValueError, r"more than 1 value per channel"),
    (bn(x=np.ones((1, 3, 1, 1))), ValueError, r"more than 1 value per channel"),
    (bn(running_mean=RO), ValueError, r"running_mean is updated in place .* read-only"),
    (lambda: ref.batch_norm(X, G, B, RV, RV, True), ValueError, r"running_mean shares memory with running_var"),
    (lambda: ref.batch_norm(X, G, B, G, RV.copy(), True), ValueError, r"running_mean shares memory with gamma"),
    (lambda: ref.batch_norm(X2, G, B, RM.copy(), X2[1], True), ValueError,
     r"running_var shares memory with x"),
    # scalars
    (bn(momentum=-0.1), ValueError, r"momentum must be >= 0"),
    (bn(momentum=1.5), ValueError, r"momentum must be <= 1"),
    (bn(momentum=float("nan")), ValueError, r"momentum must be finite"),
    (bn(momentum="0.1"), TypeError, r"momentum must be a real number"),
    (bn(eps=0.0), ValueError, r"eps must be >= "),
    (bn(eps=-1e-5), ValueError, r"eps must be >= "),
    (bn(eps=1e-320), ValueError, r"eps must be >= .*float64"),
    (bn(eps=float("inf")), ValueError, r"eps must be finite"),
    (bn(training=1), TypeError, r"training must be a bool"),
    (bn_back(training=None), TypeError, r"training must be a bool"),
    # dtypes and types
    (bn(x=X.astype(np.float32)), TypeError, r"gamma has dtype float64 but x has dtype float32"),
    (bn(running_var=RV.astype(np.float32)), TypeError, r"running_var has dtype float32"),
    (bn(x=X.astype(np.int64)), TypeError, r"x must have dtype"),
    (bn(x=X.astype(np.float16)), TypeError, r"float16"),
    (bn(gamma=G.astype(np.complex128)), TypeError, r"complex128"),
    (bn(x=X.tolist()), TypeError, r"x must be a numpy.ndarray"),
    (bn(beta=0.0), TypeError, r"beta must be a numpy.ndarray"),
    # backward: gradients and statistics that do not belong to the forward call
    (bn_back(dy=DY[:, :2]), ValueError, r"dy has shape .* but x has shape"),
    (bn_back(save_mean=np.zeros(4)), ValueError, r"save_mean must have shape \(3,\)"),
    (bn_back(save_invstd=np.ones((3, 1))), ValueError, r"save_invstd must have shape"),
    (bn_back(gamma=np.ones(2)), ValueError, r"gamma must have shape"),
    (bn_back(save_mean=None), TypeError, r"save_mean must be a numpy.ndarray"),
    (bn_back(dy=DY.astype(np.float32)), TypeError, r"dtype"),
    (bn_back(save_invstd=SI.astype(np.float32)), TypeError, r"save_invstd has dtype float32"),
    (bn_back(x=X[0], dy=DY[0]), ValueError, r"x must have 2 or 4 dimensions"),
    (lambda: ref.batch_norm_relu_backward(DY, X[:2], X, G, SM, SI), ValueError, r"y has shape"),
    (lambda: ref.batch_norm_relu_backward(DY, X.astype(np.float32), X, G, SM, SI), TypeError,
     r"y has dtype"),
    (lambda: ref.batch_norm_relu(X, G, B, RM.copy(), RV.copy(), True, eps=0), ValueError, r"eps"),
    # fold_batch_norm
    (fold(weight=np.ones((3, 2, 3))), ValueError, r"weight must have 2 or 4 dimensions"),
    (fold(weight=np.ones((0, 2))), ValueError, r"zero output channels"),
    (fold(bias=np.ones(4)), ValueError, r"bias must have shape \(3,\)"),
    (fold(weight=np.ones((4, 2, 3, 3)), bias=None), ValueError, r"gamma must have shape \(4,\)"),
    (fold(running_var=None), TypeError, r"running_var must be a numpy.ndarray"),
    (fold(eps=0), ValueError, r"eps must be >= "),
    (fold(bias=np.ones(3, dtype=np.float32)), TypeError, r"bias has dtype float32"),
]


@pytest.mark.parametrize("call,exc,match", BAD)
def test_bad_input_is_refused(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_refused_training_call_leaves_running_statistics_alone():
    rm, rv = RM.copy(), RV.copy()
    with pytest.raises(ValueError):
        ref.batch_norm(X, G, np.ones(4), rm, rv, True)
    np.testing.assert_array_equal(rm, RM)
    np.testing.assert_array_equal(rv, RV)


def test_read_only_running_statistics_are_fine_in_eval():
    _, mean, _ = ref.batch_norm(X, G, B, RO, RV, False)
    np.testing.assert_array_equal(mean, RO)


def mostly(good, bad):
    """Usually a value from `good`, sometimes one from `bad`."""
    return st.one_of(good, good, good, bad)


@settings(max_examples=150, deadline=None)
@given(shape=mostly(st.tuples(st.integers(0, 3), st.integers(1, 3)) |
                    st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(0, 3),
                              st.integers(0, 3)),
                    st.lists(st.integers(0, 3), max_size=5).map(tuple)),
       wrong_length=mostly(st.just(0), st.integers(-1, 1)),
       training=st.sampled_from([True, False] * 4 + [0, None]),
       momentum=mostly(st.floats(0, 1), st.floats() | st.integers(-2, 2) | st.none()),
       eps=mostly(st.floats(1e-6, 1), st.floats() | st.integers(-1, 1) | st.just("1e-5")),
       affine=st.booleans(), stats=st.booleans(),
       dtype=st.sampled_from(DTYPES * 4 + [np.float16, np.int32]))
def test_any_arguments_give_a_result_or_a_clean_error(shape, wrong_length, training, momentum,
                                                      eps, affine, stats, dtype):
    x = np.ones(shape, dtype=dtype)
    vec = (lambda: np.ones(max(0, (shape[1] if len(shape) > 1 else 1) + wrong_length), dtype=dtype))
    gamma, beta = (vec(), vec()) if affine else (None, None)
    rm, rv = (vec(), vec()) if stats else (None, None)
    try:
        y, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, training, momentum, eps)
        grads = ref.batch_norm_backward(np.ones_like(x), x, gamma, mean, invstd, training)
    except (ValueError, TypeError, OverflowError) as e:
        event(f"refused: {type(e).__name__}")
        return
    event("computed")
    assert y.shape == x.shape and grads[0].shape == x.shape
    assert np.isfinite(y).all() and all(np.isfinite(g).all() for g in grads)


def test_running_statistics_may_interleave_in_one_buffer():
    """Rows of one (2, C) buffer, or its even and odd entries, do not overlap: accepted."""
    x, gamma, beta, rm, rv = make((4, 3), np.float64)
    for stats in (np.stack([rm, rv]), np.stack([rm, rv], axis=1).ravel()):
        views = (stats[0], stats[1]) if stats.ndim == 2 else (stats[0::2], stats[1::2])
        ref.batch_norm(x, gamma, beta, *views, True)
        want_rm, want_rv = rm.copy(), rv.copy()
        ref.batch_norm(x, gamma, beta, want_rm, want_rv, True)
        np.testing.assert_array_equal(views[0], want_rm)
        np.testing.assert_array_equal(views[1], want_rv)
