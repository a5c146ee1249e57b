"""The reference activations and output layer against PyTorch and against finite differences."""
import numpy as np
import pytest

from cnnfast import reference as R

RNG = np.random.default_rng(1234)


def randn(*shape):
    return RNG.standard_normal(shape)


def away_from_kink(x, gap=1e-3):
    """Move values within `gap` of 0 away from it, so finite differences do not straddle a kink."""
    x = x.copy()
    near = np.abs(x) < gap
    x[near] = np.where(x[near] < 0, -gap, gap) * 3
    return x


# ---- PyTorch ------------------------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


UNARY_VS_TORCH = [
    ("relu", {}, lambda F, t: F.relu(t)),
    ("leaky_relu", {"negative_slope": 0.2}, lambda F, t: F.leaky_relu(t, 0.2)),
    ("elu", {"alpha": 1.3}, lambda F, t: F.elu(t, 1.3)),
    ("sigmoid", {}, lambda F, t: F.sigmoid(t)),
    ("tanh", {}, lambda F, t: F.tanh(t)),
]


@pytest.mark.parametrize("name,kw,fn", UNARY_VS_TORCH, ids=[u[0] for u in UNARY_VS_TORCH])
def test_unary_forward_backward_match_torch(name, kw, fn):
    torch = _torch()
    F = torch.nn.functional
    x = away_from_kink(randn(3, 4, 5, 6) * 3)
    dy = randn(*x.shape)
    t = torch.tensor(x, requires_grad=True)
    out = fn(F, t)
    out.backward(torch.tensor(dy))
    y = getattr(R, name)(x, **kw)
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    second = y if name in ("sigmoid", "tanh") else x
    dx = getattr(R, name + "_backward")(dy, second, **kw)
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_relu_family_propagates_nan_like_torch():
    torch = _torch()
    F = torch.nn.functional
    x = np.array([np.nan, -1.0, 0.0, 2.0, -np.inf, np.inf])
    t = torch.tensor(x)
    np.testing.assert_array_equal(R.relu(x), F.relu(t).numpy())
    np.testing.assert_array_equal(R.leaky_relu(x, 0.1), F.leaky_relu(t, 0.1).numpy())
    np.testing.assert_array_equal(R.elu(x), F.elu(t).numpy())
    np.testing.assert_array_equal(R.prelu(x, np.array([0.25])), F.prelu(t, torch.tensor([0.25], dtype=t.dtype)).numpy())


@pytest.mark.parametrize("wshape", [(1,), (4,)])
def test_prelu_matches_torch(wshape):
    torch = _torch()
    x = away_from_kink(randn(2, 4, 3, 5))
    w = RNG.random(wshape)
    dy = randn(*x.shape)
    t = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    out = torch.nn.functional.prelu(t, tw)
    out.backward(torch.tensor(dy))
    np.testing.assert_allclose(R.prelu(x, w), out.detach().numpy(), rtol=1e-12)
    dx, dw = R.prelu_backward(dy, x, w)
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-10)


def test_prelu_on_two_dims_matches_torch():
    torch = _torch()
    x, w = randn(6, 5), RNG.random(5)
    np.testing.assert_allclose(R.prelu(x, w), torch.nn.functional.prelu(torch.tensor(x), torch.tensor(w)).numpy())


def test_rrelu_eval_matches_torch_and_training_uses_its_slopes():
    torch = _torch()
    x = randn(5, 7)
    y, slopes = R.rrelu(x, 0.1, 0.3, training=False)
    np.testing.assert_allclose(y, torch.nn.functional.rrelu(torch.tensor(x), 0.1, 0.3, training=False).numpy())
    np.testing.assert_allclose(slopes, 0.2)
    y, slopes = R.rrelu(x, 0.1, 0.3, training=True, rng=np.random.default_rng(0))
    assert slopes.shape == x.shape and slopes.min() >= 0.1 and slopes.max() <= 0.3
    np.testing.assert_allclose(y, np.where(x > 0, x, x * slopes))
    # PyTorch's gradient for the same noise: dy where x > 0, else noise * dy
    dy = randn(*x.shape)
    np.testing.assert_allclose(R.rrelu_backward(dy, x, slopes), np.where(x > 0, dy, dy * slopes))


def test_dropout_and_noise_semantics():
    x = randn(200, 300)
    y, mask = R.dropout(x, 0.25, True, np.random.default_rng(3))
    assert mask.dtype == np.bool_ and abs(mask.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y, np.where(mask, x / 0.75, 0.0))
    np.testing.assert_allclose(R.dropout_backward(x, mask, 0.25), y)
    y, mask = R.dropout(x, 0.25, False)
    assert mask is None and np.array_equal(y, x)
    y, mask = R.dropout(x, 1.0, True)
    assert not mask.any() and not y.any()
    y, noise = R.gaussian_noise(x, 0.5, True, np.random.default_rng(4))
    np.testing.assert_allclose(y - x, noise, atol=1e-15)
    assert abs(noise.std() - 0.5) < 0.01
    y, noise = R.noisy_relu(x, 0.5, True, np.random.default_rng(4))
    np.testing.assert_allclose(y, np.maximum(0, x + noise))
    y, noise = R.noisy_relu(x, 0.5, False)
    assert noise is None and np.array_equal(y, np.maximum(x, 0))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_matches_torch(axis):
    torch = _torch()
    x = randn(3, 5, 4) * 4
    dy = randn(*x.shape)
    for name, fn in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
        t = torch.tensor(x, requires_grad=True)
        out = fn(t, axis)
        out.backward(torch.tensor(dy))
        y = getattr(R, name)(x, axis)
        np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(getattr(R, name + "_backward")(dy, y, axis), t.grad.numpy(),
                                   rtol=1e-10, atol=1e-14)


