"""cnnfast.linear / linear_backward (C, on the GEMM engine) against cnnfast.reference."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnfast
from cnnfast import reference as ref

DTYPES = (np.float32, np.float64)

# (leading shape of x, in_features, out_features): batch 0, 1 and odd; in or out of 1; sizes off the
# tile (14x32 / 6x16 / 4x8) and over the k block (384 / 256); batches that take each GEMM path
# (dot products up to 4 rows, B in place up to 4 row panels, packed beyond); leading dims beyond
# one, and a 1-D x.
SHAPES = [((0,), 5, 3), ((1,), 1, 1), ((1,), 300, 33), ((7,), 1, 9), ((5,), 13, 1), ((33,), 29, 45),
          ((3,), 400, 37), ((17,), 400, 37), ((70,), 390, 45), ((2, 3), 17, 70), ((), 11, 4),
          ((4, 0, 2), 6, 3), ((3,), 0, 5), ((6,), 4, 0)]


def ints(rng, shape, dtype):
    return rng.integers(-8, 9, size=shape).astype(dtype)


def check_exact(x, w, b, dy):
    """C vs reference on small-integer data: forward and backward, with and without bias, bit for
    bit (every partial sum is exact); outputs fresh and C-contiguous; inputs untouched."""
    copies = [a.copy() for a in (x, w, b, dy)]

    def same(got, want):
        assert got.dtype == want.dtype and got.shape == want.shape and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)

    for bias in (None, b):
        same(cnnfast.linear(x, w, bias), ref.linear(x, w, bias))
    for need in (True, False):
        got, want = cnnfast.linear_backward(dy, x, w, need), ref.linear_backward(dy, x, w, need)
        same(got[0], want[0])
        same(got[1], want[1])
        if need:
            same(got[2], want[2])
        else:
            assert got[2] is None
    for a, a0 in zip((x, w, b, dy), copies):
        np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,fin,fout", SHAPES)
def test_exact_mode(isa, nthreads, dtype, lead, fin, fout):
    rng = np.random.default_rng(0)
    x, w = ints(rng, lead + (fin,), dtype), ints(rng, (fout, fin), dtype)
    check_exact(x, w, ints(rng, (fout,), dtype), ints(rng, lead + (fout,), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,fin,fout", [((1,), 512, 512), ((32,), 300, 70), ((3, 5), 70, 300)])
def test_random_mode(isa, nthreads, dtype, lead, fin, fout):
    """Normal data: |got - exact| <= 2 K eps sum|a b| (+ one rounding of the result) per element,
    with K the reduction length of each product."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(lead + (fin,)).astype(dtype)
    w = rng.standard_normal((fout, fin)).astype(dtype)
    b = rng.standard_normal(fout).astype(dtype)
    dy = rng.standard_normal(lead + (fout,)).astype(dtype)
    eps = np.finfo(dtype).eps

    def bound_ok(got, want, absa, absb, k):
        bound = 2 * k * eps * (absa @ absb) + np.abs(want) * eps
        assert np.all(np.abs(got.astype(np.float64) - want) <= bound)

    x2 = x.reshape(-1, fin).astype(np.float64)
    dy2 = dy.reshape(-1, fout).astype(np.float64)
    w64 = w.astype(np.float64)
    y = cnnfast.linear(x, w, b).reshape(-1, fout)
    bound_ok(y, x2 @ w64.T + b, np.abs(x2), np.abs(w64).T, fin + 1)
    dx, dw, db = cnnfast.linear_backward(dy, x, w)
    bound_ok(dx.reshape(-1, fin), dy2 @ w64, np.abs(dy2), np.abs(w64), fout)
    bound_ok(dw, dy2.T @ x2, np.abs(dy2).T, np.abs(x2), len(x2))
    n = len(dy2)
    assert np.all(np.abs(db - dy2.sum(0)) <= n * np.finfo(np.float64).eps * np.abs(dy2).sum(0) + eps * np.abs(dy2.sum(0)))


