"""Sequential's weights: state_dict / load_state_dict (torch names, torch tensors, errors naming
the entry and the layer) and save / load_model (round trips; corrupt, truncated and foreign files
refused with a clear ValueError, never unpickled)."""
import io
import json
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

import cnnfast
from cnnfast import layers as L
from cnnfast import optimizers
from cnnfast.model import ARCHITECTURE_KEY

from model_helpers import blobs, small_cnn


# ---- state dict -------------------------------------------------------------------------------

def test_state_dict_names_and_copies():
    model = small_cnn()
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                           "1.running_var", "4.weight", "4.bias", "7.weight", "7.bias", "9.weight",
                           "9.bias"]
    assert state["0.weight"].shape == (4, 1, 3, 3) and state["7.weight"].shape == (16, 64)
    state["0.weight"][...] = 7                      # a snapshot: the model is untouched
    assert not np.any(model.layers[0].params["weight"] == 7)


def test_load_state_dict_copies_in_place():
    model, other = small_cnn(seed=1), small_cnn(seed=2)
    held = {k: a for k, _, a in model._named_arrays()}
    model.load_state_dict({**other.state_dict(), "1.num_batches_tracked": np.array(5)})
    for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    for key, _, a in model._named_arrays():
        assert a is held[key]


def _torch_twin(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4, eps=1e-3, momentum=0.01),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 3)).double()


def test_loads_a_torch_state_dict_and_predicts_as_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = _torch_twin(torch)
    x, y = blobs(20, dtype="float64")
    net.train()
    net(torch.from_numpy(x))        # running statistics away from their init
    net.eval()
    model = small_cnn(dtype="float64")
    model.load_state_dict(net.state_dict())
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-10, atol=1e-12)
    assert set(model.state_dict()) == {k for k in net.state_dict() if "num_batches" not in k}


def test_state_dict_of_another_architecture_is_refused_naming_the_entry():
    model = small_cnn()
    before = model.state_dict()
    wider = cnnfast.Sequential([
        L.Conv2D(8, 3, padding="same"), L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(),
        L.Conv2D(4, 3, padding=1), L.ReLU(), L.Flatten(), L.Dense(16), L.ReLU(), L.Dense(3),
    ], input_shape=(1, 8, 8)).state_dict()
    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(8, 1, 3, 3\).*layer 0 'conv2d' "
                                         r"\(Conv2D\).*\(4, 1, 3, 3\)"):
        model.load_state_dict(wider)
    for (k, a), b in zip(model.state_dict().items(), before.values()):
        np.testing.assert_array_equal(a, b, err_msg=k)      # nothing was written

    state = model.state_dict()
    del state["9.bias"]
    with pytest.raises(ValueError, match=r"no entry '9\.bias' for layer 9 'dense_1' \(Dense\)"):
        model.load_state_dict(state)

    state = {**model.state_dict(), "3.weight": np.zeros(2)}
    with pytest.raises(ValueError, match=r"unexpected entry '3\.weight'.*layer 3 'max_pooling2d'"):
        model.load_state_dict(state)

    state = {**model.state_dict(), "12.weight": np.zeros(2)}
    with pytest.raises(ValueError, match=r"'12\.weight'.*layers 0\.\.9"):
        model.load_state_dict(state)

    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([1, 2])
    with pytest.raises(TypeError, match="0.weight"):
        model.load_state_dict({**model.state_dict(), "0.weight": np.full((4, 1, 3, 3), "a")})


