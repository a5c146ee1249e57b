"""Pooling and batch norm: cnnfast against PyTorch (CPU) and a large np.copyto, in one run.

    PYTHONPATH=. python bench/pool_norm.py [--threads 2] [--batch 16] [--reps 9] [--dtype float32]

Shapes: /work/shared/shapes/pool_*.csv and bnorm_resnet_50.csv (or --shapes-dir), plus 2x2
stride-2 max pooling of 64-128 channel maps at 28-112 px. cnnfast and torch alternate on the
same inputs with the same thread count; each time is the median of --reps calls. GB/s counts
the bytes an op must read and write once (indices are 8 bytes each); the copy line is
np.copyto of 256 MiB into a preallocated array (read + write)."""
import argparse
import csv
import glob
import os
import time

import numpy as np

import cnnfast as cf


def median_pair(fa, fb, reps):
    """Alternate fa and fb reps times; their median times in seconds."""
    ta, tb = [], []
    fa(), fb()  # warm up (allocations, thread pools)
    for _ in range(reps):
        t = time.perf_counter()
        fa()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        fb()
        tb.append(time.perf_counter() - t)
    return float(np.median(ta)), float(np.median(tb))


def copy_bandwidth(reps):
    a = np.ones(64 * 2**20, dtype=np.float32)
    b = np.empty_like(a)
    t, _ = median_pair(lambda: np.copyto(b, a), lambda: None, reps)
    return 2 * a.nbytes / t / 1e9


def pool_shapes(shapes_dir):
    rows = []
    for path in sorted(glob.glob(os.path.join(shapes_dir, "pool_*.csv"))):
        with open(path) as f:
            for r in csv.DictReader(f):
                ph, pw = int(r["ph"]), int(r["pw"])
                rows.append(dict(name=r["name"].split("*")[0], alg=r["alg_hint"], c=int(r["c"]),
                                 h=int(r["ih"]), w=int(r["iw"]), k=(int(r["kh"]), int(r["kw"])),
                                 s=(int(r["sh"]), int(r["sw"])), p=(ph, pw),
                                 ceil=bool(int(r["ceil_mode"]))))
    for c, size in [(64, 112), (64, 56), (128, 56), (128, 28)]:
        rows.append(dict(name=f"2x2s2_c{c}_{size}px", alg="max", c=c, h=size, w=size, k=(2, 2),
                         s=(2, 2), p=(0, 0), ceil=False))
    return rows


def bench_pool(r, n, dtype, reps, torch, row):
    F = torch.nn.functional
    x = np.random.default_rng(0).standard_normal((n, r["c"], r["h"], r["w"])).astype(dtype)
    tx = torch.from_numpy(x)
    item = np.dtype(dtype).itemsize
    shape = f"{n}x{r['c']}x{r['h']}x{r['w']} k{r['k'][0]} s{r['s'][0]} p{r['p'][0]}" + (" ceil" if r["ceil"] else "")
    if r["alg"] == "max":
        y, idx = cf.max_pool2d(x, r["k"], r["s"], r["p"], 1, r["ceil"])
        dy = np.ones_like(y)
        tdy = torch.from_numpy(dy)

        def c_fwd():
            cf.max_pool2d(x, r["k"], r["s"], r["p"], 1, r["ceil"])

        def t_fwd():
            F.max_pool2d(tx, r["k"], r["s"], r["p"], 1, r["ceil"], return_indices=True)

        tidx = torch.from_numpy(idx)

        def c_bwd():
            cf.max_pool2d_backward(dy, idx, x.shape)

        def t_bwd():
            torch.ops.aten.max_pool2d_with_indices_backward(tdy, tx, list(r["k"]), list(r["s"]),
                                                            list(r["p"]), [1, 1], r["ceil"], tidx)
        fwd_bytes = x.nbytes + y.nbytes + idx.nbytes
        bwd_bytes = dy.nbytes + idx.nbytes + x.nbytes
        op = "max_pool2d"
    else:
        y = cf.avg_pool2d(x, r["k"], r["s"], r["p"], r["ceil"], True)
        dy = np.ones_like(y)
        tdy = torch.from_numpy(dy)

        def c_fwd():
            cf.avg_pool2d(x, r["k"], r["s"], r["p"], r["ceil"], True)

        def t_fwd():
            F.avg_pool2d(tx, r["k"], r["s"], r["p"], r["ceil"], True)

        def c_bwd():
            cf.avg_pool2d_backward(dy, x.shape, r["k"], r["s"], r["p"], r["ceil"], True)

        def t_bwd():
            torch.ops.aten.avg_pool2d_backward(tdy, tx, list(r["k"]), list(r["s"]), list(r["p"]),
                                               r["ceil"], True, None)
        fwd_bytes = x.nbytes + y.nbytes
        bwd_bytes = dy.nbytes + x.nbytes
        op = "avg_pool2d"
    cf_f, t_f = median_pair(c_fwd, t_fwd, reps)
    cf_b, t_b = median_pair(c_bwd, t_bwd, reps)
    row(op, r["name"], shape, cf_f, t_f, fwd_bytes, cf_b, t_b, bwd_bytes)


