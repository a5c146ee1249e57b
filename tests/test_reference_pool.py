"""The reference pooling (max_pool2d, avg_pool2d, global_avg_pool2d and their backward passes)
against torch.nn.functional when installed, finite differences, exact small-integer data, edge
shapes, NaN / -inf / ties, invariants, and every class of bad input."""
import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cnnfast import reference as ref

try:  # optional: the comparisons with PyTorch skip without it
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

DTYPES = [np.float32, np.float64]


def data(shape, dtype, seed=0, integers=False):
    rng = np.random.default_rng(seed)
    if integers:
        return rng.integers(-4, 5, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def torch_max_pool(x, dy, **params):
    """torch's (y, indices, dx) for max_pool2d in x's dtype."""
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    y, indices = torch.nn.functional.max_pool2d(tx, **params, return_indices=True)
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), indices.numpy(), tx.grad.numpy()


def torch_avg_pool(x, dy, **params):
    """torch's (y, dx) for avg_pool2d in x's dtype."""
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.avg_pool2d(tx, **params)
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), tx.grad.numpy()


def check_max_pool(x, **params):
    """Reference vs torch: y and indices identical (a max is exact), dx to rounding (torch sums
    the gradients of windows sharing a maximum in x's dtype)."""
    y, indices = ref.max_pool2d(x, **params)
    dy = data(y.shape, x.dtype, seed=1)
    ty, tindices, tdx = torch_max_pool(x, dy, **params)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_array_equal(indices, tindices)
    assert indices.dtype == np.int64 and y.dtype == x.dtype
    dx = ref.max_pool2d_backward(dy, indices, x.shape)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    overlap = np.prod(params["kernel_size"]) if np.ndim(params["kernel_size"]) else params["kernel_size"] ** 2
    np.testing.assert_allclose(dx, tdx, rtol=overlap * np.finfo(x.dtype).eps,
                               atol=overlap * np.finfo(x.dtype).eps * np.abs(dy).max(initial=0))


def check_avg_pool(x, **params):
    """Reference vs torch: each output is a sum of at most kh*kw terms and a division."""
    y = ref.avg_pool2d(x, **params)
    dy = data(y.shape, x.dtype, seed=1)
    ty, tdx = torch_avg_pool(x, dy, **params)
    dx = ref.avg_pool2d_backward(dy, x.shape, **params)
    assert y.dtype == dx.dtype == x.dtype
    terms = np.prod(np.broadcast_to(params["kernel_size"], 2)) + 1
    tol = 2 * terms * np.finfo(x.dtype).eps
    np.testing.assert_allclose(y, ty, rtol=0, atol=tol * np.abs(x).max(initial=0))
    np.testing.assert_allclose(dx, tdx, rtol=0, atol=tol * np.abs(dy).max(initial=0))


# ---- against PyTorch ---------------------------------------------------------------------------

