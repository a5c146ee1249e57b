"""What the runner prints and writes: machine facts, the table, the summary, the JSON document."""
import json
import math
import os
import platform

import numpy as np

COLUMNS = (("op", "<"), ("shape", "<"), ("dtype", "<"), ("time", ">"), ("rate", ">"), ("frac", ">"),
           ("ref", ">"), ("torch", ">"), ("note", "<"))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts(threads, torch):
    import cnnfast
    from cnnfast import _core

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cpus_available": cpus,
        "cpus_total": os.cpu_count(),
        "isa": cnnfast.isa(),
        "isa_detected": _core.isa_detected(),
        "openmp": bool(_core.have_openmp()),
        "threads": threads,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "cnnfast": cnnfast.__version__,
        "env": {k: os.environ[k] for k in ("CNNFAST_ISA", "CNNFAST_NUM_THREADS", "OMP_NUM_THREADS",
                                           "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS") if k in os.environ},
    }


def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.3g}"


def row_cells(r):
    """The table cells of one result record (see runner.run_case for its fields)."""
    if "gflops" in r:
        rate = f"{r['gflops']:.1f} GFLOP/s"
        frac = f"{r['fraction_of_peak']:.0%}"
    elif "gbps" in r:
        rate = f"{r['gbps']:.1f} GB/s"
        frac = f"{r['fraction_of_copy']:.0%}"
    else:
        rate = frac = "-"
    return (r["op"], r["shape_label"], r["dtype"], fmt_time(r.get("time_s")), rate, frac,
            fmt_ratio(r.get("ratio_reference")), fmt_ratio(r.get("ratio_torch")), r.get("note", ""))


class Table:
    """Prints rows as they are measured, with column widths fixed up front."""

    def __init__(self, out, op_width, shape_width):
        self.out = out
        self.widths = [max(op_width, 2), max(shape_width, 5), 7, 9, 15, 5, 7, 6, 0]

    def _line(self, cells):
        parts = [f"{c:{align}{w}}" for c, (_, align), w in zip(cells, COLUMNS, self.widths)]
        print("  ".join(parts).rstrip(), file=self.out, flush=True)

    def header(self):
        self._line([name for name, _ in COLUMNS])

    def row(self, record):
        self._line(row_cells(record))


def preamble(out, facts, settings, copy):
    threads = facts["threads"]
    print(f"cnnfast {facts['cnnfast']} benchmark: {facts['cpu']}, {facts['cpus_available']} CPUs, "
          f"ISA {facts['isa']}, OpenMP {'yes' if facts['openmp'] else 'no'}, {threads} thread(s)", file=out)
    torch = f"torch {facts['torch']} on {threads} thread(s)" if facts["torch"] else "torch not available"
    print(f"numpy {facts['numpy']}, {torch}, python {facts['python']}", file=out)
    load = facts["load_average"]
    if load is not None and load > 0.5:
        print(f"load average {load:.1f} on {facts['cpus_available']} CPUs at the start: other work is running, "
              "timings are noisy (threaded ops can wait whole scheduler slices for a CPU)", file=out)
    print(f"np.copyto baseline: {copy['gbps']:.1f} GB/s ({copy['bytes'] / 2**20:.0f} MiB read + written, "
          f"1 thread)", file=out)
    print(f"FMA peak assumed: {settings['peak_gflops']:.0f} GFLOP/s float32, "
          f"{settings['peak_gflops'] / 2:.0f} float64 ({settings['peak_source']})", file=out)
    print("time: median per call.  rate: GFLOP/s for compute ops, GB/s (bytes read + written) for "
          "memory-bound ops.", file=out)
    print("frac: fraction of the FMA peak (GFLOP/s rows) or of np.copyto's bandwidth (GB/s rows; arrays that "
          "fit in cache can beat it).", file=out)
    print("ref, torch: time(cnnfast) / time(cnnfast.reference or PyTorch); < 1 means cnnfast is faster.",
          file=out)
    print(file=out)


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _stats(entry, key, ratios):
    if ratios:
        entry.update({f"{key}_geomean": geomean(ratios), f"{key}_worst": max(ratios), f"{key}_shapes": len(ratios)})
    return entry


def summarise(results):
    """Per (op, dtype): geometric mean and worst of the torch and reference ratios over the shapes;
    then per (op, dtype) measured with its backward on the same shapes, the torch ratio of
    forward + backward: (t_fwd + t_bwd) / (torch_fwd + torch_bwd) per shape (op named 'X+backward')."""
    groups = {}
    for r in results:
        groups.setdefault((r["op"], r["dtype"]), []).append(r)
    summary = []
    for (op, dtype), rows in groups.items():
        entry = {"op": op, "dtype": dtype, "shapes": len(rows)}
        for key in ("torch", "reference"):
            _stats(entry, key, [r[f"ratio_{key}"] for r in rows if r.get(f"ratio_{key}")])
        summary.append(entry)
    timed = {(r["op"], r["dtype"], r["shape_label"]): r for r in results if "ratio_torch" in r}
    pairs = {}
    for (op, dtype, label), fwd in timed.items():
        bwd = timed.get((op + "_backward", dtype, label))
        if bwd is not None:
            ratio = (fwd["time_s"] + bwd["time_s"]) / (fwd["torch"]["time_s"] + bwd["torch"]["time_s"])
            pairs.setdefault((op + "+backward", dtype), []).append(ratio)
    for (op, dtype), ratios in pairs.items():
        summary.append(_stats({"op": op, "dtype": dtype, "shapes": len(ratios)}, "torch", ratios))
    return summary


def print_summary(out, summary, min_shapes=3):
    """Print the torch summary of the ops measured on at least `min_shapes` shapes."""
    rows = [s for s in summary if s.get("torch_shapes", 0) >= min_shapes]
    if not rows:
        return
    print(file=out)
    print("Summary over shapes, time(cnnfast)/time(torch): geometric mean, worst shape", file=out)
    width = max(len(s["op"]) for s in rows)
    for s in rows:
        print(f"  {s['op']:<{width}}  {s['dtype']:<7}  geomean {s['torch_geomean']:.3g}  "
              f"worst {s['torch_worst']:.3g}  ({s['torch_shapes']} shapes)", file=out)


def print_notes(out, missing, notes):
    if missing:
        print(f"\nNot in C yet (not timed): {', '.join(missing)}", file=out)
    for note in notes:
        print(note, file=out)


def write_json(path, document):
    with open(path, "w") as f:
        f.write(json.dumps(document, indent=1, allow_nan=False) + "\n")
