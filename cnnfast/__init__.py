"""cnnfast: fast CNN building blocks for NumPy, written in C with OpenMP and SIMD.

    import cnnfast
    y = cnnfast.relu(x)                    # the C implementation
    y = cnnfast.reference.relu(x)          # the pure-NumPy oracle, same signature

    model = cnnfast.Sequential([cnnfast.layers.Conv2D(8, 3), ...], input_shape=(1, 28, 28))

Runtime controls: isa(), set_num_threads(n), get_num_threads(), `with threads(n):`, show_config().
"""
__version__ = "0.1.0"

from . import _runtime, reference
from ._runtime import get_num_threads, isa, set_num_threads, show_config, threads
from .functional import *  # noqa: F401,F403  (the C-backed functional API)
from .functional import __all__ as _functional_all
from . import callbacks, layers, optimizers  # the Keras-style API on top of the functional one
from .model import Sequential, load_model

_runtime._apply_isa_env()

__all__ = ["isa", "set_num_threads", "get_num_threads", "threads", "show_config", "reference",
           "layers", "optimizers", "callbacks", "Sequential", "load_model", *_functional_all]
