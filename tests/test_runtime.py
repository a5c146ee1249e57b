"""Runtime controls: ISA reporting and the thread-count policy."""
import os
import subprocess
import sys
import tempfile

import pytest

import cnnfast
from cnnfast import _core


def run_py(code, **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("CNNFAST_ISA", "CNNFAST_NUM_THREADS", "OMP_NUM_THREADS")}
    full.update(env)
    # Import the very cnnfast under test (installed or built in place), from outside the source tree.
    full["PYTHONPATH"] = os.path.dirname(os.path.dirname(cnnfast.__file__))
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                         timeout=120, check=True, cwd=tempfile.gettempdir())
    return out.stdout.strip()


def test_isa_is_one_of_three():
    assert cnnfast.isa() in ("avx512", "avx2", "generic")


def test_isa_env_lowers_but_never_raises():
    order = ["generic", "avx2", "avx512"]
    best = _core.isa_detected()
    for want in order:
        got = run_py("import cnnfast; print(cnnfast.isa())", CNNFAST_ISA=want)
        assert got == order[min(order.index(want), order.index(best))]


def test_isa_env_bad_value_warns_and_is_ignored():
    got = run_py("import warnings; warnings.simplefilter('error');\n"
                 "try:\n import cnnfast\nexcept RuntimeWarning as e: print('warned', 'CNNFAST_ISA' in str(e))",
                 CNNFAST_ISA="sse9")
    assert got == "warned True"


def test_thread_policy_order():
    code = "import cnnfast; print(cnnfast.get_num_threads())"
    if not _core.have_openmp():
        assert run_py(code, CNNFAST_NUM_THREADS="3") == "1"
        return
    assert run_py(code, OMP_NUM_THREADS="5") == "5"
    assert run_py(code, OMP_NUM_THREADS="5,2") == "5"
    assert run_py(code, CNNFAST_NUM_THREADS="3", OMP_NUM_THREADS="5") == "3"
    assert run_py("import cnnfast; cnnfast.set_num_threads(4); print(cnnfast.get_num_threads())",
                  CNNFAST_NUM_THREADS="3") == "4"
    assert run_py(code) == str(len(os.sched_getaffinity(0)))


@pytest.mark.skipif(not _core.have_openmp(), reason="built without OpenMP")
def test_set_num_threads_and_block():
    before = cnnfast.get_num_threads()
    try:
        cnnfast.set_num_threads(3)
        assert cnnfast.get_num_threads() == 3
        with cnnfast.threads(1):
            assert cnnfast.get_num_threads() == 1
            with cnnfast.threads(2):
                assert cnnfast.get_num_threads() == 2
            assert cnnfast.get_num_threads() == 1
        assert cnnfast.get_num_threads() == 3
    finally:
        cnnfast.set_num_threads(None)
    assert cnnfast.get_num_threads() == before


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                      (True, TypeError), ("2", TypeError), (2**70, OverflowError)])
def test_bad_thread_counts(bad, exc):
    with pytest.raises(exc, match="n"):
        cnnfast.set_num_threads(bad)
    with pytest.raises(exc, match="n"):
        with cnnfast.threads(bad):
            pass


def test_show_config(capsys):
    cnnfast.show_config()
    out = capsys.readouterr().out
    assert cnnfast.__version__ in out and cnnfast.isa() in out and "OpenMP" in out
