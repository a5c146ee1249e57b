"""Activations (group d) in plain NumPy: the specification of cnnfast's C activations.

Every function computes in float64 and returns a fresh array of the input's dtype. Conventions
follow torch.nn.functional:
  - the ReLU family propagates NaN (relu(nan) = nan);
  - the backward passes follow PyTorch's choice at the kink and for NaN inputs: relu and elu route
    the gradient to dy where `x <= 0` is false (so also for NaN), leaky/prelu/rrelu where `x > 0`.

Random activations (rrelu, gaussian_noise, noisy_relu, dropout) take a numpy.random.Generator
(`rng`, default a fresh one). In training each call draws one seed from it (two 64-bit words, so the
Generator advances and successive calls differ) and expands it into one number per element with
the counter-based generator Philox4x32-10 (reference/_random.py specifies the stream: uniforms U in
[0, 1) and standard normals Z). cnnfast's C versions compute the same stream in their kernels, so
the same seed gives the same result: the same uniforms bit for bit, normals within a few ulp.
What they return next to y, for their backward pass:
  - rrelu -> slopes: an array of x's shape and dtype, the slope applied where x <= 0. Training:
    lower + (upper - lower) * U per element, computed in x's dtype (drawn for every element, used
    only where x <= 0). Eval: every element is (lower + upper) / 2. rrelu_backward(dy, x, slopes)
    serves both modes.
  - gaussian_noise, noisy_relu -> noise: the added stddev * Z array in training, None in eval
    (nothing was drawn). The backward of gaussian_noise is dy itself.
  - dropout -> mask: the bool keep-mask in training, True (kept, scaled by 1/(1-p)) where U >= p
    with U the float32 uniforms of the stream whatever x's dtype (p = 1 drops everything), None in
    eval (dropout is the identity).
"""
import numpy as np

from .. import _checks, _random
from . import _random as _stream

__all__ = ["relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "elu", "elu_backward",
           "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "prelu", "prelu_backward",
           "rrelu", "rrelu_backward", "gaussian_noise", "noisy_relu", "noisy_relu_backward",
           "dropout", "dropout_backward"]


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _out(v, like):
    """A fresh C-contiguous array of like's dtype (0-d stays 0-d)."""
    return np.array(v, dtype=like.dtype, order="C")


def relu(x):
    """max(0, x); NaN propagates."""
    _checks.data(x, "x")
    v = _f64(x)
    return _out(np.where(v > 0, v, np.where(np.isnan(v), v, 0.0)), x)


