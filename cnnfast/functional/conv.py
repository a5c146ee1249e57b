"""Convolution in C: conv2d, conv_transpose2d and their backward passes, on cnnfast's GEMM engine
(csrc/frame/conv2d.c).

Same names, signatures and argument checks (cnnfast._shapes) as cnnfast.reference.conv, plus
conv2d's `activation` keyword: 'relu' applies the ReLU in the GEMM's store (fused bias + ReLU, for
inference), which equals relu(reference conv2d)."""
import numpy as np

from .. import _core, _shapes
from .._runtime import get_num_threads
from ._common import contiguous as _c

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward"]


def _activation(activation):
    """conv2d's activation: None or 'relu' -> whether to apply the ReLU."""
    if activation is None:
        return False
    if not isinstance(activation, str):
        raise TypeError(f"activation must be None or 'relu', got {type(activation).__name__}")
    if activation != "relu":
        raise ValueError(f"activation must be None or 'relu', got {activation!r}")
    return True


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    """2-D convolution (cross-correlation) as torch.nn.functional.conv2d; activation='relu'
    returns relu(conv2d(...)) with the ReLU fused into the store."""
    g = _shapes.conv2d_args(x, weight, bias, stride, padding, dilation, groups)
    relu = _activation(activation)
    y = _core.empty(g.feature_shape, x.dtype)
    _core.conv_correlate(g, _c(x), _c(weight), _c(bias), relu, y, get_num_threads())
    return y


def _bias_grad(dy, channels, need, nt):
    """dy (contiguous) summed per channel over the batch and the pixels, or None if not needed."""
    if not need:
        return None
    dbias = np.empty(channels, dtype=dy.dtype)
    _core.conv_bias_grad(dy, dbias, nt)
    return dbias


def conv2d_backward(dy, x, weight, stride=1, padding=0, dilation=1, groups=1, need_bias_grad=True,
                    need_input_grad=True):
    """Gradients of conv2d: (dx, dweight, dbias), dbias None unless need_bias_grad, dx None unless
    need_input_grad (a network's first layer has no use for it)."""
    g = _shapes.conv2d_backward_args(dy, x, weight, stride, padding, dilation, groups, need_bias_grad,
                                     need_input_grad)
    nt = get_num_threads()
    dy, x, weight = _c(dy), _c(x), _c(weight)
    dx = None
    if need_input_grad:
        dx = _core.empty(g.image_shape, x.dtype)
        _core.conv_adjoint(g, dy, weight, None, dx, nt)
    dweight = _core.empty(weight.shape, x.dtype)
    _core.conv_weight_grad(g, x, dy, dweight, nt)
    return dx, dweight, _bias_grad(dy, g.k, need_bias_grad, nt)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution as torch.nn.functional.conv_transpose2d."""
    g = _shapes.conv_transpose2d_args(x, weight, bias, stride, padding, output_padding, groups, dilation)
    y = _core.empty(g.image_shape, x.dtype)
    _core.conv_adjoint(g, _c(x), _c(weight), _c(bias), y, get_num_threads())
    return y


def conv_transpose2d_backward(dy, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                              need_bias_grad=True, need_input_grad=True):
    """Gradients of conv_transpose2d: (dx, dweight, dbias), dbias None unless need_bias_grad, dx
    None unless need_input_grad."""
    g = _shapes.conv_transpose2d_backward_args(dy, x, weight, stride, padding, output_padding, groups,
                                               dilation, need_bias_grad, need_input_grad)
    nt = get_num_threads()
    dy, x, weight = _c(dy), _c(x), _c(weight)
    dx = None
    if need_input_grad:
        dx = _core.empty(g.feature_shape, x.dtype)
        _core.conv_correlate(g, dy, weight, None, False, dx, nt)
    dweight = _core.empty(weight.shape, x.dtype)
    _core.conv_weight_grad(g, dy, x, dweight, nt)
    return dx, dweight, _bias_grad(dy, g.c, need_bias_grad, nt)
