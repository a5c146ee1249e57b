"""The C batch normalisation (cnnfast.batch_norm, batch_norm_backward, the fused batch_norm_relu,
batch_norm_relu_max_pool2d and their backwards, fold_batch_norm) against cnnfast.reference: training and eval,
(N, C) and (N, C, H, W), every ISA, 1 and all threads, both parallel layouts (whole channels per
thread, and channels split into chunks), invariants, precision, layouts, bad input, and torch."""
import numpy as np
import pytest

import cnnfast as cf
from cnnfast import reference as ref

DTYPES = [np.float32, np.float64]
EPS64 = np.finfo(np.float64).eps

# (shape, what it exercises): whole channels per thread need 4 channels per thread and planes of
# at least 8192 values; other 4-D inputs are split over (plane, chunk of 8192 values) items.
SHAPES = [
    (4, 3, 5, 7),       # small: one thread
    (6, 5),             # 2-D
    (300, 70),          # 2-D, large enough for threads
    (2, 8, 91, 91),     # 8 channels of 8281 values: whole channels per thread
    (3, 2, 64, 90),     # 2 channels: split over planes
    (1, 1, 192, 192),   # one plane in 4 chunks
]


def make(shape, dtype, seed=0, affine=True, stats=True):
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


def channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


BLOCK = 8  # CF_BN_BLOCK: float32 values a SIMD lane adds before widening to float64


def bound(dtype, m):
    """Rounding allowance per unit of magnitude: a few roundings in the data type, plus a sum of
    m terms for float64 data, or of BLOCK float32 terms for float32 data (whose partial sums
    are then added in float64)."""
    eps = np.finfo(dtype).eps
    return 8 * eps + (m * EPS64 if dtype == np.float64 else BLOCK * eps)


def forward_size(x, gamma, beta, mean, invstd):
    """|gamma|*(|xhat| + |mean*invstd|) + |beta|: the magnitude y's roundings scale with (x - mean
    costs a rounding of |x - mean| and the mean one of |mean|, both scaled by invstd)."""
    g = np.ones(x.shape[1]) if gamma is None else gamma.astype(np.float64)
    b = np.zeros(x.shape[1]) if beta is None else beta.astype(np.float64)
    xhat = (x.astype(np.float64) - channel(mean.astype(np.float64), x.ndim)) * channel(
        invstd.astype(np.float64), x.ndim)
    shift = np.abs(mean.astype(np.float64) * invstd)
    return np.abs(channel(g, x.ndim)) * (np.abs(xhat) + channel(shift, x.ndim)) + np.abs(
        channel(b, x.ndim))


def check_statistics(x, pairs):
    """The statistics and the running statistics within one rounding of their float64 values."""
    tol = bound(x.dtype, x.size // x.shape[1])
    for got, want in pairs:
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(x).max(initial=0))


