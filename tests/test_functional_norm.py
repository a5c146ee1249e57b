"""The C batch normalisation (cnnfast.batch_norm, batch_norm_backward, the fused batch_norm_relu
and batch_norm_relu_backward, fold_batch_norm) against cnnfast.reference: training and eval,
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


def check_forward(x, gamma, beta, rm, rv, training, relu=False, **params):
    """C vs reference: y within a few roundings of |gamma|*(|xhat| + |mean*invstd|) + |beta|;
    the statistics and the running statistics within one rounding of their float64 values."""
    op_c, op_r = (cf.batch_norm_relu, ref.batch_norm_relu) if relu else (cf.batch_norm, ref.batch_norm)
    rm_c, rv_c, rm_r, rv_r = copy(rm), copy(rv), copy(rm), copy(rv)
    y, mean, invstd = op_c(x, gamma, beta, rm_c, rv_c, training, **params)
    want_y, want_mean, want_invstd = op_r(x, gamma, beta, rm_r, rv_r, training, **params)
    m = x.size // x.shape[1]
    tol = bound(x.dtype, m)
    g = np.ones(x.shape[1]) if gamma is None else gamma.astype(np.float64)
    b = np.zeros(x.shape[1]) if beta is None else beta.astype(np.float64)
    xhat = (x.astype(np.float64) - channel(want_mean.astype(np.float64), x.ndim)) * channel(
        want_invstd.astype(np.float64), x.ndim)
    # x - mean costs a rounding of |x - mean| and the mean one of |mean|, both scaled by invstd
    shift = np.abs(want_mean.astype(np.float64) * want_invstd)
    size = np.abs(channel(g, x.ndim)) * (np.abs(xhat) + channel(shift, x.ndim)) + np.abs(
        channel(b, x.ndim))
    assert np.all(np.abs(y.astype(np.float64) - want_y) <= tol * size + 1e-300)
    for got, want in ((mean, want_mean), (invstd, want_invstd), (rm_c, rm_r), (rv_c, rv_r)):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(x).max(initial=0))
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
