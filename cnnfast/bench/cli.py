"""Command line of `python -m cnnfast.bench`."""
import argparse
import os
import sys

from .._cli import positive_float, positive_int
from . import registry, report, runner, shapes, timing

EPILOG = """\
Ratios are time(cnnfast) / time(other): below 1 means cnnfast is faster. cnnfast and PyTorch are
timed alternately on the same inputs with the same thread count (median of several samples after a
warm-up); the NumPy reference gets a run or two, and is skipped where one run would take too long.
Ops that are not in C yet are listed, not timed. Shape files: see cnnfast/bench/shapes.py."""

DEFAULT_DATA = os.path.join("..", "shared", "data", "pneumoniamnist.npz")

CSV_SETS = {"conv": ("conv", "deconv"), "pool": ("pool",), "bnorm": ("bnorm",)}


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m cnnfast.bench", description="Time cnnfast's ops against its NumPy reference and PyTorch.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", metavar="LIST",
                   help="comma-separated op names and/or families (" + ", ".join(registry.FAMILIES)
                   + "); default: all (with --shapes: the ops that take those shapes)")
    p.add_argument("--dtype", choices=("float32", "float64", "both"), default="float32",
                   help="data type(s) to time (default float32)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="threads for cnnfast and PyTorch alike (default: cnnfast.get_num_threads())")
    p.add_argument("--quick", action="store_true", help="small shapes and short budgets: a few seconds in all")
    p.add_argument("--seconds", type=positive_float, metavar="S",
                   help="sample each case of the op table for S seconds (default 0.2, 0.01 with --quick), the cap on samples "
                   "growing with it: medians over more samples, which a slow second on a shared machine "
                   "moves less")
    p.add_argument("--json", metavar="PATH", help="also write the results and machine facts as JSON")
    p.add_argument("--shapes", metavar="FILE.csv", action="append",
                   help="run the shapes of a conv / pool / bnorm CSV file (format told by its header) "
                   "instead of the built-in ones of that kind; may be repeated")
    p.add_argument("--batch", type=positive_int, metavar="N",
                   help="batch size of every shape (default: the built-in sets' own; 8 for conv CSVs, "
                   "16 for pool and bnorm CSVs)")
    p.add_argument("--peak", type=positive_float, metavar="GFLOPS",
                   help="float32 FMA peak at the chosen thread count, for the frac column of compute ops "
                   f"(default {runner.PEAK_PER_THREAD:.0f} x threads, measured by bench/fma_peak.c on the "
                   "project's AMD EPYC Zen 4 machine; float64 uses half)")
    p.add_argument("--no-torch", action="store_true", help="do not import PyTorch (its column says n/a)")
    p.add_argument("--no-reference", action="store_true",
                   help="do not time the NumPy reference (its column says n/a); for long shape files")
    p.add_argument("--e2e", action="store_true",
                   help="end-to-end comparisons: train_on_batch, predict and a training epoch of whole CNNs "
                   "against the same models in PyTorch (see cnnfast/bench/e2e.py); alone it runs only "
                   "these, with --ops or --shapes the op table too")
    p.add_argument("--profile", action="store_true",
                   help="with --e2e: also print where train_on_batch and predict spend their time, layer "
                   "by layer, and PyTorch's per-op split of its training step")
    p.add_argument("--data", metavar="FILE.npz",
                   help="with --e2e: the MedMNIST-format file whose training set the epoch row uses "
                   f"(default {DEFAULT_DATA} when it exists)")
    p.add_argument("--list", action="store_true",
                   help="list the ops, their families and shape sets, and whether cnnfast and the reference have them")
    return p


def select_ops(parser, text, csv_kinds):
    if text is None:
        if not csv_kinds:
            return list(registry.REGISTRY)
        wanted = {name for kind in csv_kinds for name in CSV_SETS[kind]}
        return [op for op in registry.REGISTRY if op.shapes in wanted]
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        parser.error("--ops: empty list")
    known = {op.name for op in registry.REGISTRY}
    unknown = [n for n in names if n not in known and n not in registry.FAMILIES and n != "all"]
    if unknown:
        parser.error(f"--ops: unknown op or family {', '.join(map(repr, unknown))}; families: "
                     f"{', '.join(registry.FAMILIES)}; ops: {', '.join(op.name for op in registry.REGISTRY)}")
    chosen = set(names)
    return [op for op in registry.REGISTRY if "all" in chosen or op.name in chosen or op.family in chosen]


def shape_sets(parser, args):
    sets = {k: list(v) for k, v in (shapes.QUICK if args.quick else shapes.DEFAULT).items()}
    kinds = []
    for path in args.shapes or ():
        try:
            kind, found = shapes.read_csv(path, args.batch)
        except shapes.ShapeFileError as e:
            parser.error(f"--shapes: {e}")
        for name in CSV_SETS[kind]:
            sets[name] = found if kind not in kinds else sets[name] + found
        kinds.append(kind)
    if args.batch is not None:
        sets = {k: [s.with_batch(args.batch) for s in v] for k, v in sets.items()}
    return sets, kinds


def list_ops(lib, ref, out):
    width = max(len(op.name) for op in registry.REGISTRY)
    print(f"{'op':<{width}}  {'family':<10}  {'shapes':<6}  {'cnnfast':<12}  reference", file=out)
    for op in registry.REGISTRY:
        where = "in C" if op.available(lib) else "not in C yet"
        oracle = "yes" if op.available(ref) else "not yet"
        print(f"{op.name:<{width}}  {op.family:<10}  {op.shapes:<6}  {where:<12}  {oracle}", file=out)


def main(argv=None, lib=None, ref=None, out=None):
    """Run the benchmark; returns the exit status (1 when an op raised, else 0).

    lib / ref: the modules whose functions are timed (default cnnfast and cnnfast.reference)."""
    import cnnfast

    lib = cnnfast if lib is None else lib
    ref = cnnfast.reference if ref is None else ref
    out = sys.stdout if out is None else out
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        list_ops(lib, ref, out)
        return 0
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(folder):
            parser.error(f"--json: folder {folder!r} does not exist")
    sets, csv_kinds = shape_sets(parser, args)
    ops = select_ops(parser, args.ops, csv_kinds)
    threads = args.threads or cnnfast.get_num_threads()
    peak, source = ((args.peak, "--peak") if args.peak else
                    (runner.default_peak(threads), f"default: {runner.PEAK_PER_THREAD:.0f} per thread as bench/fma_peak.c measured on "
                     "the project's Zen 4; --peak sets this machine's"))
    settings = runner.Settings(
        ops=ops, dtypes=("float32", "float64") if args.dtype == "both" else (args.dtype,), threads=threads,
        shape_sets=sets, budget=timing.for_seconds(timing.QUICK_BUDGET if args.quick else timing.DEFAULT_BUDGET,
                                                   args.seconds),
        peak_gflops=peak, peak_source=source,
        copy_bytes=(32 if args.quick else 128) * 2**20)
    for flag, given in (("--data", args.data is not None), ("--profile", args.profile)):
        if given and not args.e2e:
            parser.error(f"{flag} is for --e2e")
    data = args.data if args.data is not None or not os.path.isfile(DEFAULT_DATA) else DEFAULT_DATA
    op_table = not args.e2e or args.ops is not None or args.shapes
    if not op_table:
        settings.ops = []
    timing.settle_allocator()
    torch = None if args.no_torch else runner.load_torch()
    torch_threads = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(threads)
        with cnnfast.threads(threads):
            bench = runner.Runner(settings, lib, None if args.no_reference else ref, torch, out)
            document = bench.run() if op_table else bench.preamble_only()
            if args.e2e:
                from . import e2e

                document["e2e"] = e2e.run(torch, out, data, quick=args.quick, profile=args.profile)
    finally:
        if torch is not None:
            torch.set_num_threads(torch_threads)
    if args.json:
        document["settings"]["argv"] = list(sys.argv[1:] if argv is None else argv)
        report.write_json(args.json, document)
        print(f"JSON written to {args.json}", file=out)
    return 1 if document["errors"] else 0
