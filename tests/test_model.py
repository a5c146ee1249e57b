"""cnnfast.Sequential: building and naming, the fusion plan, gradients end to end, training,
inference (batch norm folded), the state dict, and the argument checks."""
import numpy as np
import pytest

import cnnfast
from cnnfast import layers as L
from cnnfast import optimizers

from model_helpers import blobs, small_cnn, unfused_logits


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- building -------------------------------------------------------------------------------

def test_builds_at_once_with_keras_names_and_shapes():
    model = small_cnn()
    assert [layer.name for layer in model.layers] == [
        "conv2d", "batch_normalization", "re_lu", "max_pooling2d", "conv2d_1", "re_lu_1",
        "flatten", "dense", "re_lu_2", "dense_1"]
    assert all(layer.built for layer in model.layers)
    assert model.input_shape == (1, 8, 8)
    assert model.output_shape == (3,)
    assert model.layers[-1].params["weight"].dtype == np.float32


def test_user_names_are_kept_and_generated_ones_avoid_them():
    model = cnnfast.Sequential([L.Conv2D(2, 3, name="conv2d"), L.Conv2D(2, 3), L.Flatten(name="flat"),
                                L.Dense(2)], input_shape=(1, 7, 7))
    assert [layer.name for layer in model.layers] == ["conv2d", "conv2d_1", "flat", "dense"]


def test_seed_makes_the_same_weights():
    a, b, c = small_cnn(seed=5), small_cnn(seed=5), small_cnn(seed=6)
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        np.testing.assert_array_equal(va, vb)
    assert any(not np.array_equal(va, vc) for va, vc in zip(a.state_dict().values(),
                                                            c.state_dict().values()) if va.size > 4)


