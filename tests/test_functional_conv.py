"""cnnfast.conv2d / conv2d_backward / conv_transpose2d / conv_transpose2d_backward (C, on the GEMM
engine: csrc/frame/conv2d.c) against cnnfast.reference, and against torch when it is installed."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnfast
from cnnfast import reference as ref

DTYPES = (np.float32, np.float64)

# (n, c, h, w, k, r, s, stride, padding, dilation, groups): batch 0, 1 and odd; 1 channel; pointwise
# (the plain-GEMM path) and 1x1 strided; depthwise; grouped; strided, dilated, asymmetric padding;
# 'same' (odd total) and 'valid'; planes narrower than the kernel's reach with padding; sizes off
# the tiles (14x32 / 6x16 / 4x8) and past the k block (crs > 384); enough pixels to span images;
# thin groups (the direct kernels) on small planes (one padded copy) and on planes too large for it,
# with rows wide enough for their register blocks.
CASES = [
    (2, 4, 9, 11, 6, 3, 3, 1, 1, 1, 1),
    (0, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1),
    (1, 1, 13, 10, 5, 3, 3, 1, 1, 1, 1),
    (3, 8, 5, 7, 17, 1, 1, 1, 0, 1, 1),
    (2, 6, 9, 8, 10, 1, 1, 2, 0, 1, 1),
    (2, 6, 7, 9, 6, 3, 3, 2, 1, 1, 6),
    (2, 20, 6, 7, 20, 3, 3, 2, 1, 1, 20),
    (2, 8, 6, 6, 12, 3, 2, 1, (1, 0), (2, 1), 4),
    (1, 3, 17, 15, 33, 5, 5, 3, 2, 1, 1),
    (2, 5, 8, 9, 7, 4, 3, 1, "same", (1, 2), 1),
    (1, 4, 6, 5, 3, 2, 2, 1, "valid", 1, 1),
    (2, 2, 3, 2, 3, 3, 3, (2, 1), (2, 1), 1, 1),
    (1, 48, 6, 7, 40, 3, 3, 1, 1, 1, 1),
    (3, 2, 4, 4, 4, 2, 2, 1, 0, 1, 2),
    (1, 4, 5, 70, 4, 3, 3, 1, 1, 1, 4),
    (1, 2, 40, 130, 2, 3, 3, 1, 1, 1, 2),
    (1, 2, 90, 100, 2, 3, 3, 2, 1, (1, 2), 2),
    (2, 3, 6, 150, 6, 3, 3, (1, 2), (1, 2), (1, 2), 3),
]
IDS = [f"n{c[0]}c{c[1]}k{c[4]}r{c[5]}s{c[6]}g{c[10]}" for c in CASES]


def ints(rng, shape, dtype):
    return rng.integers(-4, 5, size=shape).astype(dtype)


def same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def conv_case(rng, dtype, case, make=ints):
    n, c, h, w, k, r, s, stride, padding, dilation, groups = case
    x = make(rng, (n, c, h, w), dtype)
    weight = make(rng, (k, c // groups, r, s), dtype)
    return x, weight, make(rng, (k,), dtype), dict(stride=stride, padding=padding, dilation=dilation,
                                                      groups=groups)


def transpose_case(rng, dtype, case, make=ints):
    """conv_transpose2d with the case's channels swapped: x (n, k, h, w), weight (k, c/groups, r, s)."""
    n, c, h, w, k, r, s, stride, padding, dilation, groups = case
    if isinstance(padding, str):
        padding = 0
    st_h = stride if isinstance(stride, int) else stride[0]
    dil_h = dilation if isinstance(dilation, int) else dilation[0]
    output_padding = (1 if st_h > 1 or dil_h > 1 else 0, 0)
    x = make(rng, (n, k, h, w), dtype)
    weight = make(rng, (k, c // groups, r, s), dtype)
    return x, weight, make(rng, (c,), dtype), dict(stride=stride, padding=padding, output_padding=output_padding,
                                                      groups=groups, dilation=dilation)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_exact(isa, nthreads, dtype, case):
    """Small-integer data: every partial sum is exact, so C equals the reference bit for bit
    whatever the blocking and thread count; inputs untouched."""
    rng = np.random.default_rng(0)
    x, weight, bias, kw = conv_case(rng, dtype, case)
    copies = [a.copy() for a in (x, weight, bias)]
    for b in (None, bias):
        want = ref.conv2d(x, weight, b, **kw)
        same(cnnfast.conv2d(x, weight, b, **kw), want)
        same(cnnfast.conv2d(x, weight, b, **kw, activation="relu"), np.maximum(want, 0))
    dy = ints(rng, want.shape, dtype)
    for need in (True, False):
        got, exp = cnnfast.conv2d_backward(dy, x, weight, **kw, need_bias_grad=need), \
            ref.conv2d_backward(dy, x, weight, **kw, need_bias_grad=need)
        same(got[0], exp[0])
        same(got[1], exp[1])
        if need:
            same(got[2], exp[2])
        else:
            assert got[2] is None
    # need_input_grad=False (a model's first layer): no dx, the same weight and bias gradients
    dx, dweight, dbias = cnnfast.conv2d_backward(dy, x, weight, **kw, need_input_grad=False)
    assert dx is None and ref.conv2d_backward(dy, x, weight, **kw, need_input_grad=False)[0] is None
    same(dweight, exp[1])
    same(dbias, ref.conv2d_backward(dy, x, weight, **kw)[2])
    for a, a0 in zip((x, weight, bias), copies):
        np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv_transpose2d_exact(isa, nthreads, dtype, case):
    rng = np.random.default_rng(1)
    x, weight, bias, kw = transpose_case(rng, dtype, case)
    for b in (None, bias):
        want = ref.conv_transpose2d(x, weight, b, **kw)
        same(cnnfast.conv_transpose2d(x, weight, b, **kw), want)
    dy = ints(rng, want.shape, dtype)
    got, exp = cnnfast.conv_transpose2d_backward(dy, x, weight, **kw), ref.conv_transpose2d_backward(dy, x, weight, **kw)
    for u, v in zip(got, exp):
        same(u, v)
    dx, dweight, dbias = cnnfast.conv_transpose2d_backward(dy, x, weight, **kw, need_input_grad=False)
    assert dx is None
    assert ref.conv_transpose2d_backward(dy, x, weight, **kw, need_input_grad=False)[0] is None
    same(dweight, exp[1])
    same(dbias, exp[2])


def normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def close(got, want, bound, length, dtype):
    """|got - want| <= 2 * length * eps * bound + one rounding of |want|, with bound the sum of
    |products| of each element (the reference on absolute values) and length the reduction's."""
    eps = np.finfo(dtype).eps
    tol = 2 * length * eps * bound.astype(np.float64) + eps * np.abs(want.astype(np.float64))
    assert np.all(np.abs(got.astype(np.float64) - want.astype(np.float64)) <= tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [CASES[0], CASES[6], CASES[7], CASES[11]], ids=[IDS[0], IDS[6], IDS[7], IDS[11]])
def test_random_mode(isa, nthreads, dtype, case):
    """Normal data, tolerances scaled by each reduction's length (c/groups*r*s forward,
    k/groups*r*s for dx, n*p*q for dweight)."""
    rng = np.random.default_rng(2)
    x, weight, bias, kw = conv_case(rng, dtype, case, normal)
    n, c, _, _, k, r, s = case[:7]
    groups = kw["groups"]
    y = ref.conv2d(x, weight, bias, **kw)
    close(cnnfast.conv2d(x, weight, bias, **kw), y,
          ref.conv2d(abs(x), abs(weight), abs(bias), **kw), c // groups * r * s + 1, dtype)
    dy = normal(rng, y.shape, dtype)
    got, want = cnnfast.conv2d_backward(dy, x, weight, **kw), ref.conv2d_backward(dy, x, weight, **kw)
    bound = ref.conv2d_backward(abs(dy), abs(x), abs(weight), **kw)
    close(got[0], want[0], bound[0], k // groups * r * s, dtype)
    close(got[1], want[1], bound[1], max(1, n * y.shape[2] * y.shape[3]), dtype)
    close(got[2], want[2], bound[2], max(1, n * y.shape[2] * y.shape[3]), dtype)
    xt, wt, bt, kt = transpose_case(rng, dtype, case, normal)
    close(cnnfast.conv_transpose2d(xt, wt, bt, **kt), ref.conv_transpose2d(xt, wt, bt, **kt),
          ref.conv_transpose2d(abs(xt), abs(wt), abs(bt), **kt), k // groups * r * s + 1, dtype)


@pytest.mark.parametrize("case", CASES[:9], ids=IDS[:9])
def test_adjointness(nthreads, case):
    """<dy, conv2d(x)> == <dx(dy), x> and <dy, conv(x)> == <dweight(dy, x), weight>."""
    rng = np.random.default_rng(3)
    x, weight, _, kw = conv_case(rng, np.float64, case, normal)
    y = cnnfast.conv2d(x, weight, **kw)
    dy = normal(rng, y.shape, np.float64)
    dx, dw, _ = cnnfast.conv2d_backward(dy, x, weight, **kw)
    lhs = np.vdot(dy, y)
    scale = np.vdot(abs(dy), cnnfast.conv2d(abs(x), abs(weight), **kw)) + 1
    assert abs(lhs - np.vdot(dx, x)) <= 1e-12 * scale
    assert abs(lhs - np.vdot(dw, weight)) <= 1e-12 * scale


@pytest.mark.parametrize("groups", [2, 3, 6])
def test_grouped_is_concatenated_convs(nthreads, groups):
    rng = np.random.default_rng(4)
    x, weight, bias = ints(rng, (2, 6, 7, 8), np.float32), ints(rng, (12, 6 // groups, 3, 3), np.float32), \
        ints(rng, (12,), np.float32)
    y = cnnfast.conv2d(x, weight, bias, padding=1, groups=groups)
    cg, kg = 6 // groups, 12 // groups
    parts = [cnnfast.conv2d(x[:, i * cg:(i + 1) * cg], weight[i * kg:(i + 1) * kg], bias[i * kg:(i + 1) * kg],
                            padding=1) for i in range(groups)]
    same(y, np.concatenate(parts, axis=1))


def test_pointwise_is_dense_over_channels(nthreads):
    rng = np.random.default_rng(5)
    x, weight = ints(rng, (3, 20, 5, 6), np.float32), ints(rng, (30, 20, 1, 1), np.float32)
    want = np.einsum("nchw,kc->nkhw", x.astype(np.float64), weight[:, :, 0, 0]).astype(np.float32)
    same(cnnfast.conv2d(x, weight), want)


def test_noncontiguous_inputs(nthreads):
    rng = np.random.default_rng(6)
    x = ints(rng, (2, 8, 9, 14), np.float64)[:, ::2, :, ::2]
    weight = np.asfortranarray(ints(rng, (5, 4, 3, 3), np.float64))
    bias = ints(rng, (10,), np.float64)[::2]
    same(cnnfast.conv2d(x, weight, bias, padding=1), ref.conv2d(x, weight, bias, padding=1))
    dy = ints(rng, (2, 5, 9, 7), np.float64)[:, :, ::-1]
    for u, v in zip(cnnfast.conv2d_backward(dy, x, weight, padding=1), ref.conv2d_backward(dy, x, weight, padding=1)):
        same(u, v)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_drawn_parameters(data):
    """Hypothesis-drawn geometries (every parameter at once), exact mode, all four functions."""
    d = st.integers
    groups = data.draw(d(1, 3))
    c, k = groups * data.draw(d(1, 3)), groups * data.draw(d(1, 3))
    r, s = data.draw(d(1, 4)), data.draw(d(1, 4))
    stride, dilation = (data.draw(d(1, 3)), data.draw(d(1, 3))), (data.draw(d(1, 2)), data.draw(d(1, 2)))
    padding = (data.draw(d(0, 3)), data.draw(d(0, 3)))
    h = data.draw(d(max(1, dilation[0] * (r - 1) + 1 - 2 * padding[0]), 12))
    w = data.draw(d(max(1, dilation[1] * (s - 1) + 1 - 2 * padding[1]), 12))
    n = data.draw(d(0, 3))
    dtype = data.draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(data.draw(d(0, 2**31)))
    case = (n, c, h, w, k, r, s, stride, padding, dilation, groups)
    x, weight, bias, kw = conv_case(rng, dtype, case)
    y = ref.conv2d(x, weight, bias, **kw)
    same(cnnfast.conv2d(x, weight, bias, **kw), y)
    dy = ints(rng, y.shape, dtype)
    for u, v in zip(cnnfast.conv2d_backward(dy, x, weight, **kw), ref.conv2d_backward(dy, x, weight, **kw)):
        same(u, v)
    op = tuple(data.draw(d(0, max(a, b) - 1)) for a, b in zip(stride, dilation))
    xt, wt = ints(rng, (n, k, h, w), dtype), ints(rng, (k, c // groups, r, s), dtype)
    kt = dict(stride=stride, padding=padding, output_padding=op, groups=groups, dilation=dilation)
    try:
        yt = ref.conv_transpose2d(xt, wt, None, **kt)
    except ValueError as e:
        with pytest.raises(ValueError, match=str(e)[:20]):
            cnnfast.conv_transpose2d(xt, wt, None, **kt)
        return
    same(cnnfast.conv_transpose2d(xt, wt, None, **kt), yt)
    dyt = ints(rng, yt.shape, dtype)
    for u, v in zip(cnnfast.conv_transpose2d_backward(dyt, xt, wt, **kt), ref.conv_transpose2d_backward(dyt, xt, wt, **kt)):
        same(u, v)


BAD = [
    (dict(x=np.zeros((1, 3, 5, 5), np.float32), weight=np.zeros((4, 3, 3, 3), np.float64)), {}),
    (dict(x=np.zeros((1, 3, 5, 5), np.int32), weight=np.zeros((4, 3, 3, 3), np.int32)), {}),
    (dict(x=np.zeros((1, 3, 5), np.float32), weight=np.zeros((4, 3, 3, 3), np.float32)), {}),
    (dict(x=np.zeros((1, 3, 5, 5), np.float32), weight=np.zeros((4, 2, 3, 3), np.float32)), {}),
    (dict(x=np.zeros((1, 3, 2, 2), np.float32), weight=np.zeros((4, 3, 3, 3), np.float32)), {}),
    (dict(x=np.zeros((1, 4, 5, 5), np.float32), weight=np.zeros((4, 2, 3, 3), np.float32)), dict(groups=3)),
    (dict(x=np.zeros((1, 3, 5, 5), np.float32), weight=np.zeros((4, 3, 3, 3), np.float32)), dict(stride=0)),
    (dict(x=np.zeros((1, 3, 5, 5), np.float32), weight=np.zeros((4, 3, 3, 3), np.float32)), dict(padding="full")),
    (dict(x=np.zeros((1, 3, 5, 5), np.float32), weight=np.zeros((4, 3, 3, 3), np.float32)),
     dict(padding="same", stride=2)),
    (dict(x=np.zeros((1, 3, 5, 5), np.float32), weight=np.zeros((4, 3, 3, 3), np.float32)), dict(dilation=1.5)),
    (dict(x=np.zeros((1, 3, 5, 5), np.float32), weight=np.zeros((4, 3, 3, 3), np.float32),
          bias=np.zeros(3, np.float32)), {}),
]


@pytest.mark.parametrize("args,kw", BAD)
def test_bad_input_refused_as_reference(args, kw):
    with pytest.raises(Exception) as want:
        ref.conv2d(**args, **kw)
    with pytest.raises(want.type, match=None) as got:
        cnnfast.conv2d(**args, **kw)
    assert str(got.value) == str(want.value)


def test_bad_backward_input_refused_as_reference():
    x, weight = np.zeros((1, 3, 5, 5), np.float32), np.zeros((4, 3, 3, 3), np.float32)
    for dy in (np.zeros((1, 4, 4, 3), np.float32), np.zeros((1, 4, 3, 3), np.float64)):
        with pytest.raises(Exception) as want:
            ref.conv2d_backward(dy, x, weight)
        with pytest.raises(want.type) as got:
            cnnfast.conv2d_backward(dy, x, weight)
        assert str(got.value) == str(want.value)
    with pytest.raises(Exception) as want:
        ref.conv_transpose2d(x, weight[:3], output_padding=1)
    with pytest.raises(want.type) as got:
        cnnfast.conv_transpose2d(x, weight[:3], output_padding=1)
    assert str(got.value) == str(want.value)


def test_bad_activation():
    x, weight = np.zeros((1, 3, 5, 5), np.float32), np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="activation"):
        cnnfast.conv2d(x, weight, activation="tanh")
    with pytest.raises(TypeError, match="activation"):
        cnnfast.conv2d(x, weight, activation=1)


@pytest.mark.parametrize("case", [CASES[0], CASES[5], CASES[6], CASES[7], CASES[8]])
def test_torch_parity(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x, weight, bias, kw = conv_case(rng, np.float64, case, normal)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    np.testing.assert_allclose(cnnfast.conv2d(x, weight, bias, **kw), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    dy = normal(rng, ty.shape, np.float64)
    ty.backward(torch.tensor(dy))
    for got, t in zip(cnnfast.conv2d_backward(dy, x, weight, **kw), (tx, tw, tb)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-11, atol=1e-11)
    xt, wt, bt, kt = transpose_case(rng, np.float64, case, normal)
    if isinstance(case[8], str):
        return
    txt, twt, tbt = (torch.tensor(a, requires_grad=True) for a in (xt, wt, bt))
    tyt = torch.nn.functional.conv_transpose2d(txt, twt, tbt, **kt)
    np.testing.assert_allclose(cnnfast.conv_transpose2d(xt, wt, bt, **kt), tyt.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    dyt = normal(rng, tyt.shape, np.float64)
    tyt.backward(torch.tensor(dyt))
    for got, t in zip(cnnfast.conv_transpose2d_backward(dyt, xt, wt, **kt), (txt, twt, tbt)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("groups", [1, 2])
def test_huge_dilation_and_padding(nthreads, groups):
    """Offsets near 2**41 (a 1x1 output whose taps straddle the image): no size overflows in C."""
    x = np.arange(1, 3, dtype=np.float32).reshape(1, 2, 1, 1)
    weight = np.arange(1, 1 + 8 * 2 // groups, dtype=np.float32).reshape(2, 2 // groups, 2, 2)
    kw = dict(padding=2**39, dilation=2**40, groups=groups)
    y = ref.conv2d(x, weight, **kw)
    same(cnnfast.conv2d(x, weight, **kw), y)
    dy = np.ones_like(y)
    for u, v in zip(cnnfast.conv2d_backward(dy, x, weight, **kw), ref.conv2d_backward(dy, x, weight, **kw)):
        same(u, v)
