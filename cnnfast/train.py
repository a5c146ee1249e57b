"""python -m cnnfast.train: train a small CNN to tell pneumonia from normal chest X-rays.

    python -m cnnfast.train --data ~/pneumoniamnist.npz --epochs 15 --out demo-out

The model: conv (3x3, same padding) - batch norm - ReLU - max pool blocks, global average
pooling, and a dense layer giving 2 logits (0 = normal, 1 = pneumonia). Images are scaled to
[0, 1] and standardised with the training set's mean and standard deviation. Training uses Adam
and cross-entropy, shows Keras' progress line per epoch, keeps the weights of the epoch with the
best validation accuracy (ties: the lower validation loss), and reports the test accuracy and ROC
AUC there.

Data: --data takes any MedMNIST-format .npz (train/val/test _images and _labels). Without it the
file that the `medmnist` package downloads (~/.medmnist/pneumoniamnist.npz) is used when present,
otherwise a synthetic set made by cnnfast.datasets (labelled as such in the output).

Written to --out: model.npz (cnnfast.load_model reads it), results.json (per-epoch metrics and
times, the test results, the preprocessing constants), and, when matplotlib is installed,
curves.png (loss and accuracy per epoch) and feature_maps.png (the first convolution's output for
one test image).
"""
import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np

from . import callbacks, datasets, layers, metrics, optimizers
from ._cli import positive_float, positive_int
from ._runtime import get_num_threads
from ._runtime import threads as _threads
from .model import Sequential

DEFAULT_WIDTHS = (16, 32, 64)
BN_MOMENTUM = 0.9  # Keras' meaning (torch 0.1): 38 steps an epoch leave 0.99's statistics stale


def build_model(input_shape, widths=DEFAULT_WIDTHS, classes=2, seed=0, dtype="float32"):
    """The demo's CNN for per-sample `input_shape` (C, H, W): one conv-BN-ReLU block per width,
    max pooling (2x2) after every block but the last, global average pooling, dense to `classes`
    logits. Convolutions carry no bias (the batch norm's shift replaces it)."""
    stack = []
    for i, width in enumerate(widths):
        stack += [layers.Conv2D(width, 3, padding="same", use_bias=False),
                  layers.BatchNormalization(momentum=BN_MOMENTUM), layers.ReLU()]
        if i < len(widths) - 1:
            stack.append(layers.MaxPooling2D(2))
    stack += [layers.GlobalAveragePooling2D(), layers.Dense(classes)]
    return Sequential(stack, input_shape=input_shape, dtype=dtype, seed=seed)


class BestEpoch(callbacks.Callback):
    """Keeps the weights of the epoch with the highest val_accuracy (ties broken by the lower
    val_loss), puts them back when training ends, and times each epoch (validation included)."""

    def on_train_begin(self, logs=None):
        self.best_key = None
        self.best_epoch = None
        self.best_weights = None
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._start)
        key = (logs["val_accuracy"], -logs["val_loss"])
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_epoch = key, epoch
            self.best_weights = self.model.state_dict()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


# ---------------------------------------------------------------------------------------------
# command line

