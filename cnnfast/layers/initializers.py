"""Weight initialisers: PyTorch's defaults, and the Keras ones a layer's kernel_initializer names.

Fans are computed as PyTorch and Keras both do for our layouts: for a weight of shape
(a, b, *kernel), fan_in = b * prod(kernel) and fan_out = a * prod(kernel). That is (out, in) for
dense, OIHW for conv (in = channels per group) and (C_in, C_out/groups, R, S) for a transposed
conv, whose fan_in is therefore C_out/groups * R * S, as torch computes it.

Draws are made in float64 from the given numpy.random.Generator and cast to the layer's dtype."""
import math

import numpy as np

__all__ = ["fans", "torch_default", "torch_bias", "check_kernel_initializer", "kernel_weight",
           "KERNEL_INITIALIZERS"]

# stddev of a unit normal truncated to [-2, 2] (Keras' VarianceScaling correction)
_TRUNCATED_STD = 0.87962566103423978


def fans(shape):
    """(fan_in, fan_out) of a weight of `shape` (see the module docstring)."""
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _uniform(rng, bound, shape, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def torch_default(rng, shape, dtype):
    """torch.nn.init.kaiming_uniform_(a=sqrt(5)), the default of Conv2d/ConvTranspose2d/Linear
    weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    fan_in, _ = fans(shape)
    return _uniform(rng, 1.0 / math.sqrt(fan_in), shape, dtype)


def torch_bias(rng, weight_shape, size, dtype):
    """PyTorch's default bias of `size` entries for a weight of `weight_shape`:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in."""
    fan_in, _ = fans(weight_shape)
    return _uniform(rng, 1.0 / math.sqrt(fan_in), (size,), dtype)


def _truncated_normal(rng, std, shape, dtype):
    """N(0, std^2) truncated to [-2 std, 2 std], out-of-range draws redrawn (as Keras)."""
    z = rng.standard_normal(size=shape)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(z) > 2.0
    return (z * std).astype(dtype)


def _variance_scaling(scale, mode, distribution):
    def init(rng, shape, dtype):
        fan_in, fan_out = fans(shape)
        n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        variance = scale / max(1.0, n)
        if distribution == "uniform":
            return _uniform(rng, math.sqrt(3.0 * variance), shape, dtype)
        return _truncated_normal(rng, math.sqrt(variance) / _TRUNCATED_STD, shape, dtype)
    return init


KERNEL_INITIALIZERS = {
    "he_normal": _variance_scaling(2.0, "fan_in", "truncated_normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "truncated_normal"),
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "truncated_normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
}


def check_kernel_initializer(value, name="kernel_initializer"):
    """None (PyTorch's default) or the name of one of KERNEL_INITIALIZERS."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be None or a string, got {type(value).__name__} {value!r}")
    if value not in KERNEL_INITIALIZERS:
        raise ValueError(f"{name} must be None or one of {sorted(KERNEL_INITIALIZERS)}, got {value!r}")
    return value


def kernel_weight(initializer, rng, shape, dtype):
    """A weight of `shape`: PyTorch's default when `initializer` is None, else the named one."""
    if initializer is None:
        return torch_default(rng, shape, dtype)
    return KERNEL_INITIALIZERS[initializer](rng, shape, dtype)
