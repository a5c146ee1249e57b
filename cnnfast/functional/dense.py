"""Dense (fully connected) layer in C, on cnnfast's own GEMM engine (csrc/frame/gemm.c).

Same names, signatures and argument checks as cnnfast.reference.dense."""
import numpy as np

from .. import _checks, _core
from .._runtime import get_num_threads
from ._common import contiguous as _c


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias; x (..., in_features), weight (out_features, in_features)."""
    n, in_features, out_features = _checks.linear_args(x, weight, bias)
    x2 = _c(x).reshape(n, in_features)
    y = _core.empty((n, out_features), x.dtype)
    _core.linear_fwd(x2, _c(weight), _c(bias), y, get_num_threads())
    return y.reshape(x.shape[:-1] + (out_features,))


def linear_backward(dy, x, weight, need_bias_grad=True):
    """Gradients of linear: (dx, dweight, dbias or None) for the output gradient dy."""
    n, in_features, out_features = _checks.linear_backward_args(dy, x, weight, need_bias_grad)
    dx = _core.empty((n, in_features), x.dtype)
    dweight = _core.empty((out_features, in_features), x.dtype)
    dbias = np.empty(out_features, dtype=x.dtype) if need_bias_grad else None
    _core.linear_bwd(_c(dy).reshape(n, out_features),
                     _c(x).reshape(n, in_features), _c(weight),
                     dx, dweight, dbias, get_num_threads())
    return dx.reshape(x.shape), dweight, dbias
