"""Argument validation and checked size arithmetic for convolution, pooling and batch norm.

One validator per op, shared by cnnfast.reference and the C path: it takes the raw user arguments
plus the arrays, checks everything before any work is done, and returns normalised Python ints
(in a small frozen record) from which a kernel can run without deriving anything again.
Types and dtypes -> TypeError, values and shapes -> ValueError, any size a kernel computes that
passes int64 -> OverflowError; every message names the argument and the numbers.

Output size per spatial axis (n = input size, lo/hi = padding before/after, k = kernel size,
d = dilation, s = stride, dk = d*(k-1) + 1 the dilated kernel):
    conv2d             out = (n + lo + hi - dk) // s + 1
    conv_transpose2d   out = (n - 1)*s - lo - hi + dk + output_padding
    pooling            out = (n + 2p - dk + (s - 1 if ceil_mode else 0)) // s + 1, and with
                       ceil_mode one less when the last window would start at or after n + p
                       (PyTorch's rule: every window starts inside the input or the left padding).
Every out must be >= 1 (ValueError otherwise), and every position a window reads, counted from
the start of the padding, must fit in int64 (OverflowError otherwise).
"""
import collections
import math
from dataclasses import dataclass

import numpy as np

from . import _checks
from ._checks import INT64_MAX

_AXES = ("height", "width")


# ---- generic helpers ---------------------------------------------------------------------------

def i64(value, what):
    """`value` (a Python int) must fit in int64, else OverflowError naming `what`."""
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise OverflowError(f"{what} = {value} does not fit in a 64-bit signed integer")
    return value


def check_allocation(shape, dtype, name):
    """The array `name` of `shape` and `dtype` must be addressable with int64 byte offsets, even
    when a zero extent makes it empty (its strides still multiply the other extents, as NumPy's)."""
    extents = [d for d in shape if d] + [np.dtype(dtype).itemsize]
    _checks.checked_product(extents, f"{name} of shape {tuple(shape)}")


def optional_data(x, name):
    """None, or a float32/float64 array (see _checks.data)."""
    return None if x is None else _checks.data(x, name)


def same_dtype_present(*named):
    """Like _checks.same_dtype, skipping the (name, None) pairs."""
    present = [v for pair in zip(named[::2], named[1::2]) if pair[1] is not None for v in pair]
    _checks.same_dtype(*present)


def vector(v, name, length, of):
    """v must be None or a 1-D array of `length` entries (one per channel of `of`)."""
    if v is not None and v.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), one value per {of}, got {v.shape}")


def nonempty_nchw(shape, name):
    """An NCHW shape with at least one channel and a non-empty plane (N may be 0)."""
    _, c, h, w = shape
    if c < 1:
        raise ValueError(f"{name} has zero channels (shape {tuple(shape)})")
    if h < 1 or w < 1:
        raise ValueError(f"{name} has an empty {h}x{w} plane (shape {tuple(shape)})")


def nchw_shape(shape, name):
    """A shape given as a tuple (e.g. input_shape): 4 non-negative ints, C, H, W >= 1."""
    shape = _checks.shape_tuple(shape, name)
    if len(shape) != 4:
        raise ValueError(f"{name} must have 4 entries (N, C, H, W), got {len(shape)}: {shape}")
    nonempty_nchw(shape, name)
    return shape


def dilated(kernel, dilation, what):
    """The extent d*(k-1) + 1 of a dilated kernel, checked against int64."""
    return i64(dilation * (kernel - 1) + 1, f"the dilated {what}: dilation*(kernel_size-1)+1")


def conv_out_size(op, axis, size, kernel, stride, pad_lo, pad_hi, dilation):
    """(size + pad_lo + pad_hi - dilated kernel) // stride + 1, which must be >= 1."""
    dk = dilated(kernel, dilation, f"kernel {axis}")
    padded = i64(size + pad_lo + pad_hi, f"the padded input {axis}")
    out = (padded - dk) // stride + 1
    if out < 1:
        raise ValueError(f"{op}: output {axis} would be {out} < 1: the padded input {axis} {padded} "
                         f"(input {size} + padding {pad_lo}+{pad_hi}) is smaller than the kernel "
                         f"{kernel} dilated by {dilation} ({dk})")
    return out


