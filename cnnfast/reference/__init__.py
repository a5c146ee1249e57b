"""cnnfast.reference: every op of the functional API in plain NumPy (float64 inside).

It is the specification and the test oracle: readable rather than fast. cnnfast (the C library)
has the same functions with the same signatures and the same argument checks."""
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation_all
from .conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from .dense import linear, linear_backward
from .norm import (batch_norm, batch_norm_backward, batch_norm_relu, batch_norm_relu_backward,
                   batch_norm_relu_max_pool2d, batch_norm_relu_max_pool2d_backward,
                   fold_batch_norm)
from .optim import adam_step
from .output import *  # noqa: F401,F403
from .output import __all__ as _output_all
from .pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward,
                   max_pool2d, max_pool2d_backward)

__all__ = [
    "conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
    "batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward",
    "batch_norm_relu_max_pool2d", "batch_norm_relu_max_pool2d_backward", "fold_batch_norm",
    *_activation_all, *_output_all,
    "linear", "linear_backward",
    "adam_step",
]