POOL_CASES = [  # x shape, params common to max and avg pooling
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 6), dict(kernel_size=3, stride=2, ceil_mode=True)),      # clipped last window
    ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ((2, 2, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    ((1, 2, 9, 9), dict(kernel_size=2, stride=3)),                       # stride > kernel
    ((2, 1, 3, 4), dict(kernel_size=(3, 4))),                            # H, W = kernel
    ((1, 3, 1, 1), dict(kernel_size=3, stride=1, padding=1)),            # plane < kernel
    ((1, 2, 2, 3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 2, 5, 5), dict(kernel_size=1)),
    ((1, 1, 11, 10), dict(kernel_size=5, stride=3, padding=2, ceil_mode=True)),
    ((0, 3, 6, 6), dict(kernel_size=2)),                                 # N = 0
]

DILATED_CASES = [
    ((2, 2, 9, 8), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ((1, 2, 10, 9), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(3, 2),
                         ceil_mode=True)),
    ((1, 1, 2, 2), dict(kernel_size=2, padding=1, dilation=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,params", POOL_CASES + DILATED_CASES)
def test_max_pool2d_matches_torch(shape, params, dtype):
    check_max_pool(data(shape, dtype), **params)
    check_max_pool(data(shape, dtype, integers=True), **params)     # many ties


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape,params", POOL_CASES)
def test_avg_pool2d_matches_torch(shape, params, count_include_pad, dtype):
    check_avg_pool(data(shape, dtype), **params, count_include_pad=count_include_pad)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape,params", POOL_CASES)
def test_avg_pool2d_exact_in_float64_on_small_integers(shape, params, count_include_pad):
    """Integer sums are exact and the one division is correctly rounded on both sides."""
    x = data(shape, np.float64, integers=True)
    y = ref.avg_pool2d(x, **params, count_include_pad=count_include_pad)
    dy = data(y.shape, np.float64, seed=1, integers=True)
    ty, _ = torch_avg_pool(x, dy, **params, count_include_pad=count_include_pad)
    np.testing.assert_array_equal(y, ty)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_exact_gradient_on_small_integers(dtype):
    x = data((2, 3, 9, 9), dtype, integers=True)
    y, indices = ref.max_pool2d(x, 3, stride=1, padding=1)
    dy = data(y.shape, dtype, seed=1, integers=True)
    _, _, tdx = torch_max_pool(x.astype(np.float64), dy.astype(np.float64), kernel_size=3,
                               stride=1, padding=1)
    np.testing.assert_array_equal(ref.max_pool2d_backward(dy, indices, x.shape), tdx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (0, 2, 3, 3), (3, 2, 1, 9)])
def test_global_avg_pool2d_matches_torch(shape, dtype):
    torch = pytest.importorskip("torch")
    x = data(shape, dtype)
    y = ref.global_avg_pool2d(x)
    dy = data(y.shape, dtype, seed=1)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, 1).reshape(shape[:2])
    ty.backward(torch.tensor(dy))
    dx = ref.global_avg_pool2d_backward(dy, shape)
    tol = 2 * (shape[2] * shape[3] + 1) * np.finfo(dtype).eps
    assert y.shape == shape[:2] and y.dtype == dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=0, atol=tol * np.abs(x).max(initial=0))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=0)


# ---- NaN, -inf, ties ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_propagates_like_torch(dtype):
    x = data((2, 2, 6, 6), dtype)
    x[0, 0, 1, 1] = x[0, 0, 1, 3] = x[1, 1, 4, 4] = np.nan
    x[0, 0, 2, 2] = np.inf
    check_max_pool(x, kernel_size=3, stride=1, padding=1)
    y, _ = ref.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    assert np.isnan(y[0, 0, :3, :5]).all() and np.isnan(y[1, 1, 3:, 3:]).all()


def test_max_pool2d_all_minus_inf_points_inside_the_plane():
    """Padding counts as -inf, but never wins: a window of -inf points at its first input."""
    x = np.full((1, 1, 2, 3), -np.inf)
    y, indices = ref.max_pool2d(x, 2, stride=1, padding=1)
    assert np.all(y == -np.inf)
    np.testing.assert_array_equal(indices[0, 0], [[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5]])
    check_max_pool(x, kernel_size=2, stride=1, padding=1)


def test_max_pool2d_ties_go_to_the_first_index():
    x = np.array([[[[1.0, 2.0, 2.0], [2.0, 0.0, 2.0]]]])
    y, indices = ref.max_pool2d(x, kernel_size=(2, 3))
    assert y[0, 0, 0, 0] == 2.0 and indices[0, 0, 0, 0] == 1


# ---- finite differences and invariants ---------------------------------------------------------

