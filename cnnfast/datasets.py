"""Data for the pneumonia demo: MedMNIST-format .npz files and a synthetic stand-in.

A MedMNIST-format file holds the keys train_images, train_labels, val_images, val_labels,
test_images, test_labels; images are (N, H, W) or (N, H, W, C) uint8, labels (N, 1) integers.
`load_medmnist` reads one and checks it; `synthetic_chest_xrays` makes a set of the same format
(chest-X-ray-like pictures, label 1 = diffuse opacities in the lungs, like pneumonia) so the demo
runs where no real data is at hand; `to_model_input` turns images into the float (N, C, H, W)
batches the model takes.
"""
import os

import numpy as np

__all__ = ["SPLITS", "MEDMNIST_CACHE", "load_medmnist", "synthetic_chest_xrays", "to_model_input"]

SPLITS = ("train", "val", "test")
MEDMNIST_CACHE = os.path.join("~", ".medmnist", "pneumoniamnist.npz")


class DataError(ValueError):
    """A data file that is not in MedMNIST format (missing key, wrong shape or dtype)."""


def _check_split(images, labels, split, path):
    if images.ndim not in (3, 4):
        raise DataError(f"{path}: {split}_images must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
    if images.dtype != np.uint8:
        raise DataError(f"{path}: {split}_images must be uint8, got {images.dtype}")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{path}: {split}_labels must be ({images.shape[0]}, 1) to match {split}_images, "
                        f"got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: {split}_labels must be integers, got {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise DataError(f"{path}: {split}_labels has a negative label {int(labels.min())}")
    if images.shape[0] == 0:
        raise DataError(f"{path}: {split} split is empty")
    return labels.astype(np.int64)


def load_medmnist(path):
    """Read a MedMNIST-format .npz -> {split: (images uint8 (N, H, W[, C]), labels int64 (N,))}.

    DataError (a ValueError) naming the file and the key when it is not in that format; splits of
    different image sizes are refused too. No pickle is ever loaded."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single array, not a MedMNIST .npz archive")
    with archive:
        missing = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels") if f"{s}_{k}" not in archive.files]
        if missing:
            raise DataError(f"{path}: missing key(s) {', '.join(missing)} (MedMNIST format has "
                            f"train/val/test _images and _labels)")
        data = {}
        for split in SPLITS:
            try:
                images = archive[f"{split}_images"]
                labels = archive[f"{split}_labels"]
            except ValueError as e:
                raise DataError(f"{path}: {split} split unreadable without pickle ({e})") from None
            data[split] = (images, _check_split(images, labels, split, path))
    shapes = {split: data[split][0].shape[1:] for split in SPLITS}
    if len(set(shapes.values())) != 1:
        raise DataError(f"{path}: the splits' images differ in size: {shapes}")
    return data


def to_model_input(images, mean=None, std=None, dtype=np.float32):
    """uint8 images (N, H, W) or (N, H, W, C) -> float (N, C, H, W) scaled to [0, 1], then
    standardised with `mean` and `std` when given (the training set's, one number each)."""
    x = np.asarray(images)
    x = x[:, None] if x.ndim == 3 else np.moveaxis(x, -1, 1)
    x = np.ascontiguousarray(x, dtype=dtype) / dtype(255)
    if mean is not None:
        x -= dtype(mean)
        x /= dtype(std)
    return x


# ---------------------------------------------------------------------------------------------
# The synthetic set

def _blur(planes, sigma_px):
    """Gaussian blur (periodic) of (N, S, S) planes with a per-plane or scalar sigma in pixels."""
    size = planes.shape[-1]
    f = np.fft.fftfreq(size)
    f2 = f[:, None] ** 2 + f[None, :] ** 2
    sigma = np.asarray(sigma_px, dtype=np.float64).reshape(-1, 1, 1)
    gain = np.exp(-2.0 * np.pi ** 2 * sigma ** 2 * f2)
    return np.fft.ifft2(np.fft.fft2(planes) * gain).real


def _soft_ellipse(u, v, cu, cv, ru, rv, edge):
    """1 inside the ellipse centred (cu, cv) with radii (ru, rv), 0 outside, a soft edge between."""
    d = np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2)
    return 1.0 / (1.0 + np.exp((d - 1.0) / edge))


def _chest_xrays(labels, size, rng):
    """Images (N, size, size) float in about [0, 1] for integer labels (1 = opacities)."""
    n = labels.shape[0]
    coords = np.linspace(-1.0, 1.0, size)
    v, u = np.meshgrid(coords, coords, indexing="ij")  # v: down the image, u: across

    def draw(low, high, shape=(n, 1, 1)):
        return rng.uniform(low, high, size=shape)

    shift_u, shift_v = draw(-0.08, 0.08), draw(-0.08, 0.08)
    u, v = u - shift_u, v - shift_v
    body = _soft_ellipse(u, v, 0.0, 0.1, draw(1.05, 1.25), 1.4, 0.08)
    image = 0.08 + 0.55 * body + 0.12 * np.clip(v, 0.0, None)
    lungs = np.zeros((n, size, size))
    for side in (-1.0, 1.0):
        # lung fields widen towards the diaphragm
        width = draw(0.26, 0.33) * (1.0 + 0.35 * np.clip(v + 0.6, 0.0, 1.4))
        lung = _soft_ellipse(u, v, side * draw(0.40, 0.50), draw(-0.15, 0.0), width, draw(0.62, 0.75), 0.06)
        lungs = np.maximum(lungs, lung)
    image -= draw(0.28, 0.38) * lungs
    # ribs: bright arcs across the lungs
    rib_freq = draw(9.0, 12.0)
    ribs = np.maximum(0.0, np.cos(rib_freq * (v + 0.35 * u ** 2) + draw(0, 2 * np.pi))) ** 3
    image += 0.07 * ribs * lungs
    # spine and mediastinum, heart on the patient's left (the image's right)
    image += 0.15 * _soft_ellipse(u, v, 0.0, 0.1, 0.16, 1.5, 0.15)
    image += 0.18 * _soft_ellipse(u, v, draw(0.10, 0.20), draw(0.30, 0.45), draw(0.22, 0.30),
                                  draw(0.18, 0.25), 0.08)
    # anatomy texture in both classes
    image += 0.05 * _blur(rng.standard_normal((n, size, size)), size / 28.0) * lungs
    # diffuse opacities: a smooth random field and a few soft blobs inside the lungs
    sick = (labels == 1)[:, None, None]
    field = _blur(rng.standard_normal((n, size, size)), draw(2.0, 4.0, (n,)) * size / 28.0)
    field = np.maximum(0.0, field / field.std(axis=(1, 2), keepdims=True) - 0.3)
    blobs = np.zeros((n, size, size))
    for _ in range(3):
        present = rng.random((n, 1, 1)) < 0.7
        blobs += present * draw(0.1, 0.25) * _soft_ellipse(
            u, v, draw(-0.6, 0.6), draw(-0.5, 0.3), draw(0.10, 0.25), draw(0.10, 0.25), 0.15)
    opacity = draw(0.06, 0.14) * field + blobs
    image += sick * opacity * lungs
    # exposure, contrast and sensor noise
    image = draw(0.8, 1.2) * (image - 0.3) + 0.3 + draw(-0.06, 0.06)
    image += 0.03 * rng.standard_normal((n, size, size))
    return image


def synthetic_chest_xrays(n_train=600, n_val=150, n_test=150, size=28, seed=0):
    """A synthetic, MedMNIST-format pneumonia set: {split: (images uint8 (N, size, size), labels (N,))}.

    Chest-X-ray-like pictures (body, dark lung fields with ribs, spine, heart, texture, varying
    position and exposure); label 1 adds diffuse opacities in the lungs (a smooth random haze and
    soft blobs). Balanced classes in random order; the same arguments give the same arrays."""
    for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("size", size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
        images = _chest_xrays(labels, size, rng)
        data[split] = (np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8), labels)
    return data
