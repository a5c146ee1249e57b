"""What several layers share: constructor-argument validation, and the named activations that
Activation(name) and the `activation=` argument of Conv2D/Conv2DTranspose/Dense accept, with
the chain of them that runs after a convolution or dense product.

Validators return the normalised value; config_value() turns it into its JSON form (a pair
becomes a list, which the constructors accept back)."""
from .. import _checks
from .. import functional as F


def int_or_pair(v, name, minimum):
    """An integer or a pair of integers (tuple or list), each >= minimum -> int or (int, int)."""
    if isinstance(v, (tuple, list)):
        return _checks.pair(v, name, minimum)
    return _checks.integer(v, name, minimum)


def as_pair(v):
    return v if isinstance(v, tuple) else (v, v)


def config_value(v):
    return list(v) if isinstance(v, tuple) else v


def name(v):
    if v is not None and not isinstance(v, str):
        raise TypeError(f"name must be None or a string, got {type(v).__name__} {v!r}")
    return v


# ---- named activations ---------------------------------------------------------------------
# name -> (forward(x) -> y, backward(dy, x, y) -> dx, whether backward reads x).
# softmax runs over axis 1, the channel axis of (N, C, H, W) and the feature axis of (N, F);
# leaky_relu uses keras.activations.leaky_relu's slope 0.2.

_LEAKY_SLOPE = 0.2

ACTIVATIONS = {
    "relu": (F.relu, lambda dy, x, y: F.relu_backward(dy, y), False),
    "sigmoid": (F.sigmoid, lambda dy, x, y: F.sigmoid_backward(dy, y), False),
    "tanh": (F.tanh, lambda dy, x, y: F.tanh_backward(dy, y), False),
    "elu": (F.elu, lambda dy, x, y: F.elu_backward(dy, x), True),
    "leaky_relu": (lambda x: F.leaky_relu(x, _LEAKY_SLOPE),
                   lambda dy, x, y: F.leaky_relu_backward(dy, x, _LEAKY_SLOPE), True),
    "softmax": (lambda x: F.softmax(x, axis=1), lambda dy, x, y: F.softmax_backward(dy, y, axis=1), False),
}


def activation(v, arg="activation"):
    """None, 'linear' (both: no activation) or a key of ACTIVATIONS -> the key or None."""
    if v is None:
        return None
    if not isinstance(v, str):
        raise TypeError(f"{arg} must be None or a string, got {type(v).__name__} {v!r}")
    if v == "linear":
        return None
    if v not in ACTIVATIONS:
        raise ValueError(f"{arg} must be None, 'linear' or one of {sorted(ACTIVATIONS)}, got {v!r}")
    return v


def activation_steps(activation_name, fused_relu):
    """The activations that follow a conv/dense product, in order: the layer's own activation,
    then the ReLU that the model fuses into the layer (unless the activation already is one)."""
    steps = [] if activation_name is None else [activation_name]
    if fused_relu and activation_name != "relu":
        steps.append("relu")
    return steps


def run_activations(steps, z, training):
    """Apply `steps` to z -> (y, kept): kept lists (name, input or None, output) per step for
    backprop_activations, holding an input only where its backward reads it; [] unless training."""
    kept = []
    for step in steps:
        forward, _, needs_input = ACTIVATIONS[step]
        y = forward(z)
        if training:
            kept.append((step, z if needs_input else None, y))
        z = y
    return z, kept


def backprop_activations(kept, dy):
    """The gradient through the steps run_activations kept, last step first."""
    for step, x, y in reversed(kept):
        dy = ACTIVATIONS[step][1](dy, x, y)
    return dy