def numerical_grad(f, x, dy, h=1e-6):
    """Central differences of sum(f(x) * dy) with respect to x (float64)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = np.sum(f(x) * dy)
        x[i] = old - h
        minus = np.sum(f(x) * dy)
        x[i] = old
        g[i] = (plus - minus) / (2 * h)
    return g


@pytest.mark.parametrize("params", [
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), ceil_mode=True,
         count_include_pad=False),
])
def test_avg_pool2d_backward_matches_finite_differences(params):
    x = data((2, 2, 5, 6), np.float64)
    dy = data(ref.avg_pool2d(x, **params).shape, np.float64, seed=1)
    numeric = numerical_grad(lambda x: ref.avg_pool2d(x, **params), x, dy)
    np.testing.assert_allclose(ref.avg_pool2d_backward(dy, x.shape, **params), numeric,
                               atol=1e-5, rtol=1e-3)


def test_max_pool2d_backward_matches_finite_differences():
    # distinct values, at least 1e-3 apart: no tie is within reach of the finite difference
    x = np.random.default_rng(0).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 1e-3
    params = dict(kernel_size=3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True)
    y, indices = ref.max_pool2d(x, **params)
    dy = data(y.shape, np.float64, seed=1)
    numeric = numerical_grad(lambda x: ref.max_pool2d(x, **params)[0], x, dy)
    np.testing.assert_allclose(ref.max_pool2d_backward(dy, indices, x.shape), numeric,
                               atol=1e-5, rtol=1e-3)


def test_global_avg_pool2d_backward_matches_finite_differences():
    x = data((2, 3, 4, 5), np.float64)
    dy = data((2, 3), np.float64, seed=1)
    numeric = numerical_grad(ref.global_avg_pool2d, x, dy)
    np.testing.assert_allclose(ref.global_avg_pool2d_backward(dy, x.shape), numeric,
                               atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("shape,params", POOL_CASES + DILATED_CASES)
def test_max_pool2d_gradient_lands_on_argmaxes(shape, params):
    x = data(shape, np.float64, integers=True)
    y, indices = ref.max_pool2d(x, **params)
    planes = x.reshape(*shape[:2], shape[2] * shape[3])
    flat_indices = indices.reshape(*y.shape[:2], y.shape[2] * y.shape[3])
    np.testing.assert_array_equal(np.take_along_axis(planes, flat_indices, axis=2).reshape(y.shape), y)
    dy = data(y.shape, np.float64, seed=1)
    dx = ref.max_pool2d_backward(dy, indices, shape)
    np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-12, atol=1e-12)
    touched = np.zeros(planes.shape, dtype=bool)
    np.put_along_axis(touched, flat_indices, True, axis=2)
    assert not dx.reshape(planes.shape)[~touched].any()


def test_global_avg_pool2d_backward_preserves_the_sum():
    dy = data((3, 4), np.float64)
    np.testing.assert_allclose(ref.global_avg_pool2d_backward(dy, (3, 4, 5, 2)).sum(), dy.sum())


def test_avg_pool2d_without_padding_preserves_the_sum():
    x = data((2, 3, 8, 8), np.float64)
    dy = data((2, 3, 4, 4), np.float64, seed=1)
    dx = ref.avg_pool2d_backward(dy, x.shape, kernel_size=2)
    np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-12)


# ---- layouts, freshness ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_and_fresh_outputs(dtype):
    x = data((2, 3, 7, 8), dtype)
    params = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    y, indices = ref.max_pool2d(x, **params)
    ya = ref.avg_pool2d(x, **params)
    yg = ref.global_avg_pool2d(x)
    dy = data(y.shape, dtype, seed=1)
    dyg = data(yg.shape, dtype, seed=2)
    want = (y, indices, ya, yg, ref.max_pool2d_backward(dy, indices, x.shape),
            ref.avg_pool2d_backward(dy, x.shape, **params),
            ref.global_avg_pool2d_backward(dyg, x.shape))
    for view in (lambda a: np.asfortranarray(a), lambda a: np.ascontiguousarray(a[::-1])[::-1],
                 lambda a: np.repeat(a, 2, axis=-1)[..., ::2]):
        xv, dyv, iv, dygv = view(x), view(dy), view(indices), view(dyg)
        before = [a.copy() for a in (xv, dyv, iv, dygv)]
        got = (*ref.max_pool2d(xv, **params), ref.avg_pool2d(xv, **params),
               ref.global_avg_pool2d(xv), ref.max_pool2d_backward(dyv, iv, x.shape),
               ref.avg_pool2d_backward(dyv, x.shape, **params),
               ref.global_avg_pool2d_backward(dygv, x.shape))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
            assert g.flags.c_contiguous and g.dtype == w.dtype
            assert not any(np.shares_memory(g, a) for a in (xv, dyv, iv, dygv))
        for a, a0 in zip((xv, dyv, iv, dygv), before):
            np.testing.assert_array_equal(a, a0)


# ---- property tests ----------------------------------------------------------------------------

@st.composite
def pool_setups(draw):
    """Consistent pooling parameters that PyTorch accepts."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    ceil_mode = draw(st.booleans())
    size = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), d * (k - 1) + 6))
            for k, p, d in zip(kernel, padding, dilation)]
    shape = (draw(st.integers(0, 2)), draw(st.integers(1, 3)), *size)
    params = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    return shape, params, dilation, draw(st.sampled_from(DTYPES)), draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(setup=pool_setups())
