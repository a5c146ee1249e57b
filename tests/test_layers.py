"""cnnfast.layers: each layer's forward and backward against the composition of cnnfast.reference
ops with the layer's own weights, its parameters, gradients and configuration, its errors, and
the hooks the model uses (fused_relu, call_with). Torch comparisons skip when torch is absent."""
import json
import math

import numpy as np
import pytest

from cnnfast import layers as L
from cnnfast import reference as R

DTYPES = (np.float32, np.float64)
N = 3


# ---- the reference composition of each layer --------------------------------------------------
# ref(layer, x, dy, rng) -> (y, dx, grads): the layer's maths from cnnfast.reference ops, with the
# layer's own weights (rng: a fresh generator with the seed the layer was built with).

REF_ACT = {  # name -> (forward(x), backward(dy, x, y))
    "relu": (R.relu, lambda dy, x, y: R.relu_backward(dy, x)),
    "sigmoid": (R.sigmoid, lambda dy, x, y: R.sigmoid_backward(dy, y)),
    "tanh": (R.tanh, lambda dy, x, y: R.tanh_backward(dy, y)),
    "elu": (R.elu, lambda dy, x, y: R.elu_backward(dy, x)),
    "leaky_relu": (lambda x: R.leaky_relu(x, 0.2), lambda dy, x, y: R.leaky_relu_backward(dy, x, 0.2)),
    "softmax": (lambda x: R.softmax(x, axis=1), lambda dy, x, y: R.softmax_backward(dy, y, axis=1)),
}


def ref_activations(names, z, dy):
    """(y, dz) of the named activations applied in turn to z, for output gradient dy."""
    ins = []
    for name in names:
        ins.append(z)
        z = REF_ACT[name][0](z)
    y = z
    for name, x in zip(reversed(names), reversed(ins)):
        dy = REF_ACT[name][1](dy, x, REF_ACT[name][0](x))
    return y, dy


def act_names(layer):
    names = [] if layer.activation in (None, "linear") else [layer.activation]
    if getattr(layer, "fused_relu", False) and layer.activation != "relu":
        names.append("relu")
    return names


def with_bias(layer, dweight, dbias):
    return {"weight": dweight, **({"bias": dbias} if layer.use_bias else {})}


def ref_conv(layer, x, dy, rng):
    p = layer.params
    args = dict(stride=layer.strides, padding=layer.padding, dilation=layer.dilation_rate,
                groups=layer.groups)
    z = R.conv2d(x, p["weight"], p.get("bias"), **args)
    y, dz = ref_activations(act_names(layer), z, dy)
    dx, dw, db = R.conv2d_backward(dz, x, p["weight"], **args, need_bias_grad=layer.use_bias)
    return y, dx, with_bias(layer, dw, db)


def ref_conv_transpose(layer, x, dy, rng):
    p = layer.params
    args = dict(stride=layer.strides, padding=layer.padding, output_padding=layer.output_padding)
    z = R.conv_transpose2d(x, p["weight"], p.get("bias"), **args)
    y, dz = ref_activations(act_names(layer), z, dy)
    dx, dw, db = R.conv_transpose2d_backward(dz, x, p["weight"], **args, need_bias_grad=layer.use_bias)
    return y, dx, with_bias(layer, dw, db)


def ref_dense(layer, x, dy, rng):
    p = layer.params
    y, dz = ref_activations(act_names(layer), R.linear(x, p["weight"], p.get("bias")), dy)
    dx, dw, db = R.linear_backward(dz, x, p["weight"], need_bias_grad=layer.use_bias)
    return y, dx, with_bias(layer, dw, db)


def ref_max_pool(layer, x, dy, rng):
    y, idx = R.max_pool2d(x, layer.pool_size, layer.strides, layer.padding)
    return y, R.max_pool2d_backward(dy, idx, x.shape), {}


def ref_avg_pool(layer, x, dy, rng):
    args = (layer.pool_size, layer.strides, layer.padding)
    return R.avg_pool2d(x, *args), R.avg_pool2d_backward(dy, x.shape, *args), {}


def ref_global_pool(layer, x, dy, rng):
    return R.global_avg_pool2d(x), R.global_avg_pool2d_backward(dy, x.shape), {}


def ref_batch_norm(layer, x, dy, rng):
    p, b = layer.params, layer.buffers
    rm, rv = b["running_mean"].copy(), b["running_var"].copy()
    fwd, bwd = ((R.batch_norm_relu, R.batch_norm_relu_backward) if layer.fused_relu
                else (R.batch_norm, R.batch_norm_backward))
    y, mean, invstd = fwd(x, p["weight"], p["bias"], rm, rv, True, 1 - layer.momentum, layer.epsilon)
    grads = bwd(dy, *((y,) if layer.fused_relu else ()), x, p["weight"], mean, invstd)
    return y, grads[0], {"weight": grads[1], "bias": grads[2]}


def ref_unary(forward, backward_from_x):
    def ref(layer, x, dy, rng):
        return forward(layer, x), backward_from_x(layer, dy, x), {}
    return ref