def check_forward(x, gamma, beta, rm, rv, training, relu=False, **params):
    """C vs reference: y within a few roundings of forward_size; the statistics as
    check_statistics."""
    op_c, op_r = (cf.batch_norm_relu, ref.batch_norm_relu) if relu else (cf.batch_norm, ref.batch_norm)
    rm_c, rv_c, rm_r, rv_r = copy(rm), copy(rv), copy(rm), copy(rv)
    y, mean, invstd = op_c(x, gamma, beta, rm_c, rv_c, training, **params)
    want_y, want_mean, want_invstd = op_r(x, gamma, beta, rm_r, rv_r, training, **params)
    tol = bound(x.dtype, x.size // x.shape[1])
    size = forward_size(x, gamma, beta, want_mean, want_invstd)
    assert np.all(np.abs(y.astype(np.float64) - want_y) <= tol * size + 1e-300)
    check_statistics(x, ((mean, want_mean), (invstd, want_invstd), (rm_c, rm_r), (rv_c, rv_r)))
    for a in (y, mean, invstd):
        assert a.dtype == x.dtype and a.flags.c_contiguous
    return y, mean, invstd


def check_backward(dy, x, gamma, mean, invstd, training, y=None):
    """dx = a*(dy - dbeta/m - xhat*dgamma/m): within a few roundings of the terms' magnitudes;
    dgamma, dbeta within a few roundings of the sums of |terms|."""
    if y is None:
        got = cf.batch_norm_backward(dy, x, gamma, mean, invstd, training)
        want = ref.batch_norm_backward(dy, x, gamma, mean, invstd, training)
        g64 = dy.astype(np.float64)
    else:
        got = cf.batch_norm_relu_backward(dy, y, x, gamma, mean, invstd, training)
        want = ref.batch_norm_relu_backward(dy, y, x, gamma, mean, invstd, training)
        g64 = np.where(y > 0, dy.astype(np.float64), 0.0)
    return check_gradients(got, want, g64, x, gamma, mean, invstd)


def check_gradients(got, want, g64, x, gamma, mean, invstd):
    """got vs want (dx, dgamma, dbeta) with the bounds of check_backward; g64 is the gradient
    that reaches the batch norm's output."""
    m = x.size // x.shape[1]
    tol = bound(x.dtype, m)
    gam = np.ones(x.shape[1]) if gamma is None else gamma.astype(np.float64)
    xhat = (x.astype(np.float64) - channel(mean.astype(np.float64), x.ndim)) * channel(
        invstd.astype(np.float64), x.ndim)
    a = channel(gam * invstd.astype(np.float64), x.ndim)
    sum_dy = np.abs(g64).sum(axis=axes(x))
    sum_dyx = np.abs(g64 * xhat).sum(axis=axes(x))
    size = np.abs(a) * (np.abs(g64) + (channel(sum_dy, x.ndim) + np.abs(xhat) * channel(sum_dyx, x.ndim)) / max(m, 1))
    assert np.all(np.abs(got[0].astype(np.float64) - want[0]) <= 2 * tol * size + 1e-300)
    assert np.all(np.abs(got[1].astype(np.float64) - want[1]) <= tol * sum_dyx + 1e-300)
    assert np.all(np.abs(got[2].astype(np.float64) - want[2]) <= tol * sum_dy + 1e-300)
    for arr in got:
        assert arr.dtype == x.dtype and arr.flags.c_contiguous
    return got


# ---- against the reference ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_matches_the_reference(isa, nthreads, dtype, training):
    for shape in SHAPES:
        x, gamma, beta, rm, rv = make(shape, dtype)
        dy = np.random.default_rng(1).standard_normal(shape).astype(dtype)
        for relu in (False, True):
            y, mean, invstd = check_forward(x, gamma, beta, rm, rv, training, relu)
            check_backward(dy, x, gamma, mean, invstd, training, y if relu else None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optional_gamma_beta_and_running_stats(isa, dtype):
    for affine in (True, False):
        for stats in (True, False):
            x, gamma, beta, rm, rv = make((3, 4, 5, 6), dtype, affine=affine, stats=stats)
            dy = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
            for training in (True, False) if stats else (True,):
                y, mean, invstd = check_forward(x, gamma, beta, rm, rv, training)
                check_backward(dy, x, gamma, mean, invstd, training)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4, 4), (2, 3, 0, 4)])
def test_empty_batch_changes_nothing(shape):
    """No values per channel (an empty batch, or empty planes): an empty output, the running
    statistics unchanged, zero parameter gradients (as the reference and torch)."""
    x, gamma, beta, rm, rv = make(shape, np.float64)
    rm0, rv0 = rm.copy(), rv.copy()
    y, mean, invstd = cf.batch_norm(x, gamma, beta, rm, rv, True, eps=0.25)
    assert y.shape == shape
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(invstd, 2)
    dx, dgamma, dbeta = cf.batch_norm_backward(np.zeros(shape), x, gamma, mean, invstd)
    assert dx.shape == shape and not dgamma.any() and not dbeta.any()


def test_single_sample_and_single_channel(nthreads):
    for shape in [(1, 1, 3, 5), (1, 4, 9, 9), (2, 1)]:
        for dtype in DTYPES:
            x, gamma, beta, rm, rv = make(shape, dtype)
            y, mean, invstd = check_forward(x, gamma, beta, rm, rv, True)
            check_backward(np.ones(shape, dtype), x, gamma, mean, invstd, True)


