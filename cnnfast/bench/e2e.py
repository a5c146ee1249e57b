"""End-to-end comparisons (python -m cnnfast.bench --e2e): whole models, cnnfast against PyTorch.

- train_on_batch: cnnfast.Sequential.train_on_batch against one PyTorch training step (zero_grad,
  forward, cross-entropy, backward, Adam step) of the same model (cnnfast.bench.torch_twin);
- predict: Sequential.predict (inference: batch norm folded into the convolutions) against the
  twin in eval mode under torch.no_grad(), softmax included;
both on the demo's CNN family (cnnfast.train.build_model: conv-BN-ReLU blocks with 2x2 max
pooling between them, global average pooling, dense to 2 logits) with three blocks (16, 32, 64
filters) and four (16, 32, 64, 128), on 1x64x64 images at batch 32 and 1x128x128 at batch 16;
- epoch: one epoch of the demo model (three blocks) on pneumoniamnist's training set (Adam,
  batch 64, shuffled: Sequential.fit against the twin's loop over the same batches), when the
  data file is found.
cnnfast and PyTorch alternate call by call (timing.alternate) on the same inputs and threads.
"""
import dataclasses
import time

import numpy as np

from .. import datasets
from . import report, timing

TRAIN_BUDGET = timing.Budget(seconds=2.0, min_reps=7, max_reps=41, sample_s=0.0, ref_seconds=0, ref_skip_s=0)
EPOCH_BUDGET = timing.Budget(seconds=0.0, min_reps=3, max_reps=3, sample_s=0.0, ref_seconds=0, ref_skip_s=0)
QUICK_BUDGET = timing.Budget(seconds=0.0, min_reps=2, max_reps=2, sample_s=0.0, ref_seconds=0, ref_skip_s=0)


@dataclasses.dataclass(frozen=True)
class ModelCase:
    widths: tuple
    image: tuple     # per-sample input shape (C, H, W)
    batch: int

    def label(self):
        return f"{len(self.widths)} blocks {'x'.join(map(str, self.image))} b{self.batch}"


MODELS = [ModelCase(w, img, b) for img, b in (((1, 64, 64), 32), ((1, 128, 128), 16))
          for w in ((16, 32, 64), (16, 32, 64, 128))]
QUICK_MODELS = [ModelCase((4, 8), (1, 16, 16), 4)]
EPOCH_WIDTHS = (16, 32, 64)
EPOCH_BATCH = 64


def _torch_step(torch, twin, optimizer, x, y):
    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(twin(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def _torch_predict(torch, twin, x):
    def predict():
        with torch.no_grad():
            return torch.softmax(twin(x), dim=1)
    return predict


def _record(op, label, times, extra=None):
    r = {"op": op, "shape_label": label, "dtype": "float32", **times["cnnfast"].as_dict(), **(extra or {})}
    if "torch" in times:
        r["torch"] = times["torch"].as_dict()
        r["ratio_torch"] = times["cnnfast"].median_s / times["torch"].median_s
        r["note"] = (f"torch {report.fmt_time(times['torch'].median_s)}; cnnfast "
                     f"{times['torch'].median_s / times['cnnfast'].median_s:.2f}x as fast")
    return r


def model_cases(case, torch, budget, seed=0):
    """The train_on_batch and predict records of one model case."""
    from .. import optimizers
    from ..train import build_model
    from .torch_twin import torch_twin

    model = build_model(case.image, case.widths, seed=seed)
    model.compile(optimizers.Adam(learning_rate=1e-3))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case.batch, *case.image), dtype=np.float32)
    y = rng.integers(0, 2, case.batch)
    train = {"cnnfast": lambda: model.train_on_batch(x, y)}
    predict = {"cnnfast": lambda: model.predict(x, batch_size=case.batch)}
    if torch is not None:
        twin = torch_twin(model)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        train["torch"] = _torch_step(torch, twin.train(), torch.optim.Adam(twin.parameters(), lr=1e-3), xt, yt)
    extra = {"widths": list(case.widths), "image": list(case.image), "batch": case.batch}
    records = [_record("train_on_batch", case.label(), timing.alternate(train, budget), extra)]
    if torch is not None:
        predict["torch"] = _torch_predict(torch, twin.eval(), xt)
    records.append(_record("predict", case.label(), timing.alternate(predict, budget), extra))
    return records


