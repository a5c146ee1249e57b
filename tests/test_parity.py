"""cnnfast.Sequential against its PyTorch twin (cnnfast.bench.torch_twin): the same layer list,
weights copied by load_state_dict, the same outputs and the same training trajectory.

Issue 5's parity numbers: three SGD-with-momentum steps on one batch, losses within 1e-3
(relative) and weights within 2e-3; the same for Adam. Skipped without torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnnfast import Sequential, layers, optimizers  # noqa: E402
from cnnfast.bench.torch_twin import to_torch_state, torch_twin  # noqa: E402
from cnnfast.train import build_model  # noqa: E402


def _many_layers(dtype):
    """One model with every layer kind the twin maps (deterministic ones), flat and spatial."""
    return Sequential([
        layers.Conv2D(6, 3, padding="same", activation="relu"),
        layers.Conv2D(8, (3, 2), padding=1, use_bias=False),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-3),
        layers.ReLU(),
        layers.MaxPooling2D(2),
        layers.Conv2D(8, 3, strides=2, padding=1, dilation_rate=1, groups=2),
        layers.LeakyReLU(0.1),
        layers.AveragePooling2D(3, strides=1, padding=1),
        layers.PReLU(),
        layers.Conv2DTranspose(4, 2, strides=2, activation="tanh"),
        layers.ELU(0.5),
        layers.Activation("sigmoid"),
        layers.Conv2D(6, 1, activation="leaky_relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="elu"),
        layers.BatchNormalization(),
        layers.Dense(3),
    ], input_shape=(2, 13, 12), dtype=dtype, seed=3)


def _flat_model(dtype):
    return Sequential([layers.Flatten(), layers.Dense(7, activation="relu"), layers.Dropout(0.5),
                       layers.Dense(4, activation="sigmoid"), layers.Activation("tanh"), layers.Dense(2)],
                      input_shape=(1, 5, 4), dtype=dtype, seed=4)


def _batch(model, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *model.input_shape)).astype(model.dtype)
    y = rng.integers(0, model.output_shape[0], n)
    return x, y


@pytest.mark.parametrize("make", [_many_layers, _flat_model])
def test_twin_has_one_module_per_layer_and_the_same_state(make):
    model = make("float64")
    twin = torch_twin(model)
    assert len(twin) == len(model.layers)
    state = {k: v for k, v in twin.state_dict().items() if not k.endswith("num_batches_tracked")}
    ours = model.state_dict()
    assert state.keys() == ours.keys()
    for k, v in ours.items():
        assert state[k].dtype == torch.float64
        np.testing.assert_array_equal(state[k].numpy(), v, err_msg=k)


@pytest.mark.parametrize("make", [_many_layers, _flat_model])
def test_twin_inference_matches_predict(make):
    model = make("float64")
    rng = np.random.default_rng(1)
    for layer in model.layers:  # batch norm with non-trivial running statistics
        for name, buf in layer.buffers.items():
            buf[...] = rng.uniform(0.5, 1.5, buf.shape) if name == "running_var" else rng.normal(size=buf.shape)
    model.weights_changed()
    twin = torch_twin(model).eval()
    x, _ = _batch(model, 5)
    with torch.no_grad():
        expected = torch.softmax(twin(torch.from_numpy(x)), dim=1).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-10, atol=1e-12)


def test_twin_training_forward_matches_loss():
    model = _many_layers("float64")
    model.compile(optimizers.SGD(learning_rate=0.0))
    twin = torch_twin(model).train()
    x, y = _batch(model, 6)
    loss = model.train_on_batch(x, y)
    expected = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y)).item()
    assert loss == pytest.approx(expected, rel=1e-10)
    # running statistics advanced the same way (momentum m in Keras' meaning = 1 - m in torch's)
    back = to_torch_state(model, twin)
    for k, v in twin.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            np.testing.assert_allclose(back[k].numpy(), v.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_twin_refuses_what_it_cannot_copy():
    model = Sequential([layers.Flatten(), layers.Dense(2)], input_shape=(4,))
    model.layers[0].__class__ = type("Unknown", (layers.Flatten,), {})
    with pytest.raises(ValueError, match="layer 0 .*Unknown.* no torch twin"):
        torch_twin(model)


def _three_steps(model, twin, cf_opt, torch_opt, x, y):
    model.compile(cf_opt)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    losses = []
    for _ in range(3):
        ours = model.train_on_batch(x, y)
        torch_opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(twin(xt), yt)
        loss.backward()
        torch_opt.step()
        losses.append((ours, loss.item()))
    return losses


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_three_steps_follow_torch(optimizer):
    """The demo's architecture, float32: issue 5's tolerances (loss 1e-3 relative, weights 2e-3)."""
    model = build_model((1, 28, 28), widths=(8, 16, 16), seed=5)
    twin = torch_twin(model).train()
    x, y = _batch(model, 16, seed=2)
    if optimizer == "sgd":
        pair = (optimizers.SGD(learning_rate=0.05, momentum=0.9),
                torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9))
    else:
        pair = (optimizers.Adam(learning_rate=1e-3), torch.optim.Adam(twin.parameters(), lr=1e-3))
    losses = _three_steps(model, twin, *pair, x, y)
    for ours, theirs in losses:
        assert ours == pytest.approx(theirs, rel=1e-3)
    assert losses[2][0] < losses[0][0]  # the steps did train
    theirs = twin.state_dict()
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, theirs[k].numpy(), rtol=0, atol=2e-3, err_msg=k)
