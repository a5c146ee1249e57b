"""One valid call of every op of the functional API, for the harnesses that run every op alike:
threads (test_threads.py), fork (test_fork.py), memory and reference counts (test_memory.py), the
floating-point environment (test_fpenv.py).

CASES has an entry for every function of cnnfast.reference (the specification), so an op that
lands in C is exercised by every harness without a change here: the harnesses iterate over
c_ops(), the names cnnfast exports, which are exactly the ops that run in C. test_optable.py
checks that every entry's arguments are accepted by the reference.

An entry is Case(make, stateful): make(inputs) -> (args, kwargs) for one call, drawing its arrays
from `inputs` (an Inputs: one dtype, deterministic data, small or big shapes). stateful=True
marks calls whose arguments change with use (a random generator, running statistics updated in
place): harnesses that repeat a call build fresh arguments for each of those.
"""
from collections import namedtuple

import numpy as np

import cnnfast
from cnnfast import reference as ref

Case = namedtuple("Case", "make stateful")


class Inputs:
    """Deterministic arrays of one dtype. Small shapes keep a call cheap (for loops of thousands
    of calls); big ones are large enough that every kernel splits its work over 7 threads."""

    def __init__(self, dtype, big=False, seed=0):
        self.dtype = np.dtype(dtype)
        self.big = big
        self.rng = np.random.default_rng(seed)

    def normal(self, shape):
        return self.rng.standard_normal(shape).astype(self.dtype)

    def uniform(self, shape, low, high):
        return self.rng.uniform(low, high, shape).astype(self.dtype)

    def act(self):
        """An NCHW activation of odd sizes."""
        return self.normal((4, 16, 63, 73) if self.big else (2, 3, 5, 7))

    def matrix(self):
        """(N, F) scores for softmax and cross-entropy."""
        return self.normal((640, 515) if self.big else (5, 11))

    def image(self):
        """An NCHW image batch for convolution, pooling and batch norm."""
        return self.normal((2, 16, 41, 43) if self.big else (2, 4, 9, 11))

    def labels(self, n, classes):
        return self.rng.integers(0, classes, n)

    def generator(self):
        return np.random.default_rng(int(self.rng.integers(2**31)))


def _unary(**kw):
    """op(x, **kw) on an activation."""
    return Case(lambda a: ((a.act(),), kw), False)


def _grad(rest, **kw):
    """op(dy, *rest(a, x), **kw): a gradient dy, then what rest() builds for the activation x."""
    def make(a):
        x = a.act()
        return (a.normal(x.shape), *rest(a, x)), kw
    return Case(make, False)


def _random(*params):
    """op(x, *params, training=True, rng): a random activation in training."""
    return Case(lambda a: ((a.act(), *params, True, a.generator()), {}), True)


def _prelu_weight(a, x):
    return a.uniform((x.shape[1],), 0.0, 0.5)