@pytest.mark.parametrize("make, exc, match", [
    (lambda: cnnfast.Sequential(L.Dense(2), input_shape=(3,)), TypeError, "list"),
    (lambda: cnnfast.Sequential([], input_shape=(3,)), ValueError, "at least one"),
    (lambda: cnnfast.Sequential([L.Dense(2), "relu"], input_shape=(3,)), TypeError, r"layers\[1\]"),
    (lambda: cnnfast.Sequential([L.Dense(2)], input_shape=(0,)), ValueError, "input_shape"),
    (lambda: cnnfast.Sequential([L.Dense(2)], input_shape=3), TypeError, "input_shape"),
    (lambda: cnnfast.Sequential([L.Dense(2)], input_shape=(3,), dtype="float16"), TypeError, "dtype"),
    (lambda: cnnfast.Sequential([L.Dense(2)], input_shape=(3,), dtype="int"), TypeError, "dtype"),
    (lambda: cnnfast.Sequential([L.Dense(2, name="a"), L.Dense(2, name="a")], input_shape=(3,)),
     ValueError, "unique"),
    (lambda: cnnfast.Sequential([L.Conv2D(2, 3)], input_shape=(1, 2, 2)), ValueError, "conv2d"),
    (lambda: cnnfast.Sequential([L.Dense(2)], input_shape=(1, 4, 4)), ValueError, "Dense"),
])
def test_bad_construction(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_a_layer_object_cannot_serve_twice():
    d = L.Dense(2)
    with pytest.raises(ValueError, match="twice"):
        cnnfast.Sequential([d, d], input_shape=(2,))
    cnnfast.Sequential([d], input_shape=(2,))
    with pytest.raises(ValueError, match="already built"):
        cnnfast.Sequential([d], input_shape=(2,))


def test_summary_lists_layers_shapes_and_counts():
    lines = []
    small_cnn().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "conv2d (Conv2D)" in text and "(None, 4, 8, 8)" in text
    assert "batch_normalization (BatchNormalization)" in text
    # conv 4*1*9+4=40, bn 4 + 4 + 8 buffers, conv_1 4*4*9+4=148, dense 64*16+16=1040, dense_1 16*3+3=51
    trainable = 40 + 8 + 148 + 1040 + 51
    assert f"Trainable params: {trainable:,}" in text
    assert "Non-trainable params: 8" in text
    assert f"Total params: {trainable + 8:,}" in text


# ---- the fusion plan --------------------------------------------------------------------------

def test_fusion_plan():
    model = small_cnn()
    conv, bn, _, pool, conv1, _, _, dense, _, dense1 = model.layers
    assert bn.fused_relu and conv1.fused_relu and dense.fused_relu
    assert bn.fused_pool is pool
    assert not conv.fused_relu and not dense1.fused_relu
    assert not conv.need_input_grad and conv1.need_input_grad   # nothing uses the input's gradient
    assert model._train_steps == [0, 1, 4, 6, 7, 9]
    # the folded batch norm leaves its pooling to the pooling layer
    assert model._infer_steps[:3] == [("fold", 0, 1), ("layer", 3, None), ("layer", 4, None)]


@pytest.mark.parametrize("pool, fused", [
    (L.MaxPooling2D(2), True), (L.MaxPooling2D((3, 2), strides=(3, 2)), True),
    (L.MaxPooling2D(3, strides=2), False), (L.MaxPooling2D(2, padding=1), False),
    (L.AveragePooling2D(2), False)], ids=["2x2", "3x2", "overlapping", "padded", "average"])
def test_batch_norm_runs_only_a_max_pooling_that_tiles_the_plane(pool, fused):
    model = cnnfast.Sequential([L.Conv2D(3, 3), L.BatchNormalization(), L.ReLU(), pool, L.Flatten(),
                                L.Dense(2)], input_shape=(1, 11, 11), dtype="float64", seed=2)
    assert (model.layers[1].fused_pool is pool) == fused
    assert model._train_steps == ([0, 1, 4, 5] if fused else [0, 1, 3, 4, 5])
    x, y = blobs(8, shape=(1, 11, 11), classes=2, dtype="float64")
    model.compile("sgd")
    model.train_on_batch(x, y)
    np.testing.assert_allclose(model.predict(x), _softmax(unfused_logits(model, x)), rtol=1e-10)


def test_no_fusion_past_an_activation_or_a_configured_relu():
    model = cnnfast.Sequential([L.Conv2D(2, 3, activation="relu"), L.ReLU(), L.Conv2D(2, 3),
                                L.LeakyReLU(), L.Flatten(), L.Dense(2)], input_shape=(1, 9, 9))
    assert not any(getattr(layer, "fused_relu", False) for layer in model.layers)
    assert model._train_steps == [0, 1, 2, 3, 4, 5]


def _twin_without_fusion(model):
    """The same weights in a model whose ReLUs are Activation('relu') layers (never fused)."""
    twin_layers = [L.Activation("relu") if type(layer) is L.ReLU else type(layer)(**layer.get_config())
                   for layer in model.layers]
    for t, layer in zip(twin_layers, model.layers):
        if type(layer) is L.ReLU:
            t.name = layer.name
    twin = cnnfast.Sequential(twin_layers, input_shape=model.input_shape, dtype=model.dtype)
    twin.load_state_dict(model.state_dict())
    assert not any(getattr(layer, "fused_relu", False) for layer in twin.layers)
    return twin


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 2e-4)])
def test_fused_training_equals_unfused(dtype, tol):
    model = small_cnn(dtype=dtype)
    twin = _twin_without_fusion(model)
    x, y = blobs(16, dtype=dtype)
    for m in (model, twin):
        m.compile(optimizers.SGD(learning_rate=0.1, momentum=0.9))
    for _ in range(3):
        np.testing.assert_allclose(model.train_on_batch(x, y), twin.train_on_batch(x, y), rtol=tol)
    for (k, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-4)])
def test_folded_inference_equals_unfused_layers(dtype, tol):
    model = small_cnn(dtype=dtype)
    x, y = blobs(40, dtype=dtype)
    model.compile(optimizers.Adam(learning_rate=1e-2))
    for _ in range(3):                  # running statistics and weights away from their init
        model.train_on_batch(x, y)
    np.testing.assert_allclose(model.predict(x), _softmax(unfused_logits(model, x)), rtol=tol, atol=tol)
    model.train_on_batch(x, y)          # the optimizer step must refresh the folded weights
    np.testing.assert_allclose(model.predict(x), _softmax(unfused_logits(model, x)), rtol=tol, atol=tol)
    other = small_cnn(dtype=dtype, seed=9)
    model.load_state_dict(other.state_dict())   # and so must load_state_dict
    np.testing.assert_allclose(model.predict(x), other.predict(x), rtol=tol, atol=tol)
    np.testing.assert_allclose(model.predict(x), _softmax(unfused_logits(model, x)), rtol=tol, atol=tol)
    model.layers[1].buffers["running_var"] *= 3     # written by hand: weights_changed() says so
    model.weights_changed()
    np.testing.assert_allclose(model.predict(x), _softmax(unfused_logits(model, x)), rtol=tol, atol=tol)