def test_consistent_parameters_match_torch(setup):
    pytest.importorskip("torch")
    shape, params, dilation, dtype, count_include_pad = setup
    x = data(shape, dtype)
    try:
        ref.max_pool2d(x, **params, dilation=dilation)
    except ValueError as e:     # a dilated window that covers only padding (torch misindexes)
        assert "covers only padding" in str(e)
        event("dilated window in the padding")
    else:
        check_max_pool(x, **params, dilation=dilation)
    check_avg_pool(x, **params, count_include_pad=count_include_pad)


WILD = st.sampled_from([-1, 0, 1, 2, 3, 2**31 - 1, 2**31, 2**31 + 1, 2**62, 2**63 - 1, 2**63])


def small_or_wild(lo, hi):
    """Mostly a small value in [lo, hi], sometimes one near 2**31, 2**62, 2**63 or negative."""
    return st.one_of(st.integers(lo, hi), st.integers(lo, hi), st.integers(lo, hi), WILD)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 5), n=st.integers(0, 2), kernel=small_or_wild(1, 3),
       stride=st.none() | small_or_wild(1, 3), padding=small_or_wild(0, 1),
       dilation=small_or_wild(1, 2), ceil_mode=st.booleans())
def test_any_parameters_give_a_result_or_a_clean_error(size, n, kernel, stride, padding, dilation,
                                                       ceil_mode):
    """Pooling outputs are never larger than the input plus one (padding <= kernel/2), so any
    accepted parameters, however large, are cheap to run."""
    x = data((n, 2, size, size), np.float64)
    params = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    try:
        y, indices = ref.max_pool2d(x, **params, dilation=dilation)
        dx = ref.max_pool2d_backward(y, indices, x.shape)
        ya = ref.avg_pool2d(x, **params)
        dxa = ref.avg_pool2d_backward(ya, x.shape, **params)
    except (ValueError, TypeError, OverflowError) as e:
        event(f"refused: {type(e).__name__}")
        return
    event("computed")
    assert dx.shape == dxa.shape == x.shape
    small = all(v is None or 0 <= v <= 64 for v in (kernel, stride, padding, dilation))
    if HAVE_TORCH and small and y.size:
        check_max_pool(x, **params, dilation=dilation)
        check_avg_pool(x, **params)


# ---- bad input ---------------------------------------------------------------------------------

X = np.ones((2, 3, 6, 6))
Y, IDX = ref.max_pool2d(X, 2)
DY = np.ones((2, 3, 3, 3))

