"""Optimizers with torch.optim's update rules, so the same model and weights follow the same
trajectory here and in PyTorch.

    opt = cnnfast.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    opt.step(params, grads)          # lists of arrays; each param is updated in place

An optimizer keeps per-parameter state (momentum buffers, Adam moments) keyed by the parameter
array itself: a model's layers never replace their parameter arrays, so the state follows them.
Every update is written into the parameter array in place: SGD's with NumPy's out= arithmetic on
scratch buffers made at the first step, Adam's by one C call per parameter (cnnfast.adam_step's
kernel, which rounds every operation as NumPy would), so a step allocates nothing.
`learning_rate` is a plain attribute: a schedule may change it between steps.
"""
import math

import numpy as np

from . import _core, _shapes
from ._runtime import get_num_threads
from .functional import adam_step

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "get"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _real(value, name, low=0.0, high=math.inf, high_open=False):
    """A finite real number in [low, high] (or [low, high) when high_open), as a Python float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and low <= value and (value < high if high_open else value <= high)):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in [{low}, {high}{bracket}, got {value}")
    return value


class Optimizer:
    """Base class: holds the hyper-parameters and the per-parameter state.

    Subclasses implement `_update(p, g, state)` for one parameter array p and its gradient g."""

    def __init__(self, learning_rate, weight_decay):
        self.learning_rate = _real(learning_rate, "learning_rate")
        self.weight_decay = _real(weight_decay, "weight_decay")
        self.iterations = 0
        self._state = {}

    def step(self, params, grads):
        """One update of every array in `params` (in place) from the matching array in `grads`."""
        if len(params) != len(grads):
            raise ValueError(f"step got {len(params)} parameters but {len(grads)} gradients")
        for p, g in zip(params, grads):
            if g.shape != p.shape:
                raise ValueError(f"a gradient of shape {g.shape} was given for a parameter of shape "
                                 f"{p.shape}")
        self.iterations += 1
        for p, g in zip(params, grads):
            entry = self._state.get(id(p))
            if entry is None or entry[0] is not p:
                # the state holds p itself, so its id cannot be reused by another array meanwhile
                entry = self._state[id(p)] = (p, {"step": 0})
            state = entry[1]
            state["step"] += 1
            self._update(p, g, state)

    def reset(self):
        """Forget all per-parameter state (as a freshly made optimizer)."""
        self.iterations = 0
        self._state = {}

    def _update(self, p, g, state):
        raise NotImplementedError

    def get_config(self):
        """Hyper-parameters as a dict (the constructor's arguments)."""
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent as torch.optim.SGD (dampening 0):

        d = g + weight_decay * p
        buf = d at the first step, else momentum * buf + d      (when momentum > 0)
        d = d + momentum * buf if nesterov else buf
        p -= learning_rate * d
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.momentum = _real(momentum, "momentum")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {type(nesterov).__name__}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.nesterov = bool(nesterov)

    def _update(self, p, g, state):
        t = _buffer(state, "scratch", p)
        d = g
        if self.weight_decay:
            np.multiply(p, self.weight_decay, out=t)
            t += g
            d = t
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= self.momentum
                buf += d
            if self.nesterov:
                e = _buffer(state, "extra", p)
                np.multiply(buf, self.momentum, out=e)
                e += d
                d = e
            else:
                d = buf
        np.multiply(d, self.learning_rate, out=t)
        p -= t

    def get_config(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}


def _buffer(state, name, p):
    """A scratch array for p, made at its first use."""
    if name not in state:
        state[name] = np.empty_like(p)
    return state[name]


class Adam(Optimizer):
    """Adam as torch.optim.Adam (amsgrad off); weight_decay is L2, added to the gradient:

        g = g + weight_decay * p
        m = lerp(m, g, 1 - beta_1);  v = beta_2 * v + (1 - beta_2) * g * g
        p -= (learning_rate / (1 - beta_1**t)) * m / (sqrt(v) / sqrt(1 - beta_2**t) + epsilon)

    Each step is cnnfast.adam_step on the parameter, which it updates in place: parameters must be
    C-contiguous and writeable (a model's are); any gradient layout is taken."""

    _decoupled = False

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = _real(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = _real(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = _real(epsilon, "epsilon")

    def _update(self, p, g, state):
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros(p.shape, p.dtype)
            state["exp_avg_sq"] = np.zeros(p.shape, p.dtype)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        hyper = (state["step"], self.learning_rate, self.beta_1, self.beta_2, self.epsilon,
                 self.weight_decay, self._decoupled)
        if (p.dtype in _FLOATS and g.dtype == p.dtype and p.flags.c_contiguous and
                p.flags.writeable and g.flags.c_contiguous and not np.may_share_memory(p, g)):
            # a model's own arrays: the hyper-parameters were checked when the optimizer was made
            _core.adam_step(p, g, m, v, _shapes.adam_coefficients(*hyper), get_num_threads())
        else:
            adam_step(p, g, m, v, *hyper)   # anything else: checked (a clear error) first

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "weight_decay": self.weight_decay}


class AdamW(Adam):
    """AdamW as torch.optim.AdamW: decoupled weight decay, p *= 1 - learning_rate * weight_decay,
    then the Adam step on the plain gradient."""

    _decoupled = True

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.01):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay)


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


def get(identifier):
    """An Optimizer instance as given, or a new one with default settings from its name
    ('sgd', 'adam', 'adamw')."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"optimizer must be one of {sorted(_BY_NAME)} or an Optimizer instance, "
                             f"got {identifier!r}")
        return cls()
    raise TypeError(f"optimizer must be a name or a cnnfast.optimizers.Optimizer, got "
                    f"{type(identifier).__name__}")
