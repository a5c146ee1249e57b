"""cnnfast: fast CNN building blocks for NumPy, written in C with OpenMP and SIMD.

    import cnnfast
    y = cnnfast.relu(x)                    # the C implementation
    y = cnnfast.reference.relu(x)          # the pure-NumPy oracle, same signature

Runtime controls: isa(), set_num_threads(n), get_num_threads(), `with threads(n):`, show_config().
"""
__version__ = "0.1.0"

from . import _runtime, reference
from ._runtime import get_num_threads, isa, set_num_threads, show_config, threads
from .functional import *  # noqa: F401,F403  (the C-backed functional API)
from .functional import __all__ as _functional_all

_runtime._apply_isa_env()

__all__ = ["isa", "set_num_threads", "get_num_threads", "threads", "show_config", "reference",
           *_functional_all]