# ---- invariants and precision ------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(8, 3, 5, 5), (4, 16, 32, 32), (64, 9)])
def test_training_dx_sums_to_zero_per_channel(nthreads, shape):
    x, gamma, beta, _, _ = make(shape, np.float64)
    dy = np.random.default_rng(1).standard_normal(shape)
    _, mean, invstd = cf.batch_norm(x, gamma, beta, None, None, True)
    dx, _, _ = cf.batch_norm_backward(dy, x, gamma, mean, invstd)
    m = x.size // x.shape[1]
    assert np.all(np.abs(dx.sum(axis=axes(x))) <= 8 * m * EPS64 * np.abs(dx).sum(axis=axes(x)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_constant_channel_gives_beta_and_finite_gradients(isa, dtype):
    x, gamma, beta, rm, rv = make((4, 3, 5, 5), dtype)
    x[:, 1] = 7.25
    y, mean, invstd = cf.batch_norm(x, gamma, beta, rm, rv, True)
    np.testing.assert_array_equal(y[:, 1], beta[1])
    dx, dgamma, dbeta = cf.batch_norm_backward(np.ones(x.shape, dtype), x, gamma, mean, invstd)
    assert np.isfinite(dx).all() and np.isfinite(dgamma).all() and np.isfinite(dbeta).all()
    yr, _, _ = cf.batch_norm_relu(x, gamma, beta, rm, rv, True)
    np.testing.assert_array_equal(yr[:, 1], max(beta[1], 0))


@pytest.mark.parametrize("shape", [(64, 2, 4, 4), (16, 16, 32, 32)])
def test_float32_channel_with_large_mean_keeps_its_precision(isa, shape):
    """Mean 1e4, std 1 in float32: y carries only the last roundings to float32."""
    rng = np.random.default_rng(0)
    x = (1e4 + rng.standard_normal(shape)).astype(np.float32)
    y, _, _ = cf.batch_norm(x, None, None, None, None, True)
    x64 = x.astype(np.float64)
    want = (x64 - x64.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(
        x64.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, want, rtol=0, atol=4 * np.finfo(np.float32).eps * np.abs(want).max())


def test_fused_paths_equal_the_composition(isa, nthreads):
    """batch_norm_relu is max(batch_norm, 0) and its backward is batch_norm_backward of the
    masked gradient, bit for bit (the same arithmetic, fused)."""
    for shape in [(4, 3, 5, 7), (2, 8, 91, 91), (1, 1, 192, 192)]:
        for dtype in DTYPES:
            x, gamma, beta, rm, rv = make(shape, dtype)
            dy = np.random.default_rng(1).standard_normal(shape).astype(dtype)
            for training in (True, False):
                fused = cf.batch_norm_relu(x, gamma, beta, copy(rm), copy(rv), training)
                plain = cf.batch_norm(x, gamma, beta, copy(rm), copy(rv), training)
                np.testing.assert_array_equal(fused[0], np.maximum(plain[0], 0))
                for p, q in zip(fused[1:], plain[1:]):
                    np.testing.assert_array_equal(p, q)
                y = fused[0]
                got = cf.batch_norm_relu_backward(dy, y, x, gamma, *fused[1:], training)
                want = cf.batch_norm_backward(np.where(y > 0, dy, 0).astype(dtype), x, gamma,
                                              *fused[1:], training)
                for p, q in zip(got, want):
                    np.testing.assert_array_equal(p, q)


# ---- batch_norm_relu_max_pool2d ------------------------------------------------------------------

# (shape, kernel_size): the statistics take the paths of SHAPES; the 2 x 2 SIMD kernels go 16
# windows at a time
POOL_CASES = [
    ((2, 3, 8, 8), 2),        # 4 windows a row
    ((3, 2, 7, 9), 2),        # the last row and column lie in no window
    ((2, 3, 34, 66), 2),      # 33 windows a row: a full block of 16, another, a tail of 1
    ((2, 8, 91, 91), 2),      # whole channels per thread; 45 windows a row and a column left
    ((1, 1, 192, 192), 2),    # one plane, its statistics in chunks
    ((2, 2, 9, 40), (3, 2)),  # other windows: the plain-C kernels on every ISA
    ((1, 2, 5, 5), 1),
    ((2, 2, 4, 4), 4),
]


def window_positions(arg, kernel, w):
    """The flat in-plane position of each window's maximum, from arg."""
    kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    a, b = np.divmod(arg.astype(np.int64), kw)
    return (np.arange(arg.shape[2])[:, None] * kh + a) * w + np.arange(arg.shape[3])[None, :] * kw + b


def at_maxima(full, arg, kernel):
    """The values of full (N, C, H, W) at the maxima arg names, in arg's shape."""
    n, c = full.shape[:2]
    pos = window_positions(arg, kernel, full.shape[3]).reshape(n, c, -1)
    return np.take_along_axis(full.reshape(n, c, -1), pos, axis=2).reshape(arg.shape)


def check_pool_forward(x, gamma, beta, rm, rv, training, kernel):
    """C vs reference: the same maxima (arg), y within the roundings of batch_norm at them, the
    statistics as check_statistics."""
    rm_c, rv_c, rm_r, rv_r = copy(rm), copy(rv), copy(rm), copy(rv)
    got = cf.batch_norm_relu_max_pool2d(x, gamma, beta, rm_c, rv_c, training, kernel_size=kernel)
    want = ref.batch_norm_relu_max_pool2d(x, gamma, beta, rm_r, rv_r, training, kernel_size=kernel)
    y, mean, invstd, arg = got
    assert arg.dtype == np.uint8 and arg.shape == y.shape == want[0].shape
    np.testing.assert_array_equal(arg, want[3])
    size = at_maxima(forward_size(x, gamma, beta, want[1], want[2]), arg, kernel)
    tol = bound(x.dtype, x.size // x.shape[1])
    assert np.all(np.abs(y.astype(np.float64) - want[0]) <= tol * size + 1e-300)
    check_statistics(x, ((mean, want[1]), (invstd, want[2]), (rm_c, rm_r), (rv_c, rv_r)))
    for a in got:
        assert a.flags.c_contiguous
    return got


def check_pool_backward(dy, y, arg, x, gamma, mean, invstd, kernel, training):
    got = cf.batch_norm_relu_max_pool2d_backward(dy, y, arg, x, gamma, mean, invstd, kernel,
                                                 training)
    want = ref.batch_norm_relu_max_pool2d_backward(dy, y, arg, x, gamma, mean, invstd, kernel,
                                                   training)
    g64 = np.zeros(x.shape)
    n, c = x.shape[:2]
    np.put_along_axis(g64.reshape(n, c, -1), window_positions(arg, kernel, x.shape[3]).reshape(n, c, -1),
                      np.where(y > 0, dy.astype(np.float64), 0.0).reshape(n, c, -1), axis=2)
    return check_gradients(got, want, g64, x, gamma, mean, invstd)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_relu_max_pool2d_matches_the_reference(isa, nthreads, dtype, training):
    for shape, kernel in POOL_CASES:
        x, gamma, beta, rm, rv = make(shape, dtype)
        y, mean, invstd, arg = check_pool_forward(x, gamma, beta, rm, rv, training, kernel)
        dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        check_pool_backward(dy, y, arg, x, gamma, mean, invstd, kernel, training)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_max_pool2d_ties_keep_the_first_and_nan_wins(isa, dtype):
    """Small integers tie often (after the relu, every negative value is a 0): the first of a
    window's equal maxima is its arg, as in max_pool2d; a NaN wins its window."""
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 4, (2, 3, 12, 38)).astype(dtype)
    x[1, 2, 5, 7] = np.nan
    gamma = np.array([1.0, -2.0, 0.5], dtype)
    check_pool_forward(x[:1], gamma, None, None, None, True, 2)
    full = ref.batch_norm_relu(x[:1], gamma, None, None, None, True)[0]
    want = ref.batch_norm_relu_max_pool2d(x[:1], gamma, None, None, None, True)[0]
    assert (full.reshape(1, 3, 6, 2, 19, 2) == want[:, :, :, None, :, None]).sum() > want.size
    y, *_ = cf.batch_norm_relu_max_pool2d(x, gamma, None, None, None, True)
    assert np.isnan(y[:, 2]).all() and np.isfinite(y[:, :2]).all()   # the NaN mean spreads
    x[1, 2] = 0
    x[1, 2, 5, 7] = np.nan
    y, _, _, arg = cf.batch_norm_relu_max_pool2d(x, gamma, None, np.zeros(3, dtype), np.ones(3, dtype),
                                                 False)
    assert np.isnan(y[1, 2, 2, 3]) and arg[1, 2, 2, 3] == 3
    assert np.isnan(y).sum() == 1


def test_relu_max_pool2d_results_do_not_depend_on_the_thread_count(isa):
    for shape, kernel in [((2, 8, 91, 91), 2), ((5, 100, 16, 16), 2), ((3, 4, 30, 30), 3)]:
        x, gamma, beta, rm, rv = make(shape, np.float32)
        results = []
        for n in (1, 2, 7):
            with cf.threads(n):
                y, mean, invstd, arg = cf.batch_norm_relu_max_pool2d(x, gamma, beta, copy(rm),
                                                                     copy(rv), True, kernel_size=kernel)
                dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
                results.append((y, mean, invstd, arg) + cf.batch_norm_relu_max_pool2d_backward(
                    dy, y, arg, x, gamma, mean, invstd, kernel))
        for other in results[1:]:
            for p, q in zip(results[0], other):
                np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 5, 7)], ids=str)
