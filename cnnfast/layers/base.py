"""The contract every layer of cnnfast.layers follows, and which cnnfast.Sequential relies on.

A layer is a small object around the functional C ops (cnnfast.functional):

- Constructed with its Keras-style arguments only; no weights exist yet. Arguments are validated
  in the constructor (ValueError / TypeError naming the argument).
- ``build(input_shape, dtype, rng)`` makes the weights for one sample's shape (channels first:
  ``(C, H, W)`` or ``(F,)``, no batch axis), in ``dtype`` (float32 or float64), drawn from ``rng``
  (a numpy.random.Generator) with PyTorch's default initialisation unless the layer was given a
  ``kernel_initializer``. It sets ``input_shape`` and ``output_shape`` (per sample) and returns the
  output shape. An input shape the layer cannot take is a ValueError naming the layer.
- ``forward(x, training)`` takes a batch ``(N, *input_shape)`` and returns ``(N, *output_shape)``;
  with ``training=True`` it keeps what ``backward`` needs (and nothing when False).
- ``backward(dy)`` returns dx for the last training forward and stores the parameter gradients
  in ``grads`` (overwritten, not accumulated). Conv layers whose ``need_input_grad`` attribute the
  model cleared (its first layer) return None instead of dx.
- ``params``: an ordered dict name -> array of trainable parameters, with PyTorch's names
  (``weight``, ``bias``) and layouts (conv OIHW, dense (out, in)); optimizers update these
  arrays in place, so a layer never replaces them after ``build``. ``grads`` has the same keys.
- ``buffers``: an ordered dict of non-trained state with PyTorch's names (``running_mean``,
  ``running_var``), updated in place.
- ``get_config()``: the constructor arguments as a JSON-serialisable dict, so that
  ``type(layer)(**layer.get_config())`` makes the same layer (used by save/load_model).

What the layers add on top (cnnfast/layers/*.py):

- ``forward`` checks its input with ``_check_input``: a non-array or another dtype than the one
  built for is a TypeError, another per-sample shape or ndim a ValueError; both name the layer
  (class and name) and both shapes.
- ``grads`` holds one array per parameter, made in ``build`` and overwritten in place by each
  ``backward``, so references to it stay valid.
- A training forward keeps in ``_cache`` only what ``backward`` needs; an inference forward
  clears it, and ``backward`` without a training forward before it is a RuntimeError.
"""
import numpy as np

from .. import _checks


class Layer:
    """Base class: holds the shared bookkeeping; subclasses override build/forward/backward."""

    def __init__(self, name=None):
        self.name = name
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self.dtype = None
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self._cache = None

    def build(self, input_shape, dtype, rng):
        """Make the weights for per-sample `input_shape`; return the per-sample output shape."""
        input_shape = _checks.shape_tuple(input_shape, f"{self._label()}: input_shape")
        if not input_shape or 0 in input_shape:
            raise ValueError(f"{self._label()}: input_shape must be a non-empty shape of positive "
                             f"sizes, got {input_shape}")
        dtype = np.dtype(dtype)
        if dtype not in _checks.FLOAT_DTYPES:
            raise TypeError(f"{self._label()}: dtype must be float32 or float64, got {dtype}")
        rng = _checks.generator(rng)
        self.input_shape = input_shape
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.dtype = dtype
        self._cache = None
        self.params, self.grads, self.buffers = {}, {}, {}
        self._make_weights(rng)
        self.built = True
        return self.output_shape

    def _make_weights(self, rng):
        """Fill params/buffers for self.input_shape and self.dtype (default: no weights)."""

    def compute_output_shape(self, input_shape):
        """Per-sample output shape for a per-sample input shape (default: unchanged)."""
        return tuple(input_shape)

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def get_config(self):
        """Constructor arguments as a JSON-serialisable dict."""
        return {} if self.name is None else {"name": self.name}

    def count_params(self):
        return sum(p.size for p in self.params.values())

    # ---- helpers the layers share ------------------------------------------------------------

    def _label(self):
        """How messages name this layer: its class, and its name when it has one."""
        cls = type(self).__name__
        return cls if self.name is None else f"{cls} {self.name!r}"

    def _check_input(self, x, training=False):
        """x must be a batch (N, *input_shape) of the dtype the layer was built for; the
        TypeError/ValueError names the layer and both shapes. Returns `training` as a bool."""
        if not self.built:
            raise RuntimeError(f"{self._label()} is not built: call build(input_shape, dtype, rng) first")
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self._label()} expects a numpy.ndarray input, got {type(x).__name__}")
        if x.dtype != self.dtype:
            raise TypeError(f"{self._label()} was built for {self.dtype.name} input, "
                            f"got {x.dtype}")
        if x.ndim != len(self.input_shape) + 1 or x.shape[1:] != self.input_shape:
            raise ValueError(f"{self._label()} expects input of shape (N, "
                             f"{', '.join(map(str, self.input_shape))}) "
                             f"(per sample {self.input_shape}), got {x.shape}")
        return _checks.boolean(training, "training")

    def _add_param(self, name, value):
        """A trainable parameter and its gradient array (zeros until the first backward)."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def _store_grads(self, **grads):
        """Write the gradients into the arrays of `grads` (their identity never changes)."""
        for name, g in grads.items():
            np.copyto(self.grads[name], g)

    def _keep(self, training, n, **arrays):
        """After a forward of batch size n: keep `arrays` for backward in training, else nothing."""
        self._cache = dict(arrays, n=n) if training else None

    def _saved(self, dy, output_shape=None):
        """Start of backward: dy must be (N, *output_shape) of the layer's dtype (output_shape:
        the layer's unless given), N the batch size of the last training forward, whose kept
        arrays are returned (a dict). RuntimeError when no training forward came before."""
        saved = self._cache
        if saved is None:
            raise RuntimeError(f"{self._label()}: backward needs a forward with training=True first")
        if not isinstance(dy, np.ndarray):
            raise TypeError(f"{self._label()}: dy must be a numpy.ndarray, got {type(dy).__name__}")
        if dy.dtype != self.dtype:
            raise TypeError(f"{self._label()}: dy must have dtype {self.dtype.name}, got {dy.dtype}")
        want = (saved["n"], *(self.output_shape if output_shape is None else output_shape))
        if dy.shape != want:
            raise ValueError(f"{self._label()}: dy must have shape {want} (the last training "
                             f"forward's output), got {dy.shape}")
        return saved

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
