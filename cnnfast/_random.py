"""What the random activations (rrelu, gaussian_noise, noisy_relu, dropout) of cnnfast.reference and
of the C path share, so that one seed gives both the same result: the checks of their random
parameters, and the seed each call draws from the user's numpy.random.Generator.

The seed is two 64-bit words, one small draw per call: the Generator advances, so successive calls
differ, and the same Generator state reproduces a call. The words key the Philox4x32-10 stream
that cnnfast/reference/_random.py specifies and the C kernels (csrc/kernels/random_template.h)
compute in the same pass as the op."""
import numpy as np

from . import _checks


def seed(rng):
    """The call's two 64-bit seed words, drawn from rng (None: a fresh Generator)."""
    s = _checks.generator(rng).integers(0, 2**64, size=2, dtype=np.uint64)
    return int(s[0]), int(s[1])


def rrelu_coefficients(lower, upper, dtype):
    """(lower, upper - lower) rounded to `dtype`: the slope of an element is lower + width * U,
    computed in the dtype (a product and a sum, each rounded), with U uniform in [0, 1)."""
    with np.errstate(over="ignore"):
        return np.array(lower, dtype=dtype)[()], np.array(upper - lower, dtype=dtype)[()]


def noise_args(stddev, training):
    """The checked (stddev, training) of gaussian_noise and noisy_relu."""
    return _checks.real(stddev, "stddev", minimum=0.0), _checks.boolean(training, "training")


def keep_scale(p):
    """dropout's factor for kept elements: 1 / (1 - p), and 0 when p = 1 (everything dropped)."""
    return 0.0 if p == 1.0 else 1.0 / (1.0 - p)
