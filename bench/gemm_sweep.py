"""GFLOP/s of cnnfast's GEMM engine and dense layer against PyTorch (and NumPy's BLAS).

    python bench/gemm_sweep.py [--threads 1 2] [--reps 9] [--dtype float32] [--numpy]

Square products C = A B for 256..2048 and dense-layer shapes (y = x W^T, batch 1/32/256 with
512 -> 512 and 4096 -> 1000; lin_bwd: its backward dx, dW, db against the same three torch ops),
float32 by default. cnnfast and the anchor alternate on the same
inputs with the same thread count; each number is the median of 3 rounds of --reps timings.

--numpy adds NumPy's matmul. This machine sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which slow
OpenBLAS down: run with both unset for a fair NumPy column, e.g.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gemm_sweep.py --numpy
(NumPy's BLAS threads follow OPENBLAS_NUM_THREADS, which this script sets per row through
threadpoolctl when it is installed; the column is left out when it is not.)"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import cnnfast  # noqa: E402
from cnnfast import _core  # noqa: E402


def median_time(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def alternate(fns, reps, rounds=3):
    """Median seconds of each fn over `rounds` rounds of `reps` back-to-back calls, the fns taking
    turns each round: load changes hit all of them alike, and the OpenMP pool of one library (which
    spins for a while after each call) slows only the first call of the other's block."""
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            fn()
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                times[i].append(time.perf_counter() - t)
    return [float(np.median(t)) for t in times]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--reps", type=int, default=5, help="calls per round (3 rounds)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--numpy", action="store_true", help="add a NumPy matmul column (see above)")
    p.add_argument("--peak", type=float, default=115.0,
                   help="float32 FMA peak of one core in GFLOP/s for the %%peak column (default 115: "
                        "bench/fma_peak.c on this machine's Zen 4 cores when the machine is quiet)")
    args = p.parse_args()
    dtype = np.dtype(args.dtype)
    try:
        import torch
    except ImportError:
        torch = None
    limits = None
    if args.numpy:
        try:
            from threadpoolctl import threadpool_limits as limits
        except ImportError:
            print("threadpoolctl is not installed: no NumPy column")
            args.numpy = False
    name = _core.gemm_kernel_info(dtype)[0]
    print(f"cnnfast {cnnfast.__version__}, ISA {cnnfast.isa()}, microkernel {name}, {args.dtype}, "
          f"median of 3 x {args.reps} calls")
    if args.numpy:
        print(f"NumPy column with OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r} "
              f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')!r}")
    rng = np.random.default_rng(0)
    rows = [("matmul", s, s, s) for s in (256, 512, 1024, 1536, 2048)]
    rows += [(op, n, fout, fin) for op in ("linear", "lin_bwd") for fin, fout in ((512, 512), (4096, 1000))
             for n in (1, 32, 256)]
    scale = 1.0 if dtype == np.float32 else 0.5  # the same FMAs hold half as many doubles
    head = f"{'op':7s} {'M x N x K':>17s} {'thr':>3s} {'cnnfast':>9s} {'%peak':>6s} {'torch':>9s} {'ratio':>6s}"
    print(head + (f" {'numpy':>9s}" if args.numpy else "") + "   (GFLOP/s; ratio = cnnfast time / torch time)")
    for op, m, n, k in rows:
        if op == "matmul":
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            c = np.empty((m, n), dtype)
            ours = lambda: _core.gemm(a, b, c, 1.0, 0.0, None, None, nt)  # noqa: E731
            if torch is not None:
                ta, tb = torch.from_numpy(a), torch.from_numpy(b)
                theirs = lambda: torch.matmul(ta, tb)  # noqa: E731
            npy = lambda: a @ b  # noqa: E731
        elif op == "linear":
            x = rng.standard_normal((m, k)).astype(dtype)
            w = rng.standard_normal((n, k)).astype(dtype)
            bias = rng.standard_normal(n).astype(dtype)
            ours = lambda: cnnfast.linear(x, w, bias)  # noqa: E731
            if torch is not None:
                tx, tw, tbias = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bias)
                theirs = lambda: torch.nn.functional.linear(tx, tw, tbias)  # noqa: E731
            npy = lambda: x @ w.T + bias  # noqa: E731
        else:  # backward of linear: dx = dy w, dw = dy^T x, db = sum of dy rows (twice the flops)
            x = rng.standard_normal((m, k)).astype(dtype)
            w = rng.standard_normal((n, k)).astype(dtype)
            dy = rng.standard_normal((m, n)).astype(dtype)
            ours = lambda: cnnfast.linear_backward(dy, x, w)  # noqa: E731
            if torch is not None:
                tx, tw, tdy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(dy)
                theirs = lambda: (tdy @ tw, tdy.t() @ tx, tdy.sum(0))  # noqa: E731
            npy = lambda: (dy @ w, dy.T @ x, dy.sum(0))  # noqa: E731
        flops = (4.0 if op == "lin_bwd" else 2.0) * m * n * k
        for nt in args.threads:
            fns = [ours]
            if torch is not None:
                torch.set_num_threads(nt)
                fns.append(theirs)
            with cnnfast.threads(nt):
                times = alternate(fns, args.reps)
            if args.numpy:
                with limits(limits=nt, user_api="blas"):
                    times.append(median_time(npy, args.reps))
            ours_gf = flops / times[0] / 1e9
            line = f"{op:7s} {f'{m}x{n}x{k}':>17s} {nt:3d} {ours_gf:9.1f} {100 * ours_gf / (args.peak * scale * nt):5.0f}%"
            if torch is not None:
                line += f" {flops / times[1] / 1e9:9.1f} {times[0] / times[1]:6.2f}"
            else:
                line += f" {'-':>9s} {'-':>6s}"
            if args.numpy:
                line += f" {flops / times[-1] / 1e9:9.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
