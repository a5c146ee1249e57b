"""Batch normalisation in C: batch_norm, batch_norm_backward, the fused batch_norm_relu,
batch_norm_relu_max_pool2d and their backwards, and fold_batch_norm.

Same signatures, semantics and argument checks as cnnfast.reference.norm (the checks are
cnnfast._shapes'); the work runs in csrc/frame/batchnorm.c with the GIL released."""
import numpy as np

from .. import _core, _shapes
from .._runtime import get_num_threads
from ._common import contiguous as _c

__all__ = ["batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward",
           "batch_norm_relu_max_pool2d", "batch_norm_relu_max_pool2d_backward", "fold_batch_norm"]


def _with_running_stats(run, running_mean, running_var, training):
    """run(running_mean, running_var) on contiguous buffers, which C writes in place; copied back
    when the caller's arrays are strided views."""
    stats = [_c(running_mean), _c(running_var)]
    run(*stats)
    if training:
        for given, s in zip((running_mean, running_var), stats):
            if s is not None and s is not given:
                given[...] = s


def _forward(x, gamma, beta, running_mean, running_var, training, momentum, eps, relu):
    a = _shapes.batch_norm_args(x, gamma, beta, running_mean, running_var, training, momentum,
                                eps)
    y = _core.empty(x.shape, x.dtype)
    save_mean = _core.empty((a.c,), x.dtype)
    save_invstd = _core.empty((a.c,), x.dtype)
    _with_running_stats(lambda rm, rv: _core.batch_norm_fwd(
        a, relu, _c(x), _c(gamma), _c(beta), rm, rv, y, save_mean, save_invstd,
        get_num_threads()), running_mean, running_var, training)
    return y, save_mean, save_invstd


def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch normalisation -> (y, save_mean, save_invstd), as torch.nn.functional.batch_norm.

    x is (N, C) or (N, C, H, W); gamma, beta None or (C,); running_mean, running_var both (C,)
    arrays (updated in place in training, with the unbiased variance) or both None (training
    only). All arrays share x's dtype. Statistics of float32 data are summed in float64."""
    return _forward(x, gamma, beta, running_mean, running_var, training, momentum, eps, False)


def batch_norm_relu(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """relu(batch_norm(x, ...)) in one pass -> (y, save_mean, save_invstd)."""
    return _forward(x, gamma, beta, running_mean, running_var, training, momentum, eps, True)


def _backward(dy, y, x, gamma, save_mean, save_invstd, a):
    dx = _core.empty(x.shape, x.dtype)
    dgamma = _core.empty((a.c,), x.dtype)
    dbeta = _core.empty((a.c,), x.dtype)
    _core.batch_norm_bwd(a, _c(dy), _c(y), _c(x), _c(gamma), _c(save_mean), _c(save_invstd),
                         dx, dgamma, dbeta, get_num_threads())
    return dx, dgamma, dbeta


def batch_norm_backward(dy, x, gamma, save_mean, save_invstd, training=True):
    """Gradients of batch_norm -> (dx, dgamma, dbeta), given its save_mean and save_invstd."""
    a = _shapes.batch_norm_backward_args(dy, x, gamma, save_mean, save_invstd, training)
    return _backward(dy, None, x, gamma, save_mean, save_invstd, a)


def batch_norm_relu_backward(dy, y, x, gamma, save_mean, save_invstd, training=True):
    """Gradients of batch_norm_relu -> (dx, dgamma, dbeta); y is its output, whose sign (y > 0)
    masks dy before the batch-norm backward, in the same pass."""
    a = _shapes.batch_norm_relu_backward_args(dy, y, x, gamma, save_mean, save_invstd, training)
    return _backward(dy, y, x, gamma, save_mean, save_invstd, a)


def batch_norm_relu_max_pool2d(x, gamma, beta, running_mean, running_var, training,
                               momentum=0.1, eps=1e-5, kernel_size=2):
    """max_pool2d(batch_norm_relu(x, ...), kernel_size) with x read twice (statistics, then
    normalise and pool), the full-size output never written -> (y, save_mean, save_invstd, arg).

    The windows tile each plane (stride = kernel_size, no padding, floor). arg (uint8, y's
    shape) is each maximum's position a*kw + b in its window; ties and NaNs as max_pool2d."""
    a, kernel, out = _shapes.batch_norm_relu_max_pool2d_args(
        x, gamma, beta, running_mean, running_var, training, momentum, eps, kernel_size)
    y = _core.empty(out, x.dtype)
    arg = _core.empty(out, np.uint8)
    save_mean = _core.empty((a.c,), x.dtype)
    save_invstd = _core.empty((a.c,), x.dtype)
    _with_running_stats(lambda rm, rv: _core.batch_norm_relu_max_pool2d_fwd(
        a, kernel, _c(x), _c(gamma), _c(beta), rm, rv, y, arg, save_mean, save_invstd,
        get_num_threads()), running_mean, running_var, training)
    return y, save_mean, save_invstd, arg


def batch_norm_relu_max_pool2d_backward(dy, y, arg, x, gamma, save_mean, save_invstd,
                                        kernel_size=2, training=True):
    """Gradients of batch_norm_relu_max_pool2d -> (dx, dgamma, dbeta): dy goes to each window's
    maximum where y > 0 and then through batch_norm, in two passes over x (sums, then dx).
    dgamma sums over the maxima only: an inf in x where no gradient arrives (eval) stays out of
    it, where the reference's composition adds 0*inf = NaN."""
    a, kernel = _shapes.batch_norm_relu_max_pool2d_backward_args(
        dy, y, arg, x, gamma, save_mean, save_invstd, kernel_size, training)
    _shapes.arg_outside_window(arg, kernel)
    dx = _core.empty(x.shape, x.dtype)
    dgamma = _core.empty((a.c,), x.dtype)
    dbeta = _core.empty((a.c,), x.dtype)
    _core.batch_norm_relu_max_pool2d_bwd(a, kernel, _c(dy), _c(y), _c(arg), _c(x), _c(gamma),
                                         _c(save_mean), _c(save_invstd), dx, dgamma, dbeta,
                                         get_num_threads())
    return dx, dgamma, dbeta


def fold_batch_norm(weight, bias, gamma, beta, running_mean, running_var, eps):
    """Fold an eval-mode batch norm into the preceding conv2d or linear weight -> (weight, bias);
    the returned bias is always an array."""
    k, eps = _shapes.fold_batch_norm_args(weight, bias, gamma, beta, running_mean, running_var,
                                          eps)
    folded_weight = _core.empty(weight.shape, weight.dtype)
    folded_bias = _core.empty((k,), weight.dtype)
    _core.fold_batch_norm(_c(weight), _c(bias), _c(gamma), _c(beta), _c(running_mean),
                          _c(running_var), eps, folded_weight, folded_bias, get_num_threads())
    return folded_weight, folded_bias