def test_eval_backward_does_not_touch_x_or_the_mean(isa, nthreads, shape, dtype):
    """In eval, dx = dy * gamma * invstd (as the reference and PyTorch): an inf in x or a NaN mean
    reaches dgamma, never dx."""
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[5] = np.inf
    gamma = rng.standard_normal(4).astype(dtype)
    mean, invstd = np.array([0.5, np.nan, -1.0, 2.0], dtype), np.array([1.5, 0.5, 2.0, 1.0], dtype)
    for fn, args in ((cf.batch_norm_backward, (dy, x)), (cf.batch_norm_relu_backward, (dy, np.abs(dy), x))):
        got = fn(*args, gamma, mean, invstd, False)
        want = getattr(ref, fn.__name__)(*args, gamma, mean, invstd, False)
        assert np.isfinite(got[0]).all()
        np.testing.assert_allclose(got[0], want[0], rtol=4 * np.finfo(dtype).eps)
    if x.ndim == 4:
        arg = rng.integers(0, 4, (2, 4, 2, 3)).astype(np.uint8)
        dyp = rng.standard_normal(arg.shape).astype(dtype)
        args = (dyp, np.abs(dyp), arg, x, gamma, mean, invstd, 2, False)
        got = cf.batch_norm_relu_max_pool2d_backward(*args)
        with np.errstate(invalid="ignore"):   # dgamma: 0 * inf where no gradient arrives
            want = ref.batch_norm_relu_max_pool2d_backward(*args)
        assert np.isfinite(got[0]).all()
        np.testing.assert_allclose(got[0], want[0], rtol=4 * np.finfo(dtype).eps)