def test_dense_followed_by_batch_norm_folds_too():
    model = cnnfast.Sequential([L.Flatten(), L.Dense(6), L.BatchNormalization(), L.ReLU(), L.Dense(2)],
                               input_shape=(2, 3, 3), dtype="float64", seed=1)
    x, y = blobs(12, shape=(2, 3, 3), classes=2, dtype="float64")
    model.compile("sgd")
    model.train_on_batch(x, y)
    assert ("fold", 1, 2) in model._infer_steps
    np.testing.assert_allclose(model.predict(x), _softmax(unfused_logits(model, x)), rtol=1e-10)


# ---- gradients end to end ---------------------------------------------------------------------

def test_gradients_match_central_differences():
    """The model's parameter gradients (seen through an optimizer with learning rate 0) against
    central differences of train_on_batch's loss, in float64."""
    model = small_cnn(dtype="float64", seed=3)
    x, y = blobs(6, dtype="float64", seed=3)
    model.compile(optimizers.SGD(learning_rate=0.0))
    model.train_on_batch(x, y)
    rng = np.random.default_rng(0)
    h = 1e-6
    for layer in model.layers:
        for name, p in layer.params.items():
            g = layer.grads[name].copy()
            for flat in rng.choice(p.size, size=min(p.size, 6), replace=False):
                idx = np.unravel_index(flat, p.shape)
                keep = p[idx]
                p[idx] = keep + h
                up = model.train_on_batch(x, y)
                p[idx] = keep - h
                down = model.train_on_batch(x, y)
                p[idx] = keep
                numeric = (up - down) / (2 * h)
                assert abs(numeric - g[idx]) <= 1e-6 + 1e-4 * abs(numeric), (layer.name, name, idx)


# ---- fit / evaluate / predict -----------------------------------------------------------------

def test_fit_learns_a_separable_set():
    x, y = blobs(96, seed=1)
    xv, yv = blobs(48, seed=2)
    model = small_cnn(seed=0)
    model.compile(optimizers.Adam(learning_rate=1e-2))
    before = model.evaluate(xv, yv)
    history = model.fit(x, y, batch_size=16, epochs=8, validation_data=(xv, yv), verbose=0, seed=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 8 for v in history.history.values())
    assert history.epoch == list(range(8))
    assert model.history is history
    loss = history.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert history.history["accuracy"][-1] >= 0.9
    after = model.evaluate(xv, yv)
    assert after["loss"] < before["loss"] and after["accuracy"] >= 0.9
    assert after == pytest.approx({"loss": history.history["val_loss"][-1],
                                   "accuracy": history.history["val_accuracy"][-1]})


def test_fit_is_reproducible_with_a_seed_and_without_shuffle():
    x, y = blobs(40, seed=1)
    runs = []
    for shuffle in (True, True, False):
        model = small_cnn(seed=0)
        model.compile(optimizers.SGD(learning_rate=0.05, momentum=0.9))
        runs.append(model.fit(x, y, batch_size=12, epochs=2, shuffle=shuffle, verbose=0, seed=4)
                    .history["loss"])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_history_keys_follow_metrics_and_validation():
    x, y = blobs(20)
    model = small_cnn()
    model.compile("sgd", metrics=[])
    assert set(model.fit(x, y, epochs=2, verbose=0).history) == {"loss"}
    model.compile("sgd", loss="sparse_categorical_crossentropy")
    assert set(model.fit(x, y, epochs=0, verbose=0).history) == set()
    assert set(model.fit(x, y, verbose=0).history) == {"loss", "accuracy"}
    assert model.evaluate(x, y).keys() == {"loss", "accuracy"}


