"""The C softmax, log-softmax and cross-entropy against the reference: every ISA, 1 and all
threads, float32 and float64, any axis (row kernels for the last axis, column kernels for the
others, and the short-row kernels -- blocks of W rows worked on transposed, one lane per row -- for
forward ops along a last axis of at most 32), edge shapes, invariants, huge logits, NaN,
non-contiguous and bad input.

Tolerances: a softmax along an axis of length L sums L terms, so results may differ from the
float64 reference by (L + 8) eps relative to the size of the terms involved (|y| for softmax, plus
the |x - max| eps that rounding x - max to the dtype costs before the exp; |x - max| + log(sum) for
log-softmax; the sums' magnitudes for the backward passes)."""
import numpy as np
import pytest

import cnnfast as cf
from cnnfast import reference as R

DTYPES = [np.float32, np.float64]
SHAPES = [(1,), (7,), (16,), (33,), (1, 1), (3, 15), (5, 17), (2, 16, 3), (4, 17, 33), (2, 3, 4, 5),
          (70, 1000), (1000, 70), (3, 65, 70), (300, 10), (2, 130, 32)]
EMPTY = [(0,), (0, 5), (5, 0), (2, 0, 3)]


def sample(shape, dtype, seed=0, scale=4.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def assert_close(got, ref, ulps, scale):
    assert isinstance(got, np.ndarray) and got.dtype == ref.dtype and got.shape == ref.shape
    assert got.flags.c_contiguous
    fi = np.finfo(ref.dtype)
    g, r = got.astype(np.float64), ref.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
    ok = np.isnan(r) | (g == r)
    with np.errstate(invalid="ignore"):
        ok |= np.abs(g - r) <= ulps * float(fi.eps) * np.broadcast_to(scale, r.shape) + 4 * float(fi.tiny)
    assert ok.all(), f"{(~ok).sum()} of {ok.size} beyond {ulps} eps: got {g[~ok][:3]}, want {r[~ok][:3]}"


def sum_along(a, axis):
    return np.sum(a, axis=axis, keepdims=True)


def check_all(x, dy, axis):
    """All four ops along axis against the reference, with their error scales."""
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    ulps = x.shape[axis] + 8
    z = x64 - np.max(x64, axis=axis, keepdims=True)
    y, ry = cf.softmax(x, axis), R.softmax(x, axis)
    # x - max is rounded to the dtype before its exp: a relative error of |x - max| eps
    assert_close(y, ry, ulps, np.abs(ry.astype(np.float64)) * (1 + np.abs(z) / ulps))
    ly, rly = cf.log_softmax(x, axis), R.log_softmax(x, axis)
    assert_close(ly, rly, ulps, np.abs(z) + np.log(sum_along(np.exp(z), axis)) + 1)
    y64 = ry.astype(np.float64)
    assert_close(cf.softmax_backward(dy, ry, axis), R.softmax_backward(dy, ry, axis), ulps,
                 np.abs(y64) * (np.abs(dy64) + sum_along(np.abs(dy64 * y64), axis)))
    assert_close(cf.log_softmax_backward(dy, rly, axis), R.log_softmax_backward(dy, rly, axis), ulps,
                 np.abs(dy64) + np.exp(rly.astype(np.float64)) * sum_along(np.abs(dy64), axis))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_softmax_family_matches_reference_on_every_axis(isa, nthreads, shape, dtype):
    x, dy = sample(shape, dtype), sample(shape, dtype, seed=1, scale=1.0)
    keep = (x.copy(), dy.copy())
    for axis in range(-len(shape), len(shape)):
        check_all(x, dy, axis)
    np.testing.assert_array_equal(x, keep[0])
    np.testing.assert_array_equal(dy, keep[1])


@pytest.mark.parametrize("shape", EMPTY, ids=str)
def test_empty_arrays(isa, shape):
    x = np.zeros(shape, np.float32)
    for axis in range(len(shape)):
        for got in (cf.softmax(x, axis), cf.log_softmax(x, axis), cf.softmax_backward(x, x, axis),
                    cf.log_softmax_backward(x, x, axis)):
            assert got.shape == shape and got.dtype == np.float32


@pytest.mark.parametrize("layout", ["strided", "fortran", "reversed"])
def test_non_contiguous_inputs(isa, layout):
    view = {"strided": lambda a: a[::2, 1::3], "fortran": np.asfortranarray,
            "reversed": lambda a: a[::-1, ::-1]}[layout]
    x, dy = view(sample((40, 34), np.float32)), view(sample((40, 34), np.float32, seed=2))
    for axis in (0, 1):
        check_all(x, dy, axis)
    logits = view(sample((40, 34), np.float64))
    labels = (np.arange(80) % 5)[::-2][: logits.shape[0]]
    loss, probs = cf.cross_entropy(logits, labels)
    rloss, rprobs = R.cross_entropy(logits, labels)
    np.testing.assert_allclose(loss, rloss, rtol=1e-14)
    np.testing.assert_allclose(probs, rprobs, rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_sum_to_one_and_shift_invariance(isa, nthreads, dtype):
    x = sample((50, 300), dtype)
    for axis in (0, 1):
        y = cf.softmax(x, axis)
        np.testing.assert_allclose(y.sum(axis=axis, dtype=np.float64), 1.0, rtol=400 * np.finfo(dtype).eps)
        shifted = cf.softmax(x + dtype(7.5), axis)
        np.testing.assert_allclose(shifted, y, rtol=400 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_logits_stay_finite(isa, dtype):
    x = np.array([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 1e4]], dtype)
    for axis in (0, 1):
        for f in (cf.softmax, cf.log_softmax):
            assert np.isfinite(f(x, axis)).all()
        check_all(x, np.ones_like(x), axis)
    loss, probs = cf.cross_entropy(x, np.array([1, 0, 2]))
    rloss, rprobs = R.cross_entropy(x, np.array([1, 0, 2]))
    assert np.isfinite(loss) and np.isfinite(probs).all()
    np.testing.assert_allclose(loss, rloss, rtol=8 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_propagates_to_its_slice(isa, dtype):
    x = sample((6, 40), dtype)
    x[2, 5] = np.nan
    for axis in (0, 1):
        check_all(x, np.ones_like(x), axis)
        y = cf.softmax(x, axis)
        assert np.isnan(y[2]).all() if axis == 1 else np.isnan(y[:, 5]).all()
    loss, probs = cf.cross_entropy(x, np.zeros(6, np.int64))
    assert np.isnan(loss) and np.isnan(probs[2]).all() and not np.isnan(probs[3]).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("length", [1, 2, 8, 9, 10, 16, 17, 31, 32, 33])
@pytest.mark.parametrize("rows", [1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 100])
def test_short_rows_around_the_block_size(isa, nthreads, rows, length, dtype):
    # row counts around the kernels' blocks of W = 1, 4, 8, 16 rows (and the threads' split);
    # lengths on both sides of the short-row limit, 32, and of the AVX-512 transposes' 16 columns
    # (8 for doubles)
    x = sample((rows, length), dtype, seed=rows * 100 + length)
    keep = x.copy()
    check_all(x, np.ones_like(x), 1)
    labels = np.random.default_rng(rows).integers(0, length, rows)
    loss, probs = cf.cross_entropy(x, labels)
    rloss, rprobs = R.cross_entropy(x, labels)
    x64 = x.astype(np.float64)
    z = x64 - x64.max(axis=1, keepdims=True)
    mag = np.mean(np.abs(z).max(axis=1) + np.abs(x64).max(axis=1)) + 1
    assert_close(loss, rloss, length + 8, mag)
    assert_close(probs, rprobs, length + 8, np.abs(rprobs.astype(np.float64)) * (1 + np.abs(z) / (length + 8)))
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("dtype", DTYPES)
def test_short_rows_of_huge_logits_stay_finite(isa, nthreads, dtype):
    # full blocks and a tail, rows of +-1e4 mixed with ordinary ones
    x = sample((37, 10), dtype, scale=1e4)
    x[::3] = sample((13, 10), dtype, seed=1)
    x[5] = -1e4
    for f in (cf.softmax, cf.log_softmax):
        assert np.isfinite(f(x)).all()
    check_all(x, np.ones_like(x), 1)
    labels = np.arange(37) % 10
    loss, probs = cf.cross_entropy(x, labels)
    rloss, _ = R.cross_entropy(x, labels)
    assert np.isfinite(loss) and np.isfinite(probs).all()
    np.testing.assert_allclose(loss, rloss, rtol=8 * np.finfo(dtype).eps)


# ---- cross-entropy -------------------------------------------------------------------------------

@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.int8])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,c", [(1, 1), (1, 2), (7, 10), (33, 17), (1000, 10), (257, 32), (129, 33), (64, 1000),
                                 (3, 100003)])
