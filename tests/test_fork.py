"""fork(): a child that uses cnnfast after its parent ran kernels on several threads finishes and
gets the parent's results. libgomp's thread pool does not survive fork() (the child would hang in
its first parallel region), so such a child runs every kernel on one thread (cnnfast/_runtime.py).
Each scenario runs in a fresh interpreter, in its own process group, killed after a timeout."""
import os
import signal
import subprocess
import sys
import tempfile

import pytest

import cnnfast
from cnnfast import _core

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
TESTS = os.path.dirname(os.path.abspath(__file__))

PRELUDE = """
import os, sys
import numpy as np
import cnnfast
from optable import CASES, assert_identical, build, c_ops, call

def in_child(fn):
    # run fn() in a forked child; return its exit status (0: fn returned True)
    pid = os.fork()
    if pid == 0:
        try:
            ok = fn()
        except BaseException as e:
            print('child failed:', repr(e), flush=True)
            ok = False
        os._exit(0 if ok else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
"""


def run_scenario(code, timeout=60):
    """Run PRELUDE + code in a fresh interpreter; return its stdout. A hang is a failure."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CNNFAST_ISA", "CNNFAST_NUM_THREADS", "OMP_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(cnnfast.__file__)), TESTS])
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + code], env=env, cwd=tempfile.gettempdir(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the interpreter and any child it forked
        proc.communicate()
        pytest.fail(f"hung for {timeout} s (a forked child stuck in OpenMP?)")
    assert proc.returncode == 0, out + err
    return out.strip()


def test_child_runs_every_op_after_the_parent_ran_them_on_several_threads():
    out = run_scenario("""
cnnfast.set_num_threads(4)
calls = {name: build(name, big=True, seed=i) for i, name in enumerate(c_ops())}
fresh = lambda i, name: build(name, big=True, seed=i) if CASES[name].stateful else calls[name]
for i, name in enumerate(c_ops()):  # the parent's thread team exists from here on
    call(name, *fresh(i, name))
# The child runs on one thread; reductions (weight gradients) may round differently on four,
# so the parent's expected results are taken on one thread too.
with cnnfast.threads(1):
    parent = {name: call(name, *fresh(i, name)) for i, name in enumerate(c_ops())}

def child():
    for i, name in enumerate(c_ops()):
        assert_identical(call(name, *fresh(i, name)), parent[name], name)
    return True

print(in_child(child), in_child(child))
""")
    assert out == "0 0"


@pytest.mark.skipif(not _core.have_openmp(), reason="built without OpenMP")
def test_child_falls_back_to_one_thread_only_after_the_parent_ran_a_team():
    out = run_scenario("""
cnnfast.set_num_threads(3)
report = lambda: (print(cnnfast.get_num_threads(), end=' ', flush=True), True)[1]
in_child(report)                          # nothing ran yet: the child keeps its threads
cnnfast.tanh(np.ones(1 << 20, np.float32))
def asks_for_more():
    with cnnfast.threads(4):
        return report()
in_child(report); in_child(asks_for_more)  # one thread, whatever it asks for
print(cnnfast.get_num_threads())          # the parent is unchanged
""")
    assert out.split() == ["3", "1", "1", "3"]


def test_multiprocessing_fork_pool_after_the_parent_used_cnnfast():
    out = run_scenario("""
import multiprocessing as mp
x = np.linspace(-3, 3, 1 << 20).astype(np.float32)
cnnfast.set_num_threads(2)
want = cnnfast.tanh(x)
with mp.get_context('fork').Pool(2) as pool:
    got = pool.map(cnnfast.tanh, [x] * 4)
print(all(np.array_equal(g, want) for g in got))
""")
    assert out == "True"