def ref_softmax(axis):
    return ref_unary(lambda layer, x: R.softmax(x, axis),
                     lambda layer, dy, x: R.softmax_backward(dy, R.softmax(x, axis), axis))


def ref_prelu(layer, x, dy, rng):
    dx, dw = R.prelu_backward(dy, x, layer.params["weight"])
    return R.prelu(x, layer.params["weight"]), dx, {"weight": dw}


def ref_activation_layer(layer, x, dy, rng):
    y, dx = ref_activations(act_names(layer), x, dy)
    return y, dx, {}


def ref_rrelu(layer, x, dy, rng):
    y, slopes = R.rrelu(x, layer.lower, layer.upper, True, rng)
    return y, R.rrelu_backward(dy, x, slopes), {}


def ref_noise(layer, x, dy, rng):
    return R.gaussian_noise(x, layer.stddev, True, rng)[0], dy, {}


def ref_noisy_relu(layer, x, dy, rng):
    y, noise = R.noisy_relu(x, layer.stddev, True, rng)
    return y, R.noisy_relu_backward(dy, x, noise), {}


def ref_dropout(layer, x, dy, rng):
    y, mask = R.dropout(x, layer.rate, True, rng)
    return y, R.dropout_backward(dy, mask, layer.rate), {}


def ref_flatten(layer, x, dy, rng):
    return x.reshape(x.shape[0], -1), dy.reshape(x.shape), {}


def fused(layer):
    layer.fused_relu = True
    return layer


# (id, make layer, per-sample input shape, reference, the longest sum the layer computes: for a
# conv the longest of C/groups*R*S (y), K*R*S (dx) and N*P*Q (the weight and bias gradients))
CASES = [
    ("conv_same", lambda: L.Conv2D(4, 3, padding="same"), (3, 7, 6), ref_conv, N * 42),
    ("conv_grouped_strided", lambda: L.Conv2D(6, (3, 2), strides=2, padding=(1, 0), dilation_rate=(1, 2),
                                              groups=2, use_bias=False), (4, 9, 8), ref_conv, N * 15),
    ("conv_relu", lambda: L.Conv2D(5, 3, activation="relu"), (2, 6, 6), ref_conv, N * 16),
    ("conv_fused_relu", lambda: fused(L.Conv2D(5, 1)), (3, 4, 5), ref_conv, N * 20),
    ("conv_sigmoid_fused", lambda: fused(L.Conv2D(2, 2, activation="sigmoid")), (2, 4, 4), ref_conv,
     N * 9),
    ("conv_softmax", lambda: L.Conv2D(4, 3, padding=1, activation="softmax"), (2, 5, 5), ref_conv,
     N * 25),
    ("conv_transpose", lambda: L.Conv2DTranspose(3, 3, strides=2, padding=1, output_padding=1),
     (4, 4, 5), ref_conv_transpose, N * 20),
    ("conv_transpose_tanh", lambda: L.Conv2DTranspose(2, (2, 3), activation="tanh", use_bias=False),
     (3, 3, 3), ref_conv_transpose, N * 9),
    ("max_pool", lambda: L.MaxPooling2D(), (3, 6, 7), ref_max_pool, 1),
    ("max_pool_padded", lambda: L.MaxPooling2D(3, 2, 1), (2, 7, 6), ref_max_pool, 4),
    ("avg_pool", lambda: L.AveragePooling2D((2, 3), strides=(1, 2), padding=(1, 1)), (2, 5, 7),
     ref_avg_pool, 6),
    ("global_avg_pool", lambda: L.GlobalAveragePooling2D(), (3, 5, 4), ref_global_pool, 20),
    ("batch_norm", lambda: L.BatchNormalization(), (3, 5, 4), ref_batch_norm, N * 20),
    ("batch_norm_fused", lambda: fused(L.BatchNormalization(0.9, 1e-5)), (3, 4, 4), ref_batch_norm, N * 16),
    ("batch_norm_flat", lambda: L.BatchNormalization(momentum=0.5), (6,), ref_batch_norm, N),
    ("relu", lambda: L.ReLU(), (2, 3, 4),
     ref_unary(lambda l, x: R.relu(x), lambda l, dy, x: R.relu_backward(dy, x)), 1),
    ("leaky_relu", lambda: L.LeakyReLU(), (2, 3, 4),
     ref_unary(lambda l, x: R.leaky_relu(x, 0.3), lambda l, dy, x: R.leaky_relu_backward(dy, x, 0.3)), 1),
    ("elu", lambda: L.ELU(0.5), (7,),
     ref_unary(lambda l, x: R.elu(x, 0.5), lambda l, dy, x: R.elu_backward(dy, x, 0.5)), 1),
    ("prelu", lambda: L.PReLU(), (3, 4, 2), ref_prelu, N * 8),
    ("prelu_flat", lambda: L.PReLU(), (5,), ref_prelu, N),
    ("softmax", lambda: L.Softmax(), (6,), ref_softmax(1), 6),
    ("softmax_last_axis", lambda: L.Softmax(axis=-1), (2, 3, 4), ref_softmax(-1), 4),
    *[(f"activation_{a}", (lambda a=a: L.Activation(a)), (3, 2, 2), ref_activation_layer, 3)
      for a in ("relu", "sigmoid", "tanh", "elu", "leaky_relu", "softmax", "linear", None)],
    ("rrelu", lambda: L.RReLU(), (2, 3, 3), ref_rrelu, 1),
    ("gaussian_noise", lambda: L.GaussianNoise(0.5), (4, 3), ref_noise, 1),
    ("noisy_relu", lambda: L.NoisyReLU(0.3), (2, 2, 3), ref_noisy_relu, 1),
    ("dropout", lambda: L.Dropout(0.4), (10,), ref_dropout, 1),
    ("flatten", lambda: L.Flatten(), (2, 3, 4), ref_flatten, 1),
    ("dense", lambda: L.Dense(5), (7,), ref_dense, 7),
    ("dense_fused_relu_no_bias", lambda: fused(L.Dense(4, use_bias=False)), (6,), ref_dense, 6),
    ("dense_softmax", lambda: L.Dense(3, activation="softmax"), (5,), ref_dense, 5),
]
CASE_IDS = [c[0] for c in CASES]