def _conv(a, transpose):
    x = a.image()
    n, c, h, w = x.shape
    k = 24 if a.big else 6
    groups = 2
    if transpose:  # stride 2, padding 1, output_padding 1: the output is twice the input
        weight = a.normal((c, k // groups, 3, 3))
        params = dict(stride=2, padding=1, output_padding=1, groups=groups)
        out = (n, k, 2 * h, 2 * w)
    else:  # stride 1, padding 1: the output has the input's size
        weight = a.normal((k, c // groups, 3, 3))
        params = dict(stride=1, padding=1, groups=groups)
        out = (n, k, h, w)
    return x, weight, a.normal((k,)), params, a.normal(out)


def _conv_fwd(transpose):
    def make(a):
        x, weight, bias, params, _ = _conv(a, transpose)
        return (x, weight, bias), params
    return make


def _conv_bwd(transpose):
    def make(a):
        x, weight, _, params, dy = _conv(a, transpose)
        return (dy, x, weight), params
    return make


_POOL = dict(kernel_size=3, stride=2, padding=1)


def _max_pool_bwd(a):
    x = a.image()
    y, indices = ref.max_pool2d(x, **_POOL)
    return (a.normal(y.shape), indices, x.shape), {}


def _avg_pool_bwd(a):
    x = a.image()
    y = ref.avg_pool2d(x, **_POOL)
    return (a.normal(y.shape), x.shape), _POOL


def _bn_params(a, x):
    c = x.shape[1]
    return (a.normal((c,)), a.normal((c,)), a.normal((c,)), a.uniform((c,), 0.5, 2.0))


def _bn_fwd(a):
    x = a.image()
    return (x, *_bn_params(a, x), True), dict(momentum=0.1, eps=1e-5)


def _bn_bwd(relu):
    def make(a):
        x = a.image()
        gamma, beta, mean, var = _bn_params(a, x)
        forward = ref.batch_norm_relu if relu else ref.batch_norm
        y, save_mean, save_invstd = forward(x, gamma, beta, mean, var, True)
        dy = a.normal(x.shape)
        head = (dy, y, x) if relu else (dy, x)
        return (*head, gamma, save_mean, save_invstd), dict(training=True)
    return make


def _bn_pool_fwd(a):
    x = a.image()
    return (x, *_bn_params(a, x), True), dict(momentum=0.1, eps=1e-5, kernel_size=2)


def _bn_pool_bwd(a):
    x = a.image()
    gamma, beta, mean, var = _bn_params(a, x)
    y, save_mean, save_invstd, arg = ref.batch_norm_relu_max_pool2d(x, gamma, beta, mean, var, True)
    return (a.normal(y.shape), y, arg, x, gamma, save_mean, save_invstd), dict(kernel_size=2,
                                                                                training=True)


def _adam(a):
    x = a.image()
    return (x, a.normal(x.shape), 0.1 * a.normal(x.shape), a.uniform(x.shape, 0.0, 0.01), 3), dict(
        learning_rate=1e-2, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.01, decoupled=False)


def _fold(a):
    k = 8 if a.big else 3
    weight = a.normal((k, 4, 3, 3))
    gamma, beta, mean, var = (a.normal((k,)), a.normal((k,)), a.normal((k,)), a.uniform((k,), 0.5, 2.0))
    return (weight, a.normal((k,)), gamma, beta, mean, var, 1e-5), {}


def _linear_shapes(a):
    return (64, 130, 150) if a.big else (3, 5, 4)


def _linear(a):
    n, f_in, f_out = _linear_shapes(a)
    return (a.normal((n, f_in)), a.normal((f_out, f_in)), a.normal((f_out,))), {}


def _linear_bwd(a):
    n, f_in, f_out = _linear_shapes(a)
    return (a.normal((n, f_out)), a.normal((n, f_in)), a.normal((f_out, f_in))), dict(need_bias_grad=True)


def _softmax_fwd(a):
    return (a.act(),), dict(axis=1)


def _softmax_bwd(a):
    x = a.act()
    return (a.normal(x.shape), a.uniform(x.shape, 0.0, 1.0)), dict(axis=1)


def _log_softmax_bwd(a):
    x = a.act()
    return (a.normal(x.shape), a.uniform(x.shape, -5.0, 0.0)), dict(axis=1)


def _cross_entropy(a):
    x = a.matrix()
    return (x, a.labels(*x.shape)), {}


def _cross_entropy_bwd(a):
    x = a.matrix()
    return (a.uniform(x.shape, 0.0, 1.0), a.labels(*x.shape)), {}


CASES = {
    "relu": _unary(),
    "relu_backward": _grad(lambda a, x: (x,)),
    "leaky_relu": _unary(negative_slope=0.2),
    "leaky_relu_backward": _grad(lambda a, x: (x,), negative_slope=0.2),
    "elu": _unary(alpha=0.7),
    "elu_backward": _grad(lambda a, x: (x,), alpha=0.7),
    "sigmoid": _unary(),
    "sigmoid_backward": _grad(lambda a, x: (a.uniform(x.shape, 0.0, 1.0),)),
    "tanh": _unary(),
    "tanh_backward": _grad(lambda a, x: (a.uniform(x.shape, -1.0, 1.0),)),
    "prelu": Case(lambda a: (lambda x: ((x, _prelu_weight(a, x)), {}))(a.act()), False),
    "prelu_backward": _grad(lambda a, x: (x, _prelu_weight(a, x))),
    "rrelu": _random(0.1, 0.3),
    "rrelu_backward": _grad(lambda a, x: (x, a.uniform(x.shape, 0.1, 0.3))),
    "gaussian_noise": _random(0.5),
    "noisy_relu": _random(0.5),
    "noisy_relu_backward": _grad(lambda a, x: (x, a.normal(x.shape))),
    "dropout": _random(0.3),
    "dropout_backward": _grad(lambda a, x: (a.rng.random(x.shape) >= 0.3, 0.3)),
    "softmax": Case(_softmax_fwd, False),
    "softmax_backward": Case(_softmax_bwd, False),
    "log_softmax": Case(_softmax_fwd, False),
    "log_softmax_backward": Case(_log_softmax_bwd, False),
    "cross_entropy": Case(_cross_entropy, False),
    "cross_entropy_backward": Case(_cross_entropy_bwd, False),
    "linear": Case(_linear, False),
    "linear_backward": Case(_linear_bwd, False),
    "conv2d": Case(_conv_fwd(False), False),
    "conv2d_backward": Case(_conv_bwd(False), False),
    "conv_transpose2d": Case(_conv_fwd(True), False),
    "conv_transpose2d_backward": Case(_conv_bwd(True), False),
    "max_pool2d": Case(lambda a: ((a.image(),), _POOL), False),
    "max_pool2d_backward": Case(_max_pool_bwd, False),
    "avg_pool2d": Case(lambda a: ((a.image(),), _POOL), False),
    "avg_pool2d_backward": Case(_avg_pool_bwd, False),
    "global_avg_pool2d": Case(lambda a: ((a.image(),), {}), False),
    "global_avg_pool2d_backward": Case(lambda a: ((lambda x: (a.normal(x.shape[:2]), x.shape))(a.image()), {}),
                                       False),
    "batch_norm": Case(_bn_fwd, True),
    "batch_norm_backward": Case(_bn_bwd(False), False),
    "batch_norm_relu": Case(_bn_fwd, True),
    "batch_norm_relu_backward": Case(_bn_bwd(True), False),
    "batch_norm_relu_max_pool2d": Case(_bn_pool_fwd, True),
    "batch_norm_relu_max_pool2d_backward": Case(_bn_pool_bwd, False),
    "fold_batch_norm": Case(_fold, False),
    "adam_step": Case(_adam, True),
}


def c_ops():
    """The names of the ops that run in C: everything the functional API exports."""
    return list(cnnfast.functional.__all__)


def forward_ops():
    return [name for name in c_ops() if not name.endswith("_backward")]


def build(name, dtype=np.float32, big=False, seed=0):
    """(args, kwargs) of one valid call of op `name`."""
    return CASES[name].make(Inputs(dtype, big, seed))


def call(name, args, kwargs, module=cnnfast):
    return getattr(module, name)(*args, **kwargs)


def arrays(result):
    """The arrays (and Nones) of an op's result, flattened into a list."""
    if isinstance(result, tuple):
        return [r for part in result for r in arrays(part)]
    return [result]


def assert_identical(got, want, what=""):
    """Results equal bit for bit: the same arrays, dtypes, shapes and bytes (NaNs and signed zeros
    included)."""
    got, want = arrays(got), arrays(want)
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"{what}: output {i}"
            continue
        assert g.dtype == w.dtype and g.shape == w.shape, f"{what}: output {i}"
        assert g.tobytes() == w.tobytes(), f"{what}: output {i} differs"