def epoch_case(data, torch, budget, seed=0):
    """One training epoch of the demo model on data['train'] (fit vs the twin's loop)."""
    from .. import optimizers
    from ..train import build_model
    from .torch_twin import torch_twin

    images, labels = data["train"]
    x = datasets.to_model_input(images)
    x = (x - x.mean()) / x.std()
    model = build_model(x.shape[1:], EPOCH_WIDTHS, seed=seed)
    model.compile(optimizers.Adam(learning_rate=1e-3))
    rng = np.random.default_rng(seed)
    fns = {"cnnfast": lambda: model.fit(x, labels, batch_size=EPOCH_BATCH, epochs=1, verbose=0,
                                        seed=int(rng.integers(1 << 31)))}
    if torch is not None:
        twin = torch_twin(model).train()
        opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
        xt, yt = torch.from_numpy(x), torch.from_numpy(labels)

        def torch_epoch():
            order = torch.from_numpy(rng.permutation(len(labels)))
            for lo in range(0, len(labels), EPOCH_BATCH):
                idx = order[lo:lo + EPOCH_BATCH]
                _torch_step(torch, twin, opt, xt[idx], yt[idx])()
        fns["torch"] = torch_epoch
    label = f"demo {'x'.join(map(str, x.shape[1:]))} n{len(labels)} b{EPOCH_BATCH}"
    return _record("epoch", label, timing.alternate(fns, budget),
                   {"widths": list(EPOCH_WIDTHS), "image": list(x.shape[1:]), "batch": EPOCH_BATCH,
                    "samples": int(len(labels))})


def run(torch, out, data_path=None, quick=False, profile=False):
    """Measure and print the end-to-end rows (and with `profile` the per-layer split of each model
    case); returns {'results': [...], 'summary': {...}, 'notes': [...]} (+ 'profiles')."""
    notes = []
    budget = QUICK_BUDGET if quick else TRAIN_BUDGET
    cases = QUICK_MODELS if quick else MODELS
    data = None
    if data_path is not None:
        try:
            data = datasets.load_medmnist(data_path)
        except (OSError, ValueError) as e:
            notes.append(f"epoch not timed: {e}")
    else:
        notes.append("epoch not timed: no data file (--data PATH; default ../shared/data/pneumoniamnist.npz)")
    if data is not None and quick:
        data = {"train": tuple(a[:2 * EPOCH_BATCH] for a in data["train"])}
    print("\nEnd to end: cnnfast.Sequential vs the same model in PyTorch (Adam, float32); torch: "
          "time(cnnfast)/time(torch)", file=out)
    labels = [c.label() for c in cases] + ["demo 1x28x28 n2428 b64"]
    table = report.Table(out, len("train_on_batch"), max(map(len, labels)))
    table.header()
    results = []
    for case in cases:
        for record in model_cases(case, torch, budget):
            results.append(record)
            table.row(record)
    if data is not None:
        record = epoch_case(data, torch, QUICK_BUDGET if quick else EPOCH_BUDGET)
        results.append(record)
        table.row(record)
    if torch is None:
        notes.append("PyTorch is not importable (or --no-torch): no end-to-end comparison, cnnfast times only.")
    for note in notes:
        print(note, file=out)
    summary = {}
    for op in ("train_on_batch", "predict", "epoch"):
        ratios = [r["ratio_torch"] for r in results if r["op"] == op and "ratio_torch" in r]
        if ratios:
            summary[op] = {"torch_geomean": report.geomean(ratios), "torch_worst": max(ratios), "cases": len(ratios)}
            print(f"  {op:<14}  geomean {summary[op]['torch_geomean']:.3g}  worst {max(ratios):.3g}  "
                  f"({len(ratios)} case{'s' if len(ratios) > 1 else ''})", file=out)
    document = {"results": results, "summary": summary, "notes": notes}
    if profile:
        document["profiles"] = [profile_case(case, torch, out, steps=2 if quick else 20) for case in cases]
    return document


# ---------------------------------------------------------------------------------------------
# --profile: where one train_on_batch / predict spends its time, layer by layer