def tolerance(dtype, length):
    """A rounding bound for sums of `length` terms (relative to the largest magnitude involved)."""
    return 8 * length * np.finfo(dtype).eps


def assert_close(got, want, dtype, length, what):
    assert got.dtype == dtype and got.shape == want.shape, what
    tol = tolerance(dtype, length)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0))),
                               err_msg=what)


def build(make, shape, dtype, seed=7):
    layer = make()
    layer.build(shape, dtype, np.random.default_rng(seed))
    return layer


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_backward_match_the_reference(case, dtype):
    _, make, shape, ref, length = case
    layer = build(make, shape, dtype, seed=11)
    data = np.random.default_rng(1)
    x = data.standard_normal((N, *shape)).astype(dtype)
    dy = data.standard_normal((N, *layer.output_shape)).astype(dtype)
    x0, dy0 = x.copy(), dy.copy()
    params0 = {k: v.copy() for k, v in layer.params.items()}

    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    want_y, want_dx, want_grads = ref(layer, x, dy, np.random.default_rng(11))

    assert_close(y, want_y, dtype, length, "y")
    assert_close(dx, want_dx, dtype, length, "dx")
    assert set(layer.grads) == set(layer.params) == set(want_grads)
    for name, g in want_grads.items():
        assert layer.grads[name].shape == layer.params[name].shape
        assert_close(layer.grads[name], g, dtype, length, f"grads[{name!r}]")
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dy, dy0)
    for k, v in params0.items():
        np.testing.assert_array_equal(layer.params[k], v)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in
                                  ("conv_grouped_strided", "conv_transpose", "max_pool_padded",
                                   "batch_norm_fused", "dense", "prelu")], ids=lambda c: c[0])
def test_non_contiguous_input_gives_the_contiguous_result(case):
    _, make, shape, _, _ = case
    x = np.random.default_rng(2).standard_normal((N, *shape))
    strided = np.asfortranarray(x)
    a, b = build(make, shape, np.float64), build(make, shape, np.float64)
    ya, yb = a.forward(x, True), b.forward(strided, True)
    np.testing.assert_array_equal(ya, yb)
    dy = np.ones_like(ya)
    np.testing.assert_array_equal(a.backward(dy), b.backward(np.asfortranarray(dy)))


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("rrelu", "gaussian_noise", "noisy_relu",
                                                               "dropout", "batch_norm")],
                         ids=lambda c: c[0])
def test_inference_forward(case):
    """training=False: the random layers are their inference form; batch norm uses the running
    statistics (here after one training step); nothing is kept for backward."""
    name, make, shape, _, _ = case
    layer = build(make, shape, np.float64)
    x = np.random.default_rng(3).standard_normal((N, *shape))
    if name == "batch_norm":
        layer.forward(x * 2 + 1, training=True)
        b = layer.buffers
        want = (x - b["running_mean"][:, None, None]) / np.sqrt(b["running_var"][:, None, None] + 1e-3)
    else:
        want = {"rrelu": R.leaky_relu(x, (1 / 8 + 1 / 3) / 2), "noisy_relu": R.relu(x)}.get(name, x)
    np.testing.assert_allclose(layer.forward(x, training=False), want, rtol=1e-14, atol=1e-14)
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((N, *layer.output_shape)))


# ---- parameters and initialisation ---------------------------------------------------------------

