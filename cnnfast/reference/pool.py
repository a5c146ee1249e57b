"""Pooling in plain NumPy: max_pool2d, avg_pool2d, global_avg_pool2d and their backward passes.

Semantics of torch.nn.functional (cnnfast._shapes.PoolGeometry). A pooling window is visited tap
by tap: tap (a, b) pairs a strided window of the input with the rectangle of outputs whose tap
(a, b) lands inside the input. Taps in the padding are skipped, which is how padding never wins
a maximum and enters an average only through its divisor. Taps come in row-major order, so each
window meets its input positions in increasing flat index order (ties go to the first).
Computed in float64; results are cast back to the input's dtype.
"""
import numpy as np

from .. import _shapes

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "global_avg_pool2d", "global_avg_pool2d_backward"]


def _f64(a):
    """`a` as a C-ordered float64 array (read only: it may be `a` itself), so that every sum runs
    in the same order whatever the caller's memory layout."""
    return np.ascontiguousarray(a, dtype=np.float64)


def _taps(g):
    """(input rows, input columns, output rows, output columns) as slices, for every kernel tap
    that reads the input for some output. An empty batch has none (and its planes may be huge)."""
    if g.n == 0:
        return
    taps_h = _shapes.pool_taps(g.h, g.p, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h)
    taps_w = _shapes.pool_taps(g.w, g.q, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w)
    for _, rows, out_rows in _shapes.tap_slices(g.h, g.p, g.stride_h, g.pad_h, g.dilation_h,
                                                taps_h):
        for _, cols, out_cols in _shapes.tap_slices(g.w, g.q, g.stride_w, g.pad_w, g.dilation_w,
                                                    taps_w):
            yield rows, cols, out_rows, out_cols


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling as torch.nn.functional.max_pool2d(..., return_indices=True).

    Returns (y, indices): indices int64, the flat position h*W + w of each maximum inside its
    input plane. Padding counts as -inf; ties go to the first position; a NaN in a window wins
    (the last NaN, as PyTorch). stride defaults to kernel_size; padding must be at most half the
    kernel; with ceil_mode the last window must start inside the input or its left padding.
    A dilated window whose taps all fall into the padding is refused (ValueError): it has no
    maximum to point at (PyTorch returns -inf with an index outside the plane)."""
    g = _shapes.max_pool2d_args(x, kernel_size, stride, padding, dilation, ceil_mode)
    x64 = _f64(x)
    y = np.full(g.output_shape, -np.inf)
    indices = np.full(g.output_shape, -1, dtype=np.int64)
    for rows, cols, out_rows, out_cols in _taps(g):
        value = x64[:, :, rows, cols]
        position = np.arange(g.h)[rows][:, None] * g.w + np.arange(g.w)[cols][None, :]
        best = y[:, :, out_rows, out_cols]
        best_at = indices[:, :, out_rows, out_cols]
        take = (best_at < 0) | (value > best) | np.isnan(value)
        np.copyto(best, value, where=take)
        np.copyto(best_at, np.broadcast_to(position, best_at.shape), where=take)
    return np.ascontiguousarray(y, dtype=x.dtype), indices


def max_pool2d_backward(dy, indices, input_shape):
    """Gradient of max_pool2d: each dy goes to the input position its index names (summed where
    windows share a maximum). indices must lie inside their plane (checked before any write)."""
    n, c, h, w = _shapes.max_pool2d_backward_args(dy, indices, input_shape)
    plane = np.arange(n * c).reshape(n, c, 1, 1)
    position = (plane * (h * w) + indices).ravel()
    dx = np.bincount(position, weights=_f64(dy).ravel(), minlength=n * c * h * w)
    return np.ascontiguousarray(dx.reshape(n, c, h, w), dtype=dy.dtype)


def _divisor(size, out, kernel, stride, pad, count_include_pad):
    """Along one axis, what each window's sum is divided by (PyTorch's rule): the window clipped
    to the padded input [-pad, size + pad) with count_include_pad, else clipped to the input."""
    starts = [i * stride - pad for i in range(out)]
    if count_include_pad:
        return np.array([min(s + kernel, size + pad) - s for s in starts], dtype=np.float64)
    return np.array([min(s + kernel, size) - max(s, 0) for s in starts], dtype=np.float64)


def _divisors(g):
    """(P, Q) divisors: the product of the two axes' (windows are rectangles); 1 for an empty
    batch, whose planes may be huge."""
    if g.n == 0:
        return np.ones((1, 1))
    rows = _divisor(g.h, g.p, g.kernel_h, g.stride_h, g.pad_h, g.count_include_pad)
    cols = _divisor(g.w, g.q, g.kernel_w, g.stride_w, g.pad_w, g.count_include_pad)
    return rows[:, None] * cols[None, :]


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling as torch.nn.functional.avg_pool2d: each window's sum over the input divided
    by its size, padding included or not (count_include_pad); the part of a ceil_mode window
    beyond the right/bottom padding never counts."""
    g = _shapes.avg_pool2d_args(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    x64 = _f64(x)
    total = np.zeros(g.output_shape)
    for rows, cols, out_rows, out_cols in _taps(g):
        total[:, :, out_rows, out_cols] += x64[:, :, rows, cols]
    return np.ascontiguousarray(total / _divisors(g), dtype=x.dtype)


def avg_pool2d_backward(dy, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of avg_pool2d: each dy, divided by its window's divisor, spread over the window."""
    g = _shapes.avg_pool2d_backward_args(dy, input_shape, kernel_size, stride, padding, ceil_mode,
                                         count_include_pad)
    share = _f64(dy) / _divisors(g)
    dx = np.zeros(g.input_shape)
    for rows, cols, out_rows, out_cols in _taps(g):
        dx[:, :, rows, cols] += share[:, :, out_rows, out_cols]
    return np.ascontiguousarray(dx, dtype=dy.dtype)


def global_avg_pool2d(x):
    """Mean over each H x W plane: (N, C, H, W) -> (N, C)."""
    _shapes.global_avg_pool2d_args(x)
    return np.ascontiguousarray(_f64(x).mean(axis=(2, 3)), dtype=x.dtype)


def global_avg_pool2d_backward(dy, input_shape):
    """Gradient of global_avg_pool2d: dy / (H*W) spread over each plane."""
    n, c, h, w = _shapes.global_avg_pool2d_backward_args(dy, input_shape)
    dx = np.empty((n, c, h, w))
    dx[...] = (_f64(dy) / (h * w))[:, :, None, None]
    return np.ascontiguousarray(dx, dtype=dy.dtype)
