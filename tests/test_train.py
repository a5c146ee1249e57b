"""The pneumonia demo: cnnfast.metrics (ROC AUC), cnnfast.datasets (MedMNIST files, the synthetic
set) and python -m cnnfast.train end to end on tiny data."""
import io
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cnnfast
from cnnfast import datasets, metrics, optimizers, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------------------------
# roc_auc

def _auc_pairs(y, s):
    """Brute force: over every (positive, negative) pair, 1 when the positive scores higher, 1/2
    on a tie."""
    pos, neg = s[y == 1], s[y == 0]
    total = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg))
    return total / (len(pos) * len(neg))


@pytest.mark.parametrize("n,levels,seed", [(2, None, 0), (7, 3, 1), (50, None, 2), (200, 5, 3),
                                           (301, 2, 4), (64, 1, 5)])
def test_roc_auc_equals_the_pairwise_count(n, levels, seed):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 2)
    s = rng.standard_normal(n) + 0.7 * y
    if levels is not None:  # many ties
        s = np.round(s * levels / 3) if levels > 1 else np.zeros(n)
    assert metrics.roc_auc(y, s) == pytest.approx(_auc_pairs(y, s), abs=1e-12)
    assert metrics.roc_auc(y.reshape(-1, 1), s.astype(np.float32)) == pytest.approx(_auc_pairs(y, s), abs=1e-12)


def test_roc_auc_extremes():
    y = np.array([0, 0, 1, 1, 0, 1])
    assert metrics.roc_auc(y, y * 2.0) == 1.0
    assert metrics.roc_auc(y, -y) == 0.0
    assert metrics.roc_auc(y, np.ones(6)) == 0.5
    assert metrics.roc_auc([True, False], [0.2, 0.1]) == 1.0
    assert metrics.roc_auc(y, [1, 2, 3, 4, 5, 6]) == pytest.approx(_auc_pairs(y, np.arange(1.0, 7)))


def test_roc_auc_matches_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.standard_normal(500) + y, 1)
    assert metrics.roc_auc(y, s) == pytest.approx(sklearn_metrics.roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("y,s,exc,match", [
    ([1, 1, 1], [0.1, 0.2, 0.3], ValueError, "both classes"),
    ([0, 1, 2], [0.1, 0.2, 0.3], ValueError, "only 0 and 1"),
    ([0, 1], [0.1, np.nan], ValueError, "NaN"),
    ([0, 1], [0.1, 0.2, 0.3], ValueError, "same length"),
    ([[0, 1], [1, 0]], [0.1, 0.2], ValueError, "y_true must be 1-D"),
    ([0, 1], [[0.1, 0.2]], ValueError, "y_score must be 1-D"),
    (["a", "b"], [0.1, 0.2], TypeError, "y_true"),
    ([0, 1], ["a", "b"], TypeError, "y_score"),
])
def test_roc_auc_refuses(y, s, exc, match):
    with pytest.raises(exc, match=match):
        metrics.roc_auc(y, s)


def test_accuracy():
    assert metrics.accuracy([0, 1, 1, 0], np.array([0, 1, 0, 0])) == 0.75
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])


# ---------------------------------------------------------------------------------------------
# datasets

def test_synthetic_set_is_medmnist_shaped_balanced_and_deterministic():
    a = datasets.synthetic_chest_xrays(40, 10, 12, size=20, seed=7)
    b = datasets.synthetic_chest_xrays(40, 10, 12, size=20, seed=7)
    c = datasets.synthetic_chest_xrays(40, 10, 12, size=20, seed=8)
    for split, n in (("train", 40), ("val", 10), ("test", 12)):
        images, labels = a[split]
        assert images.shape == (n, 20, 20) and images.dtype == np.uint8
        assert labels.shape == (n,) and np.bincount(labels).tolist() == [n // 2, n // 2]
        np.testing.assert_array_equal(images, b[split][0])
        np.testing.assert_array_equal(labels, b[split][1])
        assert not np.array_equal(images, c[split][0])
    assert 30 < a["train"][0].mean() < 220  # a picture, not a saturated one


@pytest.mark.parametrize("kw,match", [({"n_train": 0}, "n_train"), ({"size": 4}, "size"),
                                      ({"n_val": 2.5}, "n_val")])
def test_synthetic_set_refuses(kw, match):
    with pytest.raises(ValueError, match=match):
        datasets.synthetic_chest_xrays(**kw)


def test_synthetic_set_is_learnable():
    """A ridge-regression probe on 4x4-pooled pixels and their squares separates the classes on
    held-out images (the CNN does better: see the train tests); with shuffled labels it cannot."""
    raw = datasets.synthetic_chest_xrays(400, 2, 200, size=28, seed=0)

    def features(images):
        x = images.astype(np.float64).reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)) / 255
        x = x.reshape(len(images), -1)
        return np.hstack([x, x ** 2, np.ones((len(x), 1))])

    def probe(x, y):
        return np.linalg.solve(x.T @ x + 1e-2 * np.eye(x.shape[1]), x.T @ (2.0 * y - 1.0))

    x, y = features(raw["train"][0]), raw["train"][1]
    xt, yt = features(raw["test"][0]), raw["test"][1]
    assert metrics.roc_auc(yt, xt @ probe(x, y)) > 0.75
    shuffled = np.random.default_rng(0).permutation(y)
    assert abs(metrics.roc_auc(yt, xt @ probe(x, shuffled)) - 0.5) < 0.1


