"""Runtime controls: the ISA in force and the one thread-count policy.

Thread policy (the first that applies wins):
  1. `with cnnfast.threads(n):` (per context: a thread or task sees only its own block)
  2. `cnnfast.set_num_threads(n)`
  3. the environment variable CNNFAST_NUM_THREADS
  4. the environment variable OMP_NUM_THREADS (its first entry)
  5. the number of CPUs this process may run on
Steps 3-5 are read once, at the first call (every op asks, so the answer must cost nothing).
Without OpenMP every kernel runs on one thread, and get_num_threads() says 1.

Two limits apply on top of the policy:
- OpenMP's own limit, when lowered at run time below what the process started with, caps the
  count: `with threadpoolctl.threadpool_limits(1):` (or any omp_set_num_threads(1)) makes cnnfast
  run on one thread. libgomp keeps that limit per OS thread, so, like `cnnfast.threads(n)`, it
  binds the Python thread that set it.
- fork(): libgomp's thread pool does not survive fork(), and a child whose parent had run an
  OpenMP team would hang in its first parallel region. A child forked after the parent ran kernels
  on several threads therefore runs every kernel on one thread, whatever it asks for (the
  multiprocessing "spawn" and "forkserver" start methods give workers that keep their threads).
"""
import contextlib
import contextvars
import os
import warnings

from . import _checks, _core

_ISAS = ("generic", "avx2", "avx512")
_explicit = None
_default = None  # steps 3-5 of the policy, read once
_block = contextvars.ContextVar("cnnfast_threads", default=None)
_omp_start = _core.omp_max_threads()  # OpenMP's limit when cnnfast was imported
_single = not _core.have_openmp()  # True without OpenMP and in a child forked after a team ran
_teamed = False  # a kernel may have started an OpenMP team (get_num_threads returned > 1)


def _after_fork_in_child():
    global _single
    if _teamed:
        _single = True


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _apply_isa_env():
    want = os.environ.get("CNNFAST_ISA", "").strip().lower()
    if not want:
        return
    if want not in _ISAS:
        warnings.warn(f"CNNFAST_ISA={want!r} is not one of {', '.join(_ISAS)}; ignored", RuntimeWarning)
        return
    _core.isa_set(want)


def isa():
    """The SIMD instruction set the kernels use: 'avx512', 'avx2' or 'generic'.

    The best this CPU supports, lowered by the CNNFAST_ISA environment variable."""
    return _core.isa_current()


def _env_threads(var):
    raw = os.environ.get(var, "").strip()
    if not raw:
        return None
    first = raw.split(",")[0].strip()
    try:
        n = int(first)
    except ValueError:
        n = 0
    if n < 1:
        warnings.warn(f"{var}={raw!r} is not a positive integer; ignored", RuntimeWarning)
        return None
    return n


def _cpus():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def get_num_threads():
    """The number of threads the next kernel call will use (see the module docstring)."""
    global _default, _teamed
    if _single:
        return 1
    n = _block.get()
    if n is None:
        n = _explicit
    if n is None:
        if _default is None:
            _default = _env_threads("CNNFAST_NUM_THREADS") or _env_threads("OMP_NUM_THREADS") or _cpus()
        n = _default
    limit = _core.omp_max_threads()
    if limit < _omp_start and limit < n:
        n = limit
    if n > 1:
        _teamed = True
    return n


def set_num_threads(n):
    """Use `n` threads for every later kernel call; None returns to the environment/CPU default."""
    global _explicit
    _explicit = None if n is None else _checks.integer(n, "n", 1)


@contextlib.contextmanager
def threads(n):
    """`with cnnfast.threads(n):` runs the kernels called inside the block on `n` threads."""
    token = _block.set(_checks.integer(n, "n", 1))
    try:
        yield
    finally:
        _block.reset(token)


def show_config(file=None):
    """Print the version, the ISA (detected and in force), OpenMP, the thread count and the memory
    the output cache holds (csrc/frame/outbuf.c)."""
    from . import __version__

    lines = [
        f"cnnfast {__version__}",
        f"  ISA in force    : {isa()} (CPU supports {_core.isa_detected()}; CNNFAST_ISA={os.environ.get('CNNFAST_ISA', '')!r})",
        f"  OpenMP          : {'yes' if _core.have_openmp() else 'NO - built without OpenMP, kernels run serially'}",
        f"  threads         : {get_num_threads()} (CPUs available: {_cpus()})",
        f"  output cache    : {_core.outbuf_cached() / 2**20:.1f} MiB of freed large outputs held for reuse",
    ]
    print("\n".join(lines), file=file)
