"""Memory bandwidth of cnnfast's elementwise ops and softmax against a large np.copyto and PyTorch.

    PYTHONPATH=. python bench/eltwise_bandwidth.py [--n 16777216] [--threads 1 2] [--reps 7] [--dtype float32]

(from the repository root after the in-place build, or with cnnfast installed).

For each op it reports GB/s (bytes read + written, per call, median over --reps calls), that as a
fraction of np.copyto into an existing array measured in the same run, and cnnfast's time over
PyTorch's (torch.set_num_threads equal to ours; < 1 means cnnfast is faster). cnnfast and PyTorch
alternate on the same inputs. Both return a fresh output per call (cnnfast's large outputs come from its output-
block cache, csrc/frame/outbuf.c); the header lines show what the page faults of a fresh NumPy
output cost (np.copy, and relu with the cache switched off). GB/s use the median time; the
min column shows how noisy the machine is."""
import argparse
import statistics
import time

import numpy as np

import cnnfast as cf
from cnnfast import _core


def timed(fn, reps):
    fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def cases(n, dtype, torch):
    """(name, bytes moved, cnnfast call, torch call or None)"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    y_sig, y_tanh = cf.sigmoid(x), cf.tanh(x)
    slopes = rng.uniform(0.1, 0.3, n).astype(dtype)
    noise = (rng.standard_normal(n) * 0.1).astype(dtype)
    mask = rng.random(n) >= 0.5
    e = x.itemsize
    planes = (8, 32, n // 256)
    x4, dy4 = x.reshape(planes), dy.reshape(planes)
    w = np.linspace(0.1, 0.3, 32).astype(dtype)
    rows = (n // 1024, 1024)
    xs, dys = x.reshape(rows), dy.reshape(rows)
    ys, yls = cf.softmax(xs), cf.log_softmax(xs)
    labels = rng.integers(0, 1024, rows[0])
    nchw = x.reshape(-1, 16, 128, 128) if n % (16 * 128 * 128) == 0 else None
    T = {}
    if torch:
        F = torch.nn.functional
        t = {k: torch.from_numpy(v) for k, v in dict(x=x, dy=dy, ys=y_sig, yt=y_tanh, s=slopes, nz=noise,
                                                     x4=x4, dy4=dy4, w=w, xs=xs, dys=dys, ysm=ys, ylsm=yls).items()}
        tm = torch.from_numpy(mask)
        tl = torch.from_numpy(labels)
        A = torch.ops.aten
        T = {
            "relu": lambda: F.relu(t["x"]),
            "relu_backward": lambda: A.threshold_backward(t["dy"], t["x"], 0),
            "leaky_relu": lambda: F.leaky_relu(t["x"], 0.01),
            "leaky_relu_backward": lambda: A.leaky_relu_backward(t["dy"], t["x"], 0.01, False),
            "elu": lambda: F.elu(t["x"]),
            "elu_backward": lambda: A.elu_backward(t["dy"], 1.0, 1, 1, False, t["x"]),
            "sigmoid": lambda: torch.sigmoid(t["x"]),
            "sigmoid_backward": lambda: A.sigmoid_backward(t["dy"], t["ys"]),
            "tanh": lambda: torch.tanh(t["x"]),
            "tanh_backward": lambda: A.tanh_backward(t["dy"], t["yt"]),
            "prelu": lambda: F.prelu(t["x4"], t["w"]),
            "prelu_backward": lambda: A._prelu_kernel_backward(t["dy4"], t["x4"], t["w"].reshape(32, 1)),
            "rrelu_backward": lambda: torch.where(t["x"] > 0, t["dy"], t["dy"] * t["s"]),
            "gaussian_noise(add)": lambda: torch.add(t["x"], t["nz"]),
            "dropout(mask)": lambda: A.native_dropout_backward(t["x"], tm, 2.0),
            "softmax": lambda: torch.softmax(t["xs"], -1),
            "softmax_backward": lambda: A._softmax_backward_data(t["dys"], t["ysm"], -1, t["xs"].dtype),
            "log_softmax": lambda: torch.log_softmax(t["xs"], -1),
            "log_softmax_backward": lambda: A._log_softmax_backward_data(t["dys"], t["ylsm"], -1, t["xs"].dtype),
            "cross_entropy": lambda: F.cross_entropy(t["xs"], tl),
        }
        if nchw is not None:
            tn = torch.from_numpy(nchw)
            T["softmax(axis=1 of NCHW)"] = lambda: torch.softmax(tn, 1)
    un, bi, ter = 2 * n * e, 3 * n * e, 4 * n * e
    out = [
        ("relu", un, lambda: cf.relu(x)),
        ("relu_backward", bi, lambda: cf.relu_backward(dy, x)),
        ("leaky_relu", un, lambda: cf.leaky_relu(x)),
        ("leaky_relu_backward", bi, lambda: cf.leaky_relu_backward(dy, x)),
        ("elu", un, lambda: cf.elu(x)),
        ("elu_backward", bi, lambda: cf.elu_backward(dy, x)),
        ("sigmoid", un, lambda: cf.sigmoid(x)),
        ("sigmoid_backward", bi, lambda: cf.sigmoid_backward(dy, y_sig)),
        ("tanh", un, lambda: cf.tanh(x)),
        ("tanh_backward", bi, lambda: cf.tanh_backward(dy, y_tanh)),
        ("prelu", un, lambda: cf.prelu(x4, w)),
        ("prelu_backward", ter, lambda: cf.prelu_backward(dy4, x4, w)),
        ("rrelu_backward", ter, lambda: cf.rrelu_backward(dy, x, slopes)),
        ("noisy_relu_backward", ter, lambda: cf.noisy_relu_backward(dy, x, noise)),
        ("gaussian_noise(add)", bi, lambda: _add(x, noise)),
        ("dropout(mask)", 2 * n * e + n, lambda: cf.dropout_backward(x, mask, 0.5)),
        ("softmax", un, lambda: cf.softmax(xs)),
        ("softmax_backward", bi, lambda: cf.softmax_backward(dys, ys)),
        ("log_softmax", un, lambda: cf.log_softmax(xs)),
        ("log_softmax_backward", bi, lambda: cf.log_softmax_backward(dys, yls)),
        ("cross_entropy", un, lambda: cf.cross_entropy(xs, labels)),
    ]
    if nchw is not None:
        out.append(("softmax(axis=1 of NCHW)", un, lambda: cf.softmax(nchw, 1)))
    return [(name, nbytes, fn, T.get(name)) for name, nbytes, fn in out]


def _add(x, noise):
    """gaussian_noise's arithmetic without its random draw (which runs in NumPy)."""
    y = _core.empty(x.shape, x.dtype)
    _core.eltwise_binary("add", x, noise, y, 0.0, cf.get_num_threads())
    return y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    dtype = np.dtype(args.dtype)
    src = np.random.default_rng(1).standard_normal(args.n).astype(dtype)
    dst = np.empty_like(src)
    print(f"cnnfast {cf.__version__}, isa {cf.isa()}, n = {args.n} {dtype} ({args.n * dtype.itemsize / 2**20:.0f} MiB)")
    for nt in args.threads:
        cf.set_num_threads(nt)
        if torch:
            torch.set_num_threads(nt)
        copy_t = statistics.median(timed(lambda: np.copyto(dst, src), args.reps))
        fresh_t = statistics.median(timed(lambda: np.copy(src), args.reps))
        copy_bw = 2 * src.nbytes / copy_t / 1e9
        y = np.empty_like(src)
        pre_t = statistics.median(timed(lambda: _core.eltwise_unary("relu", src, y, 0.0, nt), args.reps))
        limit = _core.outbuf_set_limit(0)
        nocache_t = statistics.median(timed(lambda: cf.relu(src), args.reps))
        _core.outbuf_set_limit(limit)
        gb = 2 * src.nbytes / 1e9
        print(f"\nthreads {nt}: GB/s of np.copyto into an existing array {copy_bw:.1f}, np.copy (fresh output) "
              f"{gb / fresh_t:.1f};\n  relu into an existing array {gb / pre_t:.1f}, "
              f"relu with fresh NumPy outputs (output cache off) {gb / nocache_t:.1f}")
        print(f"{'op':24s} {'ms':>8s} {'min ms':>8s} {'GB/s':>7s} {'/copyto':>8s} {'torch ms':>9s} {'vs torch':>9s}")
        for name, nbytes, fn, tfn in cases(args.n, dtype, torch):
            ours, theirs = [], []
            fn()
            if tfn:
                tfn()
            for _ in range(args.reps):
                ours += timed(fn, 1)
                if tfn:
                    theirs += timed(tfn, 1)
            t = statistics.median(ours)
            bw = nbytes / t / 1e9
            ts = f"{statistics.median(theirs) * 1e3:9.2f} {t / statistics.median(theirs):9.2f}" if theirs else ""
            print(f"{name:24s} {t * 1e3:8.2f} {min(ours) * 1e3:8.2f} {bw:7.1f} {bw / copy_bw:8.2f} {ts}")


if __name__ == "__main__":
    main()
