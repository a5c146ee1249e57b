"""cnnfast.reference: every op of the functional API in plain NumPy (float64 inside).

It is the specification and the test oracle: readable rather than fast. cnnfast (the C library)
has the same functions with the same signatures and the same argument checks."""
from .conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from .norm import (batch_norm, batch_norm_backward, batch_norm_relu, batch_norm_relu_backward,
                   fold_batch_norm)
from .pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward,
                   max_pool2d, max_pool2d_backward)

__all__ = [
    "conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
    "batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward",
    "fold_batch_norm",
]