def test_cross_entropy_matches_reference(isa, nthreads, n, c, dtype, label_dtype):
    logits = sample((n, c), dtype)
    labels = np.random.default_rng(3).integers(0, min(c, 100), n).astype(label_dtype)
    keep = (logits.copy(), labels.copy())
    loss, probs = cf.cross_entropy(logits, labels)
    rloss, rprobs = R.cross_entropy(logits, labels)
    assert loss.shape == () and loss.dtype == dtype and isinstance(loss, np.ndarray)
    ulps = c + 8
    x64 = logits.astype(np.float64)
    lse = np.log(np.sum(np.exp(x64 - x64.max(axis=1, keepdims=True)), axis=1)) + x64.max(axis=1)
    mag = np.mean(np.abs(lse) + np.abs(x64[np.arange(n), labels.astype(np.int64)])) + 1
    assert_close(loss, rloss, ulps, mag)
    z = x64 - x64.max(axis=1, keepdims=True)
    assert_close(probs, rprobs, ulps, np.abs(rprobs.astype(np.float64)) * (1 + np.abs(z) / ulps))
    d, rd = cf.cross_entropy_backward(rprobs, labels), R.cross_entropy_backward(rprobs, labels)
    assert_close(d, rd, 4, (np.abs(rprobs.astype(np.float64)) + 1) / n)
    np.testing.assert_array_equal(logits, keep[0])
    np.testing.assert_array_equal(labels, keep[1])