def test_relu_propagates_nan():
    x, gamma, beta, rm, rv = make((2, 3, 4, 4), np.float32)
    x[0, 1, 2, 2] = np.nan
    y, _, _ = cf.batch_norm_relu(x, gamma, beta, rm, rv, False)
    assert np.isnan(y[0, 1, 2, 2]) and np.isfinite(np.delete(y.ravel(), 16 + 10)).all()


def test_running_statistics_updated_in_place_through_strided_views():
    x, gamma, beta, rm, rv = make((4, 3, 2, 2), np.float64)
    stats = np.stack([rm, rv], axis=1).ravel()
    views = (stats[0::2], stats[1::2])
    cf.batch_norm(x, gamma, beta, *views, True)
    want_rm, want_rv = rm.copy(), rv.copy()
    ref.batch_norm(x, gamma, beta, want_rm, want_rv, True)
    np.testing.assert_allclose(views[0], want_rm, rtol=1e-14)
    np.testing.assert_allclose(views[1], want_rv, rtol=1e-14)
    ro_m, ro_v = rm.copy(), rv.copy()
    ro_m.flags.writeable = ro_v.flags.writeable = False
    cf.batch_norm(x, gamma, beta, ro_m, ro_v, False)   # eval only reads them


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_unmodified_fresh_outputs(dtype):
    x, gamma, beta, rm, rv = make((4, 3, 5, 6), dtype)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    rm_a, rv_a = rm.copy(), rv.copy()
    want_fwd = cf.batch_norm(x, gamma, beta, rm_a, rv_a, True)
    want_bwd = cf.batch_norm_backward(dy, x, gamma, *want_fwd[1:])
    for view in (np.asfortranarray, lambda a: np.ascontiguousarray(a[::-1])[::-1],
                 lambda a: np.repeat(a, 2, axis=-1)[..., ::2]):
        xv, gv, bv, dyv = view(x), view(gamma), view(beta), view(dy)
        rmv, rvv = view(rm.copy()), view(rv.copy())
        before = [a.copy() for a in (xv, gv, bv, dyv)]
        got_fwd = cf.batch_norm(xv, gv, bv, rmv, rvv, True)
        got_bwd = cf.batch_norm_backward(dyv, xv, gv, *got_fwd[1:])
        for g, w in zip(got_fwd + got_bwd, want_fwd + want_bwd):
            np.testing.assert_array_equal(g, w)
            assert g.flags.c_contiguous and g.dtype == dtype
            assert not any(np.shares_memory(g, a) for a in (xv, gv, bv, dyv, rmv, rvv))
        np.testing.assert_array_equal(rmv, rm_a)
        np.testing.assert_array_equal(rvv, rv_a)
        for a, a0 in zip((xv, gv, bv, dyv), before):
            np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_fold_batch_norm_matches_the_reference(dtype, affine):
    rng = np.random.default_rng(0)
    for weight, bias in [(rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)),
                         (rng.standard_normal((5, 7)), None)]:
        _, gamma, beta, rm, rv = make((2, 5), dtype, affine=affine)
        weight = weight.astype(dtype)
        bias = None if bias is None else bias.astype(dtype)
        got = cf.fold_batch_norm(weight, bias, gamma, beta, rm, rv, 1e-3)
        want = ref.fold_batch_norm(weight, bias, gamma, beta, rm, rv, 1e-3)
        for g, w in zip(got, want):
            assert g.dtype == dtype and g.shape == w.shape and g.flags.c_contiguous
            np.testing.assert_allclose(g, w, rtol=2 * np.finfo(dtype).eps, atol=0)


