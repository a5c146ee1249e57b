"""Shared fixtures: run a test under every ISA this CPU supports and under 1 and all threads."""
import os

import pytest

import cnnfast
from cnnfast import _core

_ORDER = ("generic", "avx2", "avx512")
ISAS = _ORDER[: _ORDER.index(_core.isa_detected()) + 1]
ALL_THREADS = max(2, len(os.sched_getaffinity(0)))


@pytest.fixture(params=ISAS)
def isa(request):
    """Run the test with the kernels of one ISA, then restore the ISA in force."""
    before = _core.isa_current()
    _core.isa_set(request.param)
    try:
        yield request.param
    finally:
        _core.isa_set(before)


@pytest.fixture(params=[1, ALL_THREADS], ids=lambda n: f"{n}thr")
def nthreads(request):
    """Run the test with 1 thread, then with all threads."""
    with cnnfast.threads(request.param):
        yield request.param