def test_cross_entropy_matches_torch():
    torch = _torch()
    logits, labels = randn(9, 6) * 5, RNG.integers(0, 6, 9)
    t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(t, torch.tensor(labels))
    loss_t.backward()
    loss, probs = R.cross_entropy(logits, labels)
    assert loss.shape == () and loss.dtype == np.float64
    np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-12)
    np.testing.assert_allclose(R.cross_entropy_backward(probs, labels), t.grad.numpy(), rtol=1e-10, atol=1e-15)
    empty = torch.nn.functional.cross_entropy(torch.zeros(0, 6, dtype=torch.float64),
                                              torch.zeros(0, dtype=torch.long))
    loss, probs = R.cross_entropy(np.zeros((0, 6)), np.zeros(0, np.int64))
    assert np.isnan(loss) and np.isnan(empty.item()) and probs.shape == (0, 6)


def test_output_layer_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    assert np.isfinite(R.softmax(x)).all() and np.isfinite(R.log_softmax(x)).all()
    loss, probs = R.cross_entropy(x, np.array([1, 0]))
    np.testing.assert_allclose(loss, (2e4 + np.log(3.0)) / 2, rtol=1e-6)


# ---- finite differences (float64 gradcheck: eps 1e-6, atol 1e-5, rtol 1e-3) --------------------

def numeric_grad(f, x, dy, eps=1e-6):
    """d/dx of sum(dy * f(x)) by central differences."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = np.sum(dy * f(x))
        flat[i] = old - eps
        down = np.sum(dy * f(x))
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g


FD_CASES = [
    ("relu", lambda x: R.relu(x), lambda dy, x: R.relu_backward(dy, x)),
    ("leaky_relu", lambda x: R.leaky_relu(x, 0.3), lambda dy, x: R.leaky_relu_backward(dy, x, 0.3)),
    ("elu", lambda x: R.elu(x, 0.7), lambda dy, x: R.elu_backward(dy, x, 0.7)),
    ("sigmoid", R.sigmoid, lambda dy, x: R.sigmoid_backward(dy, R.sigmoid(x))),
    ("tanh", R.tanh, lambda dy, x: R.tanh_backward(dy, R.tanh(x))),
    ("softmax0", lambda x: R.softmax(x, 0), lambda dy, x: R.softmax_backward(dy, R.softmax(x, 0), 0)),
    ("softmax", R.softmax, lambda dy, x: R.softmax_backward(dy, R.softmax(x))),
    ("log_softmax1", lambda x: R.log_softmax(x, 1),
     lambda dy, x: R.log_softmax_backward(dy, R.log_softmax(x, 1), 1)),
    ("noisy_relu", lambda x: np.maximum(0, x + NOISE), lambda dy, x: R.noisy_relu_backward(dy, x, NOISE)),
    ("rrelu", lambda x: np.where(x > 0, x, x * SLOPES), lambda dy, x: R.rrelu_backward(dy, x, SLOPES)),
]
NOISE = RNG.standard_normal((3, 4, 5)) * 0.1
SLOPES = RNG.uniform(0.1, 0.3, (3, 4, 5))


@pytest.mark.parametrize("name,f,backward", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_backward_matches_finite_differences(name, f, backward):
    x = away_from_kink(randn(3, 4, 5))
    if name == "noisy_relu":
        x = away_from_kink(x + NOISE) - NOISE
    dy = randn(*x.shape)
    np.testing.assert_allclose(backward(dy, x), numeric_grad(f, x, dy), atol=1e-5, rtol=1e-3)


def test_prelu_backward_matches_finite_differences():
    x = away_from_kink(randn(2, 3, 4))
    w = RNG.random(3)
    dy = randn(*x.shape)
    dx, dw = R.prelu_backward(dy, x, w)
    np.testing.assert_allclose(dx, numeric_grad(lambda v: R.prelu(v, w), x, dy), atol=1e-5, rtol=1e-3)
    np.testing.assert_allclose(dw, numeric_grad(lambda v: R.prelu(x, v), w.copy(), dy), atol=1e-5, rtol=1e-3)


def test_cross_entropy_backward_matches_finite_differences():
    logits, labels = randn(4, 5), RNG.integers(0, 5, 4)
    _, probs = R.cross_entropy(logits, labels)
    num = numeric_grad(lambda v: R.cross_entropy(v, labels)[0], logits, np.ones(()))
    np.testing.assert_allclose(R.cross_entropy_backward(probs, labels), num, atol=1e-5, rtol=1e-3)


def test_dropout_backward_matches_finite_differences():
    x, dy = randn(3, 4), randn(3, 4)
    y, mask = R.dropout(x, 0.4, True, np.random.default_rng(7))
    num = numeric_grad(lambda v: R.dropout(v, 0.4, True, np.random.default_rng(7))[0], x, dy)
    np.testing.assert_allclose(R.dropout_backward(dy, mask, 0.4), num, atol=1e-5, rtol=1e-3)