BAD = [
    # zero / negative parameters, padding over half the kernel
    (lambda: ref.max_pool2d(X, 0), ValueError, r"kernel_size must be >= 1, got 0"),
    (lambda: ref.avg_pool2d(X, (2, -1)), ValueError, r"kernel_size\[1\]"),
    (lambda: ref.max_pool2d(X, 2, stride=0), ValueError, r"stride"),
    (lambda: ref.avg_pool2d(X, 2, stride=(1, -1)), ValueError, r"stride\[1\]"),
    (lambda: ref.max_pool2d(X, 2, padding=-1), ValueError, r"padding must be >= 0"),
    (lambda: ref.max_pool2d(X, 3, padding=2), ValueError,
     r"padding height = 2 must be at most half of kernel_size height = 3"),
    (lambda: ref.avg_pool2d(X, (2, 4), padding=(1, 3)), ValueError, r"padding width = 3"),
    (lambda: ref.avg_pool2d_backward(DY, X.shape, 2, padding=2), ValueError, r"padding"),
    (lambda: ref.max_pool2d(X, 2, dilation=0), ValueError, r"dilation"),
    (lambda: ref.max_pool2d(np.ones((1, 1, 2, 2)), 2, padding=1, dilation=3), ValueError,
     r"covers only padding"),
    # output size below 1, zero channels, empty planes
    (lambda: ref.max_pool2d(X, 7), ValueError, r"output height would be 0"),
    (lambda: ref.avg_pool2d(X, (1, 7)), ValueError, r"output width"),
    (lambda: ref.max_pool2d(X, 3, dilation=3), ValueError, r"output height"),
    (lambda: ref.max_pool2d(np.ones((2, 0, 4, 4)), 2), ValueError, r"zero channels"),
    (lambda: ref.avg_pool2d(np.ones((2, 3, 0, 4)), 1), ValueError, r"empty 0x4 plane"),
    (lambda: ref.global_avg_pool2d(np.ones((2, 3, 4, 0))), ValueError, r"empty 4x0 plane"),
    (lambda: ref.global_avg_pool2d_backward(np.ones((2, 3)), (2, 3, 0, 1)), ValueError, r"empty"),
    (lambda: ref.global_avg_pool2d(np.ones((2, 0, 4, 4))), ValueError, r"zero channels"),
    # parameters near 2**31, 2**62, 2**63
    (lambda: ref.max_pool2d(X, 2**63), OverflowError, r"kernel_size"),
    (lambda: ref.max_pool2d(X, 2, stride=2**64), OverflowError, r"stride"),
    (lambda: ref.max_pool2d(X, 2**31), ValueError, r"output height"),
    (lambda: ref.max_pool2d(X, 2**63 - 1, padding=2**62 - 1), OverflowError, r"padded input"),
    (lambda: ref.max_pool2d(X, 3, dilation=2**62), OverflowError, r"dilated kernel"),
    (lambda: ref.avg_pool2d_backward(np.ones((0, 1, 3, 3)), (0, 1, 2**62, 2**62), 2),
     OverflowError, r"output"),
    (lambda: ref.max_pool2d_backward(DY, IDX, (2, 3, 2**62, 2**62)), OverflowError, r"input_shape"),
    # gradients and indices that do not belong to the forward call
    (lambda: ref.avg_pool2d_backward(DY[:, :, 1:], X.shape, 2), ValueError, r"dy .*\(2, 3, 3, 3\)"),
    (lambda: ref.avg_pool2d_backward(DY, X.shape, 3), ValueError, r"dy"),
    (lambda: ref.global_avg_pool2d_backward(np.ones((2, 4)), X.shape), ValueError, r"dy"),
    (lambda: ref.max_pool2d_backward(DY[:, :, 1:], IDX, X.shape), ValueError, r"indices has shape"),
    (lambda: ref.max_pool2d_backward(DY, IDX, (2, 4, 6, 6)), ValueError, r"N and C must match"),
    (lambda: ref.max_pool2d_backward(DY, IDX + 36, X.shape), ValueError,
     r"indices holds 36, outside the 6x6 input plane"),
    (lambda: ref.max_pool2d_backward(DY, IDX - 100, X.shape), ValueError, r"indices holds -"),
    (lambda: ref.max_pool2d_backward(DY, IDX, (2, 3, 4, 6)), ValueError, r"outside the 4x6"),
    (lambda: ref.max_pool2d_backward(DY, IDX.astype(np.int32), X.shape), TypeError, r"int64"),
    (lambda: ref.max_pool2d_backward(DY, IDX.astype(np.float64), X.shape), TypeError, r"indices"),
    (lambda: ref.max_pool2d_backward(DY, IDX.tolist(), X.shape), TypeError, r"indices must be"),
    # input_shape
    (lambda: ref.max_pool2d_backward(DY, IDX, (2, 3, 6)), ValueError, r"input_shape must have 4"),
    (lambda: ref.max_pool2d_backward(DY, IDX, "2,3,6,6"), TypeError, r"input_shape"),
    (lambda: ref.avg_pool2d_backward(DY, (2, 3, -6, 6), 2), ValueError, r"input_shape\[2\]"),
    (lambda: ref.avg_pool2d_backward(DY, (2, 3, 6.0, 6), 2), TypeError, r"input_shape\[2\]"),
    # flags
    (lambda: ref.max_pool2d(X, 2, ceil_mode=1), TypeError, r"ceil_mode must be a bool"),
    (lambda: ref.avg_pool2d(X, 2, count_include_pad="yes"), TypeError, r"count_include_pad"),
    # dtypes and types
    (lambda: ref.max_pool2d(X.astype(np.int32), 2), TypeError, r"x must have dtype"),
    (lambda: ref.avg_pool2d(X.astype(np.float16), 2), TypeError, r"float16"),
    (lambda: ref.global_avg_pool2d(X.astype(np.complex64)), TypeError, r"complex64"),
    (lambda: ref.max_pool2d(X.tolist(), 2), TypeError, r"x must be a numpy.ndarray"),
    (lambda: ref.max_pool2d_backward(DY.astype(np.int64), IDX, X.shape), TypeError, r"dy"),
    (lambda: ref.avg_pool2d_backward(DY.astype(np.float16), X.shape, 2), TypeError, r"dy"),
    (lambda: ref.max_pool2d(X, 2.0), TypeError, r"kernel_size must be an integer"),
    (lambda: ref.max_pool2d(X, (2, 2, 2)), ValueError, r"kernel_size must be an integer or a pair"),
    # ranks
    (lambda: ref.max_pool2d(X[0], 2), ValueError, r"x must have 4 dimensions"),
    (lambda: ref.global_avg_pool2d(X[0]), ValueError, r"x must have 4 dimensions"),
]