def test_fit_does_not_modify_its_inputs():
    x, y = blobs(20)
    x0, y0 = x.copy(), y.copy()
    model = small_cnn()
    model.compile("adam")
    model.fit(x, y, batch_size=6, epochs=1, validation_data=(x, y), verbose=0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_evaluate_matches_the_loss_of_predict():
    x, y = blobs(30, dtype="float64")
    model = small_cnn(dtype="float64")
    model.compile("adam")
    model.fit(x, y, epochs=1, verbose=0)
    probs = model.predict(x, batch_size=7)
    result = model.evaluate(x, y, batch_size=11)
    assert result["loss"] == pytest.approx(-np.mean(np.log(probs[np.arange(30), y])), rel=1e-10)
    assert result["accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == y))


def test_predict_shapes_and_probabilities():
    model = small_cnn()
    x, _ = blobs(23)
    probs = model.predict(x, batch_size=5)
    assert probs.shape == (23, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, batch_size=64), probs, rtol=1e-5, atol=1e-7)
    assert model.predict(x[:0]).shape == (0, 3)


def test_inputs_of_other_dtypes_and_layouts_are_converted():
    model = small_cnn(dtype="float64")
    x, y = blobs(10, dtype="float64")
    want = model.predict(x)
    np.testing.assert_allclose(model.predict(x.astype(np.float32)), want, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(np.asfortranarray(x)), want)
    model.compile("sgd")
    assert np.isfinite(model.train_on_batch(np.round(x * 4).astype(np.int16), y.astype(np.uint8)))


def test_train_on_batch_steps_the_optimizer():
    model = small_cnn()
    x, y = blobs(8)
    model.compile(optimizers.SGD(learning_rate=0.1))
    w = model.layers[-1].params["weight"]
    w0 = w.copy()
    loss = model.train_on_batch(x, y)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert model.layers[-1].params["weight"] is w
    np.testing.assert_allclose(w, w0 - 0.1 * model.layers[-1].grads["weight"], rtol=1e-5, atol=1e-7)
    assert model.optimizer.iterations == 1


# ---- bad input --------------------------------------------------------------------------------

@pytest.fixture
def compiled():
    model = small_cnn()
    model.compile("sgd")
    return model


@pytest.mark.parametrize("labels, exc, match", [
    (np.array([0, 1, 3, 1]), ValueError, r"\[0, 3\).*3"),
    (np.array([0, -1, 2, 1]), ValueError, "-1"),
    (np.array([0.0, 1.0, 2.0, 1.0]), TypeError, "integer"),
    (np.array([True, False, True, False]), TypeError, "integer"),
    (np.array([0, 1, 2]), ValueError, r"\(4,\)"),
    (np.zeros((4, 2), np.int64), ValueError, "shape"),
    ([0, 1, 2, 1], TypeError, "ndarray"),
])
def test_bad_labels(compiled, labels, exc, match):
    x, _ = blobs(4)
    for call in (compiled.train_on_batch, compiled.evaluate,
                 lambda x, y: compiled.fit(x, y, verbose=0)):
        with pytest.raises(exc, match=match):
            call(x, labels)


def test_labels_of_shape_n_by_1_are_accepted(compiled):
    x, y = blobs(6)
    assert np.isfinite(compiled.train_on_batch(x, y[:, None]))


def test_bad_validation_labels_are_named(compiled):
    x, y = blobs(6)
    with pytest.raises(ValueError, match="validation_data y"):
        compiled.fit(x, y, validation_data=(x, y + 3), verbose=0)


@pytest.mark.parametrize("shape", [(4, 1, 8, 9), (4, 2, 8, 8), (4, 8, 8), (4, 1, 1, 8, 8)])
def test_wrong_input_shape_names_the_first_layer(compiled, shape):
    x = np.zeros(shape, np.float32)
    y = np.zeros(4, np.int64)
    for call in (lambda: compiled.predict(x), lambda: compiled.train_on_batch(x, y),
                 lambda: compiled.evaluate(x, y), lambda: compiled.fit(x, y, verbose=0)):
        with pytest.raises(ValueError, match=r"conv2d.*Conv2D.*\(1, 8, 8\)"):
            call()


@pytest.mark.parametrize("x, exc", [
    ([[0.0]], TypeError), (np.zeros((2, 1, 8, 8), np.complex64), TypeError),
    (np.zeros((2, 1, 8, 8), bool), TypeError), (np.zeros((0, 1, 8, 8), np.float32), ValueError),
])
def test_bad_inputs(compiled, x, exc):
    with pytest.raises(exc, match="x"):
        compiled.train_on_batch(x, np.zeros(len(x), np.int64))


def test_compile_checks():
    model = small_cnn()
    x, y = blobs(4)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(x, y)
    with pytest.raises(ValueError, match="loss"):
        model.compile("sgd", loss="mse")
    with pytest.raises(ValueError, match="accuracy"):
        model.compile("sgd", metrics=["auc"])
    with pytest.raises(ValueError, match="optimizer"):
        model.compile("lbfgs")
    conv_only = cnnfast.Sequential([L.Conv2D(2, 3)], input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match="conv2d"):
        conv_only.compile("sgd")
    model.compile("adamw", metrics="accuracy")
    assert isinstance(model.optimizer, optimizers.AdamW) and model.metrics == ["accuracy"]


@pytest.mark.parametrize("kw, exc", [
    (dict(batch_size=0), ValueError), (dict(batch_size=2.0), TypeError), (dict(epochs=-1), ValueError),
    (dict(verbose=3), ValueError), (dict(callbacks=[print]), TypeError),
    (dict(validation_data=np.zeros(3)), TypeError),
])
def test_bad_fit_arguments(compiled, kw, exc):
    x, y = blobs(4)
    with pytest.raises(exc):
        compiled.fit(x, y, **kw)