# ---- bad input: the C path refuses exactly what the reference refuses -------------------------

X, G, B, RM, RV = make((4, 3, 2, 2), np.float64)
DY = np.ones(X.shape)
SM, SI = np.zeros(3), np.ones(3)
RO = RM.copy()
RO.flags.writeable = False
ARG = np.zeros((4, 3, 1, 1), np.uint8)

BAD = [
    ("batch_norm", (X, G, B, RM.copy(), None, True), {}),
    ("batch_norm", (X, G, B, None, None, False), {}),
    ("batch_norm", (X, G[:2], B, RM.copy(), RV.copy(), True), {}),
    ("batch_norm", (X, G, B, RO, RV.copy(), True), {}),
    ("batch_norm", (X, G, B, X[0, :, 0, 0], RV.copy(), True), {}),
    ("batch_norm", (X[:1, :, :1, :1], G, B, RM.copy(), RV.copy(), True), {}),
    ("batch_norm", (X[:, :0], None, None, None, None, True), {}),
    ("batch_norm", (X[0], G, B, RM.copy(), RV.copy(), True), {}),
    ("batch_norm", (X, G, B, RM.copy(), RV.copy(), True), dict(momentum=1.5)),
    ("batch_norm", (X, G, B, RM.copy(), RV.copy(), True), dict(eps=0.0)),
    ("batch_norm", (X, G, B, RM.copy(), RV.copy(), 1), {}),
    ("batch_norm", (X.astype(np.float32), G, B, RM.copy(), RV.copy(), True), {}),
    ("batch_norm", (X.astype(np.float16), None, None, None, None, True), {}),
    ("batch_norm", (X.tolist(), G, B, RM.copy(), RV.copy(), True), {}),
    ("batch_norm_relu", (X, G, B, RM.copy(), RV.copy(), True), dict(eps=0)),
    ("batch_norm_backward", (DY[:, :2], X, G, SM, SI), {}),
    ("batch_norm_backward", (DY, X, G, np.zeros(4), SI), {}),
    ("batch_norm_backward", (DY, X, G, SM, SI.astype(np.float32)), {}),
    ("batch_norm_backward", (DY, X, G, None, SI), {}),
    ("batch_norm_backward", (DY, X, G, SM, SI), dict(training=None)),
    ("batch_norm_relu_backward", (DY, X[:2], X, G, SM, SI), {}),
    ("batch_norm_relu_backward", (DY, X.astype(np.float32), X, G, SM, SI), {}),
    ("batch_norm_relu_max_pool2d", (X[:, :, 0], G, B, RM.copy(), RV.copy(), True), {}),
    ("batch_norm_relu_max_pool2d", (X, G, B, RM.copy(), RV.copy(), True), dict(kernel_size=3)),
    ("batch_norm_relu_max_pool2d", (X, G, B, RM.copy(), RV.copy(), True), dict(kernel_size=(2, 0))),
    ("batch_norm_relu_max_pool2d", (np.ones((1, 1, 17, 17)), None, None, None, None, True),
     dict(kernel_size=17)),
    ("batch_norm_relu_max_pool2d", (X, G, B, RM.copy(), RV.copy(), True), dict(kernel_size=2.0)),
    ("batch_norm_relu_max_pool2d", (X, G, B, RM.copy(), RV.copy(), True), dict(eps=0)),
    ("batch_norm_relu_max_pool2d_backward", (DY[..., :1, :1], DY[..., :1, :1], ARG, X, G, SM, SI),
     dict(kernel_size=(1, 2))),
    ("batch_norm_relu_max_pool2d_backward", (DY[..., :1, :1], DY[..., :1, :1], ARG.astype(np.int64),
                                             X, G, SM, SI), {}),
    ("batch_norm_relu_max_pool2d_backward", (DY[..., :1, :1], DY[..., :1, :1], ARG + 4, X, G, SM, SI), {}),
    ("batch_norm_relu_max_pool2d_backward", (DY, DY[..., :1, :1], ARG, X, G, SM, SI), {}),
    ("batch_norm_relu_max_pool2d_backward", (DY[..., :1, :1], DY[..., :1, :1], ARG[:, :2], X, G, SM,
                                             SI), {}),
    ("batch_norm_relu_max_pool2d_backward", (DY[..., :1, :1], DY[..., :1, :1].astype(np.float32), ARG,
                                             X, G, SM, SI), {}),
    ("batch_norm_relu_max_pool2d_backward", (DY[..., :1, :1], DY[..., :1, :1], ARG, X, G, SM, SI),
     dict(kernel_size=1)),
    ("fold_batch_norm", (np.ones((3, 2, 3)), None, G, B, RM, RV, 1e-5), {}),
    ("fold_batch_norm", (np.ones((3, 2)), np.ones(4), G, B, RM, RV, 1e-5), {}),
    ("fold_batch_norm", (np.ones((3, 2)), None, G, B, RM, None, 1e-5), {}),
    ("fold_batch_norm", (np.ones((3, 2)), None, G, B, RM, RV, 0), {}),
]


