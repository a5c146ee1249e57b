"""Pooling layers: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D (channels first)."""
from .. import _shapes
from .. import functional as F
from . import _common as C
from .base import Layer

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"]


def _input_chw(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(f"{layer._label()} needs a (C, H, W) input shape, got {input_shape}")
    return input_shape


class _Pooling2D(Layer):
    """pool_size, strides (None: pool_size) and padding (zero or more, at most half the pool
    size, as PyTorch) each an int or a pair; windows as torch's max_pool2d/avg_pool2d (floor)."""

    def __init__(self, pool_size=2, strides=None, padding=0, name=None):
        super().__init__(C.name(name))
        self.pool_size = C.int_or_pair(pool_size, "pool_size", 1)
        self.strides = None if strides is None else C.int_or_pair(strides, "strides", 1)
        self.padding = C.int_or_pair(padding, "padding", 0)
        for pad, k in zip(C.as_pair(self.padding), C.as_pair(self.pool_size)):
            if pad > k // 2:
                raise ValueError(f"padding = {self.padding} must be at most half of pool_size = "
                                 f"{self.pool_size} on each axis")

    def get_config(self):
        return {"pool_size": C.config_value(self.pool_size), "strides": C.config_value(self.strides),
                "padding": C.config_value(self.padding), **super().get_config()}

    def _pool_args(self):
        return dict(kernel_size=self.pool_size, stride=self.strides, padding=self.padding)

    def compute_output_shape(self, input_shape):
        c, h, w = _input_chw(self, input_shape)
        stride = self.pool_size if self.strides is None else self.strides
        try:
            out = [_shapes.pool_out_size(type(self).__name__, axis, size, k, st, pad, 1, False)
                   for axis, size, k, st, pad in zip(("height", "width"), (h, w),
                                                     C.as_pair(self.pool_size), C.as_pair(stride),
                                                     C.as_pair(self.padding))]
        except ValueError as e:
            raise ValueError(f"{self._label()} cannot take input shape {input_shape}: {e}") from None
        return (c, *out)


class MaxPooling2D(_Pooling2D):
    """Max pooling; backward sends each gradient to its window's maximum."""

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        y, indices = F.max_pool2d(x, **self._pool_args())
        self._keep(training, x.shape[0], indices=indices)
        return y

    def backward(self, dy):
        saved = self._saved(dy)
        return F.max_pool2d_backward(dy, saved["indices"], (saved["n"], *self.input_shape))


class AveragePooling2D(_Pooling2D):
    """Average pooling; padding counts in the divisor (PyTorch's count_include_pad=True)."""

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        self._keep(training, x.shape[0])
        return F.avg_pool2d(x, **self._pool_args())

    def backward(self, dy):
        saved = self._saved(dy)
        return F.avg_pool2d_backward(dy, (saved["n"], *self.input_shape), **self._pool_args())


class GlobalAveragePooling2D(Layer):
    """(C, H, W) -> (C,): the mean of each plane."""

    def __init__(self, name=None):
        super().__init__(C.name(name))

    def compute_output_shape(self, input_shape):
        return (_input_chw(self, input_shape)[0],)

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        self._keep(training, x.shape[0])
        return F.global_avg_pool2d(x)

    def backward(self, dy):
        saved = self._saved(dy)
        return F.global_avg_pool2d_backward(dy, (saved["n"], *self.input_shape))