def test_float32_bias_grad_is_accurate_over_long_batches(nthreads):
    """dbias of float32 accumulates in double: a long batch of 0.1f sums within one float32 rounding
    (a float32 running sum would be off by about 1e-3 relative here)."""
    n = 100_000
    dy = np.full((n, 3), 0.1, np.float32)
    _, _, db = cnnfast.linear_backward(dy, np.zeros((n, 2), np.float32), np.zeros((3, 2), np.float32))
    want = dy.astype(np.float64).sum(0)
    np.testing.assert_allclose(db, want, rtol=np.finfo(np.float32).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs(nthreads, dtype):
    rng = np.random.default_rng(2)
    x = ints(rng, (9, 2 * 23), dtype)[:, ::2]
    w = np.asfortranarray(ints(rng, (31, 23), dtype))
    b = ints(rng, (62,), dtype)[::-2]
    dy = ints(rng, (31, 9), dtype).T
    assert not (x.flags.c_contiguous or w.flags.c_contiguous or b.flags.c_contiguous or dy.flags.c_contiguous)
    check_exact(x, w, b, dy)


def test_threads_give_identical_results():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((40, 300)), rng.standard_normal((50, 300))
    dy = rng.standard_normal((40, 50))
    with cnnfast.threads(1):
        one = (cnnfast.linear(x, w),) + cnnfast.linear_backward(dy, x, w)
    for n in (2, 3):
        with cnnfast.threads(n):
            many = (cnnfast.linear(x, w),) + cnnfast.linear_backward(dy, x, w)
        for a, b in zip(one, many):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fn", [cnnfast.linear, ref.linear])
def test_bad_forward_input(fn):
    x, w, b = np.ones((2, 3)), np.ones((4, 3)), np.ones(4)
    with pytest.raises(TypeError, match="x"):
        fn([[1.0, 2.0, 3.0]], w)
    with pytest.raises(TypeError, match="weight"):
        fn(x, w.astype(np.float32))
    with pytest.raises(TypeError, match="x"):
        fn(x.astype(np.int64), w)
    with pytest.raises(TypeError, match="float16"):
        fn(x.astype(np.float16), w.astype(np.float16))
    with pytest.raises(TypeError, match="bias"):
        fn(x, w, b.astype(np.float32))
    with pytest.raises(TypeError, match="complex"):
        fn(x.astype(complex), w.astype(complex))
    with pytest.raises(ValueError, match="in_features = 3"):
        fn(np.ones((2, 5)), w)
    with pytest.raises(ValueError, match="weight must have 2"):
        fn(x, np.ones((4, 3, 1)))
    with pytest.raises(ValueError, match="x must have at least 1"):
        fn(np.array(1.0), w)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        fn(x, w, np.ones(3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        fn(x, w, np.ones((1, 4)))


@pytest.mark.parametrize("fn", [cnnfast.linear_backward, ref.linear_backward])
def test_bad_backward_input(fn):
    dy, x, w = np.ones((2, 4)), np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 4\)"):
        fn(np.ones((2, 5)), x, w)
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 4\)"):
        fn(np.ones((3, 4)), x, w)
    with pytest.raises(TypeError, match="dy"):
        fn(dy.astype(np.float32), x, w)
    with pytest.raises(TypeError, match="dy"):
        fn(None, x, w)
    with pytest.raises(TypeError, match="need_bias_grad"):
        fn(dy, x, w, need_bias_grad=1)
    with pytest.raises(ValueError, match="in_features"):
        fn(dy, np.ones((2, 2)), w)


def test_exported_from_cnnfast():
    assert cnnfast.linear is cnnfast.functional.linear
    assert "linear_backward" in cnnfast.__all__



@settings(max_examples=40, deadline=None)
@given(lead=st.lists(st.integers(0, 6), max_size=3), fin=st.integers(0, 40), fout=st.integers(0, 40),
       dtype=st.sampled_from(DTYPES), bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_property_any_consistent_shape_is_exact(lead, fin, fout, dtype, bias, seed):
    rng = np.random.default_rng(seed)
    lead = tuple(lead)
    x, w = ints(rng, lead + (fin,), dtype), ints(rng, (fout, fin), dtype)
    b = ints(rng, (fout,), dtype) if bias else None
    np.testing.assert_array_equal(cnnfast.linear(x, w, b), ref.linear(x, w, b))
    dy = ints(rng, lead + (fout,), dtype)
    for got, want in zip(cnnfast.linear_backward(dy, x, w), ref.linear_backward(dy, x, w)):
        np.testing.assert_array_equal(got, want)
