"""Activations (group d) in C: the same functions, signatures and checks as
cnnfast.reference.activation (see its docstring for the conventions, NaN handling and what the
random activations return). The random activations draw the same per-call seed from the user's
Generator as the reference (cnnfast/_random.py) and generate its Philox stream in C, fused with the
op (csrc/frame/random.c), so one seed gives the same result on both paths; everything else runs in
csrc/frame/eltwise.c. All without the GIL."""
import numpy as np

from .. import _checks, _core, _random
from .._runtime import get_num_threads
from ._common import contiguous as _c

__all__ = ["relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "elu", "elu_backward",
           "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "prelu", "prelu_backward",
           "rrelu", "rrelu_backward", "gaussian_noise", "noisy_relu", "noisy_relu_backward",
           "dropout", "dropout_backward"]


def _unary(op, x, param=0.0):
    y = _core.empty(x.shape, x.dtype)
    if y.size:
        _core.eltwise_unary(op, _c(x), y, param, get_num_threads())
    return y


def _binary(op, a, b, param=0.0):
    y = _core.empty(a.shape, a.dtype)
    if y.size:
        _core.eltwise_binary(op, _c(a), _c(b), y, param, get_num_threads())
    return y


def _ternary(op, a, b, c):
    y = _core.empty(a.shape, a.dtype)
    if y.size:
        _core.eltwise_ternary(op, _c(a), _c(b), _c(c), y, get_num_threads())
    return y


def _random_op(op, x, drawn_dtype, rng, a, b=0.0):
    """(y, drawn) of one of the C random activations on x, keyed by a seed drawn from rng."""
    seed = _random.seed(rng)
    y = _core.empty(x.shape, x.dtype)
    drawn = _core.empty(x.shape, drawn_dtype)
    if y.size:
        _core.random_activation(op, _c(x), y, drawn, seed, a, b, get_num_threads())
    return y, drawn


def _dropout(x, mask, scale):
    y = _core.empty(x.shape, x.dtype)
    if y.size:
        _core.dropout(_c(x), _c(mask), y, scale, get_num_threads())
    return y


def relu(x):
    """max(0, x); NaN propagates."""
    _checks.data(x, "x")
    return _unary("relu", x)


