"""The benchmark runner: `python -m cnnfast.bench` (see `--help`).

It times every op that cnnfast has in C over a built-in set of common CNN layer shapes (or the
shapes of a CSV file), against the NumPy reference and, when it is importable, PyTorch, and prints
one table row per (op, shape, dtype).

Modules: registry (one entry per op), shapes (shape records, default sets, CSV files), timing
(alternating medians, the np.copyto baseline), runner (the loop), report (table, summary, JSON),
cli (the options)."""
from .cli import main

__all__ = ["main"]
