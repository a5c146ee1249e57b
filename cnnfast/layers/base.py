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
  in ``grads`` (overwritten, not accumulated).
- ``params``: an ordered dict name -> array of trainable parameters, with PyTorch's names
  (``weight``, ``bias``) and layouts (conv OIHW, dense (out, in)); optimizers update these
  arrays in place, so a layer never replaces them after ``build``. ``grads`` has the same keys.
- ``buffers``: an ordered dict of non-trained state with PyTorch's names (``running_mean``,
  ``running_var``), updated in place.
- ``get_config()``: the constructor arguments as a JSON-serialisable dict, so that
  ``type(layer)(**layer.get_config())`` makes the same layer (used by save/load_model).
"""


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

    def build(self, input_shape, dtype, rng):
        """Make the weights for per-sample `input_shape`; return the per-sample output shape."""
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(self.compute_output_shape(self.input_shape))
        self.dtype = dtype
        self.built = True
        return self.output_shape

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

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
