"""The GEMM engine (csrc/frame/gemm.c) driven directly through the private _core.gemm.

Shapes are chosen relative to the tile and blocking of the microkernel in force (MR, NR, MC, KC, NC),
so every ISA's kernel is swept at its own edges: m < MR, m = MR, n % NR != 0, k = 1, k > KC, m > MC,
n > NC. Exact mode (small integers) must equal a float64 product bit for bit; random mode allows a
K-scaled rounding error."""
import numpy as np
import pytest

from cnnfast import _core

DTYPES = (np.float32, np.float64)


def ints(rng, shape, dtype):
    """Small integers in [-8, 8] (about 1 in 9 zero): every partial sum is exact in float32."""
    return rng.integers(-8, 9, size=shape).astype(dtype)


def reference(a, b, c, alpha, beta, bias_m=None, bias_n=None):
    out = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    if beta != 0:
        out += beta * c.astype(np.float64)
    if bias_m is not None:
        out += bias_m.astype(np.float64)[:, None]
    if bias_n is not None:
        out += bias_n.astype(np.float64)[None, :]
    return out


def run(a, b, c, nthreads, alpha=1.0, beta=0.0, bias_m=None, bias_n=None):
    """Run the engine on copies; check exactly against float64 and return nothing."""
    want = reference(a, b, c, alpha, beta, bias_m, bias_n).astype(c.dtype)
    a0, b0 = a.copy(), b.copy()
    _core.gemm(a, b, c, alpha, beta, bias_m, bias_n, nthreads)
    np.testing.assert_array_equal(c, want)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def info(dtype):
    name, mr, nr, mc, kc, nc = _core.gemm_kernel_info(dtype)
    return mr, nr, mc, kc, nc


def edge_shapes(dtype):
    mr, nr, mc, kc, nc = info(dtype)
    return [
        (1, 1, 1),                  # the smallest product
        (mr, nr, 1),                # one full tile, k = 1
        (mr - 1, nr - 1, 3),        # one edge tile in both directions, k below any unroll
        (mr + 1, nr + 1, 2),        # a full tile plus a one-row / one-column edge
        (2 * mr, 3 * nr, kc),       # full tiles, k exactly one block
        (mr + 3, 2 * nr + 5, kc + 1),  # k one past a block: two k blocks, the last of depth 1
        (3, 5, 2 * kc + 7),         # three k blocks on a single edge tile
        (mc + mr + 2, nr + 3, 4),   # m over MC: two A blocks
        (2, nc + nr + 1, 3),        # n over NC: two B blocks (batch-1 dense shape)
        (37, 29, 11),               # odd everything
        (4 * mr + 5, 1100, kc + 5),  # a packed B block over 512 KB even per thread (L1 loop order)
    ]


def b_layouts(b):
    """B row-major (read in place for a few row panels), column-major (dot products for m <= 4) and
    strided both ways (always packed): each edge shape runs through every path of the engine."""
    k, n = b.shape
    yield b
    yield np.asfortranarray(b)
    wide = np.zeros((k, 2 * n), b.dtype)
    wide[:, ::2] = b
    yield wide[:, ::2]


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_edges_exact(isa, nthreads, dtype):
    rng = np.random.default_rng(1)
    for m, n, k in edge_shapes(dtype):
        a = ints(rng, (m, k), dtype)
        for b in b_layouts(ints(rng, (k, n), dtype)):
            c = np.full((m, n), np.nan, dtype)  # beta = 0 must never read C
            run(a, b, c, nthreads)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nthreads", [2, 3, 7])
def test_thread_grids_exact(isa, dtype, nthreads):
    """Grids of 2, 3 and 7 blocks (more threads than cores is legal) on shapes with few tiles."""
    mr, nr, *_ = info(dtype)
    rng = np.random.default_rng(2)
    for m, n, k in [(1, 9 * nr + 3, 64), (9 * mr + 5, 1, 64), (2 * mr + 1, 2 * nr + 1, 700), (mr, nr, 9),
                    (5 * mr + 1, 3 * nr + 2, 50)]:
        a = ints(rng, (m, k), dtype)
        for b in b_layouts(ints(rng, (k, n), dtype)):
            run(a, b, np.empty((m, n), dtype), nthreads)


