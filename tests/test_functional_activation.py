"""The C activations against the reference: every ISA, 1 and all threads, float32 and float64,
edge sizes, non-contiguous inputs, NaN/inf, the streaming-store path, and bad input.

Tolerances: each op is a handful of correctly rounded operations plus at most one exp/expm1
(accurate to a few ulp), so the C result must lie within a few ulp of the float64 reference rounded
to the dtype; where the formula cancels (1 - y*y, x - max) the bound is taken relative to the size
of the terms instead of the result. Subnormal results may differ by a few of the smallest
subnormals (one extra rounding below the normal range)."""
import numpy as np
import pytest

import cnnfast as cf
from cnnfast import reference as R

DTYPES = [np.float32, np.float64]
SIZES = [0, 1, 7, 15, 16, 17, 33, 100, 1000, 70001]
BIG = 2_097_155  # > 8 MiB of float32: outputs are written with streaming stores


def sample(n, dtype, seed=0, scale=3.0):
    """Normal values with some exact zeros (the kink of the ReLU family)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * scale
    x[::11] = 0.0
    return x.astype(dtype)


def assert_close(got, ref, ulps, scale=None):
    """|got - ref| <= ulps * eps * scale (default |ref|) + a few subnormals; NaN where ref is NaN."""
    assert isinstance(got, np.ndarray) and got.dtype == ref.dtype and got.shape == ref.shape
    assert got.flags.c_contiguous
    fi = np.finfo(ref.dtype)
    g, r = got.astype(np.float64), ref.astype(np.float64)
    nan = np.isnan(r)
    np.testing.assert_array_equal(np.isnan(g), nan)
    g, r = g[~nan], r[~nan]
    scale = np.abs(r) if scale is None else np.asarray(scale, dtype=np.float64)[~nan]
    same = g == r  # infinities
    with np.errstate(invalid="ignore"):
        err = np.abs(g - r)
    bound = ulps * float(fi.eps) * scale + 4 * float(fi.smallest_subnormal)
    bad = ~(same | (err <= bound))
    assert not bad.any(), (f"{bad.sum()} of {bad.size} beyond {ulps} ulp; worst at {np.argmax(bad)}: "
                           f"got {g[bad][:3]}, want {r[bad][:3]}")


FORWARD = [("relu", {}, 0), ("leaky_relu", {"negative_slope": 0.07}, 2), ("elu", {"alpha": 1.3}, 4),
           ("sigmoid", {}, 4), ("tanh", {}, 4)]
BACKWARD = ["relu", "leaky_relu", "elu", "sigmoid", "tanh"]


def backward_args(name, x, dtype):
    """(second argument, kwargs, ulps, scale function of (dy, second)) for name_backward."""
    if name == "sigmoid":
        return R.sigmoid(x), {}, 4, None
    if name == "tanh":
        return R.tanh(x), {}, 4, lambda dy, y: np.abs(dy.astype(np.float64)) * (1 + y.astype(np.float64) ** 2)
    kw = {"leaky_relu": {"negative_slope": 0.07}, "elu": {"alpha": 1.3}}.get(name, {})
    return x, kw, {"relu": 0, "leaky_relu": 2, "elu": 4}[name], None


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw,ulps", FORWARD, ids=[f[0] for f in FORWARD])
def test_forward_matches_reference(isa, nthreads, name, kw, ulps, dtype, size):
    x = sample(size, dtype)
    keep = x.copy()
    assert_close(getattr(cf, name)(x, **kw), getattr(R, name)(x, **kw), ulps)
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BACKWARD)
def test_backward_matches_reference(isa, nthreads, name, dtype, size):
    x, dy = sample(size, dtype), sample(size, dtype, seed=1, scale=1.0)
    second, kw, ulps, scale = backward_args(name, x, dtype)
    keep = (dy.copy(), second.copy())
    ref = getattr(R, name + "_backward")(dy, second, **kw)
    got = getattr(cf, name + "_backward")(dy, second, **kw)
    assert_close(got, ref, ulps, None if scale is None else scale(dy, second))
    np.testing.assert_array_equal(dy, keep[0])
    np.testing.assert_array_equal(second, keep[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_based_ops_over_the_whole_range(isa, dtype):
    """sigmoid, tanh, elu and elu_backward across under/overflow limits, inf, NaN, 0, -0, subnormals."""
    lim = 120.0 if dtype == np.float32 else 760.0
    fi = np.finfo(dtype)
    x = np.concatenate([np.linspace(-lim, lim, 40001), np.geomspace(1e-30, 1.0, 501),
                        -np.geomspace(1e-30, 1.0, 501),
                        [np.nan, np.inf, -np.inf, 0.0, -0.0, float(fi.smallest_subnormal),
                         float(fi.max), -float(fi.max), 1e4, -1e4]]).astype(dtype)
    for name, kw in (("sigmoid", {}), ("tanh", {}), ("elu", {"alpha": 1.0})):
        assert_close(getattr(cf, name)(x, **kw), getattr(R, name)(x, **kw), 4)
    dy = np.ones_like(x)
    assert_close(cf.elu_backward(dy, x), R.elu_backward(dy, x), 4)
    assert np.signbit(cf.tanh(np.array([-0.0], dtype)))[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_propagates_through_the_relu_family(isa, dtype):
    x = np.array([np.nan, -np.nan, 1.0, -1.0, 0.0, np.inf, -np.inf] * 5, dtype=dtype)
    w = np.array([0.25], dtype)
    for got, ref in ((cf.relu(x), R.relu(x)), (cf.leaky_relu(x), R.leaky_relu(x)), (cf.elu(x), R.elu(x)),
                     (cf.prelu(x, w), R.prelu(x, w)), (cf.rrelu(x)[0], R.rrelu(x)[0])):
        assert np.isnan(got[0]) and np.isnan(got[1])
        assert_close(got, ref, 2)


@pytest.mark.parametrize("layout", ["strided", "fortran", "reversed"])
def test_non_contiguous_inputs(isa, layout):
    base = sample(40 * 34, np.float32).reshape(40, 34)
    dyb = sample(40 * 34, np.float32, seed=5).reshape(40, 34)
    view = {"strided": lambda a: a[::2, 1::3], "fortran": np.asfortranarray,
            "reversed": lambda a: a[::-1, ::-1]}[layout]
    x, dy = view(base), view(dyb)
    assert_close(cf.elu(x), R.elu(x), 4)
    assert_close(cf.relu_backward(dy, x), R.relu_backward(dy, x), 0)
    slopes = view(np.full_like(base, 0.2))
    assert_close(cf.rrelu_backward(dy, x, slopes), R.rrelu_backward(dy, x, slopes), 2)
    w = np.linspace(0.1, 0.5, x.shape[1]).astype(np.float32)
    assert_close(cf.prelu(x, w), R.prelu(x, w), 2)
    _, mask = R.dropout(x, 0.3, True, np.random.default_rng(0))
    assert_close(cf.dropout_backward(dy, mask.T.copy().T, 0.3), R.dropout_backward(dy, mask, 0.3), 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_streaming_store_path(isa, nthreads, dtype):
    """Outputs beyond 8 MiB take the non-temporal store path of every kernel shape."""
    x, dy = sample(BIG, dtype), sample(BIG, dtype, seed=2, scale=1.0)
    assert_close(cf.relu(x), R.relu(x), 0)
    assert_close(cf.sigmoid(x), R.sigmoid(x), 4)
    assert_close(cf.leaky_relu_backward(dy, x), R.leaky_relu_backward(dy, x), 2)
    slopes = np.full_like(x, 0.2)
    assert_close(cf.rrelu_backward(dy, x, slopes), R.rrelu_backward(dy, x, slopes), 2)
    y, mask = cf.dropout(x, 0.5, True, np.random.default_rng(1))
    assert_close(y, R.dropout(x, 0.5, True, np.random.default_rng(1))[0], 2)
    xp, w = x[: BIG - 3].reshape(2, 2, -1), np.array([0.1, 0.3], dtype)
    assert_close(cf.prelu(xp, w), R.prelu(xp, w), 2)


def test_results_do_not_depend_on_the_thread_count(isa):
    x = sample(300001, np.float32)
    with cf.threads(1):
        one = cf.tanh(x)
    for n in (2, 7):
        with cf.threads(n):
            np.testing.assert_array_equal(cf.tanh(x), one)


# ---- PReLU ---------------------------------------------------------------------------------------

PRELU_SHAPES = [(0, 3, 4, 4), (1, 1, 1, 1), (2, 3, 5, 7), (3, 17), (1, 16, 33), (5,), (4, 2, 70001 // 8),
                (2, 70, 33, 33)]


@pytest.mark.parametrize("shared", [False, True], ids=["per-channel", "shared"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", PRELU_SHAPES, ids=str)
def test_prelu_matches_reference(isa, nthreads, shape, dtype, shared):
    size = int(np.prod(shape))
    x = sample(size, dtype).reshape(shape)
    dy = sample(size, dtype, seed=3, scale=1.0).reshape(shape)
    channels = 1 if shared or len(shape) < 2 else shape[1]
    w = np.random.default_rng(4).uniform(-0.5, 0.5, channels).astype(dtype)
    keep = (x.copy(), dy.copy(), w.copy())
    assert_close(cf.prelu(x, w), R.prelu(x, w), 2)
    dx, dw = cf.prelu_backward(dy, x, w)
    rdx, rdw = R.prelu_backward(dy, x, w)
    assert_close(dx, rdx, 2)
    # dw sums K = size / channels products: error <= K * eps * sum |x * dy| per channel
    k = max(1, size // channels)
    prod = np.abs(x.astype(np.float64) * dy)
    mag = prod.sum() if channels == 1 else prod.sum(axis=tuple(a for a in range(x.ndim) if a != 1))
    assert_close(dw, rdw, k + 4, np.broadcast_to(mag, rdw.shape))
    for a, b in zip((x, dy, w), keep):
        np.testing.assert_array_equal(a, b)


# ---- random activations: the same seed gives the same draws on both paths ----------------------
# (tests/test_random.py tests the stream itself: known answers, distributions, thread and ISA
# independence.) Uniforms, hence slopes and masks, are the same bits on both paths; the noise
# within NOISE_ULPS of the float64 reference rounded to the dtype: log u1 (a division and two fused
# steps, amplified at most 2.4x where e ln2 and log m partly cancel: 3 ulp, halved by the square
# root: 1.5), the square root, sin or cos (1), the products r * cos and stddev * Z, stddev's own
# rounding to the dtype and the reference's final rounding (0.5 each): 5.
NOISE_ULPS = 5


@pytest.mark.parametrize("size", [0, 1, 17, 1000, 70001])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rrelu_matches_reference(isa, nthreads, dtype, size):
    x, dy = sample(size, dtype), sample(size, dtype, seed=1)
    for training in (False, True):
        y, s = cf.rrelu(x, 0.1, 0.4, training, np.random.default_rng(9))
        ry, rs = R.rrelu(x, 0.1, 0.4, training, np.random.default_rng(9))
        np.testing.assert_array_equal(s, rs)
        assert s.dtype == dtype and s.shape == x.shape
        assert_close(y, ry, 2)
        assert_close(cf.rrelu_backward(dy, x, s), R.rrelu_backward(dy, x, s), 2)


@pytest.mark.parametrize("size", [0, 1, 17, 1000, 70001])
@pytest.mark.parametrize("dtype", DTYPES)
def test_noise_and_noisy_relu_match_reference(isa, nthreads, dtype, size):
    x, dy = sample(size, dtype), sample(size, dtype, seed=1)
    for training in (False, True):
        for name, out in (("gaussian_noise", lambda t: t), ("noisy_relu", lambda t: np.maximum(t, 0))):
            y, n = getattr(cf, name)(x, 0.7, training, np.random.default_rng(2))
            ry, rn = getattr(R, name)(x, 0.7, training, np.random.default_rng(2))
            assert (n is None) == (not training) and (rn is None) == (not training)
            if training:
                assert n.dtype == dtype and n.shape == x.shape and n.flags.c_contiguous
                assert_close(n, rn, NOISE_ULPS)
                np.testing.assert_array_equal(y, out(x + n))  # y from its own noise, in the dtype
            else:
                np.testing.assert_array_equal(y, ry)
            assert_close(cf.noisy_relu_backward(dy, x, n), R.noisy_relu_backward(dy, x, n), 0)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("size", [0, 1, 17, 1000, 70001])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_matches_reference(isa, nthreads, dtype, size, p):
    x, dy = sample(size, dtype), sample(size, dtype, seed=1)
    for training in (False, True):
        y, mask = cf.dropout(x, p, training, np.random.default_rng(6))
        ry, rmask = R.dropout(x, p, training, np.random.default_rng(6))
        np.testing.assert_array_equal(mask, rmask)
        assert_close(y, ry, 2)
        assert_close(cf.dropout_backward(dy, mask, p), R.dropout_backward(dy, mask, p), 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_ops_on_non_contiguous_input_and_streamed_outputs(dtype):
    """Views give what their contiguous copies give; outputs past CF_STREAM_BYTES (non-temporal
    stores) equal the reference too; x is never modified."""
    x = sample(2 * BIG + 2, dtype)[::-2]
    before = x.copy()
    calls = [lambda m, g: m.rrelu(x, 0.1, 0.4, True, g), lambda m, g: m.noisy_relu(x, 0.5, True, g),
             lambda m, g: m.dropout(x, 0.4, True, g)]
    for call in calls:
        got = call(cf, np.random.default_rng(8))
        np.testing.assert_array_equal(got[1], call(cf, np.random.default_rng(8))[1])
        want = call(R, np.random.default_rng(8))
        if got[1].dtype == bool or call is calls[0]:
            np.testing.assert_array_equal(got[1], want[1])
        else:
            assert_close(got[1], want[1], NOISE_ULPS)
    np.testing.assert_array_equal(x, before)


def test_dropout_keeps_nan_like_torch():
    x = np.array([np.nan] * 64, np.float32)
    y, mask = cf.dropout(x, 0.5, True, np.random.default_rng(0))
    assert np.isnan(y).all() and not mask.all()


# ---- bad input: the reference and the C path refuse the same things ----------------------------

MODULES = [pytest.param(cf, id="c"), pytest.param(R, id="reference")]
X = np.zeros((2, 3, 4), np.float32)
BAD = [
    (lambda m: m.relu([1.0, 2.0]), TypeError, "x"),
    (lambda m: m.relu(np.zeros(3, np.int32)), TypeError, "x"),
    (lambda m: m.sigmoid(np.zeros(3, np.float16)), TypeError, "x"),
    (lambda m: m.tanh(np.zeros(3, np.complex128)), TypeError, "x"),
    (lambda m: m.relu_backward(X.astype(np.float64), X), TypeError, "dy"),
    (lambda m: m.relu_backward(X[:1], X), ValueError, "dy"),
    (lambda m: m.tanh_backward(X, X[..., :2]), ValueError, "dy"),
    (lambda m: m.leaky_relu(X, "0.1"), TypeError, "negative_slope"),
    (lambda m: m.leaky_relu(X, float("nan")), ValueError, "negative_slope"),
    (lambda m: m.elu(X, alpha=float("inf")), ValueError, "alpha"),
    (lambda m: m.elu_backward(X, X, alpha=None), TypeError, "alpha"),
    (lambda m: m.prelu(X, np.ones(4, np.float32)), ValueError, "weight"),
    (lambda m: m.prelu(X, np.ones((3, 1), np.float32)), ValueError, "weight"),
    (lambda m: m.prelu(X, np.ones(3, np.float64)), TypeError, "weight"),
    (lambda m: m.prelu(np.zeros(5, np.float32), np.ones(5, np.float32)), ValueError, "weight"),
    (lambda m: m.prelu_backward(X[:1], X, np.ones(3, np.float32)), ValueError, "dy"),
    (lambda m: m.rrelu(X, 0.5, 0.1), ValueError, "lower"),
    (lambda m: m.rrelu(X, training="yes"), TypeError, "training"),
    (lambda m: m.rrelu(X, training=True, rng=42), TypeError, "rng"),
    (lambda m: m.rrelu_backward(X, X, X.astype(np.float64)), TypeError, "slopes"),
    (lambda m: m.rrelu_backward(X, X, X[:1]), ValueError, "slopes"),
    (lambda m: m.gaussian_noise(X, -1.0, True), ValueError, "stddev"),
    (lambda m: m.noisy_relu(X, 0.1, 1), TypeError, "training"),
    (lambda m: m.noisy_relu_backward(X, X, X[:1]), ValueError, "noise"),
    (lambda m: m.dropout(X, 1.5, True), ValueError, "p"),
    (lambda m: m.dropout(X, -0.1, True), ValueError, "p"),
    (lambda m: m.dropout_backward(X, np.ones(X.shape, np.float32), 0.5), TypeError, "mask"),
    (lambda m: m.dropout_backward(X, np.ones((2, 3), bool), 0.5), ValueError, "mask"),
    (lambda m: m.dropout_backward(X, [True], 0.5), TypeError, "mask"),
]


@pytest.mark.parametrize("call,exc,word", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
@pytest.mark.parametrize("mod", MODULES)
def test_bad_input_is_refused(mod, call, exc, word):
    with pytest.raises(exc, match=word):
        call(mod)


def test_calls_from_eight_python_threads_match_serial_results():
    from concurrent.futures import ThreadPoolExecutor

    x = sample(200003, np.float32)
    dy = sample(200003, np.float32, seed=1)
    w = np.array([0.1], np.float32)
    jobs = [lambda: cf.tanh(x), lambda: cf.elu_backward(dy, x), lambda: cf.prelu_backward(dy, x, w)[0],
            lambda: cf.dropout(x, 0.4, True, np.random.default_rng(3))[0]]
    serial = [job() for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: jobs[i % len(jobs)](), range(32)))
    for i, got in enumerate(results):
        np.testing.assert_array_equal(got, serial[i % len(jobs)])


# ---- property tests -----------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 7), min_size=0, max_size=4), dtype=st.sampled_from(DTYPES),
       name=st.sampled_from([f[0] for f in FORWARD]), scale=st.sampled_from([1.0, 50.0, 1e4]))
def test_property_forward_and_backward_on_random_shapes(shape, dtype, name, scale):
    size = int(np.prod(shape))
    x = sample(size, dtype, scale=scale).reshape(shape)
    dy = sample(size, dtype, seed=1).reshape(shape)
    kw, ulps = {f[0]: (f[1], f[2]) for f in FORWARD}[name]
    assert_close(getattr(cf, name)(x, **kw), getattr(R, name)(x, **kw), ulps)
    second, kw, ulps, scale_fn = backward_args(name, x, dtype)
    assert_close(getattr(cf, name + "_backward")(dy, second, **kw), getattr(R, name + "_backward")(dy, second, **kw),
                 ulps, None if scale_fn is None else scale_fn(dy, second))


@settings(max_examples=80, deadline=None)
@given(x=st.one_of(st.none(), st.floats(), st.sampled_from([np.zeros((2, 3), np.float32), np.zeros(3, np.int64),
                                                            np.zeros((), np.float64), np.ones(4, np.complex64)])),
       param=st.one_of(st.none(), st.floats(), st.integers(-2, 2), st.booleans(), st.text(max_size=2)))
def test_property_anything_gives_a_result_or_a_clean_exception(x, param):
    for call in (lambda: cf.leaky_relu(x, param), lambda: cf.elu_backward(x, x, param),
                 lambda: cf.dropout(x, param, True), lambda: cf.gaussian_noise(x, param, True),
                 lambda: cf.rrelu(x, param, 0.5, True), lambda: cf.prelu(x, x)):
        try:
            call()
        except (TypeError, ValueError, OverflowError):
            pass


@pytest.mark.parametrize("op, kw", [("leaky_relu", "negative_slope"), ("elu", "alpha")])
@pytest.mark.parametrize("value", [1e-60, -1e-300, 1e39])
def test_coefficients_that_the_dtype_cannot_hold_are_refused(op, kw, value):
    """A slope of 1e-60 is 0 in float32, and 0 * -inf would be NaN where the reference says -inf:
    both paths refuse such coefficients instead of disagreeing."""
    x = np.array([-np.inf, -1.0, 0.0, 2.0], np.float32)
    for mod in (cf, R):
        with pytest.raises(ValueError, match=kw):
            getattr(mod, op)(x, **{kw: value})
        with pytest.raises(ValueError, match=kw):
            getattr(mod, op + "_backward")(np.ones_like(x), x, **{kw: value})
    with np.errstate(invalid="ignore"):  # a slope of exactly 0 is allowed: 0 * -inf is NaN in both
        np.testing.assert_array_equal(cf.leaky_relu(x, negative_slope=0.0), R.leaky_relu(x, negative_slope=0.0))
