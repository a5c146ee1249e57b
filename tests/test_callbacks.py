"""Callbacks (hook order, stop_training, EarlyStopping, ModelCheckpoint) and fit's progress output."""
import io
import re

import numpy as np
import pytest

import cnnfast
from cnnfast import callbacks
from cnnfast._progress import ProgressBar

from model_helpers import blobs, small_cnn


def _compiled(seed=0):
    model = small_cnn(seed=seed)
    model.compile(cnnfast.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    return model


class Script(callbacks.Callback):
    """Puts scripted values of the metric 'score' into each epoch's logs (it runs before the
    callbacks listed after it) and records the weights at each epoch's end."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]
        self.weights.append(self.model.state_dict())


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def _assert_same_weights(model, state):
    for (k, a), b in zip(model.state_dict().items(), state.values()):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_hooks_run_in_order_with_the_model_set():
    model = _compiled()
    x, y = blobs(12)
    rec = Recorder()
    model.fit(x, y, epochs=2, batch_size=5, validation_data=(x, y), verbose=0, callbacks=[rec])
    assert rec.model is model
    keys = "['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    assert rec.calls == ["train_begin", "epoch_begin 0", f"epoch_end 0 {keys}", "epoch_begin 1",
                         f"epoch_end 1 {keys}", "train_end"]


def test_stop_training_ends_fit_after_the_epoch():
    class StopAt(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    model = _compiled()
    x, y = blobs(12)
    assert len(model.fit(x, y, epochs=10, verbose=0, callbacks=[StopAt()]).history["loss"]) == 2
    assert len(model.fit(x, y, epochs=3, verbose=0).history["loss"]) == 3    # reset by the next fit


@pytest.mark.parametrize("patience, mode, scores, epochs_run, best", [
    (0, "min", [3, 2, 2.5, 1, 0], 3, 1),
    (2, "min", [3, 2, 2.5, 1, 1.5, 1.6, 1.7], 6, 3),
    (2, "max", [1, 2, 2, 3, 3, 3, 4], 6, 3),
    (3, "min", [5, 4, 3, 2, 1], 5, 4),
])
def test_early_stopping_patience_and_restore(patience, mode, scores, epochs_run, best):
    model = _compiled()
    x, y = blobs(12)
    script = Script(scores)
    stop = callbacks.EarlyStopping(monitor="score", patience=patience, mode=mode,
                                   restore_best_weights=True)
    history = model.fit(x, y, epochs=len(scores), batch_size=6, verbose=0,
                        callbacks=[script, stop])
    assert len(history.history["loss"]) == epochs_run
    assert stop.best_epoch == best and stop.best == scores[best]
    assert stop.stopped_epoch == (epochs_run - 1 if epochs_run < len(scores) else None)
    _assert_same_weights(model, script.weights[best])


def test_early_stopping_min_delta_and_auto_mode():
    assert callbacks.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert callbacks.EarlyStopping().mode == "min"
    model = _compiled()
    x, y = blobs(12)
    stop = callbacks.EarlyStopping(monitor="score", min_delta=0.5, patience=2, mode="min")
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[Script([3, 2.8, 2.6, 1, 0]), stop])
    assert len(history.history["loss"]) == 3        # 2.8 and 2.6 are not better by 0.5


def test_early_stopping_without_restore_keeps_the_last_weights():
    model = _compiled()
    x, y = blobs(12)
    script = Script([1, 2, 3])
    model.fit(x, y, epochs=3, verbose=0,
              callbacks=[script, callbacks.EarlyStopping(monitor="score", patience=1)])
    _assert_same_weights(model, script.weights[-1])


def test_early_stopping_on_val_loss_without_validation_warns_and_goes_on():
    model = _compiled()
    x, y = blobs(12)
    with pytest.warns(RuntimeWarning, match="val_loss"):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.EarlyStopping()])
    assert len(history.history["loss"]) == 3


@pytest.mark.parametrize("kw, exc", [
    (dict(patience=-1), ValueError), (dict(patience=1.5), TypeError), (dict(mode="up"), ValueError),
    (dict(monitor=3), TypeError), (dict(min_delta=-0.1), ValueError),
])
def test_early_stopping_bad_arguments(kw, exc):
    with pytest.raises(exc, match=next(iter(kw))):
        callbacks.EarlyStopping(**kw)


def test_model_checkpoint_save_best_only(tmp_path):
    model = _compiled()
    x, y = blobs(12)
    scores = [3, 1, 2, 0.5, 0.7]
    script = Script(scores)
    every = callbacks.ModelCheckpoint(tmp_path / "ep{epoch:02d}-{loss:.2f}.npz", monitor="score",
                                      save_best_only=True)
    best = callbacks.ModelCheckpoint(tmp_path / "best.npz", monitor="score", save_best_only=True)
    model.fit(x, y, epochs=len(scores), verbose=0, callbacks=[script, every, best])
    saved = sorted(p.name[:4] for p in tmp_path.glob("ep*.npz"))
    assert saved == ["ep01", "ep02", "ep04"]
    _assert_same_weights(cnnfast.load_model(tmp_path / "best.npz"), script.weights[3])


def test_model_checkpoint_every_epoch(tmp_path):
    model = _compiled()
    x, y = blobs(12)
    script = Script([0, 0, 0])
    path = tmp_path / "last.npz"
    model.fit(x, y, epochs=3, verbose=0, callbacks=[script, callbacks.ModelCheckpoint(path)])
    _assert_same_weights(cnnfast.load_model(path), script.weights[-1])
    model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0,
              callbacks=[callbacks.ModelCheckpoint(tmp_path / "v{epoch}.npz", save_best_only=True)])
    assert (tmp_path / "v1.npz").exists()


# ---- progress output --------------------------------------------------------------------------

LINE = re.compile(r"^3/3 \[=+\] - \d+s \d+(ms|us|s)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}"
                  r"( - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4})?$")


def test_verbose_1_prints_one_line_per_epoch_to_a_non_terminal(capsys):
    model = _compiled()
    x, y = blobs(12)
    model.fit(x, y, epochs=2, batch_size=5, validation_data=(x, y), verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert LINE.match(lines[1]) and LINE.match(lines[3]), lines
    assert "val_loss" in lines[1]


@pytest.mark.parametrize("verbose", [0, 2])
def test_verbose_0_is_silent_and_2_prints_lines(capsys, verbose):
    model = _compiled()
    x, y = blobs(12)
    model.fit(x, y, epochs=2, batch_size=5, verbose=verbose)
    model.evaluate(x, y)
    model.predict(x)
    out = capsys.readouterr()
    assert out.err == ""
    if verbose == 0:
        assert out.out == ""
    else:
        assert len(out.out.splitlines()) == 4 and "\r" not in out.out


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_in_place_on_a_terminal():
    stream = FakeTerminal()
    bar = ProgressBar(4, stream, width=8, interval=0.0)
    for step in range(1, 4):
        bar.update(step, {"loss": 1.0 / step})
    bar.finish({"loss": 0.25, "accuracy": 0.5})
    out = stream.getvalue()
    assert out.count("\r") == 4 and out.endswith("\n") and out.count("\n") == 1
    frames = out.split("\r")[1:]
    assert frames[0].startswith("1/4 [=>......] - ETA:") and "loss: 1.0000" in frames[0]
    assert frames[2].startswith("3/4 [=====>..]")
    assert re.match(r"4/4 \[========\] - \d+s \d+us/step - loss: 0\.2500 - accuracy: 0\.5000 *\n",
                    frames[3])
    assert len(frames[3].rstrip("\n")) >= len(frames[2])     # the longer old line is blanked out


def test_progress_writes_only_the_final_line_elsewhere():
    stream = io.StringIO()
    bar = ProgressBar(2, stream, interval=0.0)
    bar.update(1, {"loss": 0.5})
    assert stream.getvalue() == ""
    bar.finish({"loss": 1e-5})
    assert stream.getvalue().endswith("- loss: 1.0000e-05\n")
