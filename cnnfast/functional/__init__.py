"""The functional API in C: same names and signatures as cnnfast.reference.

An op is here only once it runs in C; until then it is absent (use cnnfast.reference)."""
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation_all
from .conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from .dense import linear, linear_backward
from .norm import *  # noqa: F401,F403
from .norm import __all__ as _norm_all
from .optim import adam_step
from .output import *  # noqa: F401,F403
from .output import __all__ as _output_all
from .pool import *  # noqa: F401,F403
from .pool import __all__ as _pool_all

__all__ = [*_activation_all, *_output_all, "linear", "linear_backward", *_pool_all, *_norm_all, "conv2d",
           "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward", "adam_step"]