@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_beta_bias_exact(isa, nthreads, dtype):
    mr, nr, mc, kc, nc = info(dtype)
    rng = np.random.default_rng(3)
    m, n, k = 2 * mr + 3, 2 * nr + 7, kc + 5
    a, b = ints(rng, (m, k), dtype), ints(rng, (k, n), dtype)
    bm, bn = ints(rng, m, dtype), ints(rng, n, dtype)
    for alpha, beta in [(1.0, 1.0), (0.5, -2.0), (-1.0, 0.0), (2.0, 0.25)]:
        run(a, b, ints(rng, (m, n), dtype), nthreads, alpha, beta)
        run(a, b, ints(rng, (m, n), dtype), nthreads, alpha, beta, bias_m=bm)
        run(a, b, ints(rng, (m, n), dtype), nthreads, alpha, beta, bias_n=bn)
        run(a, b, ints(rng, (m, n), dtype), nthreads, alpha, beta, bias_m=bm, bias_n=bn)


@pytest.mark.parametrize("dtype", DTYPES)
def test_k_zero_scales_c(isa, dtype):
    rng = np.random.default_rng(4)
    a, b = np.empty((5, 0), dtype), np.empty((0, 7), dtype)
    run(a, b, np.full((5, 7), np.nan, dtype), 2)
    run(a, b, ints(rng, (5, 7), dtype), 2, beta=3.0, bias_n=ints(rng, 7, dtype))
    run(np.empty((0, 4), dtype), np.ones((4, 3), dtype), np.empty((0, 3), dtype), 2)
    run(np.ones((3, 4), dtype), np.empty((4, 0), dtype), np.empty((3, 0), dtype), 2)