def _write_medmnist(path, raw, **replace):
    arrays = {f"{s}_{k}": v for s, (images, labels) in raw.items()
              for k, v in (("images", images), ("labels", labels.reshape(-1, 1)))}
    arrays.update(replace)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def test_load_medmnist_round_trip(tmp_path):
    raw = datasets.synthetic_chest_xrays(8, 4, 4, size=12)
    data = datasets.load_medmnist(_write_medmnist(tmp_path / "d.npz", raw))
    for split in datasets.SPLITS:
        np.testing.assert_array_equal(data[split][0], raw[split][0])
        np.testing.assert_array_equal(data[split][1], raw[split][1])
        assert data[split][1].dtype == np.int64


@pytest.mark.parametrize("replace,match", [
    ({"val_labels": None}, "missing key.*val_labels"),
    ({"test_images": np.zeros((4, 12, 12), np.float32)}, "test_images must be uint8"),
    ({"train_labels": np.zeros((3, 1), np.int64)}, r"train_labels must be \(8, 1\)"),
    ({"train_labels": np.zeros((8, 1), np.float32)}, "integers"),
    ({"val_images": np.zeros((4, 13, 12), np.uint8)}, "differ in size"),
    ({"val_images": np.zeros((4, 12), np.uint8)}, "val_images must be"),
    ({"test_images": np.array([object()] * 4)}, "test split unreadable"),
])
def test_load_medmnist_refuses(tmp_path, replace, match):
    raw = datasets.synthetic_chest_xrays(8, 4, 4, size=12)
    path = _write_medmnist(tmp_path / "d.npz", raw, **replace)
    with pytest.raises(ValueError, match=match):
        datasets.load_medmnist(path)


def test_load_medmnist_refuses_other_files(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="not a MedMNIST .npz archive"):
        datasets.load_medmnist(path)
    (tmp_path / "t.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a readable .npz"):
        datasets.load_medmnist(tmp_path / "t.npz")


def test_to_model_input_channels_first_scaled():
    gray = np.array([[[0, 255], [51, 102]]], np.uint8)
    np.testing.assert_allclose(datasets.to_model_input(gray), [[[[0, 1], [0.2, 0.4]]]], rtol=1e-6)
    rgb = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    x = datasets.to_model_input(rgb, mean=0.5, std=0.25)
    assert x.shape == (2, 3, 3, 4) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x[1, 2, 0, 1], (rgb[1, 0, 1, 2] / 255 - 0.5) / 0.25, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# python -m cnnfast.train

def test_build_model_is_the_demo_architecture():
    model = train.build_model((1, 28, 28))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"] * 2 + \
        ["Conv2D", "BatchNormalization", "ReLU", "GlobalAveragePooling2D", "Dense"]
    assert model.output_shape == (2,)


def test_train_command_on_the_synthetic_set(tmp_path):
    """A subprocess, HOME pointing at an empty folder (no MedMNIST cache): the synthetic set."""
    out = tmp_path / "out"
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "cnnfast.train", "--epochs", "1", "--synthetic-size", "48",
                           "--widths", "4,8", "--batch-size", "16", "--threads", "1", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC" in proc.stdout
    assert "Best validation epoch: 1 of 1" in proc.stdout
    assert "Test at that epoch: accuracy" in proc.stdout
    assert "matplotlib" in proc.stdout or "Pictures:" in proc.stdout
    model = cnnfast.load_model(out / "model.npz")
    assert model.input_shape == (1, 28, 28)
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["kind"] == "synthetic" and results["best_epoch"] == 1
    assert 0 <= results["test_accuracy"] <= 1


def test_train_on_a_medmnist_file_restores_the_best_epoch(tmp_path, capsys):
    raw = datasets.synthetic_chest_xrays(64, 16, 16, size=16, seed=3)
    data = _write_medmnist(tmp_path / "d.npz", raw)
    status = train.main(["--data", str(data), "--epochs", "3", "--widths", "4,8", "--batch-size", "16",
                         "--out", str(tmp_path / "o")])
    text = capsys.readouterr().out
    assert status == 0
    assert "SYNTHETIC" not in text and f"Data: {data}" in text
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    best = results["best_epoch"] - 1
    val = results["history"]["val_accuracy"]
    assert val[best] == max(val)
    # the saved model is the best epoch's: its validation accuracy is the one recorded there
    model = cnnfast.load_model(tmp_path / "o" / "model.npz")
    model.compile("adam")
    x_val = datasets.to_model_input(raw["val"][0], results["data"]["mean"], results["data"]["std"])
    assert model.evaluate(x_val, raw["val"][1])["accuracy"] == pytest.approx(val[best])


def test_train_draws_the_pictures_with_matplotlib(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("HOME", str(tmp_path))
    status = train.main(["--epochs", "2", "--synthetic-size", "32", "--widths", "4", "--out", str(tmp_path)])
    assert status == 0 and "Pictures:" in capsys.readouterr().out
    for name in ("curves.png", "feature_maps.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_refuses_bad_data(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, train_images=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(SystemExit):
        train.main(["--data", str(bad), "--out", str(tmp_path / "o")])
    assert "missing key" in capsys.readouterr().err
    raw = datasets.synthetic_chest_xrays(8, 4, 4, size=12)
    raw["train"] = (raw["train"][0], raw["train"][1] * 2)
    with pytest.raises(SystemExit):
        train.main(["--data", str(_write_medmnist(tmp_path / "three.npz", raw)), "--out", str(tmp_path / "o")])
    assert "two classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main(["--epochs", "0"])
