"""The convolution issue's speed table in one command: every shape set, then its summary.

Runs `python -m cnnfast.bench --no-reference --ops conv2d,conv2d_backward` on each set of the
issue (ResNet-50 v1.5 at batch 8 and 1, MobileNet's depthwise layers at 8, VGG-19 at 2, the
medical U-Net set at 4 and 16), in this process, one after the other, and prints:
  - per set, the time ratio to PyTorch (geometric mean and worst shape) forward and backward;
  - batch 1 against batch 8 (ResNet-50): the ratio of their geometric means;
  - the large 3x3 layers (3x3, one group, 64 input channels or more, of ResNet-50 at batch 8 and
    VGG-19 at batch 2): the fraction of the FMA peak forward and backward, and the lowest.
Each set's own table goes to stdout first, as the runner prints it.

    python bench/conv_sets.py [--seconds S] [--sets NAME,...] [--json PATH]

About 2.5 minutes at the default --seconds 0.5 on the 2-core machine (PyTorch installed); --sets
runs some of them (resnet8, resnet1, mobilenet, vgg, medical4, medical16).
"""
import argparse
import json
import os
import sys
import tempfile

from cnnfast.bench import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository, beside ../shared
SHARED = os.path.join(ROOT, "..", "shared", "shapes")
MEDICAL = ["--shapes", os.path.join(ROOT, "bench", "shapes", "conv_medical_128.csv"),
           "--shapes", os.path.join(ROOT, "bench", "shapes", "conv_medical_256.csv")]
SETS = {  # name: (title, runner arguments)
    "resnet8": ("ResNet-50 v1.5, batch 8", ["--shapes", os.path.join(SHARED, "conv_resnet_50_v1_5.csv"), "--batch", "8"]),
    "resnet1": ("ResNet-50 v1.5, batch 1", ["--shapes", os.path.join(SHARED, "conv_resnet_50_v1_5.csv"), "--batch", "1"]),
    "mobilenet": ("MobileNet depthwise, batch 8", ["--shapes", os.path.join(SHARED, "conv_mobilenet_dw.csv"), "--batch", "8"]),
    "vgg": ("VGG-19, batch 2", ["--shapes", os.path.join(SHARED, "conv_vgg_19.csv"), "--batch", "2"]),
    "medical4": ("medical U-Net 128/256 px, batch 4", MEDICAL + ["--batch", "4"]),
    "medical16": ("medical U-Net 128/256 px, batch 16", MEDICAL + ["--batch", "16"]),
}
LARGE_3X3_SETS = ("resnet8", "vgg")
OPS = ("conv2d", "conv2d_backward")


def large_3x3(shape):
    return shape["r"] == 3 and shape["s"] == 3 and shape["groups"] == 1 and shape["c"] >= 64


def run_set(name, seconds, folder):
    path = os.path.join(folder, name + ".json")
    argv = ["--no-reference", "--ops", ",".join(OPS), "--json", path] + SETS[name][1]
    if seconds is not None:
        argv += ["--seconds", str(seconds)]
    print(f"\n==== {SETS[name][0]}: python -m cnnfast.bench {' '.join(argv)}", flush=True)
    status = cli.main(argv)
    with open(path) as f:
        return status, json.load(f)


def torch_summary(doc, op):
    """The runner's own summary of op over the set (report.summarise): geomean, worst, shapes."""
    for s in doc["summary"]:
        if s["op"] == op and s.get("torch_shapes"):
            return {"geomean": s["torch_geomean"], "worst": s["torch_worst"], "shapes": s["torch_shapes"]}
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=0.5, help="the runner's --seconds per case (default 0.5)")
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated set names (default: all)")
    p.add_argument("--json", metavar="PATH", help="also write every set's results and the summary as JSON")
    args = p.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown or not names:
        p.error(f"--sets: unknown {unknown or 'empty'}; sets: {', '.join(SETS)}")
    missing = [a for name in names for a in SETS[name][1] if a.endswith(".csv") and not os.path.isfile(a)]
    if missing:
        p.error("shape files not found (the repository must sit beside shared/): " + ", ".join(missing))
    docs, failed = {}, 0
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            status, docs[name] = run_set(name, args.seconds, folder)
            failed |= status
    summary = {"sets": {}, "large_3x3": []}
    print("\n==== Summary: time(cnnfast) / time(torch), 2 ops per shape\n")
    print("| shape set | forward geomean | forward worst | backward geomean | backward worst |")
    print("|---|---|---|---|---|")
    for name in names:
        row = {op: torch_summary(docs[name], op) for op in OPS}
        summary["sets"][name] = row
        cells = [f"{row[op]['geomean']:.3g} | {row[op]['worst']:.3g}" if row[op] else "n/a | n/a" for op in OPS]
        shapes = max((row[op] or {}).get("shapes", 0) for op in OPS)
        print(f"| {SETS[name][0]} ({shapes} shapes) | {cells[0]} | {cells[1]} |")
    if "resnet8" in names and "resnet1" in names:
        for op in OPS:
            b8, b1 = summary["sets"]["resnet8"][op], summary["sets"]["resnet1"][op]
            if b8 and b1:
                print(f"\nbatch 1 / batch 8 geomean, {op}: {b1['geomean']:.3g} / {b8['geomean']:.3g} = "
                      f"{b1['geomean'] / b8['geomean']:.3g}", end="")
        print()
    rows = [(name, r) for name in names if name in LARGE_3X3_SETS for r in docs[name]["results"]
            if r["op"] in OPS and large_3x3(r["shape"]) and "fraction_of_peak" in r]
    if rows:
        peak = docs[rows[0][0]]["settings"]["peak_gflops"]
        print(f"\nLarge 3x3 layers, fraction of the FMA peak ({peak:.0f} GFLOP/s):\n")
        print("| layer | forward | backward |")
        print("|---|---|---|")
        by_layer = {}
        for name, r in rows:
            by_layer.setdefault(r["shape_label"], {})[r["op"]] = r["fraction_of_peak"]
        for label, fr in by_layer.items():
            summary["large_3x3"].append({"layer": label, **fr})
            print("| " + label + " | " + " | ".join(f"{fr[op]:.0%}" if op in fr else "n/a" for op in OPS) + " |")
        low = {op: min(fr[op] for fr in by_layer.values() if op in fr) for op in OPS
               if any(op in fr for fr in by_layer.values())}
        print("\nlowest: " + ", ".join(f"{op} {v:.0%}" for op, v in low.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sets": docs, "summary": summary}, f, indent=1)
        print(f"JSON written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
