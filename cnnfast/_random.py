"""The random draws of rrelu, gaussian_noise, noisy_relu and dropout, shared by cnnfast.reference
and the C path, so that one seed gives both the same draws.

Draws are made in the data's dtype (NumPy's float32 generators for float32 data): a float64 draw
cast down costs several times the op itself. The arithmetic on them runs in C."""
import numpy as np

from . import _checks


def uniform(rng, lower, upper, shape, dtype):
    """Samples of U(lower, upper) in `dtype` (rrelu's slopes)."""
    u = _checks.generator(rng).random(shape, dtype=dtype)
    u *= upper - lower
    u += lower
    return u


def noise(x, stddev, training, rng):
    """Validate stddev/training; in training, N(0, stddev^2) samples of x's shape and dtype, else None."""
    stddev = _checks.real(stddev, "stddev", minimum=0.0)
    training = _checks.boolean(training, "training")
    if not training:
        return None
    z = _checks.generator(rng).standard_normal(x.shape, dtype=x.dtype)
    z *= stddev
    return z


def keep_mask(rng, p, shape):
    """dropout's mask: True where an element is kept (probability 1 - p)."""
    return _checks.generator(rng).random(shape, dtype=np.float32) >= np.float32(p)