@pytest.mark.parametrize("call,exc,match", BAD)
def test_bad_input_is_refused(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_huge_kernel_with_half_padding_is_legal_and_cheap():
    """kernel 2**31 with padding 2**30 makes every window cover the whole 4x5 plane: only the
    taps that read the input are visited."""
    x = data((1, 2, 4, 5), np.float64)
    y, _ = ref.max_pool2d(x, 2**31, stride=2**31, padding=2**30)
    assert y.shape == (1, 2, 1, 1)
    np.testing.assert_array_equal(y[..., 0, 0], x.max(axis=(2, 3)))
    ya = ref.avg_pool2d(x, 2**31, stride=2**31, padding=2**30, count_include_pad=False)
    np.testing.assert_allclose(ya[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-14)


def test_ceil_mode_window_past_int64_is_refused():
    """(input 1 + 2*padding (2**62 - 1)) fits int64 and so does the kernel 2**63 - 2, but the
    second ceil_mode window, one stride 2**62 - 1 further, ends beyond it."""
    with pytest.raises(OverflowError, match=r"pooling windows"):
        ref.max_pool2d(np.ones((1, 1, 1, 1)), (2**63 - 2, 1), stride=(2**62 - 1, 1),
                       padding=(2**62 - 1, 0), ceil_mode=True)
