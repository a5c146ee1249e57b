"""Flatten and Dense."""
import math

from .. import _checks
from .. import functional as F
from . import _common as C
from . import initializers
from .base import Layer

__all__ = ["Flatten", "Dense"]


class Flatten(Layer):
    """(C, H, W) -> (C*H*W,) in C, H, W order (as torch.flatten(x, 1)). The output is a view of
    the input when the input is C-contiguous."""

    def __init__(self, name=None):
        super().__init__(C.name(name))

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        self._keep(training, x.shape[0])
        return x.reshape(x.shape[0], *self.output_shape)

    def backward(self, dy):
        saved = self._saved(dy)
        return dy.reshape(saved["n"], *self.input_shape)


class Dense(Layer):
    """y = x @ weight.T + bias on a flat input (F,) -> (units,); weight (units, F), bias (units,).

    With `fused_relu` set (by the model, for a ReLU layer it skips) the output is relu of it,
    and backward masks dy by y > 0."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer=None, name=None):
        super().__init__(C.name(name))
        self.units = _checks.integer(units, "units", 1)
        self.activation = activation
        self._activation = C.activation(activation)
        self.use_bias = _checks.boolean(use_bias, "use_bias")
        self.kernel_initializer = initializers.check_kernel_initializer(kernel_initializer)
        self.fused_relu = False

    def get_config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, **super().get_config()}

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"{self._label()} needs a flat input shape (features,), got "
                             f"{input_shape}; put a Flatten or GlobalAveragePooling2D before it")
        return (self.units,)

    def _make_weights(self, rng):
        shape = (self.units, self.input_shape[0])
        self._add_param("weight", initializers.kernel_weight(self.kernel_initializer, rng, shape,
                                                             self.dtype))
        if self.use_bias:
            self._add_param("bias", initializers.torch_bias(rng, shape, self.units, self.dtype))

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        z = F.linear(x, self.params["weight"], self.params.get("bias"))
        y, kept = C.run_activations(C.activation_steps(self._activation, self.fused_relu), z,
                                    training)
        self._keep(training, x.shape[0], x=x, activations=kept)
        return y

    def backward(self, dy):
        saved = self._saved(dy)
        dz = C.backprop_activations(saved["activations"], dy)
        dx, dweight, dbias = F.linear_backward(dz, saved["x"], self.params["weight"],
                                               need_bias_grad=self.use_bias)
        self._store_grads(weight=dweight, **({"bias": dbias} if self.use_bias else {}))
        return dx

    def call_with(self, x, weight, bias, relu):
        """Inference: x @ weight.T + bias with the given weight and bias, then a ReLU when relu
        is True. Nothing is kept and the layer's own activation is not applied."""
        self._check_input(x)
        relu = _checks.boolean(relu, "relu")
        y = F.linear(x, weight, bias)
        return F.relu(y) if relu else y