def bench_bn(name, c, h, n, dtype, reps, torch, row):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(dtype)
    gamma, beta = np.ones(c, dtype), np.zeros(c, dtype)
    rm, rv = np.zeros(c, dtype), np.ones(c, dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
    tg, tb, trm, trv = (torch.from_numpy(a.copy()) for a in (gamma, beta, rm, rv))
    shape = f"{n}x{c}x{h}x{h}"
    _, mean, invstd = cf.batch_norm(x, gamma, beta, rm, rv, True)
    _, tsm, tsi = torch.ops.aten.native_batch_norm(tx, tg, tb, trm, trv, True, 0.1, 1e-5)

    def c_train():
        cf.batch_norm(x, gamma, beta, rm, rv, True)

    def t_train():
        torch.ops.aten.native_batch_norm(tx, tg, tb, trm, trv, True, 0.1, 1e-5)

    def c_back():
        cf.batch_norm_backward(dy, x, gamma, mean, invstd, True)

    def t_back():
        torch.ops.aten.native_batch_norm_backward(tdy, tx, tg, trm, trv, tsm, tsi, True, 1e-5,
                                                  [True, True, True])

    def c_eval():
        cf.batch_norm(x, gamma, beta, rm, rv, False)

    def t_eval():
        torch.ops.aten.native_batch_norm(tx, tg, tb, trm, trv, False, 0.1, 1e-5)

    cf_f, t_f = median_pair(c_train, t_train, reps)
    cf_b, t_b = median_pair(c_back, t_back, reps)
    row("batch_norm train", name, shape, cf_f, t_f, 2 * x.nbytes, cf_b, t_b, 3 * x.nbytes)
    cf_e, t_e = median_pair(c_eval, t_eval, reps)
    row("batch_norm eval", name, shape, cf_e, t_e, 2 * x.nbytes, None, None, None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--shapes-dir", default="/work/shared/shapes")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    cf.set_num_threads(args.threads)
    dtype = np.dtype(args.dtype)
    copy = copy_bandwidth(args.reps)
    print(f"cnnfast {cf.__version__} isa={cf.isa()} threads={args.threads} torch {torch.__version__}"
          f" dtype={dtype} batch={args.batch}")
    print(f"np.copyto 256 MiB: {copy:.1f} GB/s (read + write); 60% = {0.6 * copy:.1f} GB/s")
    head = (f"{'op':17} {'layer':32} {'shape':30} {'fwd ms':>7} {'GB/s':>5} {'xtorch':>6} "
            f"{'bwd ms':>7} {'GB/s':>5} {'xtorch':>6} {'f+b xtorch':>10}")
    print(head)
    print("-" * len(head))

    def row(op, name, shape, cf_f, t_f, fb, cf_b, t_b, bb):
        line = f"{op:17} {name[:32]:32} {shape[:30]:30} {cf_f * 1e3:7.2f} {fb / cf_f / 1e9:5.1f} {t_f / cf_f:6.1f} "
        if cf_b is not None:
            line += f"{cf_b * 1e3:7.2f} {bb / cf_b / 1e9:5.1f} {t_b / cf_b:6.1f} {(t_f + t_b) / (cf_f + cf_b):10.1f}"
        print(line, flush=True)

    for r in pool_shapes(args.shapes_dir):
        bench_pool(r, args.batch, dtype, args.reps, torch, row)
    with open(os.path.join(args.shapes_dir, "bnorm_resnet_50.csv")) as f:
        for r in csv.DictReader(f):
            bench_bn(r["name"].split("*")[0], int(r["c"]), int(r["ih"]), args.batch, dtype,
                     args.reps, torch, row)
    print(f"np.copyto 256 MiB again: {copy_bandwidth(args.reps):.1f} GB/s")


if __name__ == "__main__":
    main()