def _widths(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text!r}")
    return values


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m cnnfast.train", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Data: a MedMNIST-format .npz (--data), else ~/.medmnist/pneumoniamnist.npz, else a "
               "synthetic set.")
    p.add_argument("--data", metavar="PATH", help="MedMNIST-format .npz (train/val/test _images, _labels)")
    p.add_argument("--epochs", type=positive_int, default=15, help="epochs (default 15)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default 64)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="threads for cnnfast's kernels (default: cnnfast.get_num_threads())")
    p.add_argument("--out", metavar="DIR", default="cnnfast-demo",
                   help="folder for model.npz, results.json and the pictures (default ./cnnfast-demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the shuffling (default 0)")
    p.add_argument("--widths", type=_widths, default=DEFAULT_WIDTHS, metavar="W1,W2,...",
                   help="filters of each conv block (default 16,32,64)")
    p.add_argument("--synthetic-size", type=positive_int, default=600, metavar="N",
                   help="training images of the synthetic set, when it is used (val and test get "
                   "N/4 each; default 600)")
    return p


def find_data(path):
    """(path of the data file to use, None), or (None, why there is none) for the synthetic set."""
    if path is not None:
        return path, None
    cached = os.path.expanduser(datasets.MEDMNIST_CACHE)
    if os.path.isfile(cached):
        return cached, None
    return None, f"no --data given and no {cached}"


def load_data(args, out):
    """{split: (x float32 (N, C, H, W), labels)}, and a description of the source."""
    path, why = find_data(args.data)
    if path is None:
        n = args.synthetic_size
        raw = datasets.synthetic_chest_xrays(n, max(2, n // 4), max(2, n // 4), seed=args.seed)
        source = {"kind": "synthetic", "path": None}
        print(f"Data: SYNTHETIC chest-X-ray-like images made by cnnfast.datasets ({why}); not real "
              f"X-rays, for trying the demo only", file=out)
    else:
        raw = datasets.load_medmnist(path)
        source = {"kind": "file", "path": os.path.abspath(path)}
        print(f"Data: {path}", file=out)
    train_images = raw["train"][0]
    scaled = train_images.astype(np.float64) / 255.0
    mean, std = float(scaled.mean()), float(scaled.std()) or 1.0
    data = {split: (datasets.to_model_input(images, mean, std), labels) for split, (images, labels) in raw.items()}
    shape = data["train"][0].shape[1:]
    counts = ", ".join(f"{len(data[s][1])} {s}" for s in datasets.SPLITS)
    print(f"      {counts}; images {shape[1]}x{shape[2]}, {shape[0]} channel(s); classes in train: "
          f"{np.bincount(data['train'][1]).tolist()}", file=out)
    source.update(mean=mean, std=std, input_shape=list(shape))
    return data, source


def main(argv=None, out=None):
    out = sys.stdout if out is None else out
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        parser.error(f"--out: cannot create {args.out!r}: {e}")
    try:
        data, source = load_data(args, out)
    except (OSError, ValueError) as e:
        parser.error(f"--data: {e}")
    classes = max(2, int(max(labels.max() for _, labels in data.values())) + 1)
    if classes != 2:
        parser.error(f"--data: the demo tells two classes apart, but the labels go up to {classes - 1}")
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (data[s] for s in datasets.SPLITS)
    with _threads(args.threads) if args.threads else contextlib.nullcontext():
        return _run(args, out, source, x_train, y_train, x_val, y_val, x_test, y_test)


def _run(args, out, source, x_train, y_train, x_val, y_val, x_test, y_test):
    try:
        model = build_model(x_train.shape[1:], args.widths, seed=args.seed)
    except ValueError as e:
        print(f"error: the images ({x_train.shape[2]}x{x_train.shape[3]}) are too small for "
              f"{len(args.widths)} blocks: {e}", file=sys.stderr)
        return 2
    model.compile(optimizers.Adam(learning_rate=args.lr), loss="cross_entropy", metrics=["accuracy"])
    model.summary(print_fn=lambda line: print(line, file=out))
    print(f"Adam lr {args.lr:g}, batch {args.batch_size}, {args.epochs} epochs, "
          f"{get_num_threads()} thread(s)", file=out)
    best = BestEpoch()
    out.flush()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), verbose=1, callbacks=[best], seed=args.seed)
    probs = model.predict(x_test, batch_size=256)
    test_accuracy = metrics.accuracy(y_test, probs.argmax(axis=1))
    test_auc = metrics.roc_auc(y_test, probs[:, 1]) if 0 < y_test.sum() < len(y_test) else None
    epoch = best.best_epoch
    times = best.epoch_seconds
    print(f"\nBest validation epoch: {epoch + 1} of {len(times)} (val_accuracy "
          f"{history.history['val_accuracy'][epoch]:.4f}, val_loss {history.history['val_loss'][epoch]:.4f})",
          file=out)
    auc_text = "n/a (one class only)" if test_auc is None else f"{test_auc:.4f}"
    print(f"Test at that epoch: accuracy {test_accuracy:.4f}, ROC AUC {auc_text} ({len(y_test)} images"
          f"{', synthetic' if source['kind'] == 'synthetic' else ''})", file=out)
    print(f"Epoch time: median {np.median(times):.2f} s, first {times[0]:.2f} s, total {sum(times):.1f} s "
          f"(training + validation)", file=out)
    model_path = os.path.join(args.out, "model.npz")
    model.save(model_path)
    results = {"data": source, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
               "seed": args.seed, "widths": list(args.widths), "threads": get_num_threads(),
               "history": history.history, "epoch_seconds": times, "best_epoch": epoch + 1,
               "test_accuracy": test_accuracy, "test_roc_auc": test_auc}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"Saved the model to {model_path} (cnnfast.load_model reads it) and the results to "
          f"{os.path.join(args.out, 'results.json')}", file=out)
    _pictures(args.out, model, history.history, epoch, x_test, y_test, out)
    return 0


def _pictures(folder, model, history, best_epoch, x_test, y_test, out):
    """curves.png and feature_maps.png when matplotlib is installed; a message otherwise."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no pictures (pip install matplotlib for curves.png and "
              "feature_maps.png)", file=out)
        return
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], "o-", label=f"train {key}")
        ax.plot(epochs, history[f"val_{key}"], "o-", label=f"validation {key}")
        ax.axvline(best_epoch + 1, color="gray", linestyle="--", label="best validation epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    curves = os.path.join(folder, "curves.png")
    fig.savefig(curves, dpi=100)
    plt.close(fig)

    index = int(np.flatnonzero(y_test == 1)[0]) if (y_test == 1).any() else 0
    image = x_test[index:index + 1]
    maps = model.layers[0].forward(image, training=False)[0]
    cols = min(8, maps.shape[0])
    rows = 1 + -(-maps.shape[0] // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(image[0, 0], cmap="gray")
    axes[0, 0].set_title(f"input (label {int(y_test[index])})", fontsize=8)
    for k in range(maps.shape[0]):
        ax = axes[1 + k // cols, k % cols]
        ax.imshow(maps[k], cmap="viridis")
        ax.set_title(f"filter {k}", fontsize=8)
    fig.suptitle("first convolution's feature maps")
    fig.tight_layout()
    feature_maps = os.path.join(folder, "feature_maps.png")
    fig.savefig(feature_maps, dpi=100)
    plt.close(fig)
    print(f"Pictures: {curves}, {feature_maps}", file=out)


if __name__ == "__main__":
    sys.exit(main())