@pytest.mark.parametrize("name,args,kwargs", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_as_by_the_reference(name, args, kwargs):
    with pytest.raises((ValueError, TypeError, OverflowError)) as want:
        getattr(ref, name)(*args, **kwargs)
    with pytest.raises(want.type) as got:
        getattr(cf, name)(*args, **kwargs)
    assert str(got.value) == str(want.value)


def test_refused_training_call_leaves_running_statistics_alone():
    rm, rv = RM.copy(), RV.copy()
    with pytest.raises(ValueError):
        cf.batch_norm(X, G, B, rm, rv, True, momentum=2.0)
    np.testing.assert_array_equal(rm, RM)
    np.testing.assert_array_equal(rv, RV)


# ---- PyTorch -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_matches_torch(dtype, training):
    torch = pytest.importorskip("torch")
    for shape in [(4, 3, 5, 7), (6, 5)]:
        x, gamma, beta, rm, rv = make(shape, dtype)
        dy = np.random.default_rng(1).standard_normal(shape).astype(dtype)
        tx = torch.tensor(x, requires_grad=True)
        tg, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
        trm, trv = torch.tensor(rm), torch.tensor(rv)
        ty = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training, 0.1, 1e-5)
        ty.backward(torch.tensor(dy))
        rm_c, rv_c = rm.copy(), rv.copy()
        y, mean, invstd = cf.batch_norm(x, gamma, beta, rm_c, rv_c, training)
        dx, dgamma, dbeta = cf.batch_norm_backward(dy, x, gamma, mean, invstd, training)
        tol = 64 * np.finfo(dtype).eps
        for got, want in ((y, ty), (dx, tx.grad), (dgamma, tg.grad), (dbeta, tb.grad),
                          (rm_c, trm), (rv_c, trv)):
            want = want.detach().numpy()
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_max_pool2d_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    x, gamma, beta, rm, rv = make((4, 3, 10, 13), dtype)
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    F = torch.nn.functional
    ty, tidx = F.max_pool2d(F.relu(F.batch_norm(tx, trm, trv, tg, tb, True, 0.1, 1e-5)), 2,
                            return_indices=True)
    dy = np.random.default_rng(1).standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))
    rm_c, rv_c = rm.copy(), rv.copy()
    y, mean, invstd, arg = cf.batch_norm_relu_max_pool2d(x, gamma, beta, rm_c, rv_c, True)
    np.testing.assert_array_equal(window_positions(arg, (2, 2), 13), tidx.numpy())
    got = cf.batch_norm_relu_max_pool2d_backward(dy, y, arg, x, gamma, mean, invstd)
    tol = 64 * np.finfo(dtype).eps
    for a, want in ((y, ty), (got[0], tx.grad), (got[1], tg.grad), (got[2], tb.grad),
                    (rm_c, trm), (rv_c, trv)):
        want = want.detach().numpy()
        np.testing.assert_allclose(a, want, rtol=tol, atol=tol * np.abs(want).max())


