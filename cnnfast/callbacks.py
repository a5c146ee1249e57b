"""Callbacks for Sequential.fit, as in Keras: subclass Callback and override the hooks you need.

    fit(..., callbacks=[EarlyStopping(patience=3, restore_best_weights=True),
                        ModelCheckpoint("best.npz", save_best_only=True)])

Epochs are counted from 0 in the hooks; `logs` holds the epoch's metrics (loss, accuracy,
val_loss, val_accuracy when validation data was given). A callback stops training by setting
`self.model.stop_training = True`; fit then ends after the current epoch.
"""
import math
import warnings

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint"]


class Callback:
    """Base class; `self.model` is the model being trained (set by fit before on_train_begin)."""

    def __init__(self):
        self.model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class _Monitor:
    """What EarlyStopping and ModelCheckpoint share: which metric, which direction is better."""

    def __init__(self, monitor, mode, min_delta):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name (str), got {type(monitor).__name__}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)):
            raise TypeError(f"min_delta must be a real number, got {type(min_delta).__name__}")
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta}")
        self.monitor = monitor
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode
        self.min_delta = float(min_delta)
        self._warned = False

    def initial_best(self):
        return math.inf if self.mode == "min" else -math.inf

    def improved(self, current, best):
        if self.mode == "min":
            return current < best - self.min_delta
        return current > best + self.min_delta

    def value(self, logs, who):
        """The monitored value from logs, or None (with one warning) when it is absent."""
        value = (logs or {}).get(self.monitor)
        if value is None and not self._warned:
            self._warned = True
            warnings.warn(f"{who}: the monitored metric {self.monitor!r} is not among the epoch's "
                          f"metrics {sorted(logs or {})} (val_* metrics need validation_data)",
                          RuntimeWarning, stacklevel=3)
        return value


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved (by more than min_delta) for `patience` epochs.

    mode 'auto' watches metrics whose name contains 'acc' for a rise and anything else for a
    fall. With restore_best_weights=True the weights (parameters and batch-norm statistics) of
    the best epoch are put back when training ends. `stopped_epoch` and `best_epoch` tell what
    happened (0-based; stopped_epoch None when it never stopped training)."""

    def __init__(self, monitor="val_loss", patience=0, restore_best_weights=False, mode="auto",
                 min_delta=0):
        super().__init__()
        self._monitor = _Monitor(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int):
            raise TypeError(f"patience must be an int, got {type(patience).__name__}")
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.patience = patience
        self.restore_best_weights = bool(restore_best_weights)
        self.monitor = monitor
        self.mode = self._monitor.mode
        self.min_delta = self._monitor.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.best = self._monitor.initial_best()
        self.best_epoch = None
        self.best_weights = None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs, "EarlyStopping")
        if current is None:
            return
        if self._monitor.improved(current, self.best):
            self.best = current
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (Sequential.save) at the end of each epoch, or with save_best_only=True only
    when `monitor` improved. `path` may hold format fields filled from the epoch (1-based) and its
    metrics, e.g. "ckpt-{epoch:02d}-{val_loss:.3f}.npz"."""

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__()
        self.path = path
        self._monitor = _Monitor(monitor, mode, 0)
        self.monitor = monitor
        self.mode = self._monitor.mode
        self.save_best_only = bool(save_best_only)

    def on_train_begin(self, logs=None):
        self.best = self._monitor.initial_best()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = self._monitor.value(logs, "ModelCheckpoint")
            if current is None or not self._monitor.improved(current, self.best):
                return
            self.best = current
        self.model.save(str(self.path).format(epoch=epoch + 1, **logs))
