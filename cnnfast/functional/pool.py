"""Pooling in C: max_pool2d, avg_pool2d, global_avg_pool2d and their backward passes.

Same signatures, semantics and argument checks as cnnfast.reference.pool (the checks are
cnnfast._shapes'); the work runs in csrc/frame/pool2d.c with the GIL released."""
import numpy as np

from .. import _core, _shapes
from .._runtime import get_num_threads
from ._common import contiguous as _c

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "global_avg_pool2d", "global_avg_pool2d_backward"]


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling as torch.nn.functional.max_pool2d(..., return_indices=True) -> (y, indices).

    indices (int64) hold the flat position h*W + w of each maximum inside its input plane;
    padding counts as -inf, ties go to the first position, NaN wins (see the reference)."""
    g = _shapes.max_pool2d_args(x, kernel_size, stride, padding, dilation, ceil_mode)
    y = _core.empty(g.output_shape, x.dtype)
    indices = _core.empty(g.output_shape, np.int64)
    _core.max_pool2d_fwd(g, _c(x), y, indices, get_num_threads())
    return y, indices


def max_pool2d_backward(dy, indices, input_shape):
    """Gradient of max_pool2d: each dy goes to the input position its index names (summed where
    windows share a maximum). Every index must lie inside its plane (checked before writing)."""
    shape = _shapes.max_pool2d_backward_args(dy, indices, input_shape, check_indices=False)
    dx = _core.empty(shape, dy.dtype)
    if not _core.max_pool2d_bwd(_c(dy), _c(indices), dx, get_num_threads()):
        _shapes.indices_outside_plane(indices, shape)
    return dx


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling as torch.nn.functional.avg_pool2d (see the reference for the divisor)."""
    g = _shapes.avg_pool2d_args(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    y = _core.empty(g.output_shape, x.dtype)
    _core.avg_pool2d_fwd(g, _c(x), y, get_num_threads())
    return y


def avg_pool2d_backward(dy, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of avg_pool2d: each dy, divided by its window's divisor, spread over the window."""
    g = _shapes.avg_pool2d_backward_args(dy, input_shape, kernel_size, stride, padding, ceil_mode,
                                         count_include_pad)
    dx = _core.empty(g.input_shape, dy.dtype)
    _core.avg_pool2d_bwd(g, _c(dy), dx, get_num_threads())
    return dx


def global_avg_pool2d(x):
    """Mean over each H x W plane: (N, C, H, W) -> (N, C)."""
    n, c, _, _ = _shapes.global_avg_pool2d_args(x)
    y = _core.empty((n, c), x.dtype)
    _core.global_avg_pool2d_fwd(_c(x), y, get_num_threads())
    return y


def global_avg_pool2d_backward(dy, input_shape):
    """Gradient of global_avg_pool2d: dy / (H*W) spread over each plane."""
    shape = _shapes.global_avg_pool2d_backward_args(dy, input_shape)
    dx = _core.empty(shape, dy.dtype)
    _core.global_avg_pool2d_bwd(_c(dy), dx, get_num_threads())
    return dx