def test_parameter_names_and_layouts():
    f32 = np.float32
    conv = build(lambda: L.Conv2D(8, (3, 2), groups=2), (4, 9, 9), f32)
    assert {k: v.shape for k, v in conv.params.items()} == {"weight": (8, 2, 3, 2), "bias": (8,)}
    tconv = build(lambda: L.Conv2DTranspose(5, 3, use_bias=False), (4, 6, 6), f32)
    assert {k: v.shape for k, v in tconv.params.items()} == {"weight": (4, 5, 3, 3)}
    dense = build(lambda: L.Dense(3), (10,), f32)
    assert {k: v.shape for k, v in dense.params.items()} == {"weight": (3, 10), "bias": (3,)}
    bn = build(lambda: L.BatchNormalization(), (6, 4, 4), f32)
    assert list(bn.params) == ["weight", "bias"] and list(bn.buffers) == ["running_mean", "running_var"]
    np.testing.assert_array_equal(bn.params["weight"], 1)
    np.testing.assert_array_equal(bn.params["bias"], 0)
    np.testing.assert_array_equal(bn.buffers["running_mean"], 0)
    np.testing.assert_array_equal(bn.buffers["running_var"], 1)
    prelu = build(lambda: L.PReLU(), (6, 4, 4), f32)
    np.testing.assert_array_equal(prelu.params["weight"], np.full(6, 0.25, f32))
    for layer in (conv, tconv, dense, bn, prelu):
        arrays = (*layer.params.values(), *layer.buffers.values())
        assert all(v.dtype == f32 and v.flags.c_contiguous for v in arrays)
        assert layer.count_params() == sum(v.size for v in layer.params.values())


def test_params_grads_and_buffers_keep_their_identity():
    """Optimizers and the model hold these arrays: forward/backward update them in place."""
    layer = build(lambda: L.Dense(3), (4,), np.float64)
    bn = build(L.BatchNormalization, (3,), np.float64)
    held = [(d, dict(d)) for d in (layer.params, layer.grads, bn.params, bn.grads, bn.buffers)]
    x = np.ones((2, 4))
    for _ in range(2):
        bn.forward(layer.forward(x, True), True)
        dz = bn.backward(np.arange(6.0).reshape(2, 3))
        layer.backward(dz)
        assert all(d[k] is v for d, before in held for k, v in before.items())
        np.testing.assert_allclose(layer.grads["bias"], dz.sum(axis=0), rtol=1e-15, atol=1e-15)


def uniform_bounds_hold(w, bound):
    """Samples of U(-bound, bound): inside, reaching near both ends, variance bound^2/3."""
    assert np.abs(w).max() <= bound
    assert w.max() > 0.95 * bound and w.min() < -0.95 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.1


# (layer, input shape, fan_in as torch computes it for the weight)
INIT_CASES = [
    (lambda: L.Conv2D(64, 3), (16, 8, 8), 16 * 9),
    (lambda: L.Conv2D(64, (3, 5), groups=4), (16, 8, 8), 4 * 15),
    (lambda: L.Conv2DTranspose(32, 3), (64, 4, 4), 32 * 9),
    (lambda: L.Dense(256), (64,), 64),
]


@pytest.mark.parametrize("make, shape, fan_in", INIT_CASES)
def test_default_init_is_pytorchs(make, shape, fan_in):
    layer = build(make, shape, np.float64)
    uniform_bounds_hold(layer.params["weight"], 1 / math.sqrt(fan_in))
    bias = layer.params["bias"]
    assert np.abs(bias).max() <= 1 / math.sqrt(fan_in) and np.unique(bias).size == bias.size


@pytest.mark.parametrize("make, shape, fan_in", INIT_CASES)
def test_default_init_bounds_equal_torchs(make, shape, fan_in):
    torch = pytest.importorskip("torch")
    layer = make()
    c = shape[0]
    if isinstance(layer, L.Dense):
        t = torch.nn.Linear(c, layer.units)
    elif isinstance(layer, L.Conv2DTranspose):
        t = torch.nn.ConvTranspose2d(c, layer.filters, layer.kernel_size)
    else:
        t = torch.nn.Conv2d(c, layer.filters, layer.kernel_size, groups=layer.groups)
    fan_torch, _ = torch.nn.init._calculate_fan_in_and_fan_out(t.weight)
    assert fan_torch == fan_in
    torch.manual_seed(0)
    t.reset_parameters()
    w = t.weight.detach().double().numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(fan_in) < np.abs(w).max() / 0.95


@pytest.mark.parametrize("initializer", ["he_uniform", "glorot_uniform", "lecun_uniform",
                                         "he_normal", "glorot_normal", "lecun_normal"])
def test_keras_kernel_initializers(initializer):
    layer = build(lambda: L.Conv2D(96, 3, kernel_initializer=initializer), (32, 5, 5), np.float64)
    fan_in, fan_out = 32 * 9, 96 * 9
    n = {"he": fan_in / 2, "glorot": (fan_in + fan_out) / 2, "lecun": fan_in}[initializer.split("_")[0]]
    w = layer.params["weight"]
    if initializer.endswith("uniform"):
        uniform_bounds_hold(w, math.sqrt(3 / n))
    else:
        std = math.sqrt(1 / n)  # the truncated normal has the variance scale / n
        assert np.abs(w).max() <= 2 * std / 0.87962566103423978
        assert abs(w.std() / std - 1) < 0.05
    assert np.abs(layer.params["bias"]).max() <= 1 / math.sqrt(fan_in)


