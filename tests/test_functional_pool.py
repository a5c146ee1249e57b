"""The C pooling (cnnfast.max_pool2d, avg_pool2d, global_avg_pool2d and their backward passes)
against cnnfast.reference: every parameter combination, every ISA, 1 and all threads, exact mode
(small integers: bit-for-bit equal), edge shapes, layouts, invariants, bad input, and torch."""
import itertools

import numpy as np
import pytest

import cnnfast as cf
from cnnfast import _shapes
from cnnfast import reference as ref
from cnnfast.reference.pool import _divisors

DTYPES = [np.float32, np.float64]


def data(shape, dtype, seed=0, integers=False):
    rng = np.random.default_rng(seed)
    if integers:
        return rng.integers(-4, 5, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def grid(kernels, strides, dilations=(1,)):
    """Every combination of kernel, stride, padding up to kernel/2, dilation and ceil_mode."""
    for k, s, d, ceil in itertools.product(kernels, strides, dilations, (False, True)):
        kh, kw = (k, k) if np.ndim(k) == 0 else k
        for ph, pw in itertools.product(range(kh // 2 + 1), range(kw // 2 + 1)):
            yield dict(kernel_size=k, stride=s, padding=(ph, pw), ceil_mode=ceil), d


def accepted(call):
    """call(), or None when the parameters do not fit the shape (refused by both paths)."""
    try:
        return call()
    except ValueError:
        return None


def check_max(x, params, dilation, exact):
    """y and indices are bit-for-bit the reference's (a max is exact); dx is too in exact mode,
    else within the rounding of summing at most kernel-area gradients in x's dtype."""
    got = accepted(lambda: cf.max_pool2d(x, **params, dilation=dilation))
    if got is None:
        with pytest.raises(ValueError):
            ref.max_pool2d(x, **params, dilation=dilation)
        return
    y, indices = got
    want_y, want_indices = ref.max_pool2d(x, **params, dilation=dilation)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(indices, want_indices)
    assert y.dtype == x.dtype and indices.dtype == np.int64 and y.flags.c_contiguous
    dy = data(y.shape, x.dtype, seed=1, integers=exact)
    dx = cf.max_pool2d_backward(dy, indices, x.shape)
    want_dx = ref.max_pool2d_backward(dy, indices, x.shape)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    if exact:
        np.testing.assert_array_equal(dx, want_dx)
    else:
        g = _shapes.max_pool2d_args(x, params["kernel_size"], params.get("stride"),
                                    params.get("padding", 0), dilation,
                                    params.get("ceil_mode", False))
        k = g.kernel_h * g.kernel_w  # at most this many windows share an input position
        np.testing.assert_allclose(dx, want_dx, rtol=0,
                                   atol=k * np.finfo(x.dtype).eps * np.abs(dy).max(initial=0))


def check_avg(x, params, count_include_pad, exact):
    """Exact mode: sums of small integers are exact and the one division is correctly rounded
    either way, so y is bit-for-bit; dy is a small integer times each window's divisor, so the
    shares and their sums are exact too. Random mode: a window sum of K terms in x's dtype."""
    params = dict(params, count_include_pad=count_include_pad)
    got = accepted(lambda: cf.avg_pool2d(x, **params))
    if got is None:
        with pytest.raises(ValueError):
            ref.avg_pool2d(x, **params)
        return
    want = ref.avg_pool2d(x, **params)
    g = _shapes.avg_pool2d_args(x, params["kernel_size"], params.get("stride"),
                                params.get("padding", 0), params.get("ceil_mode", False),
                                count_include_pad)
    k = g.kernel_h * g.kernel_w
    eps = np.finfo(x.dtype).eps
    dy = data(got.shape, x.dtype, seed=1, integers=exact)
    if exact:
        dy = (dy * _divisors(g)).astype(x.dtype)
    dx = cf.avg_pool2d_backward(dy, x.shape, **params)
    want_dx = ref.avg_pool2d_backward(dy, x.shape, **params)
    assert got.dtype == dx.dtype == x.dtype and dx.shape == x.shape
    if exact:
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(dx, want_dx)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=2 * k * eps * np.abs(x).max())
        np.testing.assert_allclose(dx, want_dx, rtol=0, atol=2 * k * eps * np.abs(dy).max())


# ---- every parameter combination, every ISA, 1 and all threads ----------------------------------

SHAPES = [(2, 3, 7, 9), (1, 2, 5, 37), (1, 1, 2, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exact", [True, False], ids=["exact", "random"])
def test_max_pool2d_every_combination(isa, nthreads, dtype, exact):
    for shape in SHAPES:
        x = data(shape, dtype, integers=exact)
        for params, dilation in grid([1, 2, 3, (2, 3), (4, 1)], [None, 1, 2, 3], (1, 2)):
            check_max(x, params, dilation, exact)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exact", [True, False], ids=["exact", "random"])
def test_avg_pool2d_every_combination(isa, nthreads, dtype, exact):
    for shape in SHAPES:
        x = data(shape, dtype, integers=exact)
        for (params, _), cip in itertools.product(grid([1, 2, 3, (2, 3), (4, 1)], [None, 1, 2, 3]),
                                                  (True, False)):
            check_avg(x, params, cip, exact)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_planes_take_the_vector_paths(isa, nthreads, dtype):
    """Rows long enough for several vectors plus a tail, planes large enough for threads, and
    few planes (each thread takes a slice of every plane's gradient)."""
    for shape in [(2, 3, 34, 71), (1, 1, 130, 260)]:
        x = data(shape, dtype, integers=True)
        for params in [dict(kernel_size=2), dict(kernel_size=3, stride=2, ceil_mode=True),
                       dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(2, 5), stride=(3, 2), padding=(1, 2))]:
            check_max(x, params, 1, True)
            check_max(x, params, 2, True)
            check_avg(x, params, True, True)
            check_avg(x, params, False, True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_global_avg_pool2d(isa, nthreads, dtype):
    for shape, exact in [((2, 3, 7, 9), True), ((2, 3, 7, 9), False), ((1, 2, 40, 41), False),
                         ((1, 1, 1, 1), True), ((3, 5, 1, 33), True), ((4, 601, 7, 7), False),
                         ((2, 301, 7, 7), True)]:
        x = data(shape, dtype, integers=exact)
        y = cf.global_avg_pool2d(x)
        want = ref.global_avg_pool2d(x)
        dy = data(y.shape, dtype, seed=1, integers=exact)
        dx = cf.global_avg_pool2d_backward(dy, shape)
        want_dx = ref.global_avg_pool2d_backward(dy, shape)
        assert y.dtype == dx.dtype == dtype and y.shape == shape[:2] and dx.shape == shape
        if exact:
            np.testing.assert_array_equal(y, want)
        hw = shape[2] * shape[3]
        np.testing.assert_allclose(y, want, rtol=0, atol=hw * np.finfo(dtype).eps * np.abs(x).max())
        np.testing.assert_allclose(dx, want_dx, rtol=np.finfo(dtype).eps, atol=0)


# ---- edge shapes and values --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batch_and_single_sample(dtype):
    for n in (0, 1):
        x = data((n, 3, 5, 6), dtype)
        y, indices = cf.max_pool2d(x, 3, stride=2, padding=1)
        assert y.shape == indices.shape == (n, 3, 3, 3)
        assert cf.max_pool2d_backward(y, indices, x.shape).shape == x.shape
        ya = cf.avg_pool2d(x, 3, stride=2, padding=1)
        assert ya.shape == (n, 3, 3, 3)
        assert cf.avg_pool2d_backward(ya, x.shape, 3, stride=2, padding=1).shape == x.shape
        assert cf.global_avg_pool2d(x).shape == (n, 3)
        assert cf.global_avg_pool2d_backward(cf.global_avg_pool2d(x), x.shape).shape == x.shape
        if n:
            check_max(x, dict(kernel_size=3, stride=2, padding=1), 1, False)
    # an empty batch of huge planes costs nothing
    dx = cf.avg_pool2d_backward(np.ones((0, 1, 2, 1)), (0, 1, 2**30, 5), 2**30, padding=2**29)
    assert dx.shape == (0, 1, 2**30, 5)


def test_nan_inf_and_ties(isa):
    x = data((2, 2, 6, 35), np.float64)
    x[0, 0, 1, 1] = x[0, 0, 1, 3] = x[1, 1, 4, 20] = np.nan
    x[0, 0, 2, 2] = np.inf
    x[1, 0] = -np.inf
    x[0, 1, :, 10:] = 1.0
    for params in [dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2),
                   dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]:
        for dtype in DTYPES:
            check_max(x.astype(dtype), params, 1, True)
    y, indices = cf.max_pool2d(np.full((1, 1, 2, 3), -np.inf), 2, stride=1, padding=1)
    np.testing.assert_array_equal(indices[0, 0], [[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5]])


def check_max_specials(shape, dtype, params):
    """check_max in exact mode on small integers with NaN (one in the last position), infinities,
    a plane of -inf, and runs of +0 and -0, whose signs must come out as the reference's."""
    x = data(shape, dtype, integers=True)
    x[0, 0, 1, 1] = x[0, 0, 1, 3] = x[1, 7, -1, -1] = x[0, 3, 0, 0] = np.nan
    x[0, 1, 2, 2] = x[1, 2, 0, 0] = np.inf
    x[1, 3] = -np.inf
    x[0, 4, :3] = 0.0
    x[0, 4, 1, ::2] = -0.0
    x[1, 5] = -0.0
    x[1, 5, 3, 3:] = 0.0
    for p in params:
        check_max(x, p, 1, True)
        y, _ = cf.max_pool2d(x, **p)
        np.testing.assert_array_equal(np.signbit(y), np.signbit(ref.max_pool2d(x, **p)[0]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_size_stride_1_max_pool2d(isa, nthreads, dtype):
    """Stride 1 with the output the input's size, on planes enough for every thread, runs whole
    planes through the flat kernels (blocks of 16 outputs running across rows): planes of fewer
    than 16 values, not a multiple of 16, smaller than the kernel; NaN, infinities (a +inf next
    to -inf padding), windows of -inf, and ties of +0 and -0 (the first one's sign is kept)."""
    params = [dict(kernel_size=3, padding=1), dict(kernel_size=5, padding=2),
              dict(kernel_size=(3, 1), padding=(1, 0)), dict(kernel_size=(1, 5), padding=(0, 2)),
              dict(kernel_size=2, padding=1, dilation=2), dict(kernel_size=1)]
    for shape in [(2, 5, 7, 7), (3, 4, 5, 3), (2, 6, 1, 1), (1, 9, 2, 9), (1, 8, 4, 4), (4, 8, 30, 30)]:
        for exact in (True, False):
            x = data(shape, dtype, integers=exact)
            for p in params:
                p = dict(p)
                dilation = p.pop("dilation", 1)
                check_max(x, dict(p, stride=1), dilation, exact)
    check_max_specials((2, 8, 6, 7), dtype, [dict(p, stride=1) for p in params[:3]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_short_output_rows_two_to_a_vector(isa, nthreads, dtype):
    """Output rows of at most 8 values, on planes enough for every thread, go two to a vector
    in float32 (each row's taps within 16 input columns): odd output heights (the last pair is
    one row), ceil_mode windows past the edge, padding, dilation, planes smaller than the kernel;
    NaN, infinities, windows of -inf, and ties of +0 and -0 (the first one's sign is kept)."""
    params = [dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2),
              dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=(1, 2)),
              dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True),
              dict(kernel_size=2, stride=2, padding=1, dilation=2), dict(kernel_size=(1, 4), stride=3)]
    for shape in [(2, 5, 14, 14), (3, 4, 7, 5), (1, 9, 2, 9), (2, 8, 16, 16), (1, 8, 3, 15)]:
        for exact in (True, False):
            x = data(shape, dtype, integers=exact)
            for p in params:
                p = dict(p)
                dilation = p.pop("dilation", 1)
                check_max(x, p, dilation, exact)
    check_max_specials((2, 8, 9, 14), dtype, params[:3])


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_backward_of_tiling_windows(isa, nthreads, dtype):
    """Kernel = stride (each input position in at most one window) writes dx rows directly:
    widths around the 16/32-column blocks, padding, ceil_mode's cut last window, positions past
    the last window (zero), both divisor rules, and bands of rows for a single plane."""
    for w in (1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 66):
        x = data((2, 3, 7, w), dtype, integers=True)
        for k, pad, ceil in itertools.product([2, (2, 3), (3, 2), (1, 2)], [0, 1], [False, True]):
            for cip in (True, False):
                kh, kw = np.broadcast_to(k, 2)
                check_avg(x, dict(kernel_size=k, padding=(pad * (kh > 1), pad * (kw > 1)),
                                  ceil_mode=ceil), cip, True)
                check_avg(x, dict(kernel_size=k, ceil_mode=ceil), cip, False)
    x = data((1, 1, 97, 101), dtype, integers=True)
    check_avg(x, dict(kernel_size=2, padding=1, ceil_mode=True), False, True)


def test_huge_kernel_with_half_padding_is_cheap():
    x = data((1, 2, 4, 5), np.float64)
    y, _ = cf.max_pool2d(x, 2**31, stride=2**31, padding=2**30)
    np.testing.assert_array_equal(y[..., 0, 0], x.max(axis=(2, 3)))
    ya = cf.avg_pool2d(x, 2**31, stride=2**31, padding=2**30, count_include_pad=False)
    np.testing.assert_allclose(ya[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_unmodified_fresh_outputs(dtype):
    x = data((2, 3, 7, 8), dtype)
    params = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    y, indices = cf.max_pool2d(x, **params)
    dy = data(y.shape, dtype, seed=1)
    dyg = data((2, 3), dtype, seed=2)
    want = (y, indices, cf.avg_pool2d(x, **params), cf.global_avg_pool2d(x),
            cf.max_pool2d_backward(dy, indices, x.shape),
            cf.avg_pool2d_backward(dy, x.shape, **params),
            cf.global_avg_pool2d_backward(dyg, x.shape))
    for view in (np.asfortranarray, lambda a: np.ascontiguousarray(a[::-1])[::-1],
                 lambda a: np.repeat(a, 2, axis=-1)[..., ::2]):
        xv, dyv, iv, dygv = view(x), view(dy), view(indices), view(dyg)
        before = [a.copy() for a in (xv, dyv, iv, dygv)]
        got = (*cf.max_pool2d(xv, **params), cf.avg_pool2d(xv, **params),
               cf.global_avg_pool2d(xv), cf.max_pool2d_backward(dyv, iv, x.shape),
               cf.avg_pool2d_backward(dyv, x.shape, **params),
               cf.global_avg_pool2d_backward(dygv, x.shape))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
            assert g.flags.c_contiguous and g.dtype == w.dtype
            assert not any(np.shares_memory(g, a) for a in (xv, dyv, iv, dygv))
        for a, a0 in zip((xv, dyv, iv, dygv), before):
            np.testing.assert_array_equal(a, a0)


# ---- invariants --------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=2), dict(kernel_size=3, stride=1)])
def test_max_pool2d_gradient_lands_on_argmaxes_and_keeps_the_sum(isa, nthreads, params):
    x = data((2, 4, 20, 23), np.float32, integers=True)
    y, indices = cf.max_pool2d(x, **params)
    planes = x.reshape(2, 4, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, indices.reshape(2, 4, -1), 2),
                                  y.reshape(2, 4, -1))
    dy = data(y.shape, np.float32, seed=1, integers=True)
    dx = cf.max_pool2d_backward(dy, indices, x.shape)
    assert dx.sum(dtype=np.float64) == dy.sum(dtype=np.float64)
    hit = np.zeros(planes.shape, dtype=bool)
    np.put_along_axis(hit, indices.reshape(2, 4, -1), True, 2)
    assert not dx.reshape(2, 4, -1)[~hit].any()


# ---- bad input: the C path refuses exactly what the reference refuses -------------------------

X = np.ones((2, 3, 6, 6))
Y, IDX = ref.max_pool2d(X, 2)
DY = np.ones((2, 3, 3, 3))

BAD = [
    ("max_pool2d", (X, 0), {}),
    ("max_pool2d", (X, 3), dict(padding=2)),
    ("avg_pool2d", (X, 2), dict(stride=(1, -1))),
    ("max_pool2d", (np.ones((1, 1, 2, 2)), 2), dict(padding=1, dilation=3)),
    ("max_pool2d", (X, 7), {}),
    ("avg_pool2d", (np.ones((2, 3, 0, 4)), 1), {}),
    ("global_avg_pool2d", (np.ones((2, 0, 4, 4)),), {}),
    ("max_pool2d", (X, 2**63), {}),
    ("max_pool2d", (X, 3), dict(dilation=2**62)),
    ("max_pool2d", (np.ones((1, 1, 1, 1)), (2**63 - 2, 1)),
     dict(stride=(2**62 - 1, 1), padding=(2**62 - 1, 0), ceil_mode=True)),
    ("max_pool2d_backward", (DY, IDX, (2, 3, 2**62, 2**62)), {}),
    ("avg_pool2d_backward", (DY[:, :, 1:], X.shape, 2), {}),
    ("avg_pool2d_backward", (DY, X.shape, 3), {}),
    ("global_avg_pool2d_backward", (np.ones((2, 4)), X.shape), {}),
    ("max_pool2d_backward", (DY[:, :, 1:], IDX, X.shape), {}),
    ("max_pool2d_backward", (DY, IDX, (2, 4, 6, 6)), {}),
    ("max_pool2d_backward", (DY, IDX + 36, X.shape), {}),
    ("max_pool2d_backward", (DY, IDX - 100, X.shape), {}),
    ("max_pool2d_backward", (DY, IDX, (2, 3, 4, 6)), {}),
    ("max_pool2d_backward", (DY, IDX.astype(np.int32), X.shape), {}),
    ("max_pool2d_backward", (DY, IDX.tolist(), X.shape), {}),
    ("max_pool2d_backward", (DY, IDX, "2,3,6,6"), {}),
    ("avg_pool2d_backward", (DY, (2, 3, 6.0, 6), 2), {}),
    ("max_pool2d", (X, 2), dict(ceil_mode=1)),
    ("avg_pool2d", (X, 2), dict(count_include_pad="yes")),
    ("max_pool2d", (X.astype(np.int32), 2), {}),
    ("avg_pool2d", (X.astype(np.float16), 2), {}),
    ("global_avg_pool2d", (X.astype(np.complex64),), {}),
    ("max_pool2d", (X.tolist(), 2), {}),
    ("avg_pool2d_backward", (DY.astype(np.float16), X.shape, 2), {}),
    ("max_pool2d", (X, 2.0), {}),
    ("max_pool2d", (X[0], 2), {}),
]


@pytest.mark.parametrize("name,args,kwargs", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_as_by_the_reference(name, args, kwargs):
    with pytest.raises((ValueError, TypeError, OverflowError)) as want:
        getattr(ref, name)(*args, **kwargs)
    with pytest.raises(want.type) as got:
        getattr(cf, name)(*args, **kwargs)
    assert str(got.value) == str(want.value)


def test_an_index_outside_one_plane_is_found_by_the_c_check(nthreads):
    """Only the last plane is wrong: the C check (not a NumPy pre-pass) reports it."""
    x = data((3, 4, 8, 8), np.float32)
    y, indices = cf.max_pool2d(x, 2)
    for bad in (64, -1):
        wrong = indices.copy()
        wrong[2, 3, 3, 3] = bad
        with pytest.raises(ValueError, match=rf"indices holds {bad}, outside the 8x8 input plane"):
            cf.max_pool2d_backward(y, wrong, x.shape)
    few = data((1, 1, 64, 64), np.float32)
    y, indices = cf.max_pool2d(few, 2)
    indices[0, 0, 5, 7] = 4096
    with pytest.raises(ValueError, match=r"indices holds 4096"):
        cf.max_pool2d_backward(y, indices, few.shape)


# ---- PyTorch -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = data((2, 3, 13, 17), dtype)
    for params, dilation in [(dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), 1),
                             (dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)), 2),
                             (dict(kernel_size=2, stride=2), 1)]:
        tx = torch.tensor(x, requires_grad=True)
        ty, ti = F.max_pool2d(tx, **params, dilation=dilation, return_indices=True)
        dy = data(tuple(ty.shape), dtype, seed=1)
        ty.backward(torch.tensor(dy))
        y, indices = cf.max_pool2d(x, **params, dilation=dilation)
        np.testing.assert_array_equal(y, ty.detach().numpy())
        np.testing.assert_array_equal(indices, ti.numpy())
        np.testing.assert_allclose(cf.max_pool2d_backward(dy, indices, x.shape), tx.grad.numpy(),
                                   rtol=0, atol=8 * np.finfo(dtype).eps)
        for cip in (True, False):
            tx = torch.tensor(x, requires_grad=True)
            ta = F.avg_pool2d(tx, **params, count_include_pad=cip)
            dy = data(tuple(ta.shape), dtype, seed=2)
            ta.backward(torch.tensor(dy))
            tol = 16 * np.finfo(dtype).eps * np.abs(x).max()
            np.testing.assert_allclose(cf.avg_pool2d(x, **params, count_include_pad=cip),
                                       ta.detach().numpy(), rtol=0, atol=tol)
            np.testing.assert_allclose(
                cf.avg_pool2d_backward(dy, x.shape, **params, count_include_pad=cip),
                tx.grad.numpy(), rtol=0, atol=16 * np.finfo(dtype).eps * np.abs(dy).max())


def test_results_do_not_depend_on_the_thread_count(isa):
    x = data((2, 3, 90, 130), np.float32)
    for params in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2)]:
        results = []
        for n in (1, 2, 7):
            with cf.threads(n):
                y, indices = cf.max_pool2d(x, **params)
                ya = cf.avg_pool2d(x, **params)
                results.append((y, indices, ya, cf.max_pool2d_backward(y, indices, x.shape),
                                cf.avg_pool2d_backward(ya, x.shape, **params),
                                cf.global_avg_pool2d(x)))
        for other in results[1:]:
            for p, q in zip(results[0], other):
                np.testing.assert_array_equal(p, q)


def test_calls_from_eight_python_threads_match_serial_results():
    from concurrent.futures import ThreadPoolExecutor

    x = data((4, 8, 40, 44), np.float32)
    y, indices = cf.max_pool2d(x, 3, 2, 1)
    jobs = [lambda: cf.max_pool2d(x, 3, 2, 1)[1], lambda: cf.max_pool2d_backward(y, indices, x.shape),
            lambda: cf.avg_pool2d(x, 2), lambda: cf.avg_pool2d_backward(y, x.shape, 3, 2, 1),
            lambda: cf.global_avg_pool2d(x)]
    serial = [job() for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: jobs[i % len(jobs)](), range(40)))
    for i, got in enumerate(results):
        np.testing.assert_array_equal(got, serial[i % len(jobs)])


