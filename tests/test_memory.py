"""Memory: ten thousand calls of each op, raising ones included, do not grow the process's memory;
reference counts of the inputs are unchanged; the index arithmetic is right past 2^31 (unit tests,
plus an opt-in test on a real array of more than 2^31 elements: CNNFAST_BIG_TESTS=1, 17 GiB).

Growth is measured after a warm-up, twice: glibc's bytes in use (mallinfo2: every malloc of the C
code and of NumPy, exact, noise ~200 bytes here) and the resident set (/proc/self/statm, noise
~100 KiB here). The limits are a fraction of what a leak of one small output per call would add
(10,000 x 840+ bytes = 8 MiB)."""
import ctypes
import gc
import os
import sys

import numpy as np
import pytest

from cnnfast import _core
from optable import CASES, build, c_ops, call

CALLS = 10_000


def _under_asan():
    """ASan replaces malloc and holds freed blocks in quarantine: memory numbers mean nothing."""
    return hasattr(ctypes.CDLL(None), "__asan_init")


def _glibc_mallinfo2():
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        return None

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc.mallinfo2.restype = Mallinfo2
    return libc.mallinfo2


_mallinfo2 = _glibc_mallinfo2()
needs_statm = pytest.mark.skipif(not os.path.exists("/proc/self/statm") or _under_asan(),
                                 reason="needs /proc/self/statm and a build without ASan")


def malloc_in_use():
    if _mallinfo2 is None:
        return 0
    m = _mallinfo2()
    return m.uordblks + m.hblkhd


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def raising_variants(args):
    """Arguments that the op must refuse: its first array as float16, and as a nested list."""
    first = args[0]
    return [(first.astype(np.float16),) + args[1:], (first.tolist(),) + args[1:]]


def run_calls(name, calls, big=False):
    """`calls` calls of op `name`, every fifth of them one that raises TypeError."""
    args, kwargs = build(name, big=big)
    bad = raising_variants(args)
    for i in range(calls):
        if i % 5 == 4:
            with pytest.raises(TypeError):
                call(name, bad[i % 2], kwargs)
        else:
            call(name, build(name, big=big, seed=i)[0] if CASES[name].stateful else args, kwargs)


def growth(fn):
    gc.collect()
    before = malloc_in_use(), rss()
    fn()
    gc.collect()
    return malloc_in_use() - before[0], rss() - before[1]


@needs_statm
@pytest.mark.parametrize("name", c_ops())
def test_ten_thousand_calls_do_not_grow_memory(name):
    run_calls(name, 500)  # warm-up: caches, free lists, lazily imported modules
    heap, resident = growth(lambda: run_calls(name, CALLS))
    assert heap < 64 << 10, f"{name}: the C/NumPy heap grew by {heap} bytes over {CALLS} calls"
    assert resident < 2 << 20, f"{name}: the resident set grew by {resident} bytes over {CALLS} calls"


@needs_statm
@pytest.mark.parametrize("name", c_ops())
def test_large_outputs_are_returned_to_the_cache_or_freed(name):
    """Outputs of 1 MiB and more come from csrc/frame/outbuf.c; 25 calls may not keep any (20 kept
    outputs of 1.2 MiB would show in both numbers)."""
    run_calls(name, 5, big=True)
    heap, resident = growth(lambda: run_calls(name, 25, big=True))
    assert heap < 1 << 20 and resident < 16 << 20, f"{name}: grew by {heap} (heap), {resident} (resident)"


@pytest.mark.parametrize("name", c_ops())
def test_reference_counts_of_the_inputs_are_unchanged(name):
    args, kwargs = build(name)
    inputs = list(args) + list(kwargs.values())
    bad = raising_variants(args)
    inputs += [b[0] for b in bad]
    gc.collect()  # garbage of earlier tests may hold shared inputs (True, small ints): free it first
    before = [sys.getrefcount(a) for a in inputs]
    for _ in range(100):
        result = call(name, args, kwargs)
        for b in bad:
            with pytest.raises(TypeError):
                call(name, b, kwargs)
    del result
    gc.collect()  # and the tracebacks of the refused calls
    assert [sys.getrefcount(a) for a in inputs] == before


# ---- sizes past 2^31 ---------------------------------------------------------------------------

SIZES = [0, 1, 15, 16, 17, 2**31 - 1, 2**31, 2**31 + 1, 2**32 + 5, 2**40 + 3, 2**62]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("parts", [1, 2, 7, 64])
@pytest.mark.parametrize("align", [1, 16])
def test_partition_covers_every_index_once(n, parts, align):
    """The chunks the parallel regions give their threads tile [0, n) in order, without gaps or
    overlaps, even when n and the chunk starts do not fit in 32 bits."""
    end_of_previous = 0
    for i in range(parts):
        b, e = _core.index_partition(n, parts, i, align)
        assert 0 <= b <= e <= n
        assert b == end_of_previous or b == e == n
        assert b % align == 0 or b == n
        end_of_previous = e if e > b else end_of_previous
    assert end_of_previous == n


@pytest.mark.parametrize("work, grain, nthreads, want", [
    (0, 32768, 7, 1), (32767, 32768, 7, 1), (65536, 32768, 7, 2), (2**31 + 1, 32768, 7, 7),
    (2**62, 1, 7, 7), (2**62, 2**17, 64, 64), (2**63 - 1, 1, 3, 3), (2**40, 2**15, 0, 1)])
def test_threads_for_past_32_bits(work, grain, nthreads, want):
    assert _core.index_threads_for(work, grain, nthreads) == want


def assert_positive_only_at(y, marks, values):
    """y > 0 exactly at `marks` (with `values`) and y == 0 elsewhere; checked in 1 GiB chunks."""
    step = 1 << 28
    for start in range(0, y.size, step):
        chunk = y[start:start + step]
        inside = marks[(marks >= start) & (marks < start + step)]
        assert np.array_equal(np.flatnonzero(chunk) + start, inside), f"chunk at {start}"
    assert np.array_equal(y[marks], values)


@pytest.mark.skipif(os.environ.get("CNNFAST_BIG_TESTS") != "1",
                    reason="opt-in: CNNFAST_BIG_TESTS=1 (needs 17 GiB of memory)")
@pytest.mark.parametrize("nthreads", [1, 7])
def test_relu_on_more_than_2_to_the_31_elements(nthreads):
    """relu and relu_backward on float32 arrays of 2^31 + 37 elements: positives only where they
    were put, around the 2^31 boundary and at the end; every other element written as 0."""
    import cnnfast

    n = 2**31 + 37
    marks = np.array([0, 2**31 - 17, 2**31 - 1, 2**31, 2**31 + 1, n - 1])
    x = np.full(n, -1.0, np.float32)
    x[marks] = np.arange(1, len(marks) + 1, dtype=np.float32)
    with cnnfast.threads(nthreads):
        y = cnnfast.relu(x)
        assert_positive_only_at(y, marks, x[marks])
        del y
        dx = cnnfast.relu_backward(x, x)  # dy = x: dx = x where x > 0, else 0
        assert_positive_only_at(dx, marks, x[marks])