def test_same_seed_same_weights_and_float32_is_the_float64_draw_rounded():
    a = build(lambda: L.Conv2D(4, 3), (2, 5, 5), np.float64, seed=5)
    b = build(lambda: L.Conv2D(4, 3), (2, 5, 5), np.float64, seed=5)
    c = build(lambda: L.Conv2D(4, 3), (2, 5, 5), np.float32, seed=5)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
        np.testing.assert_array_equal(c.params[k], a.params[k].astype(np.float32))


# ---- torch layers with our weights give our outputs ----------------------------------------------

def to_torch(torch, a):
    return torch.from_numpy(np.array(a))


def test_torch_layers_with_our_weights():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 9, 8))
    cases = [
        (L.Conv2D(6, 3, strides=2, padding=1, groups=2),
         lambda: torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)),
        (L.Conv2D(3, (2, 3), padding="same", dilation_rate=2),
         lambda: torch.nn.Conv2d(4, 3, (2, 3), padding="same", dilation=2)),
        (L.Conv2DTranspose(5, 3, strides=2, padding=1, output_padding=1),
         lambda: torch.nn.ConvTranspose2d(4, 5, 3, stride=2, padding=1, output_padding=1)),
        (L.MaxPooling2D(3, 2, 1), lambda: torch.nn.MaxPool2d(3, 2, 1)),
        (L.AveragePooling2D(3, 2, 1), lambda: torch.nn.AvgPool2d(3, 2, 1)),
        (L.PReLU(), lambda: torch.nn.PReLU(4)),
    ]
    for layer, make_torch in cases:
        layer.build(x.shape[1:], np.float64, np.random.default_rng(0))
        t = make_torch().double()
        for name, p in layer.params.items():
            getattr(t, name).data = to_torch(torch, p)
        tx = to_torch(torch, x).requires_grad_()
        ty = t(tx)
        dy = rng.standard_normal(ty.shape)
        ty.backward(to_torch(torch, dy))
        y = layer.forward(x, True)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=repr(layer))
        np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
        for name in layer.params:
            np.testing.assert_allclose(layer.grads[name], getattr(t, name).grad.numpy(), rtol=1e-11,
                                       atol=1e-11, err_msg=f"{layer!r} {name}")
    dense = build(lambda: L.Dense(4), (7,), np.float64)
    t = torch.nn.Linear(7, 4).double()
    t.weight.data, t.bias.data = (to_torch(torch, dense.params[k]) for k in ("weight", "bias"))
    xf = rng.standard_normal((3, 7))
    np.testing.assert_allclose(dense.forward(xf), t(to_torch(torch, xf)).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(3, 5, 4), (6,)])
def test_batch_norm_running_statistics_equal_torchs(shape):
    """Keras momentum m is torch's 1 - m; running_var is updated with the unbiased variance."""
    torch = pytest.importorskip("torch")
    momentum, epsilon = 0.8, 1e-2
    layer = build(lambda: L.BatchNormalization(momentum, epsilon), shape, np.float64)
    t = (torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d)(
        shape[0], momentum=1 - momentum, eps=epsilon).double()
    rng = np.random.default_rng(5)
    for step in range(3):
        x = rng.standard_normal((4, *shape)) * (step + 1) + step
        y = layer.forward(x, training=True)
        ty = t.train()(to_torch(torch, x))
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.buffers["running_mean"], t.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], t.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.forward(x), t.eval()(to_torch(torch, x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


# ---- finite differences ---------------------------------------------------------------------------

FD_CASES = [
    lambda: L.Conv2D(3, 3, strides=2, padding=1, groups=1, activation="tanh"),
    lambda: L.Conv2DTranspose(2, 3, strides=2, padding=1, output_padding=1),
    lambda: fused(L.BatchNormalization()),
    lambda: L.BatchNormalization(),
    lambda: L.Dense(4, activation="softmax"),
    lambda: L.PReLU(),
    lambda: L.AveragePooling2D(3, 2, 1),
]


@pytest.mark.parametrize("make", FD_CASES, ids=lambda m: repr(m()))
def test_finite_difference_gradients(make):
    """Central differences of loss = sum(y * g) in float64 at a few coordinates of x and of
    each parameter equal what backward returns."""
    probe = make()
    shape = (7,) if isinstance(probe, L.Dense) else (2, 5, 4)
    layer = build(make, shape, np.float64)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, *shape))
    g = rng.standard_normal((3, *layer.output_shape))
    layer.forward(x, True)
    dx = layer.backward(g)

    def loss():
        return float(np.sum(layer.forward(x, True) * g))

    h = 1e-6
    targets = [("x", x, dx)] + [(k, layer.params[k], layer.grads[k].copy()) for k in layer.params]
    for what, arr, grad in targets:
        for flat in rng.choice(arr.size, size=min(arr.size, 6), replace=False):
            idx = np.unravel_index(flat, arr.shape)
            keep = arr[idx]
            arr[idx] = keep + h
            up = loss()
            arr[idx] = keep - h
            down = loss()
            arr[idx] = keep
            np.testing.assert_allclose(grad[idx], (up - down) / (2 * h), rtol=1e-5, atol=1e-7,
                                       err_msg=f"{what}{idx}")


# ---- the hooks the model uses -------------------------------------------------------------------