def relu_backward(dy, x):
    """dx = dy where x > 0 (or x is NaN), else 0."""
    _checks.grad_and_input(dy, "dy", x, "x")
    return _binary("relu_bwd", dy, x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    _checks.data(x, "x")
    return _unary("leaky_relu", x, _checks.coefficient(negative_slope, "negative_slope", x.dtype))


def leaky_relu_backward(dy, x, negative_slope=0.01):
    """dx = dy where x > 0, else negative_slope * dy."""
    _checks.grad_and_input(dy, "dy", x, "x")
    return _binary("leaky_relu_bwd", dy, x, _checks.coefficient(negative_slope, "negative_slope", x.dtype))


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    _checks.data(x, "x")
    return _unary("elu", x, _checks.coefficient(alpha, "alpha", x.dtype))


def elu_backward(dy, x, alpha=1.0):
    """dx = dy * alpha * exp(x) where x <= 0, else dy."""
    _checks.grad_and_input(dy, "dy", x, "x")
    return _binary("elu_bwd", dy, x, _checks.coefficient(alpha, "alpha", x.dtype))


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    _checks.data(x, "x")
    return _unary("sigmoid", x)


def sigmoid_backward(dy, y):
    """dx = dy * y * (1 - y), y = sigmoid(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    return _binary("sigmoid_bwd", dy, y)


def tanh(x):
    """The hyperbolic tangent."""
    _checks.data(x, "x")
    return _unary("tanh", x)


def tanh_backward(dy, y):
    """dx = dy * (1 - y^2), y = tanh(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    return _binary("tanh_bwd", dy, y)


def _prelu_layout(x, weight):
    """(outer, channels, inner) view of x for the C kernels."""
    if weight.shape[0] == 1:
        return 1, 1, x.size
    return x.shape[0], x.shape[1], x.size // max(1, x.shape[0] * x.shape[1])


def prelu(x, weight):
    """x where x > 0, else weight[c] * x, c the index on axis 1 (weight (1,) or (C,))."""
    _checks.prelu_weight(x, weight)
    y = _core.empty(x.shape, x.dtype)
    if y.size:
        outer, channels, inner = _prelu_layout(x, weight)
        _core.prelu_fwd(_c(x), _c(weight), y, outer, channels, inner, get_num_threads())
    return y


def prelu_backward(dy, x, weight):
    """(dx, dweight): dx = dy where x > 0 else weight[c] * dy; dweight[c] = sum of x * dy over
    the elements of channel c with x <= 0 (summed in double in C)."""
    _checks.prelu_weight(x, weight)
    _checks.grad_and_input(dy, "dy", x, "x")
    dx = _core.empty(x.shape, x.dtype)
    if not x.size:
        return dx, np.zeros(weight.shape, dtype=weight.dtype)
    dw = _core.empty(weight.shape, weight.dtype)
    outer, channels, inner = _prelu_layout(x, weight)
    _core.prelu_bwd(_c(dy), _c(x), _c(weight), dx, dw, outer, channels, inner, get_num_threads())
    return dx, dw


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3, training=False, rng=None):
    """(y, slopes): y = x where x > 0, else slope * x; slope ~ U(lower, upper) per element in
    training, (lower + upper) / 2 in eval; slopes has x's shape and dtype in both modes."""
    _checks.data(x, "x")
    lower, upper = _checks.rrelu_bounds(lower, upper)
    training = _checks.boolean(training, "training")
    if training:
        lo, width = _random.rrelu_coefficients(lower, upper, x.dtype)
        return _random_op("rrelu", x, x.dtype, rng, float(lo), float(width))
    mid = (lower + upper) / 2
    return _unary("leaky_relu", x, mid), np.full(x.shape, mid, dtype=x.dtype)


def rrelu_backward(dy, x, slopes):
    """dx = dy where x > 0, else slopes * dy."""
    _checks.grad_and_input(dy, "dy", x, "x")
    _checks.same_as_input(slopes, "slopes", x)
    return _ternary("rrelu_bwd", dy, x, slopes)


def gaussian_noise(x, stddev, training, rng=None):
    """(y, noise): y = x + noise, noise ~ N(0, stddev^2), in training; (a copy of x, None) in eval.
    Its backward is dy."""
    _checks.data(x, "x")
    stddev, training = _random.noise_args(stddev, training)
    if not training:
        return x.copy(order="C"), None
    return _random_op("gaussian_noise", x, x.dtype, rng, stddev)


def noisy_relu(x, stddev, training, rng=None):
    """(y, noise): y = max(0, x + noise), noise ~ N(0, stddev^2), in training; (relu(x), None) in eval."""
    _checks.data(x, "x")
    stddev, training = _random.noise_args(stddev, training)
    if not training:
        return _unary("relu", x), None
    return _random_op("noisy_relu", x, x.dtype, rng, stddev)


def noisy_relu_backward(dy, x, noise):
    """dx = dy where x + noise > 0 (or is NaN), else 0; noise None means eval (relu_backward)."""
    _checks.grad_and_input(dy, "dy", x, "x")
    _checks.same_as_input(noise, "noise", x, allow_none=True)
    if noise is None:
        return _binary("relu_bwd", dy, x)
    return _ternary("noisy_relu_bwd", dy, x, noise)


def dropout(x, p, training, rng=None):
    """(y, mask): inverted dropout; in training each element is kept with probability 1 - p (mask
    True) and scaled by 1/(1-p), else multiplied by 0; in eval (a copy of x, None)."""
    p, training = _checks.dropout_args(x, p, training)
    if not training:
        return x.copy(order="C"), None
    return _random_op("dropout", x, np.bool_, rng, p, _random.keep_scale(p))


def dropout_backward(dy, mask, p):
    """dx = dy * mask / (1 - p); mask None (eval) gives dx = dy."""
    p = _checks.dropout_backward_args(dy, mask, p)
    if mask is None:
        return dy.copy(order="C")
    return _dropout(dy, mask, _random.keep_scale(p))
