"""BatchNormalization (channels first) with Keras' momentum and epsilon."""
import numpy as np

from .. import _checks
from .. import functional as F
from . import _common as C
from .base import Layer

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Batch normalisation over axis 1 of (C, H, W) or (F,) inputs.

    Keras' meaning of momentum: running = momentum*running + (1 - momentum)*batch, which is
    PyTorch's BatchNorm2d(momentum=1 - momentum, eps=epsilon); running_var takes the unbiased
    batch variance, as PyTorch. params weight (gamma, ones) and bias (beta, zeros); buffers
    running_mean (zeros) and running_var (ones). In inference the running statistics normalise.
    With `fused_relu` set (by the model, for a ReLU layer it skips) the output is relu of it, in
    one pass (batch_norm_relu), and backward masks dy by y > 0 in the same pass. With
    `fused_pool` set as well (by the model: the MaxPooling2D after that ReLU, whose windows tile
    the plane, which it then skips) the output is that pooling of it (batch_norm_relu_max_pool2d):
    the full-size output is never written, and backward reads x and the pooled arrays only."""

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(C.name(name))
        self.momentum = _checks.real(momentum, "momentum", 0.0, 1.0)
        self.epsilon = _checks.real(epsilon, "epsilon")
        if self.epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {self.epsilon}")
        self.fused_relu = False
        self.fused_pool = None

    def get_config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon, **super().get_config()}

    def compute_output_shape(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise ValueError(f"{self._label()} needs a (C, H, W) or (features,) input shape, got "
                             f"{input_shape}")
        return tuple(input_shape)

    def _make_weights(self, rng):
        c = self.input_shape[0]
        self._add_param("weight", np.ones(c, dtype=self.dtype))
        self._add_param("bias", np.zeros(c, dtype=self.dtype))
        self.buffers["running_mean"] = np.zeros(c, dtype=self.dtype)
        self.buffers["running_var"] = np.ones(c, dtype=self.dtype)

    def forward(self, x, training=False):
        training = self._check_input(x, training)
        if training and x.size == x.shape[1]:
            raise ValueError(f"{self._label()}: training needs more than 1 value per channel, got "
                             f"input of shape {x.shape}")
        args = (x, self.params["weight"], self.params["bias"], self.buffers["running_mean"],
                self.buffers["running_var"], training)
        kw = dict(momentum=1.0 - self.momentum, eps=self.epsilon)
        arg = None
        if self.fused_pool is not None:
            y, save_mean, save_invstd, arg = F.batch_norm_relu_max_pool2d(
                *args, **kw, kernel_size=self.fused_pool.pool_size)
        else:
            op = F.batch_norm_relu if self.fused_relu else F.batch_norm
            y, save_mean, save_invstd = op(*args, **kw)
        self._keep(training, x.shape[0], x=x, save_mean=save_mean, save_invstd=save_invstd,
                   y=y if self.fused_relu else None, arg=arg)
        return y

    def backward(self, dy):
        pool = self.fused_pool
        saved = self._saved(dy, None if pool is None else pool.output_shape)
        args = (saved["x"], self.params["weight"], saved["save_mean"], saved["save_invstd"])
        if saved["arg"] is not None:
            dx, dgamma, dbeta = F.batch_norm_relu_max_pool2d_backward(
                dy, saved["y"], saved["arg"], *args, kernel_size=pool.pool_size)
        elif saved["y"] is not None:
            dx, dgamma, dbeta = F.batch_norm_relu_backward(dy, saved["y"], *args)
        else:
            dx, dgamma, dbeta = F.batch_norm_backward(dy, *args)
        self._store_grads(weight=dgamma, bias=dbeta)
        return dx
