"""cnnfast.Sequential: a Keras-style model over cnnfast.layers, training on cnnfast's C kernels.

    model = cnnfast.Sequential([
        layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
        layers.MaxPooling2D(), layers.GlobalAveragePooling2D(), layers.Dense(2),
    ], input_shape=(1, 28, 28))
    model.compile("adam")
    history = model.fit(x, y, batch_size=64, epochs=10, validation_data=(xv, yv))
    probs = model.predict(x_test)

Data is channels-first: x has shape (N, *input_shape); labels are integer class indices of shape
(N,) (or (N, 1), as MedMNIST stores them). The last layer outputs logits; the loss is softmax +
cross-entropy, averaged over the batch. x of another real dtype is converted to the model's dtype
once per call.

Speed: fusions are planned once when the model is built. A Conv2D or Dense without activation
followed by ReLU() runs with the ReLU fused into the layer (`fused_relu`), and so does a
BatchNormalization followed by ReLU(); the ReLU layer is then skipped. When a MaxPooling2D whose
windows tile the plane (strides = pool_size, no padding) follows that ReLU, the batch norm runs
it too (`fused_pool`, batch_norm_relu_max_pool2d) and it is skipped as well. At inference (predict,
evaluate) a Conv2D or Dense followed by BatchNormalization runs as one layer with the batch norm
folded into its weights; the folded weights are cached until the next optimizer step or
load_state_dict (after writing into the layers' arrays yourself, call `model.weights_changed()`).
A first Conv2D or Conv2DTranspose skips its input gradient (`need_input_grad`), which nothing uses.

Weights: state_dict() / load_state_dict() use torch.nn.Sequential's names ("0.weight",
"1.running_mean", ...), so the weights of the same architecture built in PyTorch load as they are.
save(path) writes one .npz (architecture as JSON + weights); load_model(path) reads it without
pickle and only instantiates classes of cnnfast.layers.
"""
import json
import os
import re
import secrets
import sys
import zipfile
import zlib

import numpy as np

from . import _checks
from . import callbacks as _callbacks
from . import layers as _layers
from . import optimizers as _optimizers
from ._progress import ProgressBar
from ._shapes import BN_POOL_MAX_WINDOW
from .functional import cross_entropy, cross_entropy_backward, fold_batch_norm, softmax
from .layers._common import as_pair
from .layers.base import Layer

__all__ = ["Sequential", "History", "load_model"]

FORMAT = "cnnfast.Sequential"
FORMAT_VERSION = 1
ARCHITECTURE_KEY = "__architecture__"
_LOSSES = ("cross_entropy", "sparse_categorical_crossentropy")
_DTYPES = ("float32", "float64")


def _layer_classes():
    """The classes a model file may name: the Layer subclasses defined in cnnfast.layers."""
    return {obj.__name__: obj for obj in vars(_layers).values()
            if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer
            and obj.__module__.startswith("cnnfast.layers")}