def views(base):
    """The same 2-D matrix seen through differently strided views (all equal to base)."""
    m, n = base.shape
    yield base
    yield np.asfortranarray(base)
    wide = np.zeros((m, 2 * n + 1), base.dtype)
    wide[:, ::2][:, :n] = base
    yield wide[:, ::2][:, :n]                   # column stride 2
    tall = np.zeros((3 * m, n), base.dtype)
    tall[::3] = base
    yield tall[::3]                             # row stride 3 rows
    yield np.ascontiguousarray(base[::-1, ::-1])[::-1, ::-1]  # negative strides


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_and_transposed_operands_exact(isa, dtype):
    mr, nr, mc, kc, nc = info(dtype)
    rng = np.random.default_rng(5)
    for m, n, k in [(mr + 2, nr + 3, kc + 9), (4 * mr + 3, nr + 3, kc + 9)]:  # B in place or packed
        a0, b0 = ints(rng, (m, k), dtype), ints(rng, (k, n), dtype)
        for a in views(a0):
            for b in views(b0):
                run(a, b, np.empty((m, n), dtype), 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_small_m_exact(isa, nthreads, dtype):
    """m <= MC with B contiguous along k (a dense weight) or along n, wide enough for 8 column blocks
    per thread: A packed whole, B panel by panel over k slices (two full, one short), an edge
    column block; beta, both biases and the ReLU applied once, after the last slice."""
    mr, nr, mc, kc, nc = info(dtype)
    rng = np.random.default_rng(9)
    m, n, k = 2 * mr + 3, 16 * nr + 5, 2 * kc + 7
    a, b0 = ints(rng, (m, k), dtype), ints(rng, (k, n), dtype)
    bm, bn = ints(rng, m, dtype), ints(rng, n, dtype)
    for b in (b0, np.asfortranarray(b0)):
        run(a, b, np.full((m, n), np.nan, dtype), nthreads)
        c = ints(rng, (m, n), dtype)
        want = np.maximum(reference(a, b, c, 1.0, 2.0, bm, bn), 0).astype(dtype)
        _core.gemm(a, b, c, 1.0, 2.0, bm, bn, nthreads, True)
        np.testing.assert_array_equal(c, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_c_writes_only_its_elements(isa, dtype):
    """C as a transposed, column-strided or negatively strided view of a bigger buffer: the product
    lands in the view, every other element of the buffer stays as it was (no writes outside)."""
    mr, nr, *_ = info(dtype)
    rng = np.random.default_rng(6)
    m, n, k = 2 * mr + 1, nr + 5, 17
    a, b = ints(rng, (m, k), dtype), ints(rng, (k, n), dtype)
    bm = ints(rng, m, dtype)
    for make in (lambda buf: buf[2:2 + m, 1:1 + n],            # rows longer than n
                 lambda buf: buf[1:1 + m, 2:2 + 2 * n:2],      # column stride 2
                 lambda buf: buf.T[3:3 + m, 1:1 + n],          # column-major
                 lambda buf: buf[m:0:-1, 2 * n + 2:2:-2]):     # negative strides
        buf = ints(rng, (3 * m + 4, 3 * n + 4), dtype)
        c = make(buf)
        assert c.shape == (m, n)
        before = buf.copy()
        mask = np.zeros(buf.shape, bool)
        make(mask)[...] = True
        for beta in (0.0, 1.0):
            want = reference(a, b, c, 1.0, beta, bm).astype(dtype)
            _core.gemm(a, b, c, 1.0, beta, bm, None, 2)
            np.testing.assert_array_equal(c, want)
            np.testing.assert_array_equal(buf[~mask], before[~mask])


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_data_within_k_scaled_bound(isa, nthreads, dtype):
    mr, nr, mc, kc, nc = info(dtype)
    rng = np.random.default_rng(7)
    eps = np.finfo(dtype).eps
    for m, n, k in [(mr + 1, nr + 3, 2 * kc + 3), (mc + 5, 2 * nr - 1, 33), (3, 70, 500)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        c = np.empty((m, n), dtype)
        _core.gemm(a, b, c, 1.0, 0.0, None, None, nthreads)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        bound = 2 * k * eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
        assert np.all(np.abs(c - ref) <= bound)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_result_for_any_thread_count(isa, dtype):
    """Each C element is summed in the same order whatever the grid: bitwise equal for 1..4 threads."""
    rng = np.random.default_rng(8)
    a = rng.standard_normal((70, 300)).astype(dtype)
    b = rng.standard_normal((300, 90)).astype(dtype)
    outs = []
    for nt in (1, 2, 3, 4):
        c = np.empty((70, 90), dtype)
        _core.gemm(a, b, c, 1.0, 0.0, None, None, nt)
        outs.append(c)
    for c in outs[1:]:
        np.testing.assert_array_equal(c, outs[0])


def test_kernel_names_carry_tile_and_isa(isa):
    for dtype, tag in ((np.float32, "f32"), (np.float64, "f64")):
        name, mr, nr, mc, kc, nc = _core.gemm_kernel_info(dtype)
        assert name == f"cf_{tag}_gemm_ukernel_{mr}x{nr}__{isa}"
        assert mc % mr == 0 and nc % nr == 0 and kc > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_skinny_dot_path_exact(isa, nthreads, dtype):
    """m <= 4 with A rows and B columns contiguous along k (a dense layer at batch 1..4) takes the
    dot-product path: every m, n around multiples of 4, k around the 8/16-lane steps and their tails."""
    rng = np.random.default_rng(9)
    for m in (1, 2, 3, 4):
        for n in (1, 3, 4, 5, 9, 70):
            for k in (1, 7, 8, 15, 16, 17, 33, 300):
                a = ints(rng, (m, k), dtype)
                b = ints(rng, (n, k), dtype).T  # B (k, n) with unit stride along k
                c = np.full((m, n), np.nan, dtype)
                run(a, b, c, nthreads)
    a, b = ints(rng, (3, 21), dtype), ints(rng, (10, 21), dtype).T
    run(a, b, ints(rng, (3, 10), dtype), nthreads, 2.0, -1.0, ints(rng, 3, dtype), ints(rng, 10, dtype))
    run(a[:, ::-1], b[::-1], ints(rng, (3, 10), dtype), nthreads)  # reversed k: strided, packed path


def test_python_threads_at_once_share_the_scratch_pool():
    """8 Python threads run products of different sizes at once (the GIL is released): each result
    equals its serial one, so no two calls ever share a scratch block."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(10)
    jobs = []
    for i in range(16):
        m, n, k = 20 + 13 * i, 300 - 11 * i, 50 + 37 * i
        jobs.append((ints(rng, (m, k), np.float32), ints(rng, (k, n), np.float32)))
    want = [(a.astype(np.float64) @ b).astype(np.float32) for a, b in jobs]

    def work(job):
        a, b = job
        c = np.empty((a.shape[0], b.shape[1]), np.float32)
        _core.gemm(a, b, c, 1.0, 0.0, None, None, 2)
        return c

    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            for got, w in zip(pool.map(work, jobs), want):
                np.testing.assert_array_equal(got, w)


def test_smaller_team_than_asked_still_computes_every_block():
    """OpenMP may give fewer threads than num_threads asks (OMP_THREAD_LIMIT, nested regions): every
    block of the grid and every bias-gradient part must still be computed."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, cnnfast\n"
        "from cnnfast import _core\n"
        "a = np.ones((200, 300), np.float32); b = np.ones((300, 400), np.float32)\n"
        "c = np.zeros((200, 400), np.float32)\n"
        "_core.gemm(a, b, c, 1.0, 0.0, None, None, 4)\n"
        "assert (c == 300).all()\n"
        "dy = np.ones((100000, 3), np.float32)\n"
        "with cnnfast.threads(4):\n"
        "    db = cnnfast.linear_backward(dy, np.ones((100000, 2), np.float32), np.ones((3, 2), np.float32))[2]\n"
        "assert (db == 100000).all()\n"
    )
    import cnnfast

    here = os.path.dirname(os.path.dirname(os.path.abspath(cnnfast.__file__)))  # the cnnfast under test
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONPATH=here)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120, cwd=here)


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_row_panels_read_b_in_place_exact(isa, nthreads, dtype):
    """m <= 4 MR with B's rows contiguous (dense backward dx at small batch): B is read in place,
    only the last narrow column block packed; any row stride of B, k past KC, alpha/beta/bias,
    strided C."""
    mr, nr, mc, kc, nc = info(dtype)
    rng = np.random.default_rng(11)
    for m in (1, 2, mr - 1, mr, 2 * mr + 1, 4 * mr):
        for n in (nr, nr + 1, 3 * nr - 5, 2):
            for k in (1, 5, kc + 3):
                a = ints(rng, (m, k), dtype)
                wide = ints(rng, (k, n + 7), dtype)
                run(a, wide[:, 3:3 + n], np.full((m, n), np.nan, dtype), nthreads)
    m, n, k = mr - 2, 2 * nr + 3, 40
    a, b = ints(rng, (m, k), dtype), ints(rng, (k, n), dtype)
    run(a, b, ints(rng, (m, n), dtype), nthreads, -2.0, 0.5, ints(rng, m, dtype), ints(rng, n, dtype))
    buf = ints(rng, (m, 2 * n), dtype)
    run(a, b, buf[:, ::2], nthreads, 1.0, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_bias_relu_exact(isa, nthreads, dtype):
    """relu clamps the finished result (after beta and both biases) at 0, on every path and for
    k = 0; a NaN product stays NaN."""
    mr, nr, mc, kc, nc = info(dtype)
    rng = np.random.default_rng(12)
    for m, n, k in [(3, 2 * nr + 1, 7), (mr + 2, nr + 5, kc + 3), (5 * mr + 1, 2 * nr + 3, 30), (4, 9, 0)]:
        a = ints(rng, (m, k), dtype)
        bm, bn = ints(rng, m, dtype), ints(rng, n, dtype)
        for b in b_layouts(ints(rng, (k, n), dtype)):
            c0 = ints(rng, (m, n), dtype)
            want = np.maximum(reference(a, b, c0, 1.0, 1.0, bm, bn), 0).astype(dtype)
            c = c0.copy()
            _core.gemm(a, b, c, 1.0, 1.0, bm, bn, nthreads, True)
            np.testing.assert_array_equal(c, want)
    a, b = ints(rng, (3, 5), dtype), ints(rng, (5, 4), dtype)
    a[1, 2] = np.nan
    c = np.empty((3, 4), dtype)
    _core.gemm(a, b, c, 1.0, 0.0, None, None, 1, True)
    assert np.isnan(c[1]).all() and not np.isnan(c[[0, 2]]).any() and (c[[0, 2]] >= 0).all()