def pool_out_size(op, axis, size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling_output_shape (see the module docstring), which must be >= 1."""
    dk = dilated(kernel, dilation, f"kernel {axis}")
    padded = i64(size + 2 * pad, f"the padded input {axis}")
    out = (padded - dk + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    if out < 1:
        raise ValueError(f"{op}: output {axis} would be {out} < 1: input {axis} {size} + 2*padding "
                         f"{pad} is smaller than kernel_size {kernel} dilated by {dilation} ({dk})")
    # a ceil_mode window may run past the padded input: its end must still be an int64
    i64((out - 1) * stride + dk, f"the padded extent (output {axis} - 1)*stride + dilated kernel "
                                 f"that the pooling windows cover")
    return out


# ---- convolution -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvGeometry:
    """One 2-D cross-correlation, the common core of conv2d and conv_transpose2d.

    Image side  (conv2d's x,  conv_transpose2d's y):  (n, c, h, w)
    Feature side (conv2d's y, conv_transpose2d's x):  (n, k, p, q)
    Weight, for both ops: (k, c // groups, r, s).
    Feature position (i, j) of channel kk (group g = kk // (k // groups)) is
        sum over cc in group g, a < r, b < s of
        weight[kk, cc - g*(c//groups), a, b] * image[cc, i*stride_h - pad_top + a*dilation_h,
                                                         j*stride_w - pad_left + b*dilation_w]
    with zeros outside the image. conv2d computes it forward; conv_transpose2d is its adjoint
    (scatters the feature side into the image side). For conv2d p = (h + pad_top + pad_bottom -
    r_dilated) // stride_h + 1; for conv_transpose2d p is its input height and h the computed
    output height, so p can be one less than that formula when output_padding >= stride.
    """
    n: int
    c: int
    h: int
    w: int
    k: int
    p: int
    q: int
    r: int
    s: int
    groups: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int

    @property
    def image_shape(self):
        return (self.n, self.c, self.h, self.w)

    @property
    def feature_shape(self):
        return (self.n, self.k, self.p, self.q)


def _conv_arrays(op, x, weight, bias):
    _checks.data(x, "x")
    _checks.data(weight, "weight")
    optional_data(bias, "bias")
    same_dtype_present("x", x, "weight", weight, "bias", bias)
    _checks.ndim(x, "x", 4)
    _checks.ndim(weight, "weight", 4)
    if bias is not None:
        _checks.ndim(bias, "bias", 1)
    nonempty_nchw(x.shape, "x")
    if weight.shape[2] < 1 or weight.shape[3] < 1:
        raise ValueError(f"{op}: weight has a zero kernel size {weight.shape[2]}x{weight.shape[3]} "
                         f"(shape {weight.shape})")


def _conv_params(stride, dilation, groups):
    stride = _checks.pair(stride, "stride", 1)
    dilation = _checks.pair(dilation, "dilation", 1)
    groups = _checks.integer(groups, "groups", 1)
    return stride, dilation, groups


def _divisible(op, channels, what, groups):
    if channels % groups:
        raise ValueError(f"{op}: {what} = {channels} is not divisible by groups = {groups}")


def conv_padding(padding, r, s, stride, dilation):
    """conv2d's padding -> (top, bottom, left, right).

    An int or a pair pads both sides; 'valid' is no padding; 'same' (stride 1 only) pads
    d*(k-1) in total per axis, half before, the odd extra one after (bottom/right), as PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"padding must be an integer, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1, got stride = {stride}")
        total_h = dilated(r, dilation[0], "kernel height") - 1
        total_w = dilated(s, dilation[1], "kernel width") - 1
        return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
    ph, pw = _checks.pair(padding, "padding", 0)
    return (ph, ph, pw, pw)


def conv2d_args(x, weight, bias, stride, padding, dilation, groups):
    """Validate conv2d(x, weight, bias, stride, padding, dilation, groups) -> ConvGeometry."""
    _conv_arrays("conv2d", x, weight, bias)
    stride, dilation, groups = _conv_params(stride, dilation, groups)
    n, c, h, w = x.shape
    k, c_per_group, r, s = weight.shape
    if k < 1:
        raise ValueError(f"conv2d: weight has zero output channels (shape {weight.shape})")
    _divisible("conv2d", c, "x's channel count", groups)
    _divisible("conv2d", k, "weight.shape[0] (output channels)", groups)
    if c_per_group * groups != c:
        raise ValueError(f"conv2d: weight.shape[1] = {c_per_group} with groups = {groups} expects "
                         f"{c_per_group * groups} input channels, but x has {c} (shape {x.shape})")
    vector(bias, "bias", k, "output channel")
    top, bottom, left, right = conv_padding(padding, r, s, stride, dilation)
    p = conv_out_size("conv2d", "height", h, r, stride[0], top, bottom, dilation[0])
    q = conv_out_size("conv2d", "width", w, s, stride[1], left, right, dilation[1])
    check_allocation((n, k, p, q), x.dtype, "the output y")
    return ConvGeometry(n, c, h, w, k, p, q, r, s, groups, *stride, *dilation, top, bottom, left, right)


def conv2d_backward_args(dy, x, weight, stride, padding, dilation, groups, need_bias_grad,
                         need_input_grad):
    """Validate conv2d_backward(dy, x, weight, ...) -> ConvGeometry; dy must be conv2d's y shape."""
    _checks.data(dy, "dy")
    g = conv2d_args(x, weight, None, stride, padding, dilation, groups)
    _checks.same_dtype("x", x, "dy", dy)
    _checks.shape_is(dy, "dy (the gradient of conv2d's output)", g.feature_shape)
    _checks.boolean(need_bias_grad, "need_bias_grad")
    _checks.boolean(need_input_grad, "need_input_grad")
    return g


def conv_transpose2d_args(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Validate conv_transpose2d(x, weight, bias, ...) -> ConvGeometry (x is its feature side).

    weight is (C_in, C_out // groups, R, S); output_padding adds rows/columns at the bottom/right
    and must be smaller than the stride or the dilation of its axis, as in PyTorch."""
    _conv_arrays("conv_transpose2d", x, weight, bias)
    stride, dilation, groups = _conv_params(stride, dilation, groups)
    ph, pw = _checks.pair(padding, "padding", 0)
    output_padding = _checks.pair(output_padding, "output_padding", 0)
    n, k, p, q = x.shape
    k_weight, c_per_group, r, s = weight.shape
    if k_weight != k:
        raise ValueError(f"conv_transpose2d: weight.shape[0] = {k_weight} must equal x's channel "
                         f"count {k} (x shape {x.shape})")
    if c_per_group < 1:
        raise ValueError(f"conv_transpose2d: weight has zero output channels (shape {weight.shape})")
    _divisible("conv_transpose2d", k, "x's channel count", groups)
    c = i64(c_per_group * groups, "the output channels weight.shape[1]*groups")
    vector(bias, "bias", c, "output channel")
    size = []
    for axis, n_in, kernel, st, pad, dil, op_pad in zip(_AXES, (p, q), (r, s), stride, (ph, pw),
                                                       dilation, output_padding):
        if op_pad >= st and op_pad >= dil:
            raise ValueError(f"conv_transpose2d: output_padding {axis} = {op_pad} must be smaller "
                             f"than either stride ({st}) or dilation ({dil})")
        span = i64((n_in - 1) * st, f"(input {axis} - 1)*stride")
        dk = dilated(kernel, dil, f"kernel {axis}")
        out = i64(span + dk + op_pad, f"the padded output {axis}") - 2 * pad
        if out < 1:
            raise ValueError(f"conv_transpose2d: output {axis} would be {out} < 1: (input {n_in} - 1)"
                             f"*stride {st} + kernel {kernel} dilated by {dil} ({dk}) + "
                             f"output_padding {op_pad} - 2*padding {pad}")
        size.append(out)
    h, w = size
    check_allocation((n, c, h, w), x.dtype, "the output y")
    return ConvGeometry(n, c, h, w, k, p, q, r, s, groups, *stride, *dilation, ph, ph, pw, pw)


def conv_transpose2d_backward_args(dy, x, weight, stride, padding, output_padding, groups, dilation,
                                   need_bias_grad, need_input_grad):
    """Validate conv_transpose2d_backward -> ConvGeometry; dy must be conv_transpose2d's y shape."""
    _checks.data(dy, "dy")
    g = conv_transpose2d_args(x, weight, None, stride, padding, output_padding, groups, dilation)
    _checks.same_dtype("x", x, "dy", dy)
    _checks.shape_is(dy, "dy (the gradient of conv_transpose2d's output)", g.image_shape)
    _checks.boolean(need_bias_grad, "need_bias_grad")
    _checks.boolean(need_input_grad, "need_input_grad")
    return g


# ---- pooling -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolGeometry:
    """Pooling of (n, c, h, w) into (n, c, p, q). Output (i, j) pools the input rows
    i*stride_h - pad_h + a*dilation_h, a < kernel_h (columns alike), clipped to the input;
    padding never wins a max and counts in an average only with count_include_pad, and only up
    to h + pad_h (the part of a ceil_mode window beyond the padding never counts)."""
    n: int
    c: int
    h: int
    w: int
    p: int
    q: int
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    dilation_h: int
    dilation_w: int
    ceil_mode: bool
    count_include_pad: bool

    @property
    def input_shape(self):
        return (self.n, self.c, self.h, self.w)

    @property
    def output_shape(self):
        return (self.n, self.c, self.p, self.q)


def _pool_geometry(op, shape, dtype, kernel_size, stride, padding, dilation, ceil_mode,
                   count_include_pad):
    kernel = _checks.pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _checks.pair(stride, "stride", 1)
    pad = _checks.pair(padding, "padding", 0)
    dilation = _checks.pair(dilation, "dilation", 1)
    ceil_mode = _checks.boolean(ceil_mode, "ceil_mode")
    count_include_pad = _checks.boolean(count_include_pad, "count_include_pad")
    for axis, k, pd in zip(_AXES, kernel, pad):
        if pd > k // 2:
            raise ValueError(f"{op}: padding {axis} = {pd} must be at most half of kernel_size "
                             f"{axis} = {k} (<= {k // 2})")
    n, c, h, w = shape
    p, q = (pool_out_size(op, axis, size, k, st, pd, dil, ceil_mode)
            for axis, size, k, st, pd, dil in zip(_AXES, (h, w), kernel, stride, pad, dilation))
    check_allocation((n, c, p, q), dtype, "the output")
    return PoolGeometry(n, c, h, w, p, q, *kernel, *stride, *pad, *dilation, ceil_mode,
                        count_include_pad)


def _pooled_input(op, x):
    _checks.data(x, "x")
    _checks.ndim(x, "x", 4)
    nonempty_nchw(x.shape, "x")


def window_span(size, kernel, stride, pad, dilation, i):
    """The first and last kernel tap of output i's window (along one axis) that read the input
    rather than padding: tap t reads input position i*stride - pad + t*dilation. first > last
    when no tap does."""
    start = i * stride - pad
    first = -(-max(0, -start) // dilation)
    last = min(kernel - 1, (size - 1 - start) // dilation)
    return first, last


def pool_taps(size, out, kernel, stride, pad, dilation):
    """The kernel taps along one axis that read the input for some output, ascending: at most
    out*size of them however large the kernel, so a kernel of 2**31 costs nothing extra."""
    taps = set()
    for i in range(out):
        first, last = window_span(size, kernel, stride, pad, dilation, i)
        taps.update(range(first, last + 1))
    return sorted(taps)


def tap_slices(size, out, stride, pad, dilation, taps):
    """For each kernel tap t in `taps` along one axis, the outputs i whose tap t reads the input,
    0 <= i*stride - pad + t*dilation < size, as a contiguous range: yields
    (t, input positions as a strided slice, output positions as a slice), skipping empty taps."""
    for t in taps:
        offset = t * dilation - pad
        lo = max(0, -(offset // stride))
        hi = min(out, (size - 1 - offset) // stride + 1)
        if lo < hi:
            first = lo * stride + offset
            yield t, slice(first, first + (hi - lo - 1) * stride + 1, stride), slice(lo, hi)


def _windows_touch_input(op, axis, size, out, kernel, stride, pad, dilation):
    """With dilation a window can fall entirely into the padding (its taps straddle the input);
    such a window has no maximum to point at, so the parameters are refused.

    Only a window that starts in the left padding can miss (the output-size rules make every other
    window start inside the input), and only when dilation > size: otherwise its first tap past
    the padding lands less than dilation <= size positions into the input. With dilation > size and
    padding <= kernel/2 at most one window starts in the padding (kernel <= 2 means padding <= 1;
    kernel >= 3 makes the dilated kernel longer than the padded input, so there is one output), so
    the loop below runs at most once."""
    if dilation <= size:
        return
    for i in range(min(out, -(-pad // stride))):
        first, last = window_span(size, kernel, stride, pad, dilation, i)
        if first > last:
            raise ValueError(f"{op}: with kernel_size {axis} = {kernel}, dilation = {dilation}, "
                             f"padding = {pad} and stride = {stride}, window {i} of the output "
                             f"{axis} covers only padding of the input {axis} {size}")


def max_pool2d_args(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode) -> PoolGeometry."""
    _pooled_input("max_pool2d", x)
    g = _pool_geometry("max_pool2d", x.shape, x.dtype, kernel_size, stride, padding, dilation,
                       ceil_mode, True)
    _windows_touch_input("max_pool2d", "height", g.h, g.p, g.kernel_h, g.stride_h, g.pad_h,
                         g.dilation_h)
    _windows_touch_input("max_pool2d", "width", g.w, g.q, g.kernel_w, g.stride_w, g.pad_w,
                         g.dilation_w)
    return g


def max_pool2d_backward_args(dy, indices, input_shape, check_indices=True):
    """Validate max_pool2d_backward(dy, indices, input_shape) -> the input shape (n, c, h, w).

    indices must be int64 of dy's shape and every index inside its h*w plane; this is checked
    before anything is written. A caller that checks the range itself (the C path checks each
    plane before writing it) passes check_indices=False and reports a failure through
    indices_outside_plane, so the message is the same."""
    _checks.data(dy, "dy")
    if not isinstance(indices, np.ndarray):
        raise TypeError(f"indices must be a numpy.ndarray of int64, got {type(indices).__name__}")
    if indices.dtype != np.int64:
        raise TypeError(f"indices must have dtype int64, got {indices.dtype}")
    _checks.ndim(dy, "dy", 4)
    _checks.same_shape("dy", dy, "indices", indices)
    shape = nchw_shape(input_shape, "input_shape")
    if dy.shape[:2] != shape[:2]:
        raise ValueError(f"dy has shape {dy.shape} but input_shape is {shape}: N and C must match")
    check_allocation(shape, dy.dtype, "the gradient dx")
    plane = shape[2] * shape[3]
    if check_indices and indices.size and (indices.min() < 0 or indices.max() >= plane):
        indices_outside_plane(indices, shape)
    return shape


def indices_outside_plane(indices, shape):
    """Raise the ValueError for max-pool indices of which some lie outside the h*w plane."""
    plane = shape[2] * shape[3]
    bad = indices[(indices < 0) | (indices >= plane)].flat[0]
    raise ValueError(f"indices holds {bad}, outside the {shape[2]}x{shape[3]} input plane "
                     f"(valid: 0 <= index < {plane})")


def avg_pool2d_args(x, kernel_size, stride, padding, ceil_mode, count_include_pad):
    """Validate avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad)."""
    _pooled_input("avg_pool2d", x)
    return _pool_geometry("avg_pool2d", x.shape, x.dtype, kernel_size, stride, padding, 1,
                          ceil_mode, count_include_pad)


def avg_pool2d_backward_args(dy, input_shape, kernel_size, stride, padding, ceil_mode,
                             count_include_pad):
    """Validate avg_pool2d_backward -> PoolGeometry; dy must have avg_pool2d's output shape."""
    _checks.data(dy, "dy")
    shape = nchw_shape(input_shape, "input_shape")
    g = _pool_geometry("avg_pool2d_backward", shape, dy.dtype, kernel_size, stride, padding, 1,
                       ceil_mode, count_include_pad)
    _checks.shape_is(dy, "dy (the gradient of avg_pool2d's output)", g.output_shape)
    check_allocation(shape, dy.dtype, "the gradient dx")
    return g


def global_avg_pool2d_args(x):
    """Validate global_avg_pool2d(x) -> (n, c, h, w)."""
    _pooled_input("global_avg_pool2d", x)
    return x.shape


def global_avg_pool2d_backward_args(dy, input_shape):
    """Validate global_avg_pool2d_backward(dy, input_shape) -> (n, c, h, w); dy is (n, c)."""
    _checks.data(dy, "dy")
    shape = nchw_shape(input_shape, "input_shape")
    _checks.shape_is(dy, "dy (the gradient of global_avg_pool2d's output)", shape[:2])
    check_allocation(shape, dy.dtype, "the gradient dx")
    return shape


# ---- batch normalisation -----------------------------------------------------------------------

BatchNormArgs = collections.namedtuple("BatchNormArgs", "c m training momentum eps")
BatchNormArgs.__doc__ = """c channels; m values per channel (N*H*W); the normalised scalars."""


def positive_eps(eps, dtype):
    """batch norm's eps: a finite real, at least the smallest normal number of `dtype`, so that
    1/sqrt(var + eps) of a constant channel (var = 0) stays finite in that dtype."""
    eps = _checks.real(eps, "eps")
    tiny = float(np.finfo(dtype).tiny)
    if eps < tiny:
        raise ValueError(f"eps must be >= {tiny} (the smallest normal {np.dtype(dtype).name}), got {eps}")
    return eps


def _bn_input(x, name="x"):
    _checks.data(x, name)
    _checks.ndim(x, name, (2, 4))
    if x.shape[1] < 1:
        raise ValueError(f"{name} has zero channels (shape {x.shape})")
    return x.shape[1], x.size // x.shape[1]


def batch_norm_args(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """Validate batch_norm's arguments -> BatchNormArgs.

    x is (N, C) or (N, C, H, W). gamma and beta may be None (scale 1, shift 0). running_mean and
    running_var are both arrays or both None; None is allowed only in training (nothing is then
    updated); in training they are updated in place, so they must be writeable and overlap
    neither each other nor x, gamma, beta. All arrays share x's dtype and are (C,). momentum in [0, 1] (weight of the new batch), eps >= the dtype's smallest
    normal number. Training needs more than one value per channel (as PyTorch); an empty batch (no values) is allowed."""
    c, m = _bn_input(x)
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        optional_data(v, name)
    same_dtype_present("x", x, "gamma", gamma, "beta", beta, "running_mean", running_mean,
                       "running_var", running_var)
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        vector(v, name, c, "channel")
    training = _checks.boolean(training, "training")
    momentum = _checks.real(momentum, "momentum", 0.0, 1.0)
    eps = positive_eps(eps, x.dtype)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be arrays or both be None")
    if running_mean is None and not training:
        raise ValueError("running_mean and running_var are required when training is False")
    if training and running_mean is not None:
        for name, v in (("running_mean", running_mean), ("running_var", running_var)):
            if not v.flags.writeable:
                raise ValueError(f"{name} is updated in place in training, but it is read-only")
        # written in place: they must overlap neither each other nor anything the call reads
        pairs = [("running_mean", running_mean, "running_var", running_var)]
        pairs += [(stat_name, stat, name, v)
                  for stat_name, stat in (("running_mean", running_mean), ("running_var", running_var))
                  for name, v in (("x", x), ("gamma", gamma), ("beta", beta)) if v is not None]
        for stat_name, stat, name, v in pairs:
            if np.shares_memory(stat, v):
                raise ValueError(f"{stat_name} shares memory with {name}; it is updated in place, "
                                 "so they must be distinct arrays")
    if training and m == 1:
        raise ValueError(f"batch_norm: training needs more than 1 value per channel, got x of "
                         f"shape {x.shape}")
    return BatchNormArgs(c, m, training, momentum, eps)


def batch_norm_backward_args(dy, x, gamma, save_mean, save_invstd, training):
    """Validate batch_norm_backward's arguments -> BatchNormArgs (momentum and eps are None).

    dy matches x; gamma may be None (scale 1); save_mean and save_invstd are the (C,) arrays
    batch_norm returned."""
    _checks.data(dy, "dy")
    c, m = _bn_input(x)
    optional_data(gamma, "gamma")
    _checks.data(save_mean, "save_mean")
    _checks.data(save_invstd, "save_invstd")
    same_dtype_present("x", x, "dy", dy, "gamma", gamma, "save_mean", save_mean,
                       "save_invstd", save_invstd)
    _checks.same_shape("x", x, "dy", dy)
    for name, v in (("gamma", gamma), ("save_mean", save_mean), ("save_invstd", save_invstd)):
        vector(v, name, c, "channel")
    training = _checks.boolean(training, "training")
    return BatchNormArgs(c, m, training, None, None)


def batch_norm_relu_backward_args(dy, y, x, gamma, save_mean, save_invstd, training):
    """Validate batch_norm_relu_backward's arguments: those of batch_norm_backward plus y, the
    fused forward's output (same shape and dtype as x), whose sign masks the gradient."""
    _checks.data(y, "y")
    a = batch_norm_backward_args(dy, x, gamma, save_mean, save_invstd, training)
    _checks.same_dtype("x", x, "y", y)
    _checks.same_shape("x", x, "y", y)
    return a


BN_POOL_MAX_WINDOW = 256  # a window position t = a*kw + b is kept as a uint8


def _bn_pool_kernel(x, kernel_size, op):
    """kernel_size of batch_norm_relu_max_pool2d (windows of stride = kernel, no padding) for
    an (N, C, H, W) x -> ((kh, kw), (N, C, H // kh, W // kw))."""
    kernel = _checks.pair(kernel_size, "kernel_size", 1)
    if kernel[0] * kernel[1] > BN_POOL_MAX_WINDOW:
        raise ValueError(f"{op}: kernel_size {kernel} has {kernel[0] * kernel[1]} positions; at "
                         f"most {BN_POOL_MAX_WINDOW} (each window's argmax is a uint8)")
    n, c, h, w = x.shape
    p, q = (pool_out_size(op, axis, size, k, k, 0, 1, False)
            for axis, size, k in zip(_AXES, (h, w), kernel))
    return kernel, (n, c, p, q)


def batch_norm_relu_max_pool2d_args(x, gamma, beta, running_mean, running_var, training,
                                    momentum, eps, kernel_size):
    """Validate batch_norm_relu_max_pool2d's arguments -> (BatchNormArgs, (kh, kw), the output
    shape): those of batch_norm for a 4-D x, and kernel_size (an int or a pair, at most 256
    positions) whose windows fit the plane at least once."""
    _pooled_input("batch_norm_relu_max_pool2d", x)
    a = batch_norm_args(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    kernel, out = _bn_pool_kernel(x, kernel_size, "batch_norm_relu_max_pool2d")
    check_allocation(out, x.dtype, "the output")
    return a, kernel, out


def batch_norm_relu_max_pool2d_backward_args(dy, y, arg, x, gamma, save_mean, save_invstd,
                                             kernel_size, training):
    """Validate batch_norm_relu_max_pool2d_backward's arguments -> (BatchNormArgs, (kh, kw)).

    x, gamma, save_mean, save_invstd as batch_norm_backward; y (x's dtype) and arg (uint8) are
    the forward's outputs and dy the gradient of y, all three of the pooled shape that
    kernel_size gives x. Whether every arg is a window position is the caller's check
    (arg_outside_window)."""
    op = "batch_norm_relu_max_pool2d_backward"
    _pooled_input(op, x)
    for name, v in (("dy", dy), ("y", y)):
        _checks.data(v, name)
    if not isinstance(arg, np.ndarray) or arg.dtype != np.uint8:
        raise TypeError(f"arg must be a numpy.ndarray of uint8, got "
                        f"{getattr(arg, 'dtype', type(arg).__name__)}")
    optional_data(gamma, "gamma")
    _checks.data(save_mean, "save_mean")
    _checks.data(save_invstd, "save_invstd")
    same_dtype_present("x", x, "dy", dy, "y", y, "gamma", gamma, "save_mean", save_mean,
                       "save_invstd", save_invstd)
    kernel, out = _bn_pool_kernel(x, kernel_size, op)
    for name, v in (("y", y), ("dy", dy), ("arg", arg)):
        if v.shape != out:
            raise ValueError(f"{name} must have the pooled shape {out} (x {x.shape}, kernel_size "
                             f"{kernel}), got {v.shape}")
    c = x.shape[1]
    for name, v in (("gamma", gamma), ("save_mean", save_mean), ("save_invstd", save_invstd)):
        vector(v, name, c, "channel")
    training = _checks.boolean(training, "training")
    return BatchNormArgs(c, x.size // c, training, None, None), kernel


def arg_outside_window(arg, kernel):
    """Raise the ValueError for an arg that names no position of a kh x kw window, or return."""
    taps = kernel[0] * kernel[1]
    if taps < BN_POOL_MAX_WINDOW and arg.size and int(arg.max()) >= taps:
        raise ValueError(f"arg holds {int(arg.max())}, which is no position of a {kernel[0]}x"
                         f"{kernel[1]} window (0 to {taps - 1})")


def fold_batch_norm_args(weight, bias, gamma, beta, running_mean, running_var, eps):
    """Validate fold_batch_norm's arguments -> (k, eps). weight is a conv2d weight
    (K, C/groups, R, S) or a linear weight (K, in): axis 0 is the output channel that the batch
    norm normalises. bias, gamma and beta may be None; the running statistics are required."""
    _checks.data(weight, "weight")
    _checks.ndim(weight, "weight", (2, 4))
    k = weight.shape[0]
    if k < 1:
        raise ValueError(f"weight has zero output channels (shape {weight.shape})")
    for name, v in (("bias", bias), ("gamma", gamma), ("beta", beta)):
        optional_data(v, name)
    _checks.data(running_mean, "running_mean")
    _checks.data(running_var, "running_var")
    same_dtype_present("weight", weight, "bias", bias, "gamma", gamma, "beta", beta,
                       "running_mean", running_mean, "running_var", running_var)
    for name, v in (("bias", bias), ("gamma", gamma), ("beta", beta),
                    ("running_mean", running_mean), ("running_var", running_var)):
        vector(v, name, k, "output channel of weight")
    eps = positive_eps(eps, weight.dtype)
    return k, eps


# ---- the Adam step -------------------------------------------------------------------------------

AdamCoefficients = collections.namedtuple(
    "AdamCoefficients", "decay weight_decay lerp beta2 one_minus_beta2 bias2_sqrt eps neg_step_size "
                        "decoupled lerp_small")
AdamCoefficients.__doc__ = """adam_step's scalars, made in float64 as torch.optim.Adam makes them:
decay = 1 - learning_rate*weight_decay (decoupled, AdamW); weight_decay (0 when decoupled); the
moment's lerp weight w = 1 - beta_1 applied as m + (g - m)*w when w < 0.5 (lerp_small), else as
g - (g - m)*(1 - w) (lerp = w or 1 - w); beta2 and 1 - beta_2; bias2_sqrt = sqrt(1 - beta_2**step);
eps; neg_step_size = -learning_rate / (1 - beta_1**step)."""


def _unit_interval(v, name):
    """A real number in [0, 1) -> float."""
    f = _checks.real(v, name, 0.0)
    if f >= 1.0:
        raise ValueError(f"{name} must be < 1, got {f}")
    return f


def adam_step_args(param, grad, exp_avg, exp_avg_sq, step, learning_rate, beta_1, beta_2,
                   epsilon, weight_decay, decoupled):
    """Validate adam_step's arguments -> AdamCoefficients.

    param, exp_avg and exp_avg_sq are updated in place: C-contiguous, writeable, apart from each
    other and from grad (no overlapping bounds). All four share a float dtype and a shape. step
    is an int >= 1; learning_rate, epsilon and weight_decay finite reals >= 0; beta_1 and beta_2
    in [0, 1); decoupled a bool."""
    named = (("param", param), ("grad", grad), ("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq))
    for name, a in named:
        _checks.data(a, name)
    _checks.same_dtype(*[v for pair in named for v in pair])
    for name, a in named[1:]:
        _checks.same_shape("param", param, name, a)
    for name, a in (named[0], named[2], named[3]):
        if not a.flags.writeable:
            raise ValueError(f"{name} is updated in place, but it is read-only")
        if not a.flags.c_contiguous:
            raise ValueError(f"{name} is updated in place and must be C-contiguous")
    for i, (name_a, a) in enumerate(named):
        for name_b, b in named[i + 1:]:
            if a.size and b.size and np.may_share_memory(a, b):
                raise ValueError(f"{name_a} and {name_b} overlap in memory; adam_step updates "
                                 "param, exp_avg and exp_avg_sq in place, so all four must be apart")
    step = _checks.integer(step, "step", 1)
    learning_rate = _checks.real(learning_rate, "learning_rate", 0.0)
    beta_1 = _unit_interval(beta_1, "beta_1")
    beta_2 = _unit_interval(beta_2, "beta_2")
    epsilon = _checks.real(epsilon, "epsilon", 0.0)
    weight_decay = _checks.real(weight_decay, "weight_decay", 0.0)
    decoupled = _checks.boolean(decoupled, "decoupled")
    return adam_coefficients(step, learning_rate, beta_1, beta_2, epsilon, weight_decay, decoupled)


def adam_coefficients(step, learning_rate, beta_1, beta_2, epsilon, weight_decay, decoupled):
    """AdamCoefficients of valid hyper-parameters (the optimizer's, checked when it was made)."""
    w = 1.0 - beta_1
    return AdamCoefficients(
        decay=1.0 - learning_rate * weight_decay if decoupled else 1.0,
        weight_decay=0.0 if decoupled else weight_decay,
        lerp=w if w < 0.5 else 1.0 - w, beta2=beta_2, one_minus_beta2=1.0 - beta_2,
        bias2_sqrt=math.sqrt(1.0 - beta_2 ** step), eps=epsilon,
        neg_step_size=-(learning_rate / (1.0 - beta_1 ** step)), decoupled=decoupled,
        lerp_small=w < 0.5)
