"""Dense (fully connected) layer in plain NumPy: the specification of cnnfast.linear.

x has shape (..., in_features) like torch.nn.functional.linear: every leading dimension is a batch
dimension; weight is (out_features, in_features)."""
import numpy as np

from .. import _checks


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, of shape x.shape[:-1] + (out_features,)."""
    _checks.linear_args(x, weight, bias)
    y = x.astype(np.float64) @ weight.astype(np.float64).T
    if bias is not None:
        y = y + bias.astype(np.float64)
    return y.astype(x.dtype)


def linear_backward(dy, x, weight, need_bias_grad=True):
    """Gradients of linear: (dx, dweight, dbias or None) for the output gradient dy.

    dx = dy @ weight; dweight = dy^T x and dbias = dy summed over every batch row."""
    n, in_features, out_features = _checks.linear_backward_args(dy, x, weight, need_bias_grad)
    dy2 = dy.astype(np.float64).reshape(n, out_features)
    x2 = x.astype(np.float64).reshape(n, in_features)
    dx = (dy2 @ weight.astype(np.float64)).reshape(x.shape)
    dweight = dy2.T @ x2
    dbias = dy2.sum(axis=0).astype(x.dtype) if need_bias_grad else None
    return dx.astype(x.dtype), dweight.astype(x.dtype), dbias
