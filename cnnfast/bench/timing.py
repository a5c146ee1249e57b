"""Timing: candidates measured alternately on the same inputs, medians, and the copy baseline.

A *sample* is `inner` back-to-back calls timed together (inner is chosen so a sample lasts at
least `sample_s`, which keeps timer resolution and call overhead out of the result); the result
is the median of the per-call times of all samples. Candidates take turns sample by sample
(cnnfast, torch, cnnfast, torch, ...), so a burst of load from elsewhere on the machine hits both.
Each turn starts with untimed calls of its candidate for SWITCH_S: after a parallel call the
threads of an OpenMP runtime spin for a while before they sleep, and cnnfast and PyTorch each
have their own, so the one timed first after a switch shared the cores with the other's spinning
threads (on the 2-core machine, conv2d of 1x128x28x28 K128 3x3: 1.12x PyTorch's time each alone,
1.38x taking turns; 1x512x7x7 K512: 1.36x alone, 1.11x taking turns; with the untimed calls
1.11x and 1.34x). The garbage collector is off while a sample runs.
"""
import dataclasses
import gc
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Budget:
    """How long to measure one (op, shape, dtype) case."""
    seconds: float      # keep taking samples until this much time has passed ...
    min_reps: int       # ... and at least this many samples of each candidate were taken
    max_reps: int       # never more samples than this
    sample_s: float     # a sample lasts at least this long (more calls per sample if needed)
    ref_seconds: float  # the reference: repeat while under this much time in total ...
    ref_skip_s: float   # ... and skip it when one run is predicted to take longer than this


DEFAULT_BUDGET = Budget(seconds=0.2, min_reps=5, max_reps=51, sample_s=0.002,
                        ref_seconds=0.1, ref_skip_s=1.0)
QUICK_BUDGET = Budget(seconds=0.01, min_reps=3, max_reps=5, sample_s=0.0005,
                      ref_seconds=0.02, ref_skip_s=0.2)


def for_seconds(budget, seconds):
    """`budget` sampling each case for `seconds` (None: as it is), its cap on samples scaled alike."""
    if seconds is None:
        return budget
    return dataclasses.replace(budget, seconds=seconds,
                               max_reps=max(budget.max_reps, math.ceil(budget.max_reps * seconds / budget.seconds)))


@dataclass(frozen=True)
class Timing:
    median_s: float     # median time of one call
    min_s: float        # fastest call (per-sample mean)
    reps: int           # samples taken
    inner: int          # calls per sample

    def as_dict(self):
        return {"time_s": self.median_s, "time_min_s": self.min_s, "reps": self.reps, "inner": self.inner}


def _sample(fn, inner):
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner
    finally:
        if gc_was:
            gc.enable()


SWITCH_S = 0.001  # untimed calls at the start of each turn, at least one


def _switch_in(fn):
    t0 = time.perf_counter()
    fn()
    while time.perf_counter() - t0 < SWITCH_S:
        fn()


def alternate(candidates, budget):
    """Time each zero-argument callable of `candidates` ({label: fn}) alternately.

    Each is called once to warm up (first-touch page faults, lazy initialisation, thread pools),
    then once more to size its samples. Returns {label: Timing}."""
    inner = {}
    for label, fn in candidates.items():
        fn()
        one = _sample(fn, 1)
        inner[label] = max(1, min(1000, math.ceil(budget.sample_s / max(one, 1e-9))))
    samples = {label: [] for label in candidates}
    start = time.perf_counter()
    reps = 0
    while reps < budget.max_reps and (reps < budget.min_reps or time.perf_counter() - start < budget.seconds):
        for label, fn in candidates.items():
            if len(candidates) > 1:
                _switch_in(fn)
            samples[label].append(_sample(fn, inner[label]))
        reps += 1
    return {label: Timing(statistics.median(s), min(s), reps, inner[label]) for label, s in samples.items()}


def repeat_within(fn, seconds):
    """Time a slow callable: run it once, then again while the total stays under `seconds`.

    No separate warm-up (the reference is far slower than its warm-up costs). Returns a Timing."""
    times = []
    spent = 0.0
    while not times or (len(times) < 5 and spent + statistics.median(times) <= seconds):
        t = _sample(fn, 1)
        times.append(t)
        spent += t
    return Timing(statistics.median(times), min(times), len(times), 1)


def settle_allocator():
    """Put glibc's malloc in the state of a process that has freed one 16 MB array.

    Fresh, it returns blocks of 128 KB and up to the system (mmap, munmap, and a heap trimmed
    past twice that), so a library that allocates its outputs and workspace per call pays their
    page faults on every call; the first free of a larger block raises both limits to its size
    (up to 32 MB), as happens in the first step of any training loop. Measured on the Zen 4
    machine: PyTorch's 3x3 conv of 4x1x128x128 into 16 channels, 2.9 ms a call in a fresh
    process, 0.28 ms after this; cnnfast reuses its buffers and did not change. Elsewhere
    harmless."""
    block = np.ones((16 << 20) // 4, dtype=np.float32)
    del block


def copy_bandwidth(nbytes, budget):
    """GB/s of np.copyto between two float32 arrays of `nbytes` each (bytes read + written)."""
    n = max(1, nbytes // 4)
    src = np.ones(n, dtype=np.float32)
    dst = np.zeros(n, dtype=np.float32)
    timing = alternate({"copyto": lambda: np.copyto(dst, src)}, budget)["copyto"]
    return {"bytes": 2 * src.nbytes, "gbps": 2 * src.nbytes / timing.median_s / 1e9, **timing.as_dict()}
