"""Activation, noise and dropout layers. The random ones (RReLU, GaussianNoise, NoisyReLU,
Dropout) draw from the generator given to build, and are their inference form when
training=False: RReLU a leaky ReLU of slope (lower + upper)/2, GaussianNoise and Dropout the
identity, NoisyReLU a ReLU."""
import numpy as np

from .. import _checks
from .. import functional as F
from . import _common as C
from .base import Layer

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "RReLU", "Activation", "GaussianNoise",
           "NoisyReLU", "Dropout", "Softmax"]


class ReLU(Layer):
    """max(0, x)."""

    def __init__(self, name=None):
        super().__init__(C.name(name))

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        self._keep(training, x.shape[0], x=x)
        return F.relu(x)

    def backward(self, dy):
        return F.relu_backward(dy, self._saved(dy)["x"])


class LeakyReLU(Layer):
    """x where x > 0, else negative_slope * x (Keras' default slope 0.3)."""

    def __init__(self, negative_slope=0.3, name=None):
        super().__init__(C.name(name))
        self.negative_slope = _checks.real(negative_slope, "negative_slope", minimum=0.0)

    def get_config(self):
        return {"negative_slope": self.negative_slope, **super().get_config()}

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        self._keep(training, x.shape[0], x=x)
        return F.leaky_relu(x, self.negative_slope)

    def backward(self, dy):
        return F.leaky_relu_backward(dy, self._saved(dy)["x"], self.negative_slope)


class PReLU(Layer):
    """x where x > 0, else weight[c] * x: one learned slope per channel (axis 1), initialised to
    0.25 as torch.nn.PReLU(num_parameters=C)."""

    def __init__(self, name=None):
        super().__init__(C.name(name))

    def _make_weights(self, rng):
        self._add_param("weight", np.full(self.input_shape[0], 0.25, dtype=self.dtype))

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        self._keep(training, x.shape[0], x=x)
        return F.prelu(x, self.params["weight"])

    def backward(self, dy):
        dx, dweight = F.prelu_backward(dy, self._saved(dy)["x"], self.params["weight"])
        self._store_grads(weight=dweight)
        return dx


class ELU(Layer):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, name=None):
        super().__init__(C.name(name))
        self.alpha = _checks.real(alpha, "alpha")

    def get_config(self):
        return {"alpha": self.alpha, **super().get_config()}

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        self._keep(training, x.shape[0], x=x)
        return F.elu(x, self.alpha)

    def backward(self, dy):
        return F.elu_backward(dy, self._saved(dy)["x"], self.alpha)


class _Random(Layer):
    """A layer that keeps the generator given to build for its draws (attribute rng)."""

    def __init__(self, name=None):
        super().__init__(name)
        self.rng = None

    def _make_weights(self, rng):
        self.rng = rng


class RReLU(_Random):
    """Randomised leaky ReLU: in training each negative element gets a slope ~ U(lower, upper);
    in inference the slope is (lower + upper) / 2."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, name=None):
        super().__init__(C.name(name))
        self.lower, self.upper = _checks.rrelu_bounds(lower, upper)

    def get_config(self):
        return {"lower": self.lower, "upper": self.upper, **super().get_config()}

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        y, slopes = F.rrelu(x, self.lower, self.upper, training, self.rng)
        self._keep(training, x.shape[0], x=x, slopes=slopes)
        return y

    def backward(self, dy):
        saved = self._saved(dy)
        return F.rrelu_backward(dy, saved["x"], saved["slopes"])


class GaussianNoise(_Random):
    """x + N(0, stddev^2) noise in training; the identity in inference."""

    def __init__(self, stddev, name=None):
        super().__init__(C.name(name))
        self.stddev = _checks.real(stddev, "stddev", minimum=0.0)

    def get_config(self):
        return {"stddev": self.stddev, **super().get_config()}

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        y, _ = F.gaussian_noise(x, self.stddev, training, self.rng)
        self._keep(training, x.shape[0])
        return y

    def backward(self, dy):
        self._saved(dy)
        return dy.copy(order="C")


class NoisyReLU(_Random):
    """max(0, x + N(0, stddev^2) noise) in training; max(0, x) in inference."""

    def __init__(self, stddev, name=None):
        super().__init__(C.name(name))
        self.stddev = _checks.real(stddev, "stddev", minimum=0.0)

    def get_config(self):
        return {"stddev": self.stddev, **super().get_config()}

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        y, noise = F.noisy_relu(x, self.stddev, training, self.rng)
        self._keep(training, x.shape[0], x=x, noise=noise)
        return y

    def backward(self, dy):
        saved = self._saved(dy)
        return F.noisy_relu_backward(dy, saved["x"], saved["noise"])


class Dropout(_Random):
    """Inverted dropout: in training each element is zeroed with probability rate and the rest
    scaled by 1/(1 - rate); the identity in inference."""

    def __init__(self, rate, name=None):
        super().__init__(C.name(name))
        self.rate = _checks.real(rate, "rate", minimum=0.0, maximum=1.0)

    def get_config(self):
        return {"rate": self.rate, **super().get_config()}

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        y, mask = F.dropout(x, self.rate, training, self.rng)
        self._keep(training, x.shape[0], mask=mask)
        return y

    def backward(self, dy):
        return F.dropout_backward(dy, self._saved(dy)["mask"], self.rate)


class Softmax(Layer):
    """exp(x) / sum(exp(x)) over `axis` of the batch (default 1: the channels of (C, H, W), the
    features of (F,); channels first, as Keras' channels-last default -1)."""

    def __init__(self, axis=1, name=None):
        super().__init__(C.name(name))
        self.axis = _checks.integer(axis, "axis")
        if self.axis == 0:
            raise ValueError("axis must not be 0, the batch axis")

    def get_config(self):
        return {"axis": self.axis, **super().get_config()}

    def compute_output_shape(self, input_shape):
        if not -len(input_shape) <= self.axis <= len(input_shape):
            raise ValueError(f"{self._label()}: axis = {self.axis} is out of range for a batch of "
                             f"input shape {input_shape} ({len(input_shape) + 1} dimensions)")
        return tuple(input_shape)

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        y = F.softmax(x, self.axis)
        self._keep(training, x.shape[0], y=y)
        return y

    def backward(self, dy):
        return F.softmax_backward(dy, self._saved(dy)["y"], self.axis)


class Activation(Layer):
    """A named activation: 'relu', 'sigmoid', 'tanh', 'elu' (alpha 1), 'leaky_relu' (slope 0.2,
    keras.activations.leaky_relu's), 'softmax' (over axis 1), or 'linear'/None (the identity)."""

    def __init__(self, activation, name=None):
        super().__init__(C.name(name))
        self.activation = activation
        self._activation = C.activation(activation)

    def get_config(self):
        return {"activation": self.activation, **super().get_config()}

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        steps = C.activation_steps(self._activation, False)
        y, kept = C.run_activations(steps, x, training)
        self._keep(training, x.shape[0], activations=kept)
        return y.copy(order="C") if y is x else y

    def backward(self, dy):
        dx = C.backprop_activations(self._saved(dy)["activations"], dy)
        return dx.copy(order="C") if dx is dy else dx
