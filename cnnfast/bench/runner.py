"""Run the selected ops over their shapes: cnnfast and PyTorch alternately, the reference briefly."""
import collections
import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from . import report, shapes, timing

# Default FMA peak: what bench/fma_peak.c measured on the project's development and CI machine, an
# AMD EPYC that reports family 25 model 17 (Zen 4: two 256-bit FMA pipes, so zmm and ymm FMAs give
# the same 115 GFLOP/s float32 per core). TESTING.md's 265 per thread is not reachable there.
# float64 is taken as half the float32 peak. Other machines: measure with bench/fma_peak.c, pass --peak.
PEAK_PER_THREAD = 115.0


@dataclass
class Settings:
    ops: list                 # registry entries to run, in order
    dtypes: tuple             # ('float32',), ('float64',) or both
    threads: int
    shape_sets: dict          # shape set name -> [shape, ...]
    budget: timing.Budget
    peak_gflops: float        # float32 FMA peak at `threads` threads
    peak_source: str
    copy_bytes: int = 128 * 2**20


class MissingForward(Exception):
    """A backward op needs the output of a forward that neither cnnfast nor the reference has."""


class Inputs:
    """Input arrays for the cases, cached by (shape, dtype, role) so ops on one shape share them;
    the least recently used arrays are dropped beyond `cache_bytes`."""

    def __init__(self, lib, ref, seed=0, cache_bytes=1 << 30):
        self.lib, self.ref = lib, ref
        self._rng = np.random.default_rng(seed)
        self._cache = collections.OrderedDict()
        self._cache_bytes = cache_bytes

    def randn(self, dims, dtype, role="x"):
        key = (tuple(dims), np.dtype(dtype).str, role)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        a = self._rng.standard_normal(dims, dtype=np.dtype(dtype).type)
        self._cache[key] = a
        total = sum(v.nbytes for v in self._cache.values())
        while total > self._cache_bytes and len(self._cache) > 1:
            total -= self._cache.popitem(last=False)[1].nbytes
        return a

    def labels(self, n, classes):
        return self._rng.integers(0, classes, size=n, dtype=np.int64)

    def rng(self):
        """A Generator for ops that take one (the op advances it call by call)."""
        return np.random.default_rng(1)

    def forward(self, func, *args, **kwargs):
        """Run a forward op (cnnfast's if it has it, else the reference's) for what a backward needs."""
        fn = getattr(self.lib, func, None) or getattr(self.ref, func, None)
        if fn is None:
            raise MissingForward(f"needs {func}, which neither cnnfast nor the reference has yet")
        return fn(*args, **kwargs)


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _arrays(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _arrays(item)


def traffic_bytes(case, result):
    """Bytes a memory-bound call must move: every array argument read once, every result written once."""
    return sum(a.nbytes for a in _arrays((case.args, case.kwargs))) + sum(a.nbytes for a in _arrays(result))


def load_torch():
    """PyTorch if it can be imported, else None (it is never a dependency of cnnfast)."""
    try:
        import torch
    except Exception:
        return None
    return torch


class Runner:
    def __init__(self, settings, lib, ref, torch, out):
        self.s = settings
        self.lib, self.ref, self.torch = lib, ref, torch
        self.out = out
        self.inputs = Inputs(lib, ref)
        self.ref_cost = {}      # op name -> worst seconds per unit of work of the reference
        self.notes = []
        self.no_reference = []  # ops timed whose reference is not written yet
        self.errors = 0

    def cases(self):
        """(op, shape, dtype) for every op cnnfast has, and the names of the ops it lacks."""
        todo, missing = [], []
        for op in self.s.ops:
            if not op.available(self.lib):
                missing.append(op.name)
                continue
            for dtype in self.s.dtypes:
                todo.extend((op, shp, dtype) for shp in self.s.shape_sets.get(op.shapes, ()) if op.accepts(shp))
        return todo, missing

    def run_case(self, op, shp, dtype):
        record = {"op": op.name, "func": op.func, "family": op.family, "shape": shapes.as_dict(shp),
                  "shape_label": shp.label(), "dtype": dtype}
        try:
            case = op.make(shp, np.dtype(dtype).type, self.inputs)
        except MissingForward as e:
            record["note"] = f"not timed: {e}"
            return record
        except Exception as e:
            self.errors += 1
            record["note"] = f"error making the inputs: {type(e).__name__}: {e}"
            return record
        fn = getattr(self.lib, op.func)

        def call():
            return fn(*case.args, **case.kwargs)

        try:
            result = call()
        except Exception as e:
            self.errors += 1
            record["note"] = f"error in cnnfast: {type(e).__name__}: {e}"
            return record
        candidates = {"cnnfast": call}
        notes = []
        if self.torch is not None:
            try:
                twin = op.torch(self.torch, case)
                twin()
                candidates["torch"] = twin
            except Exception as e:
                notes.append(f"torch failed: {type(e).__name__}: {e}")
        times = timing.alternate(candidates, self.s.budget)
        t = times["cnnfast"].median_s
        record.update(times["cnnfast"].as_dict())
        if op.flops is not None:
            work = op.flops(shp)
            peak = self.s.peak_gflops / (2 if dtype == "float64" else 1)
            record.update(flops=work, gflops=work / t / 1e9, fraction_of_peak=work / t / 1e9 / peak)
        else:
            work = traffic_bytes(case, result)
            record.update(bytes=work, gbps=work / t / 1e9, fraction_of_copy=work / t / 1e9 / self.copy_gbps)
        if "torch" in times:
            record["torch"] = times["torch"].as_dict()
            record["ratio_torch"] = t / times["torch"].median_s
        ref_note = self.time_reference(op, shp, dtype, case, work, record)
        if ref_note:
            notes.append(ref_note)
        if notes:
            record["note"] = "; ".join(notes)
        return record

    def time_reference(self, op, shp, dtype, case, work, record):
        """Time the reference on the case, unless one run is predicted to take over ref_skip_s.

        Where the op's earlier runs (seconds per unit of work) do not promise a short run, two
        pilot runs on 1/8 and 1/4 of the batch predict the full batch's time (the reference's
        cost may grow faster than the batch: the growth between the pilots is extrapolated)."""
        if self.ref is None:
            return ""
        if not op.available(self.ref):
            if op.name not in self.no_reference:
                self.no_reference.append(op.name)
            return ""
        fn = getattr(self.ref, op.func)
        limit = self.s.budget.ref_skip_s
        try:
            rate = self.ref_cost.get(op.name)
            if shp.batch > 1 and (rate is None or rate * work > limit / 10):
                predicted = self._predict_reference(op, shp, dtype, fn)
                if predicted > limit:
                    record["reference"] = {"skipped": True, "predicted_s": predicted}
                    return f"ref skipped (one run ~{report.fmt_time(predicted)})"
            tr = timing.repeat_within(lambda: fn(*case.args, **case.kwargs), self.s.budget.ref_seconds)
        except Exception as e:
            self.errors += 1
            return f"error in reference: {type(e).__name__}: {e}"
        self.ref_cost[op.name] = max(rate or 0.0, tr.median_s / max(work, 1))
        record["reference"] = tr.as_dict()
        record["ratio_reference"] = record["time_s"] / tr.median_s
        return ""

    def _predict_reference(self, op, shp, dtype, fn):
        """Seconds one reference run on `shp` should take, from runs on smaller batches."""
        def run_at(batch):
            case = op.make(shp.with_batch(batch), np.dtype(dtype).type, self.inputs)
            return timing.repeat_within(lambda: fn(*case.args, **case.kwargs), 0.05).median_s

        n = shp.batch
        b1 = max(1, n // 8)
        t1 = run_at(b1)
        if 2 * b1 >= n or t1 * n / b1 > self.s.budget.ref_skip_s:
            return t1 * n / b1
        t2 = run_at(2 * b1)
        growth = min(2.0, max(1.0, math.log2(max(t2, 1e-9) / max(t1, 1e-9))))
        return t2 * (n / (2 * b1)) ** growth

    def _facts(self):
        """Machine facts, the settings record and the copy baseline; prints the preamble."""
        facts = report.machine_facts(self.s.threads, self.torch)
        copy = timing.copy_bandwidth(self.s.copy_bytes, self.s.budget)
        self.copy_gbps = copy["gbps"]
        settings = {"ops": [op.name for op in self.s.ops], "dtypes": list(self.s.dtypes),
                    "threads": self.s.threads, "peak_gflops": self.s.peak_gflops,
                    "peak_source": self.s.peak_source, "budget": dataclasses.asdict(self.s.budget)}
        report.preamble(self.out, facts, settings, copy)
        return facts, settings, copy

    def preamble_only(self):
        """The machine facts and preamble with no op timed (--e2e alone): the JSON document's frame."""
        facts, settings, copy = self._facts()
        return {"machine": facts, "settings": settings, "copyto": copy, "results": [], "summary": [],
                "not_in_c": [], "not_in_reference": [], "elapsed_s": 0.0, "errors": 0}

    def run(self):
        """Measure everything, print the table as it goes; return the JSON document."""
        start = time.perf_counter()
        facts, settings, copy = self._facts()
        if self.torch is None:
            self.notes.append("PyTorch is not importable (or --no-torch): the torch column says n/a.")
        if self.ref is None:
            self.notes.append("--no-reference: the ref column says n/a.")
        todo, missing = self.cases()
        results = []
        if todo:
            table = report.Table(self.out, max(len(op.name) for op, _, _ in todo),
                                 max(len(shp.label()) for _, shp, _ in todo))
            table.header()
            try:
                for op, shp, dtype in todo:
                    record = self.run_case(op, shp, dtype)
                    results.append(record)
                    table.row(record)
            except KeyboardInterrupt:
                self.notes.append(f"Interrupted after {len(results)} of {len(todo)} cases.")
        else:
            print("No op of the selection is in C yet: nothing to time.", file=self.out)
        summary = report.summarise(results)
        report.print_summary(self.out, summary)
        if self.no_reference:
            self.notes.append(f"Not in cnnfast.reference yet (ref column n/a): {', '.join(self.no_reference)}")
        report.print_notes(self.out, missing, self.notes)
        elapsed = time.perf_counter() - start
        print(f"\n{len(results)} cases in {elapsed:.1f} s", file=self.out)
        return {"machine": facts, "settings": settings, "copyto": copy, "results": results,
                "summary": summary, "not_in_c": missing, "not_in_reference": self.no_reference,
                "elapsed_s": elapsed, "errors": self.errors}


def default_peak(threads):
    return PEAK_PER_THREAD * threads