# ---- property tests ----------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WILD = st.sampled_from([-1, 0, 1, 2, 3, 2**31 - 1, 2**31, 2**62, 2**63 - 1, 2**63])


def small_or_wild(lo, hi):
    return st.one_of(st.integers(lo, hi), st.integers(lo, hi), st.integers(lo, hi), WILD)


def same_outcome(call_c, call_ref):
    """Both paths refuse with the same exception and message, or give equal results."""
    try:
        want = call_ref()
    except (ValueError, TypeError, OverflowError) as e:
        with pytest.raises(type(e)) as got:
            call_c()
        assert str(got.value) == str(e)
        return None
    got = call_c()
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)
    return got


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(1, 9), w=st.integers(1, 40), n=st.integers(0, 2),
       kernel=st.tuples(small_or_wild(1, 4), small_or_wild(1, 4)),
       stride=st.none() | st.tuples(small_or_wild(1, 3), small_or_wild(1, 3)),
       padding=st.tuples(small_or_wild(0, 2), small_or_wild(0, 2)),
       dilation=st.tuples(small_or_wild(1, 3), small_or_wild(1, 3)), ceil_mode=st.booleans(),
       count_include_pad=st.booleans(), dtype=st.sampled_from(DTYPES))
def test_any_parameters_give_the_reference_result_or_its_error(h, w, n, kernel, stride, padding,
                                                               dilation, ceil_mode,
                                                               count_include_pad, dtype):
    """Exact mode on small integers: C and reference agree bit for bit, or refuse alike."""
    x = data((n, 2, h, w), dtype, integers=True)
    p = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    got = same_outcome(lambda: cf.max_pool2d(x, **p, dilation=dilation),
                       lambda: ref.max_pool2d(x, **p, dilation=dilation))
    if got is not None:
        same_outcome(lambda: cf.max_pool2d_backward(got[0], got[1], x.shape),
                     lambda: ref.max_pool2d_backward(got[0], got[1], x.shape))
    ya = same_outcome(lambda: cf.avg_pool2d(x, **p, count_include_pad=count_include_pad),
                      lambda: ref.avg_pool2d(x, **p, count_include_pad=count_include_pad))
    if ya is not None:
        g = _shapes.avg_pool2d_args(x, kernel, stride, padding, ceil_mode, count_include_pad)
        dy = (data(ya.shape, dtype, seed=1, integers=True) * _divisors(g)).astype(dtype)
        same_outcome(lambda: cf.avg_pool2d_backward(dy, x.shape, **p,
                                                    count_include_pad=count_include_pad),
                     lambda: ref.avg_pool2d_backward(dy, x.shape, **p,
                                                     count_include_pad=count_include_pad))
