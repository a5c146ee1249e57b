"""The reference convolution (cnnfast.reference.conv2d, conv_transpose2d and their backward
passes) against finite differences, against torch.nn.functional when installed, exactly on
small-integer data, on edge shapes and invariants, and on every class of bad input."""
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cnnfast import reference as ref

try:  # optional: the comparisons with PyTorch skip without it
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
DTYPES = [np.float32, np.float64]
OPS = {False: (ref.conv2d, ref.conv2d_backward), True: (ref.conv_transpose2d,
                                                      ref.conv_transpose2d_backward)}


def run_ref(transpose, x, w, b, dy_seed=0, **params):
    """Reference forward and backward: (y, dy, dx, dweight, dbias)."""
    forward, backward = OPS[transpose]
    y = forward(x, w, b, **params)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(x.dtype)
    return (y, dy, *backward(dy, x, w, **params, need_bias_grad=b is not None))


def run_torch(transpose, x, w, b, dy, **params):
    """torch.nn.functional forward and autograd backward in x's dtype: (y, dx, dweight, dbias)."""
    torch = pytest.importorskip("torch")
    fn = torch.nn.functional.conv_transpose2d if transpose else torch.nn.functional.conv2d
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    y = fn(tx, tw, tb, **params)
    y.backward(torch.tensor(dy))
    return (y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(),
            None if b is None else tb.grad.numpy())


def make(shape_x, shape_w, bias, dtype, seed=0, integers=False):
    rng = np.random.default_rng(seed)
    draw = ((lambda s: rng.integers(-4, 5, s)) if integers else rng.standard_normal)
    x, w = draw(shape_x).astype(dtype), draw(shape_w).astype(dtype)
    b = draw((shape_w[0] if bias is None else bias,)).astype(dtype) if bias is not False else None
    return x, w, b


def compare_with_torch(transpose, x, w, b, **params):
    """Reference vs PyTorch in x's dtype, forward and backward. Each result is a sum of at most
    n_terms products; both sides may err by n_terms*eps(dtype) times the sum of |terms| (torch
    on |inputs| in float64), so the difference is bounded by twice that."""
    y, dy, *grads = run_ref(transpose, x, w, b, **params)
    theirs = run_torch(transpose, x, w, b, dy, **params)
    bound = run_torch(transpose, *(None if a is None else np.abs(a).astype(np.float64)
                                   for a in (x, w, b, dy)), **params)
    n_terms = max(x.size, w.size, dy.size) + 1
    tol = 2 * n_terms * np.finfo(x.dtype).eps
    for name, got, want, size in zip(("y", "dx", "dweight", "dbias"), (y, *grads), theirs, bound):
        if want is None:
            assert got is None
            continue
        assert got.dtype == x.dtype and got.shape == want.shape, name
        assert np.all(np.abs(got.astype(np.float64) - want) <= tol * size + 1e-300), name


# ---- against PyTorch ---------------------------------------------------------------------------

CONV_CASES = [  # x shape, weight shape, params
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ((2, 3, 8, 9), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 2, 9, 7), (3, 2, 2, 2), dict(stride=3)),                       # stride > kernel
    ((2, 2, 9, 8), (3, 2, 3, 3), dict(dilation=2, padding=2)),
    ((2, 4, 6, 5), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 4, 6, 5), (4, 1, 3, 3), dict(groups=4, padding=1)),             # depthwise
    ((2, 3, 6, 5), (6, 1, 3, 3), dict(groups=3, stride=2, padding=1)),    # depthwise x2
    ((2, 5, 4, 3), (7, 5, 1, 1), dict()),                                # 1x1
    ((2, 3, 3, 4), (2, 3, 3, 4), dict()),                                # H, W = kernel
    ((1, 1, 2, 2), (2, 1, 3, 3), dict(padding=1)),                       # plane < kernel
    ((1, 2, 1, 1), (2, 2, 3, 3), dict(padding=1)),
    ((2, 3, 7, 8), (2, 3, 3, 1), dict(stride=(1, 2), padding=(0, 1), dilation=(2, 1))),
    ((2, 3, 7, 8), (2, 3, 3, 3), dict(padding="same")),
    ((2, 3, 7, 8), (2, 3, 4, 2), dict(padding="same", dilation=(1, 3))),  # odd total: pad after
    ((2, 3, 7, 8), (2, 3, 2, 3), dict(padding="valid", stride=2)),
    ((1, 1, 5, 5), (1, 1, 3, 3), dict(stride=2, padding=1)),             # C = K = 1
    ((0, 3, 5, 5), (2, 3, 3, 3), dict(padding=1)),                       # N = 0
]

