"""Batch normalisation in plain NumPy, as torch.nn.functional.batch_norm, and its fused twins.

x is (N, C) or (N, C, H, W); every statistic is per channel (axis 1), over the M = N*H*W values
of that channel. gamma and beta may be None (scale 1, shift 0). In training the batch mean and
biased variance normalise x, and running_mean / running_var (if given) are updated IN PLACE:
    running_mean = (1 - momentum)*running_mean + momentum*mean
    running_var  = (1 - momentum)*running_var  + momentum*var*M/(M - 1)    (unbiased)
In eval the running statistics normalise x. Either way batch_norm returns save_mean and
save_invstd = 1/sqrt(var + eps), which batch_norm_backward takes back. An empty batch (M = 0)
teaches nothing: the running statistics stay as they are and save_mean = 0, save_invstd =
1/sqrt(eps). Computed in float64; results are cast back to x's dtype.
"""
import numpy as np

from .. import _shapes
from .pool import max_pool2d, max_pool2d_backward

__all__ = ["batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward",
           "batch_norm_relu_max_pool2d", "batch_norm_relu_max_pool2d_backward", "fold_batch_norm"]


def _f64(a):
    """`a` as a C-ordered float64 array (read only: it may be `a` itself), so that every sum runs
    in the same order whatever the caller's memory layout."""
    return np.ascontiguousarray(a, dtype=np.float64)