def _snake_case(name):
    """Keras's layer-name rule: Conv2D -> conv2d, BatchNormalization -> batch_normalization."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _describe(index, layer):
    return f"layer {index} '{layer.name}' ({type(layer).__name__})"


class History(_callbacks.Callback):
    """What fit returns: `history` maps each metric (loss, accuracy, val_loss, val_accuracy) to
    its list of per-epoch values; `epoch` lists the epochs run (0-based)."""

    def on_train_begin(self, logs=None):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class Sequential:
    """A stack of cnnfast.layers, built at once for per-sample `input_shape` (channels first).

    dtype: 'float32' or 'float64' (the weights' and the computation's dtype). seed: seeds the
    weight initialisation (numpy.random.default_rng(seed)). Layers without a name get Keras-style
    unique ones ('conv2d', 'conv2d_1', ...)."""

    def __init__(self, layers, input_shape, dtype="float32", seed=None):
        self.layers = self._check_layers(layers)
        self.input_shape = self._check_input_shape(input_shape)
        self.dtype = self._check_dtype(dtype)
        self._name_layers()
        rng = np.random.default_rng(seed)
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = tuple(layer.build(shape, self.dtype, rng))
            except (ValueError, TypeError) as e:
                raise type(e)(f"cannot build {_describe(i, layer)} for input shape {shape}: {e}") from e
        self.output_shape = shape
        self._plan_fusions()
        self.optimizer = None
        self.loss = None
        self.metrics = []
        self.stop_training = False
        self.history = None

    # ---- construction ------------------------------------------------------------------------

    @staticmethod
    def _check_layers(layers):
        if not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers must be a list of cnnfast.layers objects, got {type(layers).__name__}")
        if not layers:
            raise ValueError("layers must hold at least one layer")
        seen = set()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a cnnfast.layers.Layer, got {type(layer).__name__}")
            if id(layer) in seen:
                raise ValueError(f"layers[{i}] ({type(layer).__name__}) appears twice in the list; "
                                 f"each position needs its own layer object")
            if layer.built:
                raise ValueError(f"layers[{i}] ({type(layer).__name__}) is already built (it belongs to "
                                 f"another model); make a new layer object")
            seen.add(id(layer))
        return list(layers)

    @staticmethod
    def _check_input_shape(input_shape):
        if not isinstance(input_shape, (tuple, list)):
            raise TypeError(f"input_shape must be a tuple of ints such as (C, H, W), got "
                            f"{type(input_shape).__name__}")
        if not input_shape:
            raise ValueError("input_shape must have at least one dimension, got ()")
        return tuple(_checks.integer(d, f"input_shape[{i}]", 1) for i, d in enumerate(input_shape))

    @staticmethod
    def _check_dtype(dtype):
        try:
            dt = np.dtype(dtype)
        except TypeError as e:
            raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from e
        if dt.name not in _DTYPES:
            raise TypeError(f"dtype must be 'float32' or 'float64', got {dt.name}")
        return dt

    def _name_layers(self):
        taken = {}
        for i, layer in enumerate(self.layers):
            if layer.name is not None:
                if not isinstance(layer.name, str):
                    raise TypeError(f"layers[{i}].name must be a str or None, got "
                                    f"{type(layer.name).__name__}")
                if layer.name in taken:
                    raise ValueError(f"layers[{taken[layer.name]}] and layers[{i}] are both named "
                                     f"{layer.name!r}; layer names must be unique")
                taken[layer.name] = i
        for i, layer in enumerate(self.layers):
            if layer.name is None:
                base = _snake_case(type(layer).__name__)
                name, k = base, 0
                while name in taken:
                    k += 1
                    name = f"{base}_{k}"
                layer.name = name
                taken[name] = i

    def _plan_fusions(self):
        """Decide once which layers run fused (see the module docstring)."""
        conv_like = (_layers.Conv2D, _layers.Dense)
        relu_fusable = (*conv_like, _layers.BatchNormalization)
        plain_relu = {k: v for k, v in _layers.ReLU().get_config().items() if k != "name"}

        def is_plain_relu(layer):
            return type(layer) is _layers.ReLU and \
                {k: v for k, v in layer.get_config().items() if k != "name"} == plain_relu

        def tiling_max_pool(layer):
            """A MaxPooling2D whose windows tile the plane (batch_norm_relu_max_pool2d's)."""
            if type(layer) is not _layers.MaxPooling2D:
                return False
            kh, kw = as_pair(layer.pool_size)
            return ((layer.strides is None or as_pair(layer.strides) == (kh, kw))
                    and as_pair(layer.padding) == (0, 0) and kh * kw <= BN_POOL_MAX_WINDOW)

        n = len(self.layers)
        self._train_steps = []
        skip = 0
        for i, layer in enumerate(self.layers):
            if skip:
                skip -= 1
                continue
            self._train_steps.append(i)
            if type(layer) in relu_fusable:
                nxt = self.layers[i + 1] if i + 1 < n else None
                plain = type(layer) is _layers.BatchNormalization or layer.activation is None
                layer.fused_relu = bool(plain and nxt is not None and is_plain_relu(nxt))
                skip = int(layer.fused_relu)
            if type(layer) is _layers.BatchNormalization:
                pool = self.layers[i + 2] if layer.fused_relu and i + 2 < n else None
                layer.fused_pool = pool if tiling_max_pool(pool) else None
                if layer.fused_pool is not None:
                    skip = 2
        # nothing uses the gradient of the model's input
        first = self.layers[0] if self.layers else None
        if type(first) in (_layers.Conv2D, _layers.Conv2DTranspose):
            first.need_input_grad = False
        # inference: ("fold", conv index, bn index) or ("layer", index, None)
        self._infer_steps = []
        steps = self._train_steps
        k = 0
        while k < len(steps):
            i = steps[k]
            layer = self.layers[i]
            if (type(layer) in conv_like and layer.activation is None and not layer.fused_relu
                    and k + 1 < len(steps) and steps[k + 1] == i + 1
                    and type(self.layers[i + 1]) is _layers.BatchNormalization):
                self._infer_steps.append(("fold", i, i + 1))
                if self.layers[i + 1].fused_pool is not None:  # the folded batch norm no longer
                    self._infer_steps.append(("layer", i + 3, None))  # runs it: bn, relu, pool
                k += 2
            else:
                self._infer_steps.append(("layer", i, None))
                k += 1
        self._folded = {}

    def weights_changed(self):
        """Forget the cached batch-norm-folded inference weights (done automatically after each
        optimizer step and load_state_dict; call it after writing into the layers' arrays)."""
        self._folded = {}

    # ---- description -------------------------------------------------------------------------

    def count_params(self):
        """The number of trainable parameters."""
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=None):
        """Print each layer's output shape and parameter count (batch-norm statistics counted as
        non-trainable, as Keras does), and the totals."""
        print_fn = print_fn or print
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            n = layer.count_params() + sum(b.size for b in layer.buffers.values())
            rows.append((f"{layer.name} ({type(layer).__name__})", str((None, *layer.output_shape)),
                         f"{n:,}"))
        w0 = max(29, *(len(r[0]) + 2 for r in rows))
        w1 = max(26, *(len(r[1]) + 2 for r in rows))
        width = w0 + w1 + 10
        print_fn('Model: "sequential"')
        print_fn("_" * width)
        for j, (a, b, c) in enumerate(rows):
            print_fn(f" {a:<{w0 - 1}}{b:<{w1}}{c}")
            if j in (0, len(rows) - 1):
                print_fn("=" * width)
        trainable = self.count_params()
        frozen = sum(b.size for layer in self.layers for b in layer.buffers.values())
        print_fn(f"Total params: {trainable + frozen:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {frozen:,}")
        print_fn("_" * width)

    # ---- compile and the training step --------------------------------------------------------

    def compile(self, optimizer, loss="cross_entropy", metrics=("accuracy",)):
        """Choose the optimizer (an instance, or 'sgd' / 'adam' / 'adamw' with defaults), the loss
        ('cross_entropy' or its Keras name 'sparse_categorical_crossentropy': softmax +
        cross-entropy on integer labels) and the metrics (['accuracy'] or [])."""
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {list(_LOSSES)}, got {loss!r}")
        if len(self.output_shape) != 1:
            raise ValueError(f"the cross-entropy loss needs a last layer with per-sample output "
                             f"(classes,), but {_describe(len(self.layers) - 1, self.layers[-1])} "
                             f"outputs {self.output_shape} (add Flatten or GlobalAveragePooling2D "
                             f"and Dense)")
        metrics = [] if metrics is None else [metrics] if isinstance(metrics, str) else list(metrics)
        for m in metrics:
            if m != "accuracy":
                raise ValueError(f"metrics may only hold 'accuracy', got {m!r}")
        self.optimizer = _optimizers.get(optimizer)
        self.loss = "cross_entropy"
        self.metrics = metrics
        self._trainable = [(layer, name) for layer in self.layers for name in layer.params]
        self._params = [layer.params[name] for layer, name in self._trainable]

    def _require_compiled(self, what):
        if self.optimizer is None:
            raise RuntimeError(f"call compile() before {what}")

    def _inputs(self, x, name="x"):
        """x checked against the model's input shape, as a C-contiguous array of its dtype
        (no copy when it already is one)."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
        if x.dtype == np.bool_ or x.dtype.kind not in "fiu":
            raise TypeError(f"{name} must hold real numbers (float or int), got dtype {x.dtype}")
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"{name} has shape {x.shape}, i.e. samples of shape {x.shape[1:]}, but "
                             f"the model's first layer, {_describe(0, self.layers[0])}, takes samples "
                             f"of shape {self.input_shape} (input_shape); {name} must be "
                             f"(N, {', '.join(map(str, self.input_shape))})")
        return np.ascontiguousarray(x, dtype=self.dtype)

    def _labels(self, y, n, name="y"):
        """y as int64 class indices of shape (n,); (n, 1) is accepted and flattened."""
        if isinstance(y, np.ndarray) and y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        try:
            return _checks.class_labels(y, n, self.output_shape[0])
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}: {e}") from e

    def _pair(self, x, y, xname="x", yname="y"):
        x = self._inputs(x, xname)
        if x.shape[0] == 0:
            raise ValueError(f"{xname} holds no samples (shape {x.shape})")
        return x, self._labels(y, x.shape[0], yname)

    def _forward_train(self, x):
        for i in self._train_steps:
            x = self.layers[i].forward(x, training=True)
        return x

    def _forward_infer(self, x):
        for kind, i, j in self._infer_steps:
            layer = self.layers[i]
            if kind == "fold":
                w, b, relu = self._folded_weights(i, j)
                x = layer.call_with(x, w, b, relu)
            else:
                x = layer.forward(x, training=False)
        return x

    def _folded_weights(self, i, j):
        cached = self._folded.get(i)
        if cached is None:
            layer, bn = self.layers[i], self.layers[j]
            w, b = fold_batch_norm(layer.params["weight"], layer.params.get("bias"),
                                   bn.params.get("weight"), bn.params.get("bias"),
                                   bn.buffers["running_mean"], bn.buffers["running_var"], bn.epsilon)
            cached = self._folded[i] = (w, b, bool(bn.fused_relu))
        return cached

    def _train_step(self, x, y):
        """One optimizer step on a checked batch -> (loss, number of correct predictions)."""
        logits = self._forward_train(x)
        loss, probs = cross_entropy(logits, y)
        d = cross_entropy_backward(probs, y)
        for i in reversed(self._train_steps):
            d = self.layers[i].backward(d)
        self.optimizer.step(self._params, [layer.grads[name] for layer, name in self._trainable])
        self._folded = {}
        correct = int(np.count_nonzero(np.argmax(logits, axis=1) == y)) if self.metrics else 0
        return float(loss), correct

    def train_on_batch(self, x, y):
        """One optimizer step on the batch (x, y); returns the batch's mean loss (before the step)."""
        self._require_compiled("train_on_batch")
        x, y = self._pair(x, y)
        return self._train_step(x, y)[0]

    # ---- fit / evaluate / predict -------------------------------------------------------------

    def fit(self, x, y, batch_size=32, epochs=1, validation_data=None, shuffle=True, verbose=1,
            callbacks=None, seed=None):
        """Train for `epochs` passes over (x, y) in batches of `batch_size` (the last one smaller),
        reshuffled each epoch when shuffle (numpy.random.default_rng(seed)). validation_data
        (x_val, y_val) is evaluated after each epoch. verbose: 0 silent, 1 a progress line per
        epoch (redrawn in place on a terminal), 2 the finished line only. Returns a History."""
        self._require_compiled("fit")
        x, y = self._pair(x, y)
        batch_size = _checks.integer(batch_size, "batch_size", 1)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (x_val, y_val)")
            validation_data = self._pair(*validation_data, "validation_data x", "validation_data y")
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, _callbacks.Callback):
                raise TypeError(f"callbacks must be cnnfast.callbacks.Callback objects, got "
                                f"{type(cb).__name__}")
        history = History()
        callbacks = [history, *callbacks]
        for cb in callbacks:
            cb.set_model(self)
        self.history = history
        self.stop_training = False
        rng = np.random.default_rng(seed)
        n = x.shape[0]
        steps = -(-n // batch_size)
        x_batch = np.empty((min(batch_size, n), *x.shape[1:]), self.dtype) if shuffle else None
        y_batch = np.empty(min(batch_size, n), np.int64) if shuffle else None
        stream = sys.stdout
        logs = {}
        for cb in callbacks:
            cb.on_train_begin(logs)
        for epoch in range(epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            if verbose:
                stream.write(f"Epoch {epoch + 1}/{epochs}\n")
            bar = ProgressBar(steps, stream, live=verbose == 1) if verbose else None
            order = rng.permutation(n) if shuffle else None
            loss_sum, correct = 0.0, 0
            for step in range(steps):
                lo, hi = step * batch_size, min((step + 1) * batch_size, n)
                if shuffle:
                    # gather into reused buffers; indices are in range, so mode='clip' (no buffering)
                    xb = np.take(x, order[lo:hi], axis=0, out=x_batch[:hi - lo], mode="clip")
                    yb = np.take(y, order[lo:hi], out=y_batch[:hi - lo], mode="clip")
                else:
                    xb, yb = x[lo:hi], y[lo:hi]
                loss, ok = self._train_step(xb, yb)
                loss_sum += loss * (hi - lo)
                correct += ok
                if bar is not None:
                    bar.update(step + 1, self._logs(loss_sum / hi, correct / hi))
            logs = self._logs(loss_sum / n, correct / n)
            if validation_data is not None:
                val = self._evaluate(*validation_data, batch_size)
                logs.update({f"val_{k}": v for k, v in val.items()})
            if bar is not None:
                bar.finish(logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end(logs)
        return history

    def _logs(self, loss, accuracy):
        logs = {"loss": loss}
        if self.metrics:
            logs["accuracy"] = accuracy
        return logs

    def evaluate(self, x, y, batch_size=32):
        """Loss and metrics over (x, y) in inference mode -> {'loss': ..., 'accuracy': ...}."""
        self._require_compiled("evaluate")
        x, y = self._pair(x, y)
        return self._evaluate(x, y, _checks.integer(batch_size, "batch_size", 1))

    def _evaluate(self, x, y, batch_size):
        n = x.shape[0]
        loss_sum, correct = 0.0, 0
        for lo in range(0, n, batch_size):
            logits = self._forward_infer(x[lo:lo + batch_size])
            yb = y[lo:lo + batch_size]
            loss_sum += float(cross_entropy(logits, yb)[0]) * yb.shape[0]
            if self.metrics:
                correct += int(np.count_nonzero(np.argmax(logits, axis=1) == yb))
        return self._logs(loss_sum / n, correct / n)

    def predict(self, x, batch_size=32):
        """Class probabilities (softmax of the logits), shape (N, *output_shape), in inference
        mode (batch norm uses its running statistics)."""
        x = self._inputs(x)
        batch_size = _checks.integer(batch_size, "batch_size", 1)
        out = np.empty((x.shape[0], *self.output_shape), self.dtype)
        for lo in range(0, x.shape[0], batch_size):
            out[lo:lo + batch_size] = softmax(self._forward_infer(x[lo:lo + batch_size]), axis=-1)
        return out

    # ---- weights -----------------------------------------------------------------------------

    def _named_arrays(self):
        """(entry name, layer index, array) for every parameter and buffer, in torch's order."""
        for i, layer in enumerate(self.layers):
            for name, a in (*layer.params.items(), *layer.buffers.items()):
                yield f"{i}.{name}", i, a

    def state_dict(self):
        """A snapshot (copies) of every parameter and buffer, named as torch.nn.Sequential names
        them: "{index}.weight", "{index}.bias", "{index}.running_mean", "{index}.running_var"."""
        return {key: a.copy() for key, _, a in self._named_arrays()}

    def load_state_dict(self, state):
        """Copy the arrays of `state` (a mapping such as state_dict() or a torch model's
        state_dict(); values anything numpy.asarray takes) into the model's arrays, in place.
        Entries ending in 'num_batches_tracked' are ignored. A missing, unexpected or wrongly
        shaped entry is a ValueError naming it and its layer; nothing is written then."""
        if not hasattr(state, "items"):
            raise TypeError(f"state must be a mapping of names to arrays, got {type(state).__name__}")
        given = {}
        for key, value in state.items():
            if isinstance(key, str) and key.endswith("num_batches_tracked"):
                continue
            given[key] = value
        expected = {key: (i, a) for key, i, a in self._named_arrays()}
        missing = [k for k in expected if k not in given]
        if missing:
            k = missing[0]
            i, a = expected[k]
            raise ValueError(f"state dict has no entry {k!r} for {_describe(i, self.layers[i])} "
                             f"(shape {a.shape})" + (f"; {len(missing)} entries are missing: {missing}"
                                                     if len(missing) > 1 else ""))
        unexpected = [k for k in given if k not in expected]
        if unexpected:
            raise ValueError(f"state dict has the unexpected entry {unexpected[0]!r}"
                             f"{self._whose(unexpected[0])}" +
                             (f"; all unexpected entries: {unexpected}" if len(unexpected) > 1 else ""))
        values = {}
        for k, (i, a) in expected.items():
            v = np.asarray(given[k])
            if v.dtype == np.bool_ or v.dtype.kind not in "fiu":
                raise TypeError(f"state dict entry {k!r} for {_describe(i, self.layers[i])} must hold "
                                f"real numbers, got dtype {v.dtype}")
            if v.shape != a.shape:
                raise ValueError(f"state dict entry {k!r} has shape {v.shape} but "
                                 f"{_describe(i, self.layers[i])} has {k.split('.', 1)[1]!r} of shape "
                                 f"{a.shape}")
            values[k] = v
        for k, (_, a) in expected.items():
            a[...] = values[k]
        self._folded = {}

    def _whose(self, key):
        """' (layer 3 'max_pooling2d' (MaxPooling2D) has no such array)' for an unexpected key."""
        index = key.split(".", 1)[0] if isinstance(key, str) else ""
        if index.isdigit() and int(index) < len(self.layers):
            i = int(index)
            have = [*self.layers[i].params, *self.layers[i].buffers]
            return f": {_describe(i, self.layers[i])} has no such array (it has {have or 'none'})"
        return f": the model has layers 0..{len(self.layers) - 1}"

    def save(self, path):
        """Write the architecture and the weights to one .npz file at `path` (exactly that name),
        replacing it atomically. The optimizer's state is not saved: after load_model, compile
        again (Adam's moments and SGD's momentum start from zero)."""
        classes = _layer_classes()
        specs = []
        for i, layer in enumerate(self.layers):
            cls = type(layer)
            if classes.get(cls.__name__) is not cls:
                raise ValueError(f"{_describe(i, layer)} is not a class of cnnfast.layers and cannot "
                                 f"be saved")
            specs.append({"class_name": cls.__name__, "config": layer.get_config()})
        architecture = {"format": FORMAT, "format_version": FORMAT_VERSION, "dtype": self.dtype.name,
                        "input_shape": list(self.input_shape), "layers": specs}
        arrays = {key: a for key, _, a in self._named_arrays()}
        arrays[ARCHITECTURE_KEY] = np.array(json.dumps(architecture))
        path = os.fspath(path)
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "xb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def load_model(path):
    """The Sequential saved at `path` by Sequential.save, with its weights (not compiled).

    Read without pickle; only classes of cnnfast.layers are instantiated. A file that is not
    such a model (not an .npz, no architecture, another format version, an unknown layer class,
    bad JSON, missing or misshapen weights) is a ValueError saying what is wrong."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        magic = f.read(len(_NPY_MAGIC))
        f.seek(0)
        if magic.startswith(_NPY_MAGIC):
            raise ValueError(f"{path} is not a cnnfast model file: it holds a single .npy array, not "
                             f"an .npz archive")
        if not magic.startswith(_ZIP_MAGIC):
            raise ValueError(f"{path} is not a cnnfast model file: it is not an .npz archive (no zip "
                             f"signature at its start)")
        try:
            data = np.load(f, allow_pickle=False)
        except _READ_ERRORS as e:
            raise ValueError(f"{path} is not a cnnfast model file: it is not a readable .npz archive "
                             f"({type(e).__name__}: {e})") from e
        with data:
            if ARCHITECTURE_KEY not in data.files:
                raise ValueError(f"{path} is not a cnnfast model file: the .npz archive has no "
                                 f"{ARCHITECTURE_KEY!r} entry (its entries: {data.files[:10]})")
            entries = {}
            for key in data.files:
                try:
                    entries[key] = data[key]
                except _READ_ERRORS as e:
                    raise ValueError(f"{path}: the entry {key!r} cannot be read ({type(e).__name__}: "
                                     f"{e})") from e
    spec = _parse_architecture(entries.pop(ARCHITECTURE_KEY), path)
    classes = _layer_classes()
    layers = []
    for i, item in enumerate(spec["layers"]):
        if not isinstance(item, dict) or not isinstance(item.get("class_name"), str) \
                or not isinstance(item.get("config"), dict):
            raise ValueError(f"{path}: layer {i} of the architecture must be "
                             f"{{'class_name': str, 'config': dict}}, got {item!r:.200}")
        cls = classes.get(item["class_name"])
        if cls is None:
            raise ValueError(f"{path}: layer {i} has the unknown layer class {item['class_name']!r:.100} "
                             f"(a model file may only name classes of cnnfast.layers)")
        try:
            layers.append(cls(**item["config"]))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: layer {i} ({cls.__name__}) cannot be made from its config "
                             f"{item['config']!r:.200}: {e}") from e
    try:
        model = Sequential(layers, input_shape=tuple(spec["input_shape"]), dtype=spec["dtype"])
        model.load_state_dict(entries)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from e
    return model


def _parse_architecture(array, path):
    """The architecture entry -> its checked JSON dict."""
    if array.dtype.kind != "U" or array.ndim != 0:
        raise ValueError(f"{path}: the {ARCHITECTURE_KEY!r} entry must be a text scalar, got an array "
                         f"of dtype {array.dtype} and shape {array.shape}")
    try:
        spec = json.loads(str(array[()]))
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{path}: the architecture is not valid JSON ({e})") from e
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(f"{path}: the architecture is not a {FORMAT} description")
    version = spec.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: format version {version!r:.50}; this cnnfast reads version "
                         f"{FORMAT_VERSION}")
    if spec.get("dtype") not in _DTYPES:
        raise ValueError(f"{path}: the architecture's dtype must be one of {list(_DTYPES)}, got "
                         f"{spec.get('dtype')!r:.50}")
    shape = spec.get("input_shape")
    if not isinstance(shape, list) or not shape or \
            not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ValueError(f"{path}: the architecture's input_shape must be a list of positive ints, "
                         f"got {shape!r:.100}")
    if not isinstance(spec.get("layers"), list):
        raise ValueError(f"{path}: the architecture's layers must be a list")
    return spec