TRANSPOSE_CASES = [
    ((2, 3, 4, 5), (3, 4, 3, 3), dict(padding=1)),
    ((2, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 3, 4), (4, 2, 3, 2), dict(stride=(2, 3), output_padding=(1, 2), groups=2)),
    ((2, 4, 3, 3), (4, 1, 3, 3), dict(groups=4, stride=2)),              # depthwise
    ((1, 2, 4, 4), (2, 3, 3, 3), dict(dilation=3, output_padding=2)),   # output_padding >= stride
    ((2, 2, 3, 3), (2, 3, 2, 2), dict(stride=3)),                       # stride > kernel
    ((2, 5, 3, 4), (5, 2, 1, 1), dict()),                               # 1x1
    ((1, 1, 1, 1), (1, 1, 3, 3), dict(padding=1)),                      # 1x1 plane -> 1x1
    ((0, 2, 3, 3), (2, 3, 3, 3), dict(stride=2)),                       # N = 0
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [None, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape_x,shape_w,params", CONV_CASES)
def test_conv2d_matches_torch(shape_x, shape_w, params, bias, dtype):
    x, w, b = make(shape_x, shape_w, bias, dtype)
    compare_with_torch(False, x, w, b, **params)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [None, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape_x,shape_w,params", TRANSPOSE_CASES)
def test_conv_transpose2d_matches_torch(shape_x, shape_w, params, bias, dtype):
    groups = params.get("groups", 1)
    x, w, b = make(shape_x, shape_w, shape_w[1] * groups if bias is None else bias, dtype)
    compare_with_torch(True, x, w, b, **params)


@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "transpose"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_on_small_integers(transpose, dtype):
    """Small-integer data: every partial sum is exact, so float32 and float64 results equal
    torch's float64 results bit for bit."""
    cases = TRANSPOSE_CASES if transpose else CONV_CASES
    for shape_x, shape_w, params in cases:
        out_channels = shape_w[1] * params.get("groups", 1) if transpose else shape_w[0]
        x, w, b = make(shape_x, shape_w, out_channels, dtype, integers=True)
        forward, backward = OPS[transpose]
        y = forward(x, w, b, **params)
        dy = np.random.default_rng(1).integers(-4, 5, y.shape).astype(dtype)
        got = (y, *backward(dy, x, w, **params))
        want = run_torch(transpose, *(a.astype(np.float64) for a in (x, w, b, dy)), **params)
        for g, t in zip(got, want):
            assert g.dtype == dtype
            np.testing.assert_array_equal(g, t)


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


GRADCHECK_CASES = [
    (False, (2, 4, 5, 4), (4, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                                            groups=2)),
    (False, (1, 2, 4, 5), (3, 2, 2, 3), dict(padding="same", dilation=(2, 1))),
    (True, (2, 4, 3, 3), (4, 1, 3, 2), dict(stride=2, padding=1, output_padding=1, groups=2)),
    (True, (1, 2, 2, 3), (2, 2, 2, 2), dict(dilation=2, output_padding=(1, 0))),
]


@pytest.mark.parametrize("transpose,shape_x,shape_w,params", GRADCHECK_CASES)
def test_backward_matches_finite_differences(transpose, shape_x, shape_w, params):
    out_channels = shape_w[1] * params.get("groups", 1) if transpose else shape_w[0]
    x, w, b = make(shape_x, shape_w, out_channels, np.float64)
    forward, _ = OPS[transpose]
    _, dy, dx, dw, db = run_ref(transpose, x, w, b, **params)
    numeric = numerical_grads(lambda x, w, b: forward(x, w, b, **params), [x, w, b], dy)
    for got, want in zip((dx, dw, db), numeric):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-3)


# ---- invariants --------------------------------------------------------------------------------

@pytest.mark.parametrize("transpose,shape_x,shape_w,params", GRADCHECK_CASES)
def test_adjointness(transpose, shape_x, shape_w, params):
    """<dy, op(x, w)> = <dx, x> = <dweight, w> for the bias-free (bilinear) op."""
    x, w, _ = make(shape_x, shape_w, False, np.float64)
    y, dy, dx, dw, _ = run_ref(transpose, x, w, None, **params)
    inner = np.vdot(dy, y)
    np.testing.assert_allclose(np.vdot(dx, x), inner, rtol=1e-12)
    np.testing.assert_allclose(np.vdot(dw, w), inner, rtol=1e-12)


def test_conv_transpose2d_is_conv2d_data_gradient():
    x, w, _ = make((2, 4, 9, 8), (6, 2, 3, 3), False, np.float64)
    params = dict(stride=2, padding=1, dilation=1, groups=2)
    y = ref.conv2d(x, w, **params)
    dx, _, _ = ref.conv2d_backward(y, x, w, **params)
    # (5-1)*2 - 2 + 3 = 9 rows, but 7 columns of the 8: output_padding restores the last one
    np.testing.assert_allclose(ref.conv_transpose2d(y, w, output_padding=(0, 1), **params), dx,
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "transpose"])
def test_grouped_equals_concatenated_per_group(transpose):
    groups = 3
    x, w, b = make((2, 6, 5, 5), (6, 2, 3, 3), None, np.float64)
    params = dict(stride=2, padding=1)
    forward, backward = OPS[transpose]
    y, dy, dx, dw, db = run_ref(transpose, x, w, b, groups=groups, **params)
    xs, ws = np.split(x, groups, axis=1), np.split(w, groups, axis=0)
    bs, dys = np.split(b, groups), np.split(dy, groups, axis=1)
    parts = [(forward(xg, wg, bg, **params), *backward(dyg, xg, wg, **params))
             for xg, wg, bg, dyg in zip(xs, ws, bs, dys)]
    for got, axis, k in ((y, 1, 0), (dx, 1, 1), (dw, 0, 2), (db, 0, 3)):
        np.testing.assert_allclose(got, np.concatenate([p[k] for p in parts], axis=axis),
                                   rtol=1e-13, atol=1e-13)


def test_1x1_conv_is_dense_over_channels():
    x, w, b = make((2, 5, 4, 3), (7, 5, 1, 1), None, np.float64)
    want = np.einsum("kc,nchw->nkhw", w[:, :, 0, 0], x) + b[:, None, None]
    np.testing.assert_allclose(ref.conv2d(x, w, b), want, rtol=1e-13, atol=1e-13)


# ---- layouts, dtypes, freshness ----------------------------------------------------------------

@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "transpose"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_and_fresh_outputs(transpose, dtype):
    x, w, b = make((2, 4, 7, 6), (4, 2, 3, 3), None if not transpose else 4, dtype)
    params = dict(stride=2, padding=1, groups=2)
    want = run_ref(transpose, x, w, b, **params)
    views = [
        (np.asfortranarray(x), np.asfortranarray(w), b),
        tuple(np.ascontiguousarray(a[::-1])[::-1] for a in (x, w, b)),        # negative strides
        (np.repeat(x, 2, axis=3)[..., ::2], np.repeat(w, 2, axis=0)[::2], np.repeat(b, 2)[::2]),
    ]
    for xv, wv, bv in views:
        before = [a.copy() for a in (xv, wv, bv)]
        got = run_ref(transpose, xv, wv, bv, **params)
        for g, t in zip(got, want):
            np.testing.assert_array_equal(g, t)
            assert g.flags.c_contiguous and g.dtype == dtype
            assert not any(np.shares_memory(g, a) for a in (xv, wv, bv))
        for a, a0 in zip((xv, wv, bv), before):
            np.testing.assert_array_equal(a, a0)


def test_need_bias_grad_false_returns_none():
    x, w, _ = make((1, 2, 4, 4), (3, 2, 3, 3), False, np.float64)
    assert ref.conv2d_backward(np.ones((1, 3, 2, 2)), x, w, need_bias_grad=False)[2] is None
    xt, wt, _ = make((1, 3, 2, 2), (3, 2, 3, 3), False, np.float64)
    assert ref.conv_transpose2d_backward(x, xt, wt, need_bias_grad=False)[2] is None


# ---- property tests ----------------------------------------------------------------------------

@st.composite
def conv_setups(draw, transpose):
    """A consistent convolution: shapes and parameters that PyTorch accepts."""
    groups, c_per_group, k_per_group = (draw(st.integers(1, 3)) for _ in range(3))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    n = draw(st.integers(0, 2))
    dtype = draw(st.sampled_from(DTYPES))
    dk = (dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1)
    if transpose:
        h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        padding = tuple(draw(st.integers(0, ((size - 1) * st_ + d - 1) // 2))
                        for size, st_, d in zip((h, w), stride, dk))
        output_padding = tuple(draw(st.integers(0, max(st_, dil) - 1))
                               for st_, dil in zip(stride, dilation))
        shapes = ((n, groups * c_per_group, h, w), (groups * c_per_group, k_per_group, r, s))
        params = dict(stride=stride, padding=padding, output_padding=output_padding,
                      groups=groups, dilation=dilation)
        out_channels = groups * k_per_group
    else:
        choices = ["pad", "valid"] + (["same"] if stride == (1, 1) else [])
        kind = draw(st.sampled_from(choices))
        padding = (tuple(draw(st.integers(0, 3)) for _ in range(2)) if kind == "pad" else kind)
        pads = padding if kind == "pad" else (0, 0)
        h, w = (draw(st.integers(max(1, d - 2 * p), max(1, d - 2 * p) + 4))
                for d, p in zip(dk, pads))
        shapes = ((n, groups * c_per_group, h, w), (groups * k_per_group, c_per_group, r, s))
        params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        out_channels = groups * k_per_group
    bias = out_channels if draw(st.booleans()) else False
    return shapes, bias, dtype, params


@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "transpose"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_consistent_parameters_match_torch(transpose, data):
    pytest.importorskip("torch")
    (shape_x, shape_w), bias, dtype, params = data.draw(conv_setups(transpose))
    x, w, b = make(shape_x, shape_w, bias, dtype, seed=data.draw(st.integers(0, 99)))
    compare_with_torch(transpose, x, w, b, **params)


# Parameter values that are either small or near 2**31, 2**62, 2**63 (symmetric and with square
# planes and kernels, every output side is then either small or so large that the output
# overflows int64 or cannot be allocated: never a mid-size allocation that could succeed).
WILD = st.sampled_from([-1, 0, 1, 2, 3, 2**31 - 1, 2**31, 2**31 + 1, 2**62, 2**63 - 1, 2**63])


def small_or_wild(lo, hi):
    """Mostly a small value in [lo, hi], sometimes a WILD one."""
    return st.one_of(st.integers(lo, hi), st.integers(lo, hi), st.integers(lo, hi), WILD)


@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "transpose"])
@settings(max_examples=80, deadline=None)
@given(size=st.integers(0, 4), kernel=st.sampled_from([0, 1, 1, 2, 2, 3, 3]), n=st.integers(0, 2),
       channels=st.sampled_from([0, 1, 1, 2, 2, 3, 3]), stride=small_or_wild(1, 3),
       padding=small_or_wild(0, 2), dilation=small_or_wild(1, 2),
       groups=st.sampled_from([1, 1, 1, 2, 0, -1, 2**63]), output_padding=small_or_wild(0, 1))
def test_any_parameters_give_a_result_or_a_clean_error(transpose, size, kernel, n, channels,
                                                       stride, padding, dilation, groups,
                                                       output_padding):
    x = np.ones((n, channels, size, size))
    w = np.ones((channels, max(channels, 1), kernel, kernel))
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if transpose:
        params["output_padding"] = output_padding
    forward, backward = OPS[transpose]
    try:
        y = forward(x, w, **params)
        grads = backward(y, x, w, **params)
    except (ValueError, TypeError, OverflowError, MemoryError) as e:
        event(f"refused: {type(e).__name__}")
        return
    event("computed")
    small = all(0 <= v <= 64 for v in params.values())
    if HAVE_TORCH and small and y.size:
        theirs = run_torch(transpose, x, w, None, y, **params)
        for got, want in zip((y, *grads[:2]), theirs[:3]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ---- bad input ---------------------------------------------------------------------------------

X = np.ones((2, 4, 6, 6))
W = np.ones((6, 2, 3, 3))     # groups=2 for conv2d
B = np.ones(6)
DY = np.ones((2, 6, 4, 4))    # conv2d(X, W, groups=2)
WT = np.ones((4, 3, 3, 3))    # conv_transpose2d: 4 -> 3*groups channels
DYT = np.ones((2, 3, 8, 8))   # conv_transpose2d(X, WT)

BAD = [
    # zero / negative parameters
    (lambda: ref.conv2d(X, W, groups=2, stride=0), ValueError, r"stride must be >= 1, got 0"),
    (lambda: ref.conv2d(X, W, groups=2, stride=(1, -2)), ValueError, r"stride\[1\]"),
    (lambda: ref.conv2d(X, W, groups=2, dilation=0), ValueError, r"dilation"),
    (lambda: ref.conv2d(X, W, groups=0), ValueError, r"groups must be >= 1"),
    (lambda: ref.conv2d(X, W, groups=-2), ValueError, r"groups"),
    (lambda: ref.conv2d(X, W, groups=2, padding=-1), ValueError, r"padding must be >= 0"),
    (lambda: ref.conv2d(X, np.ones((6, 2, 0, 3)), groups=2), ValueError, r"zero kernel size"),
    (lambda: ref.conv_transpose2d(X, WT, padding=(0, -1)), ValueError, r"padding\[1\]"),
    (lambda: ref.conv_transpose2d(X, WT, output_padding=-1), ValueError, r"output_padding"),
    (lambda: ref.conv_transpose2d(X, WT, stride=2, output_padding=2), ValueError,
     r"output_padding height = 2 must be smaller than either stride \(2\) or dilation \(1\)"),
    # channel / group mismatches
    (lambda: ref.conv2d(X, W, groups=3), ValueError, r"channel count = 4 is not divisible by groups = 3"),
    (lambda: ref.conv2d(X, W), ValueError, r"weight.shape\[1\] = 2 with groups = 1 expects 2"),
    (lambda: ref.conv2d(X, np.ones((5, 2, 3, 3)), groups=2), ValueError, r"output channels\) = 5"),
    (lambda: ref.conv2d(X, np.ones((0, 4, 3, 3))), ValueError, r"zero output channels"),
    (lambda: ref.conv_transpose2d(X, np.ones((3, 3, 3, 3))), ValueError, r"weight.shape\[0\] = 3"),
    (lambda: ref.conv_transpose2d(X, WT, groups=3), ValueError, r"not divisible by groups = 3"),
    (lambda: ref.conv_transpose2d(X, np.ones((4, 0, 3, 3))), ValueError, r"zero output channels"),
    # bias of the wrong length or rank
    (lambda: ref.conv2d(X, W, np.ones(5), groups=2), ValueError, r"bias must have shape \(6,\)"),
    (lambda: ref.conv2d(X, W, np.ones((6, 1)), groups=2), ValueError, r"bias must have 1"),
    (lambda: ref.conv_transpose2d(X, WT, np.ones(4)), ValueError, r"bias must have shape \(3,\)"),
    # gradients that do not belong to the forward call
    (lambda: ref.conv2d_backward(DY[:, :5], X, W, groups=2), ValueError, r"dy .* \(2, 6, 4, 4\)"),
    (lambda: ref.conv2d_backward(DY, X, W, groups=2, stride=2), ValueError, r"dy"),
    (lambda: ref.conv_transpose2d_backward(DYT[:, :, 1:], X, WT), ValueError, r"dy"),
    (lambda: ref.conv2d_backward(DY, X, W, groups=2, need_bias_grad=1), TypeError,
     r"need_bias_grad must be a bool"),
    (lambda: ref.conv2d_backward(DY, X, W, groups=2, need_input_grad="no"), TypeError,
     r"need_input_grad must be a bool"),
    (lambda: ref.conv_transpose2d_backward(DYT, X, WT, need_input_grad=None), TypeError,
     r"need_input_grad must be a bool"),
    # output size below 1
    (lambda: ref.conv2d(X, np.ones((6, 2, 7, 3)), groups=2), ValueError, r"output height would be 0"),
    (lambda: ref.conv2d(X, W, groups=2, dilation=(1, 3)), ValueError, r"output width"),
    (lambda: ref.conv_transpose2d(np.ones((1, 4, 1, 1)), WT, padding=2), ValueError,
     r"output height would be -1"),
    # parameters near 2**31, 2**62, 2**63
    (lambda: ref.conv2d(X, W, groups=2, stride=2**63), OverflowError, r"stride"),
    (lambda: ref.conv2d(X, W, groups=2, dilation=2**62), OverflowError, r"dilated kernel"),
    (lambda: ref.conv2d(X, W, groups=2, dilation=2**31), ValueError, r"output height"),
    (lambda: ref.conv2d(X, W, groups=2, padding=2**62), OverflowError, r"padded input"),
    (lambda: ref.conv2d(X, W, groups=2, padding=2**31), OverflowError, r"output y"),
    (lambda: ref.conv2d(X, W, groups=2**62), ValueError, r"not divisible"),
    (lambda: ref.conv2d(X, W, groups=2**63), OverflowError, r"groups"),
    (lambda: ref.conv_transpose2d(X, WT, stride=2**62), OverflowError, r"stride"),
    (lambda: ref.conv_transpose2d(X, WT, stride=2**31, output_padding=2**31 - 1), OverflowError,
     r"output y"),
    (lambda: ref.conv_transpose2d(X, WT, dilation=2**63 - 1), OverflowError, r"dilated kernel"),
    # zero channels, empty planes
    (lambda: ref.conv2d(np.ones((2, 0, 6, 6)), np.ones((6, 0, 3, 3))), ValueError, r"zero channels"),
    (lambda: ref.conv2d(np.ones((2, 4, 0, 6)), W, groups=2), ValueError, r"empty 0x6 plane"),
    (lambda: ref.conv_transpose2d(np.ones((2, 4, 3, 0)), WT), ValueError, r"empty 3x0 plane"),
    # dtypes and types
    (lambda: ref.conv2d(X.astype(np.float32), W, groups=2), TypeError, r"weight has dtype float64"),
    (lambda: ref.conv2d(X, W, B.astype(np.float32), groups=2), TypeError, r"bias has dtype"),
    (lambda: ref.conv2d(X.astype(np.int64), W, groups=2), TypeError, r"x must have dtype"),
    (lambda: ref.conv2d(X.astype(np.float16), W, groups=2), TypeError, r"float16"),
    (lambda: ref.conv2d(X, W.astype(np.complex128), groups=2), TypeError, r"complex128"),
    (lambda: ref.conv2d(X.tolist(), W, groups=2), TypeError, r"x must be a numpy.ndarray"),
    (lambda: ref.conv2d(X, W, 1.0, groups=2), TypeError, r"bias must be a numpy.ndarray"),
    (lambda: ref.conv2d_backward(DY.astype(np.float32), X, W, groups=2), TypeError, r"dy has dtype"),
    (lambda: ref.conv2d_backward("dy", X, W, groups=2), TypeError, r"dy must be"),
    (lambda: ref.conv_transpose2d_backward(DYT, X.astype(np.float32), WT), TypeError, r"dtype"),
    # parameter types and forms
    (lambda: ref.conv2d(X, W, groups=2, stride=1.0), TypeError, r"stride must be an integer"),
    (lambda: ref.conv2d(X, W, groups=2, stride=True), TypeError, r"stride"),
    (lambda: ref.conv2d(X, W, groups=2, stride=(1, 1, 1)), ValueError, r"stride must be an integer or a pair"),
    (lambda: ref.conv2d(X, W, groups=2, padding="full"), ValueError, r"'valid' or 'same'"),
    (lambda: ref.conv2d(X, W, groups=2, padding="same", stride=2), ValueError, r"padding='same' needs stride 1"),
    (lambda: ref.conv2d(X, W, groups=2, padding=None), TypeError, r"padding"),
    (lambda: ref.conv_transpose2d(X, WT, padding="same"), TypeError, r"padding"),
    (lambda: ref.conv2d(X, W, groups=2.0), TypeError, r"groups"),
    # ranks
    (lambda: ref.conv2d(X[0], W, groups=2), ValueError, r"x must have 4 dimensions"),
    (lambda: ref.conv2d(X, W[0], groups=2), ValueError, r"weight must have 4 dimensions"),
]


@pytest.mark.parametrize("call,exc,match", BAD)
def test_bad_input_is_refused(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_huge_stride_and_padding_are_legal():
    """A stride near 2**31 only means one output per axis; for the transposed conv a padding of
    2*2**31 crops its output to the 3x3 that the centre pixel x[2, 2] writes (no padded copy of
    the input is ever made)."""
    x, w, b = make((1, 2, 5, 5), (3, 2, 3, 3), None, np.float64)
    got = ref.conv2d(x, w, b, stride=2**31)
    np.testing.assert_allclose(got, ref.conv2d(x[:, :, :3, :3], w, b), rtol=1e-14)
    wt = w.transpose(1, 0, 2, 3).copy()
    got = ref.conv_transpose2d(x, wt, b, stride=2**31, padding=2**32)
    want = np.einsum("nc,ckab->nkab", x[:, :, 2, 2], wt) + b[:, None, None]
    np.testing.assert_allclose(got, want, rtol=1e-14)
