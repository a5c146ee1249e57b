"""Convolution in plain NumPy: conv2d, conv_transpose2d and their backward passes.

Both ops are one cross-correlation seen from its two sides (cnnfast._shapes.ConvGeometry):
conv2d maps the image side (N, C, H, W) to the feature side (N, K, P, Q); conv_transpose2d is
its adjoint and maps the feature side back. Each is a loop over the R*S kernel taps: tap (a, b)
pairs a strided window of the image with a rectangle of the feature map (the outputs whose tap
(a, b) lands inside the image rather than in the zero padding), and contributes one matrix
product per group. Computed in float64; results are cast back to the input's dtype.
"""
import numpy as np

from .. import _shapes

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward"]


def _f64(a):
    """`a` as a C-ordered float64 array (read only: it may be `a` itself), so that every sum runs
    in the same order whatever the caller's memory layout."""
    return np.ascontiguousarray(a, dtype=np.float64)


def _taps(g):
    """(a, b, image window, feature rectangle) for every kernel tap that reads the image."""
    for a, rows, out_rows in _shapes.tap_slices(g.h, g.p, g.stride_h, g.pad_top, g.dilation_h,
                                                range(g.r)):
        for b, cols, out_cols in _shapes.tap_slices(g.w, g.q, g.stride_w, g.pad_left,
                                                    g.dilation_w, range(g.s)):
            yield a, b, (Ellipsis, rows, cols), (Ellipsis, out_rows, out_cols)


def _by_group(t, groups):
    """(N, G*X, P, Q) -> (N, G, X, P*Q): channels split into groups, the plane flattened."""
    n, channels, p, q = t.shape
    return t.reshape(n, groups, channels // groups, p * q)


def _correlate(image, weight, g):
    """The feature side from the image side: what conv2d computes (without bias)."""
    w = weight.reshape(g.groups, g.k // g.groups, g.c // g.groups, g.r, g.s)
    feature = np.zeros(g.feature_shape)
    for a, b, window, rect in _taps(g):
        patch = _by_group(image[window], g.groups)                 # (N, G, C/G, pixels)
        contribution = w[:, :, :, a, b] @ patch                    # (N, G, K/G, pixels)
        feature[rect] += contribution.reshape(feature[rect].shape)
    return feature


def _correlate_adjoint(feature, weight, g):
    """The image side from the feature side (the transpose of _correlate): what conv2d's data
    gradient and conv_transpose2d compute."""
    w = weight.reshape(g.groups, g.k // g.groups, g.c // g.groups, g.r, g.s)
    image = np.zeros(g.image_shape)
    for a, b, window, rect in _taps(g):
        grads = _by_group(feature[rect], g.groups)                 # (N, G, K/G, pixels)
        contribution = np.swapaxes(w[:, :, :, a, b], 1, 2) @ grads  # (N, G, C/G, pixels)
        image[window] += contribution.reshape(image[window].shape)
    return image


def _correlate_weight_grad(image, feature_grad, g):
    """The gradient of the weight, (K, C/G, R, S), given the image and the feature side's
    gradient: for each tap, the sum over batch and pixels of grad x image window."""
    dw = np.zeros((g.groups, g.k // g.groups, g.c // g.groups, g.r, g.s))
    for a, b, window, rect in _taps(g):
        patch = _by_group(image[window], g.groups)                 # (N, G, C/G, pixels)
        grads = _by_group(feature_grad[rect], g.groups)            # (N, G, K/G, pixels)
        dw[:, :, :, a, b] = (grads @ np.swapaxes(patch, 2, 3)).sum(axis=0)  # (G, K/G, C/G)
    return dw.reshape(g.k, g.c // g.groups, g.r, g.s)


def _add_bias(y, bias):
    if bias is not None:
        y += _f64(bias)[:, None, None]
    return y


def _out(a, dtype):
    """A fresh C-contiguous array of `dtype` (`a` is always an array this module made)."""
    return np.ascontiguousarray(a, dtype=dtype)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) as torch.nn.functional.conv2d.

    x (N, C, H, W); weight (K, C/groups, R, S); bias None or (K,); stride and dilation an int
    or a pair; padding an int, a pair, 'valid' or 'same' (stride 1 only; an odd total padding
    puts the extra row/column at the bottom/right). Returns y (N, K, P, Q)."""
    g = _shapes.conv2d_args(x, weight, bias, stride, padding, dilation, groups)
    y = _correlate(_f64(x), _f64(weight), g)
    return _out(_add_bias(y, bias), x.dtype)


def conv2d_backward(dy, x, weight, stride=1, padding=0, dilation=1, groups=1, need_bias_grad=True,
                    need_input_grad=True):
    """Gradients of conv2d: (dx, dweight, dbias), dbias None unless need_bias_grad, dx None unless
    need_input_grad (a network's first layer has no use for it)."""
    g = _shapes.conv2d_backward_args(dy, x, weight, stride, padding, dilation, groups,
                                     need_bias_grad, need_input_grad)
    dy64 = _f64(dy)
    dx = _out(_correlate_adjoint(dy64, _f64(weight), g), x.dtype) if need_input_grad else None
    dweight = _correlate_weight_grad(_f64(x), dy64, g)
    dbias = _out(dy64.sum(axis=(0, 2, 3)), x.dtype) if need_bias_grad else None
    return dx, _out(dweight, x.dtype), dbias


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution as torch.nn.functional.conv_transpose2d.

    x (N, C_in, H, W); weight (C_in, C_out/groups, R, S); bias None or (C_out,). Output size
    (H - 1)*stride - 2*padding + dilation*(R - 1) + 1 + output_padding (per axis); output_padding
    must be smaller than the stride or the dilation. Returns y (N, C_out, H_out, W_out)."""
    g = _shapes.conv_transpose2d_args(x, weight, bias, stride, padding, output_padding, groups,
                                      dilation)
    y = _correlate_adjoint(_f64(x), _f64(weight), g)
    return _out(_add_bias(y, bias), x.dtype)


def conv_transpose2d_backward(dy, x, weight, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1, need_bias_grad=True, need_input_grad=True):
    """Gradients of conv_transpose2d: (dx, dweight, dbias), dbias None unless need_bias_grad, dx
    None unless need_input_grad."""
    g = _shapes.conv_transpose2d_backward_args(dy, x, weight, stride, padding, output_padding,
                                               groups, dilation, need_bias_grad, need_input_grad)
    dy64 = _f64(dy)
    dx = _out(_correlate(dy64, _f64(weight), g), x.dtype) if need_input_grad else None
    dweight = _correlate_weight_grad(dy64, _f64(x), g)
    dbias = _out(dy64.sum(axis=(0, 2, 3)), x.dtype) if need_bias_grad else None
    return dx, _out(dweight, x.dtype), dbias