def _axes(x):
    """The axes a channel's statistics run over: all but axis 1."""
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _per_channel(v, ndim):
    """A (C,) vector shaped to broadcast along axis 1 of an ndim-dimensional array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _or(v, fill, c):
    """v in float64, or `fill` for every channel when v is None."""
    return np.full(c, fill) if v is None else _f64(v)


def _normalise(x, gamma, beta, running_mean, running_var, a):
    """batch_norm in float64 -> (y, mean, invstd); updates the running statistics in training."""
    x64 = _f64(x)
    if not a.training:
        mean, var = _f64(running_mean), _f64(running_var)
    elif a.m == 0:
        mean, var = np.zeros(a.c), np.zeros(a.c)
    else:
        mean = x64.mean(axis=_axes(x))
        var = ((x64 - _per_channel(mean, x.ndim)) ** 2).mean(axis=_axes(x))
        if running_mean is not None:
            unbiased_var = var * a.m / (a.m - 1)
            running_mean[...] = (1 - a.momentum) * _f64(running_mean) + a.momentum * mean
            running_var[...] = (1 - a.momentum) * _f64(running_var) + a.momentum * unbiased_var
    invstd = 1 / np.sqrt(var + a.eps)
    scale = _or(gamma, 1.0, a.c) * invstd
    y = (x64 - _per_channel(mean, x.ndim)) * _per_channel(scale, x.ndim)
    y += _per_channel(_or(beta, 0.0, a.c), x.ndim)
    return y, mean, invstd


def _normalise_backward(dy64, x, gamma, save_mean, save_invstd, a):
    """batch_norm_backward in float64 -> (dx, dgamma, dbeta)."""
    mean = _per_channel(_f64(save_mean), x.ndim)
    invstd = _f64(save_invstd)
    xhat = (_f64(x) - mean) * _per_channel(invstd, x.ndim)
    dbeta = dy64.sum(axis=_axes(x))
    dgamma = (dy64 * xhat).sum(axis=_axes(x))
    dxhat_scale = _per_channel(_or(gamma, 1.0, a.c) * invstd, x.ndim)
    if a.training and a.m > 0:
        # mean and variance depend on x too: remove the gradient's mean and its xhat component
        centred = (dy64 - _per_channel(dbeta / a.m, x.ndim)
                   - xhat * _per_channel(dgamma / a.m, x.ndim))
        dx = dxhat_scale * centred
    else:
        dx = dxhat_scale * dy64
    return dx, dgamma, dbeta


def _cast(dtype, *arrays):
    """Fresh C-contiguous copies in `dtype` (eval's save_mean would otherwise be running_mean)."""
    return tuple(np.array(a, dtype=dtype, order="C") for a in arrays)


def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch normalisation -> (y, save_mean, save_invstd); see the module docstring.

    gamma, beta: None or (C,). running_mean, running_var: both (C,) arrays or both None (None
    only in training). All arrays share x's dtype. momentum in [0, 1], eps > 0. Training needs
    more than one value per channel."""
    a = _shapes.batch_norm_args(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    return _cast(x.dtype, *_normalise(x, gamma, beta, running_mean, running_var, a))


def batch_norm_backward(dy, x, gamma, save_mean, save_invstd, training=True):
    """Gradients of batch_norm -> (dx, dgamma, dbeta), given its save_mean and save_invstd.

    training=True differentiates through the batch statistics; training=False treats them as
    constants (eval mode). dgamma and dbeta are returned even when gamma was None (as if 1)."""
    a = _shapes.batch_norm_backward_args(dy, x, gamma, save_mean, save_invstd, training)
    return _cast(x.dtype, *_normalise_backward(_f64(dy), x, gamma, save_mean,
                                               save_invstd, a))


def batch_norm_relu(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """relu(batch_norm(x, ...)) in one pass -> (y, save_mean, save_invstd); the same arguments,
    checks and running-statistics update as batch_norm."""
    a = _shapes.batch_norm_args(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    y, mean, invstd = _normalise(x, gamma, beta, running_mean, running_var, a)
    return _cast(x.dtype, np.maximum(y, 0.0), mean, invstd)


def batch_norm_relu_backward(dy, y, x, gamma, save_mean, save_invstd, training=True):
    """Gradients of batch_norm_relu -> (dx, dgamma, dbeta). y is batch_norm_relu's output: the
    gradient passes where y > 0 (as torch's ReLU backward) and then through batch_norm."""
    a = _shapes.batch_norm_relu_backward_args(dy, y, x, gamma, save_mean, save_invstd, training)
    dy64 = np.where(y > 0, _f64(dy), 0.0)
    return _cast(x.dtype, *_normalise_backward(dy64, x, gamma, save_mean, save_invstd, a))


def batch_norm_relu_max_pool2d(x, gamma, beta, running_mean, running_var, training,
                               momentum=0.1, eps=1e-5, kernel_size=2):
    """max_pool2d(batch_norm_relu(x, ...), kernel_size) -> (y, save_mean, save_invstd, arg),
    for a 4-D x: the windows tile each plane (stride = kernel_size, no padding, floor), and
    arg (uint8, y's shape) is each maximum's position a*kw + b in its (kh, kw) window (at most
    256 positions), with max_pool2d's ties and NaNs. The same running-statistics update."""
    _, (kh, kw), _ = _shapes.batch_norm_relu_max_pool2d_args(
        x, gamma, beta, running_mean, running_var, training, momentum, eps, kernel_size)
    full, mean, invstd = batch_norm_relu(x, gamma, beta, running_mean, running_var, training,
                                         momentum, eps)
    y, indices = max_pool2d(full, (kh, kw))
    w = x.shape[3]
    rows = indices // w - np.arange(y.shape[2])[:, None] * kh
    cols = indices % w - np.arange(y.shape[3])[None, :] * kw
    return y, mean, invstd, (rows * kw + cols).astype(np.uint8)


def _window_indices(arg, kernel, w):
    """max_pool2d's flat indices of the positions arg names in windows that tile a w-wide plane."""
    kh, kw = kernel
    a, b = np.divmod(arg.astype(np.int64), kw)
    rows = np.arange(arg.shape[2])[:, None] * kh + a
    cols = np.arange(arg.shape[3])[None, :] * kw + b
    return rows * w + cols


def batch_norm_relu_max_pool2d_backward(dy, y, arg, x, gamma, save_mean, save_invstd,
                                        kernel_size=2, training=True):
    """Gradients of batch_norm_relu_max_pool2d -> (dx, dgamma, dbeta), given its y and arg: dy
    goes to each window's maximum (max_pool2d_backward), then through batch_norm_relu_backward,
    whose mask y > 0 is y at the maxima (0 elsewhere, where no gradient arrives)."""
    a, kernel = _shapes.batch_norm_relu_max_pool2d_backward_args(
        dy, y, arg, x, gamma, save_mean, save_invstd, kernel_size, training)
    _shapes.arg_outside_window(arg, kernel)
    indices = _window_indices(arg, kernel, x.shape[3])
    full_dy = max_pool2d_backward(dy, indices, x.shape)
    full_y = max_pool2d_backward(y, indices, x.shape)
    return batch_norm_relu_backward(full_dy, full_y, x, gamma, save_mean, save_invstd, training)


def fold_batch_norm(weight, bias, gamma, beta, running_mean, running_var, eps):
    """Fold an eval-mode batch norm into the preceding conv2d or linear layer -> (weight, bias):
    batch_norm(conv(x, weight, bias)) == conv(x, folded weight, folded bias). weight's axis 0 is
    the output channel; bias, gamma, beta may be None; the returned bias is always an array."""
    k, eps = _shapes.fold_batch_norm_args(weight, bias, gamma, beta, running_mean, running_var, eps)
    scale = _or(gamma, 1.0, k) / np.sqrt(_f64(running_var) + eps)
    folded_weight = _f64(weight) * scale.reshape((k,) + (1,) * (weight.ndim - 1))
    folded_bias = (_or(bias, 0.0, k) - _f64(running_mean)) * scale + _or(beta, 0.0, k)
    return _cast(weight.dtype, folded_weight, folded_bias)
