"""Threads: every op called from 8 Python threads at once gives the serial results; forward results
are bitwise identical on 1, 2 and 7 OpenMP threads; threadpoolctl sees cnnfast's OpenMP and its
limits reach the kernels (see cnnfast/_runtime.py for the policy)."""
import json
import os
import random
import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest

import cnnfast
from cnnfast import _core
from optable import CASES, assert_identical, build, c_ops, call, forward_ops

needs_openmp = pytest.mark.skipif(not _core.have_openmp(), reason="built without OpenMP")


def run_py(code):
    """Run `code` in a fresh interpreter that imports the cnnfast under test; return its stdout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CNNFAST_ISA", "CNNFAST_NUM_THREADS", "OMP_NUM_THREADS")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(cnnfast.__file__))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tempfile.gettempdir())
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_eight_python_threads_calling_every_op_give_the_serial_results():
    names = c_ops()
    shared = {name: build(name, big=True, seed=i) for i, name in enumerate(names)}

    def arguments(i, name):  # stateful calls get fresh arguments, built from the same seed
        return build(name, big=True, seed=i) if CASES[name].stateful else shared[name]

    serial = {name: call(name, *arguments(i, name)) for i, name in enumerate(names)}
    results, errors = [], []
    start = threading.Barrier(8)

    def worker(k):
        order = list(enumerate(names))
        random.Random(k).shuffle(order)
        try:
            start.wait()
            for _ in range(2):
                for i, name in order:
                    results.append((name, call(name, *arguments(i, name))))
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors, errors
    assert len(results) == 8 * 2 * len(names)
    for name, got in results:
        assert_identical(got, serial[name], name)


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", forward_ops())
def test_forward_is_bitwise_identical_on_1_2_and_7_threads(isa, name, dtype):
    results = []
    for n in (1, 2, 7):
        args, kwargs = build(name, dtype, big=True)
        with cnnfast.threads(n):
            results.append(call(name, args, kwargs))
    assert_identical(results[1], results[0], f"{name} on 2 threads vs 1")
    assert_identical(results[2], results[0], f"{name} on 7 threads vs 1")


@needs_openmp
def test_threadpoolctl_sees_cnnfasts_openmp():
    pytest.importorskip("threadpoolctl")
    info = json.loads(run_py(
        "import json, cnnfast, threadpoolctl; from cnnfast import _core\n"
        "print(json.dumps([threadpoolctl.threadpool_info(), _core.omp_max_threads()]))"))
    libs, omp_max = info
    openmp = [lib for lib in libs if lib["user_api"] == "openmp"]
    assert len(openmp) == 1, libs  # the libgomp that cnnfast links, and no other
    assert openmp[0]["prefix"] == "libgomp" and openmp[0]["num_threads"] == omp_max


@needs_openmp
def test_threadpoolctl_limit_reaches_the_kernels():
    """Under threadpool_limits(1) a big op starts no thread at all; without it, it does (counted in
    /proc/self/task, in a fresh process whose OpenMP pool does not exist yet)."""
    pytest.importorskip("threadpoolctl")
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc/self/task")
    out = run_py(
        "import os, numpy as np, cnnfast, threadpoolctl\n"
        "tasks = lambda: len(os.listdir('/proc/self/task'))\n"
        "x = np.ones(1 << 22, np.float32)\n"
        "cnnfast.set_num_threads(4)\n"
        "before = tasks()\n"
        "with threadpoolctl.threadpool_limits(1, user_api='openmp'):\n"
        "    limited = cnnfast.get_num_threads()\n"
        "    cnnfast.tanh(x); cnnfast.softmax(x.reshape(1024, -1)); cnnfast.linear(x.reshape(-1, 512)[:512], x.reshape(-1, 512)[:512])\n"
        "    during = tasks()\n"
        "after = cnnfast.get_num_threads()\n"
        "cnnfast.tanh(x)\n"
        "print(limited, during - before, after, tasks() - before)")
    limited, new_threads_limited, after, new_threads_after = map(int, out.split())
    assert (limited, new_threads_limited) == (1, 0)
    assert after == 4 and new_threads_after == 3


@needs_openmp
def test_threadpoolctl_limit_caps_the_policy_in_its_own_thread_only():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = {}
    with cnnfast.threads(3):
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            seen["limited"] = cnnfast.get_num_threads()
            other = threading.Thread(target=lambda: seen.setdefault("other thread", cnnfast.get_num_threads()))
            other.start()
            other.join()
        seen["after"] = cnnfast.get_num_threads()
    assert seen == {"limited": 1, "other thread": cnnfast.get_num_threads(), "after": 3}


@needs_openmp
def test_threadpoolctl_limit_above_the_policy_changes_nothing():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with cnnfast.threads(2), threadpoolctl.threadpool_limits(64, user_api="openmp"):
        assert cnnfast.get_num_threads() == 2