@pytest.mark.parametrize("n,c", [(9000, 10), (9000, 32), (30000, 3), (700, 100)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_loss_is_the_same_bits_on_1_2_and_7_threads(isa, dtype, n, c):
    # short rows sum their losses chunk by chunk of 256 rows, long rows row by row, in an order
    # that does not depend on how the rows are split between threads
    logits = sample((n, c), dtype, seed=n + c)
    labels = np.random.default_rng(c).integers(0, c, n)
    results = []
    for t in (1, 2, 7):
        with cf.threads(t):
            results.append(cf.cross_entropy(logits, labels))
    for loss, probs in results[1:]:
        np.testing.assert_array_equal(loss, results[0][0])
        np.testing.assert_array_equal(probs, results[0][1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_an_empty_batch_is_nan_like_torch(isa, dtype):
    loss, probs = cf.cross_entropy(np.zeros((0, 4), dtype), np.zeros(0, np.int64))
    assert np.isnan(loss) and loss.dtype == dtype and probs.shape == (0, 4)
    d = cf.cross_entropy_backward(np.zeros((0, 4), dtype), np.zeros(0, np.int32))
    assert d.shape == (0, 4) and d.dtype == dtype


# ---- bad input: the reference and the C path refuse the same things ----------------------------

MODULES = [pytest.param(cf, id="c"), pytest.param(R, id="reference")]
L2 = np.zeros((3, 4), np.float32)
BAD = [
    (lambda m: m.softmax([1.0, 2.0]), TypeError, "x"),
    (lambda m: m.softmax(np.zeros(3, np.int64)), TypeError, "x"),
    (lambda m: m.softmax(np.array(1.0, np.float32)), ValueError, "x"),
    (lambda m: m.softmax(L2, axis=2), ValueError, "axis"),
    (lambda m: m.log_softmax(L2, axis=-3), ValueError, "axis"),
    (lambda m: m.softmax(L2, axis=1.0), TypeError, "axis"),
    (lambda m: m.softmax_backward(L2, L2.astype(np.float64)), TypeError, "y"),
    (lambda m: m.log_softmax_backward(L2[:2], L2), ValueError, "dy"),
    (lambda m: m.cross_entropy(L2, np.zeros(3)), TypeError, "labels"),
    (lambda m: m.cross_entropy(L2, np.zeros(3, bool)), TypeError, "labels"),
    (lambda m: m.cross_entropy(L2, [0, 1, 2]), TypeError, "labels"),
    (lambda m: m.cross_entropy(L2, np.array([0, 4, 1])), ValueError, "labels.*4"),
    (lambda m: m.cross_entropy(L2, np.array([0, -1, 1])), ValueError, "labels.*-1"),
    (lambda m: m.cross_entropy(L2, np.zeros(2, np.int64)), ValueError, "labels"),
    (lambda m: m.cross_entropy(L2, np.zeros((3, 1), np.int64)), ValueError, "labels"),
    (lambda m: m.cross_entropy(np.zeros(4, np.float32), np.zeros(4, np.int64)), ValueError, "logits"),
    (lambda m: m.cross_entropy(np.zeros((3, 0), np.float32), np.zeros(3, np.int64)), ValueError, "labels"),
    (lambda m: m.cross_entropy(L2.astype(np.float16), np.zeros(3, np.int64)), TypeError, "logits"),
    (lambda m: m.cross_entropy_backward(L2, np.array([0, 9, 1], np.uint64)), ValueError, "labels.*9"),
    (lambda m: m.cross_entropy_backward(L2[0], np.zeros(4, np.int64)), ValueError, "probs"),
]


@pytest.mark.parametrize("call,exc,word", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
@pytest.mark.parametrize("mod", MODULES)
def test_bad_input_is_refused(mod, call, exc, word):
    with pytest.raises(exc, match=word):
        call(mod)


# ---- labels outside [0, C): the C kernels check each label as they read it ----------------------
# (the short-row kernels a chunk of 256 rows at a time, in blocks of W rows; the long-row and backward
# loops row by row; threads split 8192 and 9000 rows of 10 classes), and Python then raises the
# reference's error, which names the smallest label if it is negative, else the largest.

BAD_LABELS = {"negative": -1, "C": None, "beyond_int64": 2**63 + 5, "both": None}


def _labels_with(n, c, where, kind):
    labels = np.random.default_rng(n + c).integers(0, c, n)
    at = 0 if where == "first" else n - 1
    if kind == "beyond_int64":  # uint64 labels that turn negative as int64
        labels = labels.astype(np.uint64)
        labels[at] = BAD_LABELS[kind]
    elif kind == "both":
        labels[at], labels[n // 2] = c + 2, -3
    else:
        labels[at] = c if kind == "C" else BAD_LABELS[kind]
    return labels


@pytest.mark.parametrize("kind", list(BAD_LABELS))
@pytest.mark.parametrize("where", ["first", "last"])
@pytest.mark.parametrize("n,c", [(1, 1), (5, 10), (16, 10), (17, 3), (257, 32), (8192, 10), (9000, 7), (40, 33),
                                 (3, 1000)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_labels_outside_the_classes_get_the_references_error(isa, nthreads, dtype, n, c, where, kind):
    if kind == "both" and n < 3:
        pytest.skip("needs a third row for the second bad label")
    logits = sample((n, c), dtype)
    labels = _labels_with(n, c, where, kind)
    keep = labels.copy()
    probs = R.softmax(logits, 1)
    for name, arg in (("cross_entropy", logits), ("cross_entropy_backward", probs)):
        with pytest.raises(ValueError, match="labels must lie in") as want:
            getattr(R, name)(arg, labels)
        with pytest.raises(ValueError, match="labels must lie in") as got:
            getattr(cf, name)(arg, labels)
        assert str(got.value) == str(want.value)
    np.testing.assert_array_equal(labels, keep)
    good = np.where((labels.astype(np.int64) >= 0) & (labels < c), labels, 0).astype(np.int64)
    loss, _ = cf.cross_entropy(logits, good)  # nothing left behind by the refused calls
    assert_close(loss, R.cross_entropy(logits, good)[0], c + 8, np.abs(R.log_softmax(logits, 1)).max() + 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_streaming_rows(isa, nthreads, dtype):
    """Outputs beyond 8 MiB with long rows take the non-temporal store path (rows of 1025
    elements: every row starts at a different alignment)."""
    rows = (8 << 20) // (1025 * np.dtype(dtype).itemsize) + 3
    x = sample((rows, 1025), dtype)
    check_all(x, sample((rows, 1025), dtype, seed=4, scale=1.0), -1)
    labels = np.arange(rows) % 1025
    loss, probs = cf.cross_entropy(x, labels)
    rloss, rprobs = R.cross_entropy(x, labels)
    z = x.astype(np.float64) - x.max(axis=1, keepdims=True)
    assert_close(probs, rprobs, 1025 + 8, np.abs(rprobs.astype(np.float64)) * (1 + np.abs(z) / 1033))
    np.testing.assert_allclose(loss, rloss, rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_calls_from_eight_python_threads_match_serial_results():
    from concurrent.futures import ThreadPoolExecutor

    x = sample((700, 300), np.float32)
    labels = np.arange(700) % 300
    jobs = [lambda: cf.softmax(x, 0), lambda: cf.log_softmax(x), lambda: cf.cross_entropy(x, labels)[1]]
    serial = [job() for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: jobs[i % len(jobs)](), range(24)))
    for i, got in enumerate(results):
        np.testing.assert_array_equal(got, serial[i % len(jobs)])


# ---- property tests -----------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=1, max_size=4), data=st.data(),
       dtype=st.sampled_from(DTYPES), scale=st.sampled_from([1.0, 30.0, 1e4]))
def test_property_softmax_family_on_random_shapes(shape, data, dtype, scale):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = sample(tuple(shape), dtype, seed=len(shape), scale=scale)
    if x.size == 0:
        assert cf.softmax(x, axis).shape == x.shape
        return
    check_all(x, sample(tuple(shape), dtype, seed=9, scale=1.0), axis)


@settings(max_examples=80, deadline=None)
@given(x=st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.floats(), max_size=3),
                   st.sampled_from([np.zeros((2, 3), np.float32), np.zeros(3, np.int32), np.zeros((), np.float64),
                                    np.zeros((2, 0), np.float64), np.ones((3, 4), np.float16)])),
       axis=st.one_of(st.integers(-4, 4), st.floats(), st.none()),
       labels=st.one_of(st.none(), st.sampled_from([np.array([0, 1]), np.array([0.5, 1.0]), np.array([5, 0]),
                                                    np.zeros(0, np.int64), np.array([[0], [1]])])))
def test_property_anything_gives_a_result_or_a_clean_exception(x, axis, labels):
    for call in (lambda: cf.softmax(x, axis), lambda: cf.log_softmax_backward(x, x, axis),
                 lambda: cf.cross_entropy(x, labels), lambda: cf.cross_entropy_backward(x, labels)):
        try:
            call()
        except (TypeError, ValueError, OverflowError):
            pass


@pytest.mark.parametrize("inner", [16384, 16411], ids=["aligned-rows", "unaligned-rows"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_streaming_columns(isa, nthreads, dtype, inner):
    """Outputs beyond 8 MiB along a non-last axis take the columns' non-temporal store path."""
    length = (8 << 20) // (2 * inner * np.dtype(dtype).itemsize) + 1
    shape = (2, length, inner)
    check_all(sample(shape, dtype), sample(shape, dtype, seed=4, scale=1.0), 1)
