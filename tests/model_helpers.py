"""Small models and data sets shared by the Sequential tests."""
import numpy as np

import cnnfast
from cnnfast import layers as L


def small_cnn(dtype="float32", seed=0):
    """conv-BN-ReLU-pool, conv-ReLU, flatten, dense-ReLU, dense: every fusion the model plans."""
    return cnnfast.Sequential([
        L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(),
        L.Conv2D(4, 3, padding=1), L.ReLU(), L.Flatten(), L.Dense(16), L.ReLU(), L.Dense(3),
    ], input_shape=(1, 8, 8), dtype=dtype, seed=seed)


def blobs(n, shape=(1, 8, 8), classes=3, dtype="float32", seed=0):
    """n noisy images whose class (n cycles through the classes) decides which horizontal band
    is bright: separable by a small CNN."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    rng.shuffle(y)
    x = 0.3 * rng.standard_normal((n, *shape))
    band = shape[1] // classes if len(shape) == 3 else 1
    for k in range(classes):
        if len(shape) == 3:
            x[y == k, :, k * band:(k + 1) * band, :] += 1.0
        else:
            x[y == k, k] += 1.0
    return x.astype(dtype), y.astype(np.int64)


def unfused_logits(model, x):
    """The model's inference logits layer by layer with every fusion switched off."""
    saved = [(layer, layer.fused_relu, getattr(layer, "fused_pool", None))
             for layer in model.layers if hasattr(layer, "fused_relu")]
    try:
        for layer, _, pool in saved:
            layer.fused_relu = False
            if pool is not None:
                layer.fused_pool = None
        x = np.ascontiguousarray(x, dtype=model.dtype)
        for layer in model.layers:
            x = layer.forward(x, training=False)
        return x
    finally:
        for layer, relu, pool in saved:
            layer.fused_relu = relu
            if pool is not None:
                layer.fused_pool = pool