def test_results_do_not_depend_on_the_thread_count(isa):
    """Whole channels per thread or channels split over threads: the same sums in the same order.
    (5, 100, 15, 16): short planes, whose kernel calls take a sample's stretch of channels, cut
    where a thread's share of the planes begins and ends (mid-sample at 2 and 7 threads)."""
    for shape in [(2, 8, 91, 91), (2, 3, 100, 100), (40, 3000), (5, 100, 15, 16)]:
        x, gamma, beta, rm, rv = make(shape, np.float32)
        dy = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        results = []
        for n in (1, 2, 7):
            with cf.threads(n):
                fwd = cf.batch_norm_relu(x, gamma, beta, copy(rm), copy(rv), True)
                results.append(fwd + cf.batch_norm_relu_backward(dy, fwd[0], x, gamma, *fwd[1:]))
        for other in results[1:]:
            for p, q in zip(results[0], other):
                np.testing.assert_array_equal(p, q)


def test_calls_from_eight_python_threads_match_serial_results():
    from concurrent.futures import ThreadPoolExecutor

    x, gamma, beta, rm, rv = make((4, 8, 40, 44), np.float32)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    y, mean, invstd = cf.batch_norm_relu(x, gamma, beta, None, None, True)
    jobs = [lambda: cf.batch_norm(x, gamma, beta, None, None, True)[0],
            lambda: cf.batch_norm(x, gamma, beta, rm, rv, False)[0],
            lambda: cf.batch_norm_backward(dy, x, gamma, mean, invstd)[0],
            lambda: cf.batch_norm_relu_backward(dy, y, x, gamma, mean, invstd)[1]]
    serial = [job() for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: jobs[i % len(jobs)](), range(32)))
    for i, got in enumerate(results):
        np.testing.assert_array_equal(got, serial[i % len(jobs)])


# ---- property test -----------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=100, deadline=None)
@given(shape=st.tuples(st.integers(0, 3), st.integers(1, 3)) |
       st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(0, 4), st.integers(0, 4)),
       wrong=st.sampled_from([0, 0, 0, 1, -1]), training=st.sampled_from([True, False, 1]),
       momentum=st.sampled_from([0.0, 0.1, 1.0, -0.5, float("nan")]),
       eps=st.sampled_from([1e-5, 0.5, 0.0, 1e-300]), affine=st.booleans(),
       stats=st.booleans(), dtype=st.sampled_from(DTYPES))
def test_any_arguments_give_the_reference_result_or_its_error(shape, wrong, training, momentum,
                                                              eps, affine, stats, dtype):
    x = make(shape, dtype)[0] if shape[0] and all(shape) else np.ones(shape, dtype)
    vec = (lambda: np.linspace(0.5, 1.5, max(0, shape[1] + wrong)).astype(dtype))
    gamma, beta = (vec(), vec()) if affine else (None, None)
    rm, rv = (vec(), vec()) if stats else (None, None)
    try:
        want = ref.batch_norm(x, gamma, beta, copy(rm), copy(rv), training, momentum, eps)
    except (ValueError, TypeError, OverflowError) as e:
        with pytest.raises(type(e)) as got:
            cf.batch_norm(x, gamma, beta, copy(rm), copy(rv), training, momentum, eps)
        assert str(got.value) == str(e)
        return
    y, mean, invstd = check_forward(x, gamma, beta, rm, rv, training, eps=eps, momentum=momentum)
    check_backward(np.ones_like(x), x, gamma, mean, invstd, training)
