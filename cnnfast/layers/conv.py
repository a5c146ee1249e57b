"""Convolution layers: Conv2D and Conv2DTranspose (channels first, PyTorch weight layouts)."""
from .. import _checks, _shapes
from .. import functional as F
from . import _common as C
from . import initializers
from .base import Layer

__all__ = ["Conv2D", "Conv2DTranspose"]


def _input_chw(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(f"{layer._label()} needs a (C, H, W) input shape, got {input_shape}")
    return input_shape


class Conv2D(Layer):
    """2-D convolution (cross-correlation) -> (filters, H', W').

    weight (filters, C // groups, R, S), bias (filters,). padding: 'valid', 'same' (stride 1;
    the odd extra row/column goes after, as PyTorch), an int or a pair. With activation='relu',
    or with `fused_relu` set (by the model, for a ReLU layer it skips), the ReLU is applied in
    the convolution's store and backward masks dy by y > 0. With `need_input_grad` cleared (by
    the model, for its first layer) backward skips the input gradient and returns None."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, groups=1,
                 use_bias=True, activation=None, kernel_initializer=None, name=None):
        super().__init__(C.name(name))
        self.filters = _checks.integer(filters, "filters", 1)
        self.kernel_size = C.int_or_pair(kernel_size, "kernel_size", 1)
        self.strides = C.int_or_pair(strides, "strides", 1)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"padding must be 'valid', 'same', an integer or a pair, got {padding!r}")
            if padding == "same" and C.as_pair(self.strides) != (1, 1):
                raise ValueError(f"padding='same' needs strides 1, got strides = {self.strides}")
            self.padding = padding
        else:
            self.padding = C.int_or_pair(padding, "padding", 0)
        self.dilation_rate = C.int_or_pair(dilation_rate, "dilation_rate", 1)
        self.groups = _checks.integer(groups, "groups", 1)
        if self.filters % self.groups:
            raise ValueError(f"filters = {self.filters} is not divisible by groups = {self.groups}")
        self.use_bias = _checks.boolean(use_bias, "use_bias")
        self.activation = activation
        self._activation = C.activation(activation)
        self.kernel_initializer = initializers.check_kernel_initializer(kernel_initializer)
        self.fused_relu = False
        self.need_input_grad = True

    def get_config(self):
        return {"filters": self.filters, "kernel_size": C.config_value(self.kernel_size),
                "strides": C.config_value(self.strides), "padding": C.config_value(self.padding),
                "dilation_rate": C.config_value(self.dilation_rate), "groups": self.groups,
                "use_bias": self.use_bias, "activation": self.activation,
                "kernel_initializer": self.kernel_initializer, **super().get_config()}

    def _conv_args(self):
        return dict(stride=self.strides, padding=self.padding, dilation=self.dilation_rate,
                    groups=self.groups)

    def compute_output_shape(self, input_shape):
        c, h, w = _input_chw(self, input_shape)
        if c % self.groups:
            raise ValueError(f"{self._label()}: input channels {c} (input shape {input_shape}) are "
                             f"not divisible by groups = {self.groups}")
        (r, s), stride, dilation = (C.as_pair(v) for v in (self.kernel_size, self.strides,
                                                           self.dilation_rate))
        top, bottom, left, right = _shapes.conv_padding(self.padding, r, s, stride, dilation)
        try:
            p = _shapes.conv_out_size("Conv2D", "height", h, r, stride[0], top, bottom, dilation[0])
            q = _shapes.conv_out_size("Conv2D", "width", w, s, stride[1], left, right, dilation[1])
        except ValueError as e:
            raise ValueError(f"{self._label()} cannot take input shape {input_shape}: {e}") from None
        return (self.filters, p, q)

    def _make_weights(self, rng):
        shape = (self.filters, self.input_shape[0] // self.groups, *C.as_pair(self.kernel_size))
        self._add_param("weight", initializers.kernel_weight(self.kernel_initializer, rng, shape,
                                                             self.dtype))
        if self.use_bias:
            self._add_param("bias", initializers.torch_bias(rng, shape, self.filters, self.dtype))

    def _steps(self):
        """(whether the ReLU runs in the convolution's store, the activations after it)."""
        steps = C.activation_steps(self._activation, self.fused_relu)
        if steps and steps[0] == "relu":
            return True, steps[1:]
        return False, steps

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        store_relu, steps = self._steps()
        z = F.conv2d(x, self.params["weight"], self.params.get("bias"), **self._conv_args(),
                     activation="relu" if store_relu else None)
        y, kept = C.run_activations(steps, z, training)
        if store_relu:
            kept.insert(0, ("relu", None, z))
        self._keep(training, x.shape[0], x=x, activations=kept)
        return y

    def backward(self, dy):
        saved = self._saved(dy)
        dz = C.backprop_activations(saved["activations"], dy)
        dx, dweight, dbias = F.conv2d_backward(dz, saved["x"], self.params["weight"],
                                               **self._conv_args(), need_bias_grad=self.use_bias,
                                               need_input_grad=self.need_input_grad)
        self._store_grads(weight=dweight, **({"bias": dbias} if self.use_bias else {}))
        return dx

    def call_with(self, x, weight, bias, relu):
        """Inference: this layer's convolution of x with the given weight and bias (e.g. batch
        norm folded in), followed by a ReLU (fused in the store) when relu is True. Nothing is
        kept and the layer's own activation is not applied."""
        self._check_input(x)
        relu = _checks.boolean(relu, "relu")
        return F.conv2d(x, weight, bias, **self._conv_args(), activation="relu" if relu else None)


class Conv2DTranspose(Layer):
    """Transposed 2-D convolution (PyTorch's ConvTranspose2d) -> (filters, H', W') with
    H' = (H - 1)*strides - 2*padding + kernel_size + output_padding.

    weight (C_in, filters, R, S), bias (filters,); output_padding must be smaller than strides.
    `need_input_grad` as for Conv2D."""

    def __init__(self, filters, kernel_size, strides=1, padding=0, output_padding=0, use_bias=True,
                 activation=None, kernel_initializer=None, name=None):
        super().__init__(C.name(name))
        self.filters = _checks.integer(filters, "filters", 1)
        self.kernel_size = C.int_or_pair(kernel_size, "kernel_size", 1)
        self.strides = C.int_or_pair(strides, "strides", 1)
        self.padding = C.int_or_pair(padding, "padding", 0)
        self.output_padding = C.int_or_pair(output_padding, "output_padding", 0)
        for op_pad, st in zip(C.as_pair(self.output_padding), C.as_pair(self.strides)):
            if op_pad >= st:
                raise ValueError(f"output_padding = {self.output_padding} must be smaller than "
                                 f"strides = {self.strides} on each axis")
        self.use_bias = _checks.boolean(use_bias, "use_bias")
        self.activation = activation
        self._activation = C.activation(activation)
        self.kernel_initializer = initializers.check_kernel_initializer(kernel_initializer)
        self.need_input_grad = True

    def get_config(self):
        return {"filters": self.filters, "kernel_size": C.config_value(self.kernel_size),
                "strides": C.config_value(self.strides), "padding": C.config_value(self.padding),
                "output_padding": C.config_value(self.output_padding), "use_bias": self.use_bias,
                "activation": self.activation, "kernel_initializer": self.kernel_initializer,
                **super().get_config()}

    def _conv_args(self):
        return dict(stride=self.strides, padding=self.padding, output_padding=self.output_padding)

    def compute_output_shape(self, input_shape):
        _, h, w = _input_chw(self, input_shape)
        out = []
        for size, k, st, pad, op_pad in zip((h, w), *(C.as_pair(v) for v in (
                self.kernel_size, self.strides, self.padding, self.output_padding))):
            n = (size - 1) * st - 2 * pad + k + op_pad
            if n < 1:
                raise ValueError(f"{self._label()} cannot take input shape {input_shape}: an output "
                                 f"size would be {n} < 1 ((input {size} - 1)*strides {st} - "
                                 f"2*padding {pad} + kernel_size {k} + output_padding {op_pad})")
            out.append(n)
        return (self.filters, *out)

    def _make_weights(self, rng):
        shape = (self.input_shape[0], self.filters, *C.as_pair(self.kernel_size))
        self._add_param("weight", initializers.kernel_weight(self.kernel_initializer, rng, shape,
                                                             self.dtype))
        if self.use_bias:
            self._add_param("bias", initializers.torch_bias(rng, shape, self.filters, self.dtype))

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        z = F.conv_transpose2d(x, self.params["weight"], self.params.get("bias"), **self._conv_args())
        y, kept = C.run_activations(C.activation_steps(self._activation, False), z, training)
        self._keep(training, x.shape[0], x=x, activations=kept)
        return y

    def backward(self, dy):
        saved = self._saved(dy)
        dz = C.backprop_activations(saved["activations"], dy)
        dx, dweight, dbias = F.conv_transpose2d_backward(dz, saved["x"], self.params["weight"],
                                                         **self._conv_args(),
                                                         need_bias_grad=self.use_bias,
                                                         need_input_grad=self.need_input_grad)
        self._store_grads(weight=dweight, **({"bias": dbias} if self.use_bias else {}))
        return dx