def copy_weights(src, dst):
    for k, v in src.params.items():
        dst.params[k][...] = v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make, shape", [
    (lambda: L.Conv2D(6, 3, padding=1), (4, 9, 7)),
    (lambda: L.Conv2D(6, 1, use_bias=False), (5, 4, 4)),
    (lambda: L.BatchNormalization(), (4, 6, 5)),
    (lambda: L.Dense(9), (13,)),
])
def test_fused_relu_equals_layer_then_relu(make, shape, dtype, isa, nthreads):
    """fused_relu=True gives relu(output) and the gradient of the ReLU-after composition, in
    training and in inference (batch norm's running statistics move the same way)."""
    fused_layer, plain = build(make, shape, dtype), build(make, shape, dtype)
    fused_layer.fused_relu = True
    relu = build(L.ReLU, plain.output_shape, dtype)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, *shape)).astype(dtype)
    dy = rng.standard_normal((4, *plain.output_shape)).astype(dtype)
    y = fused_layer.forward(x, True)
    want = relu.forward(plain.forward(x, True), True)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y, want, rtol=4 * eps, atol=4 * eps)
    assert np.array_equal(y > 0, want > 0)
    dx = fused_layer.backward(dy)
    want_dx = plain.backward(relu.backward(dy))
    tol = tolerance(dtype, 4 * math.prod(shape))
    np.testing.assert_allclose(dx, want_dx, rtol=tol, atol=tol)
    for k in plain.grads:
        np.testing.assert_allclose(fused_layer.grads[k], plain.grads[k], rtol=tol, atol=tol)
    for k in plain.buffers:
        np.testing.assert_allclose(fused_layer.buffers[k], plain.buffers[k], rtol=4 * eps)
    np.testing.assert_allclose(fused_layer.forward(x), relu.forward(plain.forward(x)), rtol=4 * eps,
                               atol=4 * eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_call_with_folded_batch_norm(dtype):
    """call_with(x, folded weight, folded bias, relu) equals inference conv -> BN (-> ReLU)."""
    from cnnfast import fold_batch_norm
    conv = build(lambda: L.Conv2D(5, 3, strides=2, padding="valid"), (3, 9, 8), dtype)
    bn = build(L.BatchNormalization, conv.output_shape, dtype)
    rng = np.random.default_rng(9)
    for name, v in (*bn.params.items(), *bn.buffers.items()):
        v[...] = rng.uniform(0.5, 1.5, v.shape)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    x0 = x.copy()
    w, b = fold_batch_norm(conv.params["weight"], conv.params["bias"], bn.params["weight"],
                           bn.params["bias"], bn.buffers["running_mean"], bn.buffers["running_var"],
                           bn.epsilon)
    want = bn.forward(conv.forward(x))
    tol = tolerance(dtype, 27)
    np.testing.assert_allclose(conv.call_with(x, w, b, False), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(conv.call_with(x, w, b, True), np.maximum(want, 0), rtol=tol, atol=tol)
    np.testing.assert_array_equal(x, x0)
    with pytest.raises(RuntimeError):
        conv.backward(np.ones_like(want))
    with pytest.raises(ValueError, match=r"Conv2D.*\(2, 3, 9, 9\)"):
        conv.call_with(np.ones((2, 3, 9, 9), dtype), w, b, False)


def test_dense_call_with():
    dense = build(lambda: L.Dense(4, activation="sigmoid"), (6,), np.float64)
    x = np.random.default_rng(10).standard_normal((3, 6))
    w, b = dense.params["weight"] * 2, dense.params["bias"] - 1
    z = R.linear(x, w, b)
    np.testing.assert_allclose(dense.call_with(x, w, b, False), z, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(dense.call_with(x, w, b, True), np.maximum(z, 0), rtol=1e-14, atol=1e-14)


def test_fused_relu_is_not_configuration():
    for layer in (L.Conv2D(2, 1), L.Dense(2), L.BatchNormalization()):
        assert layer.fused_relu is False
        layer.fused_relu = True
        assert "fused_relu" not in layer.get_config()


# ---- configuration ------------------------------------------------------------------------------

CONFIG_LAYERS = [
    L.Conv2D(4, (3, 2), strides=(2, 1), padding=(1, 0), dilation_rate=2, groups=2, use_bias=False,
             activation="tanh", kernel_initializer="he_normal", name="c1"),
    L.Conv2D(4, 3, padding="same"),
    L.Conv2DTranspose(3, 4, strides=2, padding=1, output_padding=(1, 0), activation="relu",
                      kernel_initializer="glorot_uniform"),
    L.MaxPooling2D(3, (2, 1), 1, name="pool"), L.AveragePooling2D(), L.GlobalAveragePooling2D(),
    L.BatchNormalization(0.9, 1e-5), L.ReLU(), L.LeakyReLU(0.1), L.PReLU(), L.ELU(2.0), L.RReLU(0.1, 0.2),
    L.Activation("softmax"), L.Activation(None), L.GaussianNoise(0.1), L.NoisyReLU(0.2),
    L.Dropout(0.5), L.Softmax(axis=-1), L.Flatten(name="f"),
    L.Dense(10, activation="linear", use_bias=False, kernel_initializer="he_uniform"),
]


@pytest.mark.parametrize("layer", CONFIG_LAYERS, ids=repr)
def test_get_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    again = type(layer)(**config)
    assert again.get_config() == config == json.loads(json.dumps(again.get_config()))
    assert again.name == layer.name


def test_get_config_lists_the_constructor_arguments():
    assert L.Conv2D(8, 3).get_config() == {
        "filters": 8, "kernel_size": 3, "strides": 1, "padding": "valid", "dilation_rate": 1, "groups": 1,
        "use_bias": True, "activation": None, "kernel_initializer": None}
    assert L.BatchNormalization(name="bn").get_config() == {"momentum": 0.99, "epsilon": 1e-3, "name": "bn"}
    assert L.MaxPooling2D((2, 3)).get_config() == {"pool_size": [2, 3], "strides": None, "padding": 0}
    assert L.LeakyReLU().get_config() == {"negative_slope": 0.3}
    assert L.Dense(5).get_config() == {"units": 5, "activation": None, "use_bias": True,
                                       "kernel_initializer": None}


# ---- errors -------------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    (lambda: L.Conv2D(0, 3), ValueError, "filters"),
    (lambda: L.Conv2D(2.0, 3), TypeError, "filters"),
    (lambda: L.Conv2D(4, (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: L.Conv2D(4, 0), ValueError, "kernel_size"),
    (lambda: L.Conv2D(4, 3, strides=0), ValueError, "strides"),
    (lambda: L.Conv2D(4, 3, padding="full"), ValueError, "padding"),
    (lambda: L.Conv2D(4, 3, padding=-1), ValueError, "padding"),
    (lambda: L.Conv2D(4, 3, strides=2, padding="same"), ValueError, "padding='same'"),
    (lambda: L.Conv2D(4, 3, dilation_rate=(1, 0)), ValueError, "dilation_rate"),
    (lambda: L.Conv2D(5, 3, groups=2), ValueError, "groups"),
    (lambda: L.Conv2D(4, 3, use_bias=1), TypeError, "use_bias"),
    (lambda: L.Conv2D(4, 3, activation="swish"), ValueError, "activation"),
    (lambda: L.Conv2D(4, 3, activation=len), TypeError, "activation"),
    (lambda: L.Conv2D(4, 3, kernel_initializer="ones"), ValueError, "kernel_initializer"),
    (lambda: L.Conv2D(4, 3, name=3), TypeError, "name"),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2), ValueError, "output_padding"),
    (lambda: L.Conv2DTranspose(4, 3, padding=(1, -1)), ValueError, "padding"),
    (lambda: L.MaxPooling2D(0), ValueError, "pool_size"),
    (lambda: L.MaxPooling2D(2, padding=2), ValueError, "padding"),
    (lambda: L.AveragePooling2D(2, strides=0), ValueError, "strides"),
    (lambda: L.AveragePooling2D(2, padding="same"), TypeError, "padding"),
    (lambda: L.BatchNormalization(momentum=1.5), ValueError, "momentum"),
    (lambda: L.BatchNormalization(epsilon=0), ValueError, "epsilon"),
    (lambda: L.BatchNormalization(epsilon="1e-3"), TypeError, "epsilon"),
    (lambda: L.LeakyReLU(-0.1), ValueError, "negative_slope"),
    (lambda: L.ELU(float("nan")), ValueError, "alpha"),
    (lambda: L.RReLU(0.5, 0.1), ValueError, "lower"),
    (lambda: L.Activation("gelu"), ValueError, "activation"),
    (lambda: L.GaussianNoise(-1), ValueError, "stddev"),
    (lambda: L.NoisyReLU(None), TypeError, "stddev"),
    (lambda: L.Dropout(1.5), ValueError, "rate"),
    (lambda: L.Softmax(axis=0), ValueError, "axis"),
    (lambda: L.Dense(0), ValueError, "units"),
    (lambda: L.Dense(3, activation="max"), ValueError, "activation"),
]


@pytest.mark.parametrize("make, exc, word", BAD_ARGUMENTS, ids=[b[2] for b in BAD_ARGUMENTS])
def test_bad_constructor_arguments(make, exc, word):
    with pytest.raises(exc, match=word.replace("(", r"\(").replace("[", r"\[")):
        make()


@pytest.mark.parametrize("make, shape", [
    (lambda: L.Dense(3, name="head"), (4, 5, 5)),
    (lambda: L.Conv2D(4, 3, name="head"), (10,)),
    (lambda: L.Conv2D(4, 3, groups=2, name="head"), (3, 8, 8)),
    (lambda: L.Conv2D(4, 5, name="head"), (1, 4, 8)),
    (lambda: L.Conv2DTranspose(2, 1, padding=1, name="head"), (1, 1, 4)),
    (lambda: L.MaxPooling2D(4, name="head"), (1, 3, 8)),
    (lambda: L.GlobalAveragePooling2D(name="head"), (6,)),
    (lambda: L.BatchNormalization(name="head"), (2, 3)),
    (lambda: L.Softmax(axis=3, name="head"), (4,)),
    (lambda: L.Softmax(axis=-3, name="head"), (4, 2)),
])
def test_input_shape_the_layer_cannot_take(make, shape):
    layer = make()
    with pytest.raises(ValueError, match=rf"{type(layer).__name__} 'head'"):
        layer.build(shape, np.float32, np.random.default_rng(0))


def test_build_arguments():
    with pytest.raises(TypeError, match="dtype"):
        L.ReLU().build((3,), np.int32, None)
    with pytest.raises(ValueError, match="input_shape"):
        L.ReLU().build((3, 0), np.float32, None)
    with pytest.raises(TypeError, match="rng"):
        L.Dense(2).build((3,), np.float32, 42)


@pytest.mark.parametrize("make, shape", [(lambda: L.Conv2D(4, 3, name="conv1"), (3, 8, 8)),
                                         (lambda: L.Dense(2, name="conv1"), (6,)),
                                         (lambda: L.ReLU(name="conv1"), (2, 3, 3))])
def test_wrong_inputs_name_the_layer_and_both_shapes(make, shape):
    layer = build(make, shape, np.float32)
    cls = type(layer).__name__
    bad_shape = (2, *shape[:-1], shape[-1] + 1)
    with pytest.raises(ValueError, match=rf"{cls} 'conv1'.*\(N, {', '.join(map(str, shape))}\)"
                                         rf".*\({', '.join(map(str, bad_shape))}\)"):
        layer.forward(np.zeros(bad_shape, np.float32))
    with pytest.raises(ValueError, match=rf"{cls} 'conv1'"):
        layer.forward(np.zeros(shape, np.float32))
    with pytest.raises(TypeError, match=rf"{cls} 'conv1'.*float32.*float64"):
        layer.forward(np.zeros((2, *shape)))
    with pytest.raises(TypeError, match=rf"{cls} 'conv1'.*list"):
        layer.forward(np.zeros((2, *shape)).tolist())
    with pytest.raises(TypeError, match="training"):
        layer.forward(np.zeros((2, *shape), np.float32), training="yes")


def test_unnamed_layer_is_named_by_its_class():
    layer = build(L.Flatten, (2, 2), np.float64)
    with pytest.raises(ValueError, match=r"^Flatten expects input of shape \(N, 2, 2\)"):
        layer.forward(np.zeros((1, 4)))


def test_forward_before_build():
    with pytest.raises(RuntimeError, match="not built"):
        L.ReLU(name="r").forward(np.zeros((1, 2)))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_needs_a_training_forward(case):
    _, make, shape, _, _ = case
    layer = build(make, shape, np.float64)
    dy = np.zeros((2, *layer.output_shape))
    with pytest.raises(RuntimeError, match=rf"{type(layer).__name__}.*training=True"):
        layer.backward(dy)
    layer.forward(np.ones((2, *shape)), training=True)
    with pytest.raises(ValueError, match=r"dy must have shape"):
        layer.backward(np.zeros((3, *layer.output_shape)))
    with pytest.raises(TypeError, match=r"dy must have dtype float64"):
        layer.backward(dy.astype(np.float32))
    layer.backward(dy)
    layer.forward(np.ones((2, *shape)), training=False)
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(dy)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_empty_batch(case):
    _, make, shape, _, _ = case
    layer = build(make, shape, np.float32)
    y = layer.forward(np.zeros((0, *shape), np.float32), training=True)
    assert y.shape == (0, *layer.output_shape) and y.dtype == np.float32
    assert layer.backward(np.zeros(y.shape, np.float32)).shape == (0, *shape)


def test_batch_norm_training_on_one_value_per_channel_names_the_layer():
    layer = build(lambda: L.BatchNormalization(name="bn"), (4,), np.float32)
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn'.*more than 1 value per channel.*\(1, 4\)"):
        layer.forward(np.ones((1, 4), np.float32), training=True)
    assert layer.forward(np.ones((1, 4), np.float32)).shape == (1, 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_running_statistics_follow_keras_momentum(dtype):
    """running = momentum*running + (1 - momentum)*batch statistic, the variance unbiased."""
    layer = build(lambda: L.BatchNormalization(momentum=0.7), (2, 3, 3), dtype)
    rng = np.random.default_rng(12)
    want_mean, want_var = np.zeros(2), np.ones(2)
    for step in range(3):
        x = (rng.standard_normal((4, 2, 3, 3)) * 3 + step).astype(dtype)
        layer.forward(x, training=True)
        per_channel = x.astype(np.float64).transpose(1, 0, 2, 3).reshape(2, -1)
        want_mean = 0.7 * want_mean + 0.3 * per_channel.mean(axis=1)
        want_var = 0.7 * want_var + 0.3 * per_channel.var(axis=1, ddof=1)
        tol = tolerance(dtype, per_channel.shape[1])
        np.testing.assert_allclose(layer.buffers["running_mean"], want_mean, rtol=tol, atol=tol)
        np.testing.assert_allclose(layer.buffers["running_var"], want_var, rtol=tol, atol=tol)
