"""The functional API in C: same names and signatures as cnnfast.reference.

An op is here only once it runs in C; until then it is absent (use cnnfast.reference)."""
from .norm import (batch_norm, batch_norm_backward, batch_norm_relu, batch_norm_relu_backward,
                   fold_batch_norm)
from .pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward,
                   max_pool2d, max_pool2d_backward)

__all__ = [
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
    "batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward",
    "fold_batch_norm",
]