def relu_backward(dy, x):
    """dx = dy where x > 0 (or x is NaN), else 0."""
    _checks.grad_and_input(dy, "dy", x, "x")
    return _out(np.where(_f64(x) <= 0, 0.0, _f64(dy)), x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    _checks.data(x, "x")
    s = _checks.coefficient(negative_slope, "negative_slope", x.dtype)
    v = _f64(x)
    return _out(np.where(v > 0, v, v * s), x)


def leaky_relu_backward(dy, x, negative_slope=0.01):
    """dx = dy where x > 0, else negative_slope * dy."""
    _checks.grad_and_input(dy, "dy", x, "x")
    s = _checks.coefficient(negative_slope, "negative_slope", x.dtype)
    g = _f64(dy)
    return _out(np.where(_f64(x) > 0, g, g * s), x)


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    _checks.data(x, "x")
    a = _checks.coefficient(alpha, "alpha", x.dtype)
    v = _f64(x)
    return _out(np.where(v > 0, v, a * np.expm1(np.minimum(v, 0.0))), x)


def elu_backward(dy, x, alpha=1.0):
    """dx = dy * alpha * exp(x) where x <= 0, else dy."""
    _checks.grad_and_input(dy, "dy", x, "x")
    a = _checks.coefficient(alpha, "alpha", x.dtype)
    v, g = _f64(x), _f64(dy)
    return _out(np.where(v <= 0, g * a * np.exp(np.minimum(v, 0.0)), g), x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed as e / (1 + e) with e = exp(x) for x < 0 (no overflow, and
    results in the subnormal range stay nonzero)."""
    _checks.data(x, "x")
    v = _f64(x)
    e = np.exp(-np.abs(v))
    return _out(np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), x)


def sigmoid_backward(dy, y):
    """dx = dy * y * (1 - y), y = sigmoid(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    s = _f64(y)
    return _out(_f64(dy) * s * (1.0 - s), y)


def tanh(x):
    """The hyperbolic tangent."""
    _checks.data(x, "x")
    return _out(np.tanh(_f64(x)), x)


def tanh_backward(dy, y):
    """dx = dy * (1 - y^2), y = tanh(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    t = _f64(y)
    return _out(_f64(dy) * (1.0 - t * t), y)


def _channel_slopes(x, weight):
    """weight (1,) or (C,) shaped to broadcast along axis 1 of x."""
    w = _f64(weight)
    if x.ndim < 2 or w.shape[0] == 1:
        return w[0]
    return w.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu(x, weight):
    """x where x > 0, else weight[c] * x, c the index on axis 1 (weight (1,) or (C,))."""
    _checks.prelu_weight(x, weight)
    v = _f64(x)
    return _out(np.where(v > 0, v, v * _channel_slopes(x, weight)), x)


def prelu_backward(dy, x, weight):
    """(dx, dweight): dx = dy where x > 0 else weight[c] * dy; dweight[c] = sum of x * dy over
    the elements of channel c with x <= 0 (all channels summed when weight has shape (1,))."""
    _checks.prelu_weight(x, weight)
    _checks.grad_and_input(dy, "dy", x, "x")
    v, g = _f64(x), _f64(dy)
    pos = v > 0
    dx = np.where(pos, g, g * _channel_slopes(x, weight))
    contrib = np.where(pos, 0.0, v * g)
    if x.ndim >= 2 and weight.shape[0] != 1:
        dw = contrib.sum(axis=tuple(a for a in range(x.ndim) if a != 1))
    else:
        dw = np.array([contrib.sum()])
    return _out(dx, x), _out(dw, weight)


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3, training=False, rng=None):
    """(y, slopes): y = x where x > 0, else slope * x; slope ~ U(lower, upper) per element in
    training, (lower + upper) / 2 in eval. See the module docstring for `slopes`."""
    _checks.data(x, "x")
    lower, upper = _checks.rrelu_bounds(lower, upper)
    training = _checks.boolean(training, "training")
    if training:
        lo, width = _random.rrelu_coefficients(lower, upper, x.dtype)
        u = _stream.uniforms(_random.seed(rng), x.size, x.dtype).astype(x.dtype).reshape(x.shape)
        slopes = lo + width * u  # in x's dtype, as the C kernels compute it
    else:
        slopes = np.full(x.shape, (lower + upper) / 2, dtype=x.dtype)
    v = _f64(x)
    return _out(np.where(v > 0, v, v * _f64(slopes)), x), slopes


def rrelu_backward(dy, x, slopes):
    """dx = dy where x > 0, else slopes * dy."""
    _checks.grad_and_input(dy, "dy", x, "x")
    _checks.same_as_input(slopes, "slopes", x)
    g = _f64(dy)
    return _out(np.where(_f64(x) > 0, g, g * _f64(slopes)), x)


def _noise(x, stddev, training, rng):
    """stddev * Z of x's shape and dtype in training, None in eval."""
    stddev, training = _random.noise_args(stddev, training)
    if not training:
        return None
    z = _stream.normals(_random.seed(rng), x.size, x.dtype).reshape(x.shape)
    return _out(stddev * z, x)


def gaussian_noise(x, stddev, training, rng=None):
    """(y, noise): y = x + noise, noise ~ N(0, stddev^2) per element, in training; (x, None) in eval.
    Its backward is dy."""
    _checks.data(x, "x")
    noise = _noise(x, stddev, training, rng)
    if noise is None:
        return x.copy(order="C"), None
    return _out(_f64(x) + _f64(noise), x), noise


def noisy_relu(x, stddev, training, rng=None):
    """(y, noise): y = max(0, x + noise), noise ~ N(0, stddev^2), in training; (relu(x), None) in eval."""
    _checks.data(x, "x")
    noise = _noise(x, stddev, training, rng)
    if noise is None:
        return relu(x), None
    # x + noise is formed in x's dtype, exactly as the C path does, then rectified.
    return relu(_out(_f64(x) + _f64(noise), x)), noise


def noisy_relu_backward(dy, x, noise):
    """dx = dy where x + noise > 0 (or is NaN), else 0; noise None means eval (relu_backward)."""
    _checks.grad_and_input(dy, "dy", x, "x")
    _checks.same_as_input(noise, "noise", x, allow_none=True)
    if noise is None:
        return relu_backward(dy, x)
    return relu_backward(dy, _out(_f64(x) + _f64(noise), x))


def dropout(x, p, training, rng=None):
    """(y, mask): inverted dropout. Training: each element is kept with probability 1 - p
    (mask True) and scaled by 1/(1-p), else zeroed (multiplied by 0, so NaN stays NaN, as PyTorch).
    Eval: (a copy of x, None)."""
    p, training = _checks.dropout_args(x, p, training)
    if not training:
        return x.copy(order="C"), None
    mask = _stream.uniforms(_random.seed(rng), x.size, np.float32).reshape(x.shape) >= p
    return _out(_f64(x) * (mask * _random.keep_scale(p)), x), mask


def dropout_backward(dy, mask, p):
    """dx = dy * mask / (1 - p); mask None (eval) gives dx = dy."""
    p = _checks.dropout_backward_args(dy, mask, p)
    if mask is None:
        return dy.copy(order="C")
    return _out(_f64(dy) * (mask * _random.keep_scale(p)), dy)