class _Timed:
    """Wraps a bound method; adds each call's seconds to totals[key]."""

    def __init__(self, fn, totals, key):
        self.fn, self.totals, self.key = fn, totals, key

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.totals[self.key] = self.totals.get(self.key, 0.0) + time.perf_counter() - t0


def _instrument(model, totals):
    """Time every layer's forward/backward/call_with and the optimizer step (instance attributes
    shadowing the methods, so Sequential's own code path runs unchanged)."""
    for i, layer in enumerate(model.layers):
        for method in ("forward", "backward", "call_with"):
            if hasattr(layer, method):
                setattr(layer, method, _Timed(getattr(layer, method), totals, (i, method)))
    model.optimizer.step = _Timed(model.optimizer.step, totals, ("optimizer", "step"))


def profile_case(case, torch, out, steps=20, seed=0):
    """Print the per-layer split of cnnfast's train_on_batch and predict on `case`, and PyTorch's
    per-op split (torch.profiler, self CPU time) of its training step; returns the numbers."""
    from .. import optimizers
    from ..train import build_model
    from .torch_twin import torch_twin

    model = build_model(case.image, case.widths, seed=seed)
    model.compile(optimizers.Adam(learning_rate=1e-3))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case.batch, *case.image), dtype=np.float32)
    y = rng.integers(0, 2, case.batch)
    result = {"case": case.label()}
    for what, call in (("train_on_batch", lambda: model.train_on_batch(x, y)),
                       ("predict", lambda: model.predict(x, batch_size=case.batch))):
        call()
        totals = {}
        _instrument(model, totals)
        t0 = time.perf_counter()
        for _ in range(steps):
            call()
        total = (time.perf_counter() - t0) / steps
        for layer in model.layers:
            for method in ("forward", "backward", "call_with"):
                layer.__dict__.pop(method, None)
        model.optimizer.__dict__.pop("step", None)
        rows = []
        for i, layer in enumerate(model.layers):
            times = {m: totals[(i, m)] / steps for m in ("forward", "call_with", "backward") if (i, m) in totals}
            if times:
                fused = " +ReLU" if getattr(layer, "fused_relu", False) else ""
                pool = getattr(layer, "fused_pool", None)
                fused += " +MaxPool" if pool is not None else ""
                shape = (layer if pool is None else pool).output_shape
                rows.append({"layer": i, "kind": type(layer).__name__ + fused,
                             "output": "x".join(map(str, shape)), **times})
        opt = totals.get(("optimizer", "step"), 0.0) / steps
        accounted = sum(v for r in rows for k, v in r.items() if k in ("forward", "call_with", "backward")) + opt
        print(f"\ncnnfast {what} {case.label()}: {total * 1e3:.2f} ms per call", file=out)
        for r in rows:
            parts = "  ".join(f"{k:<9} {v * 1e3:7.2f} ms" for k, v in r.items()
                              if k in ("forward", "call_with", "backward"))
            print(f"  {r['layer']:2d} {r['kind']:<34} {r['output']:<10} {parts}", file=out)
        if what == "train_on_batch":
            print(f"     {'optimizer step (Adam)':<45}  {opt * 1e3:7.2f} ms", file=out)
        print(f"     {'rest (loss, softmax, checks, Python)':<45}  {(total - accounted) * 1e3:7.2f} ms", file=out)
        result[what] = {"total_s": total, "layers": rows, "optimizer_s": opt, "rest_s": total - accounted}
    if torch is not None:
        twin = torch_twin(model).train()
        opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
        step = _torch_step(torch, twin, opt, torch.from_numpy(x), torch.from_numpy(y))
        step()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            total = (time.perf_counter() - t0) / steps
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:10]
        print(f"\ntorch training step {case.label()}: {total * 1e3:.2f} ms per call (under the profiler); "
              f"top ops by self CPU time:", file=out)
        ops = []
        for e in events:
            ms = e.self_cpu_time_total / 1e3 / steps
            ops.append({"op": e.key, "self_ms": ms, "calls": e.count // steps})
            print(f"  {e.key:<44} {ms:7.2f} ms  ({e.count // steps} calls)", file=out)
        result["torch_train"] = {"total_s": total, "top_ops": ops}
    return result