# ---- save / load_model ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip(tmp_path, dtype):
    model = small_cnn(dtype=dtype)
    x, y = blobs(24, dtype=dtype)
    model.compile(optimizers.Adam(learning_rate=1e-2))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "model.cnnfast"               # written under exactly this name
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.cnnfast"]
    loaded = cnnfast.load_model(str(path))
    assert loaded.dtype == np.dtype(dtype) and loaded.input_shape == model.input_shape
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert [a.get_config() for a in loaded.layers] == [b.get_config() for b in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    loaded.compile("adam")
    assert np.isfinite(loaded.fit(x, y, epochs=1, verbose=0).history["loss"][0])


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "m.npz"
    small_cnn(seed=1).save(path)
    second = small_cnn(seed=2)
    second.save(path)
    x, _ = blobs(4)
    np.testing.assert_array_equal(cnnfast.load_model(path).predict(x), second.predict(x))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def _saved_entries(tmp_path):
    path = tmp_path / "good.npz"
    small_cnn().save(path)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _write_npz(path, entries):
    with open(path, "wb") as f:
        np.savez(f, **entries)
    return path


def _with_architecture(entries, edit):
    spec = json.loads(str(entries[ARCHITECTURE_KEY]))
    edit(spec)
    return {**entries, ARCHITECTURE_KEY: np.array(json.dumps(spec))}


class _Touch:
    """Unpickling this creates a file: proof that a loader ran pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def _corrupt_files(tmp_path, marker):
    good = _saved_entries(tmp_path)
    raw = (tmp_path / "good.npz").read_bytes()
    arch = json.loads(str(good[ARCHITECTURE_KEY]))
    missing = dict(good)
    del missing["4.weight"]
    pickled = io.BytesIO()
    np.save(pickled, np.array([_Touch(marker)], dtype=object), allow_pickle=True)

    def layer_edit(i, **change):
        return lambda s: s["layers"][i].update(change)

    files = {
        "random bytes": (b"\x00\x01garbage" * 50, "not an .npz archive"),
        "pickle": (pickle.dumps(_Touch(marker)), "not an .npz archive"),
        "empty": (b"", "not an .npz archive"),
        "truncated": (raw[:len(raw) // 2], "not a readable .npz"),
        "flipped bytes": (_flip_middle(raw), "cannot be read"),
        "npy array": (_npy_bytes(np.arange(3)), "single .npy array"),
        "pickle .npy": (pickled.getvalue(), "single .npy array"),
        "no architecture": ({k: v for k, v in good.items() if k != ARCHITECTURE_KEY},
                            ARCHITECTURE_KEY),
        "json garbage": ({**good, ARCHITECTURE_KEY: np.array("{not json")}, "not valid JSON"),
        "architecture not text": ({**good, ARCHITECTURE_KEY: np.arange(3)}, "text scalar"),
        "foreign json": ({**good, ARCHITECTURE_KEY: np.array('{"a": 1}')}, "cnnfast.Sequential"),
        "format version": (_with_architecture(good, lambda s: s.update(format_version=99)),
                           "format version 99"),
        "dtype": (_with_architecture(good, lambda s: s.update(dtype="int8")), "dtype"),
        "input shape": (_with_architecture(good, lambda s: s.update(input_shape=[1, -8, 8])),
                        "input_shape"),
        "unknown class": (_with_architecture(good, layer_edit(3, class_name="Sequential")),
                          "unknown layer class 'Sequential'"),
        "base class": (_with_architecture(good, layer_edit(3, class_name="Layer")),
                       "unknown layer class 'Layer'"),
        "dunder class": (_with_architecture(good, layer_edit(3, class_name="__class__")),
                         "unknown layer class"),
        "bad config": (_with_architecture(good, layer_edit(0, config={"filters": -4, "kernel_size": 3})),
                       "layer 0 .Conv2D. cannot be made"),
        "config not a dict": (_with_architecture(good, layer_edit(0, config=[1])), "layer 0"),
        "missing weights": (missing, r"no entry '4\.weight' for layer 4 'conv2d_1'"),
        "wrong weights": ({**good, "4.weight": np.zeros((4, 4, 5, 5), np.float32)}, r"'4\.weight'"),
        "extra weights": ({**good, "5.weight": np.zeros(3)}, r"unexpected entry '5\.weight'"),
        "object entry": ({**good, "4.weight": np.array([_Touch(marker)], dtype=object)},
                         r"'4\.weight' cannot be read"),
    }
    assert len(arch["layers"]) == 10
    return files


def _flip_middle(raw):
    """raw with 64 bytes in the middle of the archive inverted (inside an entry's data)."""
    b = bytearray(raw)
    mid = len(b) // 2
    b[mid:mid + 64] = bytes(v ^ 0xFF for v in b[mid:mid + 64])
    return bytes(b)


def _npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def test_corrupt_truncated_and_foreign_files_are_refused(tmp_path):
    marker = tmp_path / "unpickled"
    for label, (content, match) in _corrupt_files(tmp_path, marker).items():
        path = tmp_path / f"{label.replace(' ', '_')}.npz"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            _write_npz(path, content)
        with pytest.raises(ValueError, match=match) as info:
            cnnfast.load_model(path)
        assert str(path) in str(info.value), label
    assert not marker.exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        cnnfast.load_model(tmp_path / "nope.npz")


def test_zip_that_is_not_npz(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a cnnfast model file"):
        cnnfast.load_model(path)


def test_every_layer_class_round_trips(tmp_path):
    model = cnnfast.Sequential([
        L.Conv2D(4, (3, 2), strides=(1, 2), padding=(1, 0), dilation_rate=1, groups=1,
                 kernel_initializer="he_uniform"),
        L.PReLU(), L.Conv2DTranspose(4, 2, strides=2, padding=1, output_padding=1),
        L.BatchNormalization(momentum=0.9, epsilon=1e-4), L.LeakyReLU(0.1), L.ELU(alpha=0.5),
        L.RReLU(), L.GaussianNoise(0.1), L.NoisyReLU(0.1), L.Dropout(0.2),
        L.AveragePooling2D(pool_size=2, strides=1), L.MaxPooling2D(pool_size=(2, 2), padding=1),
        L.Conv2D(4, 1, groups=2, use_bias=False, activation="relu"), L.Activation("tanh"),
        L.Softmax(), L.GlobalAveragePooling2D(), L.Dense(5, activation="relu", use_bias=False),
        L.Dense(2, kernel_initializer="glorot_uniform"),
    ], input_shape=(2, 9, 10), dtype="float64", seed=3)
    path = tmp_path / "all.npz"
    model.save(path)
    loaded = cnnfast.load_model(path)
    assert [a.get_config() for a in loaded.layers] == [b.get_config() for b in model.layers]
    x, _ = blobs(5, shape=(2, 9, 10), classes=2, dtype="float64")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_layer_class_from_elsewhere_cannot_be_saved(tmp_path):
    class Custom(L.ReLU):
        pass

    model = cnnfast.Sequential([L.Flatten(), Custom(), L.Dense(2)], input_shape=(1, 2, 2))
    with pytest.raises(ValueError, match="layer 1 'custom' .Custom.*not a class of cnnfast.layers"):
        model.save(tmp_path / "c.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("opt, torch_opt, atol", [
    (lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9), ("SGD", dict(lr=0.1, momentum=0.9)),
     1e-11),
    # the conv bias before batch norm has a zero gradient up to rounding noise (~1e-15), which
    # Adam scales to lr * noise / epsilon per step: 4 steps * 1e-2 * 1e-15 / 1e-8
    (lambda: optimizers.AdamW(learning_rate=1e-2), ("AdamW", dict(lr=1e-2)), 4e-9),
])
def test_training_follows_torch_step_by_step(opt, torch_opt, atol):
    """The same weights trained in both (float64): the same losses, weights and running stats."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    net = _torch_twin(torch)
    model = small_cnn(dtype="float64")
    model.load_state_dict(net.state_dict())
    model.compile(opt())
    topt = getattr(torch.optim, torch_opt[0])(net.parameters(), **torch_opt[1])
    net.train()
    for step in range(4):
        x, y = blobs(10, dtype="float64", seed=step)
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        topt.step()
        assert model.train_on_batch(x, y) == pytest.approx(loss.item(), rel=1e-10)
    theirs = net.state_dict()
    for k, a in model.state_dict().items():
        np.testing.assert_allclose(a, theirs[k].numpy(), rtol=1e-9, atol=atol, err_msg=k)
