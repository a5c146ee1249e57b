"""The op registry: one small entry per benchmarked op.

An entry says
  name     the row label and what --ops selects (usually the function name)
  func     the function called in `cnnfast` and in `cnnfast.reference` (same signature in both)
  family   activation | output | dense | conv | pool | bnorm (also selectable with --ops)
  shapes   which shape set it runs on (keys of shapes.DEFAULT: nchw, rows, dense, conv, ...)
  make     (shape, dtype, inputs) -> Case: the call's arguments and the named arrays torch needs
  torch    (torch, case) -> zero-argument callable doing the same work in PyTorch; for a backward
           op, the forward is run here once and the callable is the autograd backward alone
  flops    shape -> FLOP count for compute-bound ops; None for memory-bound ones, whose bytes are
           counted from the call itself (every array argument read once + every array returned)
  accepts  shape -> bool, for ops that run on only part of a shape set
  requires function -> bool, for ops that are a keyword of a function (conv2d's activation=)

Adding an op is one `Op(...)` line plus, when no helper below fits, a make / torch pair of a few
lines. The runner times an entry only when `cnnfast` has `func` (and `requires` holds), and
compares with the reference only when it has it too.
"""
import inspect
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass
class Case:
    """One call: `func(*args, **kwargs)`; `arrays` holds the NumPy inputs by name for torch."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    shape: object = None


@dataclass(frozen=True)
class Op:
    name: str
    func: str
    family: str
    shapes: str
    make: Callable
    torch: Callable
    flops: Optional[Callable] = None
    accepts: Callable = lambda shape: True
    requires: Optional[Callable] = None

    def available(self, module):
        """Whether `module` (cnnfast or the reference) has this op."""
        fn = getattr(module, self.func, None)
        return fn is not None and (self.requires is None or self.requires(fn))


def _has_parameter(name):
    """requires= for ops that are an extra keyword of an existing function."""
    def check(fn):
        try:
            return name in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return False
    return check


# ---------------------------------------------------------------------------------------------
# torch helpers (torch is passed in; this module never imports it)

def _t(torch, a, grad=False):
    t = torch.from_numpy(a)
    return t.requires_grad_() if grad else t


def _forward(fn, shaped=False):
    """torch side of a forward op: fn(torch, F, **tensors) on the case's arrays (and s=the shape
    record when shaped)."""
    def build(torch, case):
        F = torch.nn.functional
        kw = {k: _t(torch, v) for k, v in case.arrays.items()}
        if shaped:
            kw["s"] = case.shape
        return lambda: fn(torch, F, **kw)
    return build


def _backward(fn, wrt, dy="dy", shaped=False):
    """torch side of a backward op: y = fn(torch, F, **tensors) once (the first output if it
    returns several), then the callable is torch.autograd.grad(y, <tensors named in wrt>, dy)
    alone: the backward without the forward, and no accumulation into .grad."""
    def build(torch, case):
        F = torch.nn.functional
        kw = {k: _t(torch, v, grad=k in wrt) for k, v in case.arrays.items() if k != dy}
        inputs = tuple(kw[k] for k in wrt)
        if shaped:
            kw["s"] = case.shape
        y = fn(torch, F, **kw)
        y = y[0] if isinstance(y, tuple) else y
        grad_out = _t(torch, case.arrays[dy]).reshape(y.shape) if dy else None
        return lambda: torch.autograd.grad(y, inputs, grad_out, retain_graph=True)
    return build


# ---------------------------------------------------------------------------------------------
# NumPy helpers for inputs that are plain functions of others

def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# Activations, elementwise on (N, C, H, W)

def _unary(func, torch_fn, **kw):
    def make(s, dt, inp):
        x = inp.randn(s.dims, dt)
        return Case((x,), dict(kw), {"x": x})
    return Op(func, func, "activation", "nchw", make, _forward(torch_fn))


def _unary_backward(func, torch_fn, output=None, **kw):
    """func(dy, x, **kw), or func(dy, y, **kw) with y = output(x) when the backward takes the
    forward's output (computed here in NumPy)."""
    def make(s, dt, inp):
        x = inp.randn(s.dims, dt)
        dy = inp.randn(s.dims, dt, "dy")
        saved = x if output is None else output(x).astype(dt)
        return Case((dy, saved), dict(kw), {"x": x, "dy": dy})
    return Op(func, func, "activation", "nchw", make, _backward(torch_fn, ("x",)))


def _with_rng(func, torch_fn, **kw):
    """Forward ops drawing random numbers: func(x, ..., training=True, rng=Generator)."""
    def make(s, dt, inp):
        x = inp.randn(s.dims, dt)
        return Case((x,), dict(kw, training=True, rng=inp.rng()), {"x": x})
    return Op(func, func, "activation", "nchw", make, _forward(torch_fn))


def _from_forward(func, fwd, torch_fn, fwd_kw, **kw):
    """Backward ops that take what a random forward drew: func(dy, x, drawn) or func(dy, drawn, p).
    fwd_kw: the forward's parameters; kw: the backward's own."""
    def make(s, dt, inp):
        x = inp.randn(s.dims, dt)
        dy = inp.randn(s.dims, dt, "dy")
        drawn = inp.forward(fwd, x, **dict(fwd_kw, training=True, rng=inp.rng()))[1]
        args = (dy, drawn) if fwd == "dropout" else (dy, x, drawn)
        return Case(args, dict(kw), {"x": x, "dy": dy, "drawn": drawn})
    return Op(func, func, "activation", "nchw", make, _backward(torch_fn, ("x",)))


def _prelu(s, dt, inp):
    x = inp.randn(s.dims, dt)
    w = np.full(s.dims[1], 0.25, dtype=dt)
    return Case((x, w), {}, {"x": x, "w": w})


def _prelu_backward(s, dt, inp):
    case = _prelu(s, dt, inp)
    dy = inp.randn(s.dims, dt, "dy")
    return Case((dy,) + case.args, {}, dict(case.arrays, dy=dy))


ACTIVATIONS = [
    _unary("relu", lambda t, F, x: F.relu(x)),
    _unary_backward("relu_backward", lambda t, F, x: F.relu(x)),
    _unary("leaky_relu", lambda t, F, x: F.leaky_relu(x, 0.01), negative_slope=0.01),
    _unary_backward("leaky_relu_backward", lambda t, F, x: F.leaky_relu(x, 0.01), negative_slope=0.01),
    _unary("elu", lambda t, F, x: F.elu(x, 1.0), alpha=1.0),
    _unary_backward("elu_backward", lambda t, F, x: F.elu(x, 1.0), alpha=1.0),
    _unary("sigmoid", lambda t, F, x: t.sigmoid(x)),
    _unary_backward("sigmoid_backward", lambda t, F, x: t.sigmoid(x), output=_sigmoid),
    _unary("tanh", lambda t, F, x: t.tanh(x)),
    _unary_backward("tanh_backward", lambda t, F, x: t.tanh(x), output=np.tanh),
    Op("prelu", "prelu", "activation", "nchw", _prelu, _forward(lambda t, F, x, w: F.prelu(x, w))),
    Op("prelu_backward", "prelu_backward", "activation", "nchw", _prelu_backward,
       _backward(lambda t, F, x, w: F.prelu(x, w), ("x", "w"))),
    _with_rng("rrelu", lambda t, F, x: F.rrelu(x, 1 / 8, 1 / 3, training=True)),
    _from_forward("rrelu_backward", "rrelu", lambda t, F, x, drawn: F.rrelu(x, 1 / 8, 1 / 3, training=True), {}),
    _with_rng("gaussian_noise", lambda t, F, x: x + t.randn_like(x) * 0.1, stddev=0.1),
    _with_rng("noisy_relu", lambda t, F, x: F.relu(x + t.randn_like(x) * 0.1), stddev=0.1),
    _from_forward("noisy_relu_backward", "noisy_relu", lambda t, F, x, drawn: F.relu(x + drawn), {"stddev": 0.1}),
    _with_rng("dropout", lambda t, F, x: F.dropout(x, 0.5, True), p=0.5),
    _from_forward("dropout_backward", "dropout", lambda t, F, x, drawn: F.dropout(x, 0.5, True), {"p": 0.5},
                  p=0.5),
]

# ---------------------------------------------------------------------------------------------
# Output layer, rows of (N, F)

def _rows(func, torch_fn):
    def make(s, dt, inp):
        x = inp.randn(s.dims, dt)
        return Case((x,), {"axis": -1}, {"x": x})
    return Op(func, func, "output", "rows", make, _forward(torch_fn))


def _rows_backward(func, fwd_numpy, torch_fn):
    def make(s, dt, inp):
        x = inp.randn(s.dims, dt)
        dy = inp.randn(s.dims, dt, "dy")
        return Case((dy, fwd_numpy(x).astype(dt)), {"axis": -1}, {"x": x, "dy": dy})
    return Op(func, func, "output", "rows", make, _backward(torch_fn, ("x",)))


def _cross_entropy(s, dt, inp):
    x = inp.randn(s.dims, dt)
    labels = inp.labels(s.dims[0], s.dims[1])
    return Case((x, labels), {}, {"x": x, "labels": labels})


def _cross_entropy_backward(s, dt, inp):
    case = _cross_entropy(s, dt, inp)
    x, labels = case.args
    return Case((_softmax(x).astype(dt), labels), {}, case.arrays)


OUTPUT = [
    _rows("softmax", lambda t, F, x: F.softmax(x, -1)),
    _rows_backward("softmax_backward", _softmax, lambda t, F, x: F.softmax(x, -1)),
    _rows("log_softmax", lambda t, F, x: F.log_softmax(x, -1)),
    _rows_backward("log_softmax_backward", lambda x: np.log(_softmax(x)), lambda t, F, x: F.log_softmax(x, -1)),
    Op("cross_entropy", "cross_entropy", "output", "rows", _cross_entropy,
       _forward(lambda t, F, x, labels: F.cross_entropy(x, labels))),
    Op("cross_entropy_backward", "cross_entropy_backward", "output", "rows", _cross_entropy_backward,
       _backward(lambda t, F, x, labels: F.cross_entropy(x, labels), ("x",), dy=None)),
]

# ---------------------------------------------------------------------------------------------
# Dense: x (n, fin) @ weight (fout, fin)^T + bias

def _linear(s, dt, inp):
    x = inp.randn((s.n, s.fin), dt)
    w = inp.randn((s.fout, s.fin), dt, "w")
    b = inp.randn((s.fout,), dt, "b")
    return Case((x, w, b), {}, {"x": x, "w": w, "b": b})


def _linear_backward(s, dt, inp):
    x = inp.randn((s.n, s.fin), dt)
    w = inp.randn((s.fout, s.fin), dt, "w")
    b = inp.randn((s.fout,), dt, "b")
    dy = inp.randn((s.n, s.fout), dt, "dy")
    return Case((dy, x, w), {"need_bias_grad": True}, {"x": x, "w": w, "b": b, "dy": dy})


DENSE = [
    Op("linear", "linear", "dense", "dense", _linear, _forward(lambda t, F, x, w, b: F.linear(x, w, b)),
       flops=lambda s: s.flops),
    Op("linear_backward", "linear_backward", "dense", "dense", _linear_backward,
       _backward(lambda t, F, x, w, b: F.linear(x, w, b), ("x", "w", "b")), flops=lambda s: 2 * s.flops),
]

# ---------------------------------------------------------------------------------------------
# Convolution. conv_transpose2d runs the adjoint of the shape's forward conv: its input is the
# conv's output (n, k, p, q), its output the conv's input (n, c, h, w); the FLOPs are the same.

def _conv_params(s):
    return {"stride": s.stride, "padding": s.padding, "dilation": s.dilation, "groups": s.groups}


def _conv2d(s, dt, inp):
    x = inp.randn((s.n, s.c, s.h, s.w), dt)
    w = inp.randn((s.k, s.c // s.groups, s.r, s.s), dt, "w")
    b = inp.randn((s.k,), dt, "b")
    return Case((x, w, b), _conv_params(s), {"x": x, "w": w, "b": b}, s)


def _conv2d_backward(s, dt, inp):
    case = _conv2d(s, dt, inp)
    x, w, _ = case.args
    dy = inp.randn((s.n, s.k, s.p, s.q), dt, "dy")
    return Case((dy, x, w), dict(case.kwargs, need_bias_grad=True), dict(case.arrays, dy=dy), s)


def _conv2d_relu(s, dt, inp):
    case = _conv2d(s, dt, inp)
    return Case(case.args, dict(case.kwargs, activation="relu"), case.arrays, s)


def _deconv_params(s):
    return dict(_conv_params(s), output_padding=s.transpose_output_padding())


def _deconv(s, dt, inp):
    x = inp.randn((s.n, s.k, s.p, s.q), dt)
    w = inp.randn((s.k, s.c // s.groups, s.r, s.s), dt, "w")
    b = inp.randn((s.c,), dt, "b")
    return Case((x, w, b), _deconv_params(s), {"x": x, "w": w, "b": b}, s)


def _deconv_backward(s, dt, inp):
    case = _deconv(s, dt, inp)
    x, w, _ = case.args
    dy = inp.randn((s.n, s.c, s.h, s.w), dt, "dy")
    return Case((dy, x, w), dict(case.kwargs, need_bias_grad=True), dict(case.arrays, dy=dy), s)


def _torch_conv(t, F, x, w, b, s):
    return F.conv2d(x, w, b, s.stride, s.padding, s.dilation, s.groups)


def _torch_conv_relu(t, F, x, w, b, s):
    return F.relu(_torch_conv(t, F, x, w, b, s))


def _torch_deconv(t, F, x, w, b, s):
    return F.conv_transpose2d(x, w, b, s.stride, s.padding, s.transpose_output_padding(), s.groups, s.dilation)


def _transposable(s):
    return s.transpose_output_padding() is not None


_XWB = ("x", "w", "b")

CONV = [
    Op("conv2d", "conv2d", "conv", "conv", _conv2d, _forward(_torch_conv, shaped=True),
       flops=lambda s: s.flops),
    Op("conv2d_backward", "conv2d_backward", "conv", "conv", _conv2d_backward,
       _backward(_torch_conv, _XWB, shaped=True), flops=lambda s: 2 * s.flops),
    Op("conv2d_relu", "conv2d", "conv", "conv", _conv2d_relu, _forward(_torch_conv_relu, shaped=True),
       flops=lambda s: s.flops, requires=_has_parameter("activation")),
    Op("conv_transpose2d", "conv_transpose2d", "conv", "deconv", _deconv, _forward(_torch_deconv, shaped=True),
       flops=lambda s: s.flops, accepts=_transposable),
    Op("conv_transpose2d_backward", "conv_transpose2d_backward", "conv", "deconv", _deconv_backward,
       _backward(_torch_deconv, _XWB, shaped=True), flops=lambda s: 2 * s.flops, accepts=_transposable),
]

# ---------------------------------------------------------------------------------------------
# Pooling over (N, C, H, W)

def _pool_x(s, dt, inp):
    return inp.randn((s.n, s.c, s.h, s.w), dt)


def _max_params(s):
    return {"kernel_size": s.kernel, "stride": s.stride, "padding": s.padding, "dilation": s.dilation,
            "ceil_mode": s.ceil_mode}


def _avg_params(s):
    return {"kernel_size": s.kernel, "stride": s.stride, "padding": s.padding, "ceil_mode": s.ceil_mode,
            "count_include_pad": True}


def _max_pool(s, dt, inp):
    x = _pool_x(s, dt, inp)
    return Case((x,), _max_params(s), {"x": x}, s)


def _max_pool_backward(s, dt, inp):
    x = _pool_x(s, dt, inp)
    _, indices = inp.forward("max_pool2d", x, **_max_params(s))
    dy = inp.randn((s.n, s.c) + s.out, dt, "dy")
    return Case((dy, indices, x.shape), {}, {"x": x, "dy": dy}, s)


def _avg_pool(s, dt, inp):
    x = _pool_x(s, dt, inp)
    return Case((x,), _avg_params(s), {"x": x}, s)


def _avg_pool_backward(s, dt, inp):
    x = _pool_x(s, dt, inp)
    dy = inp.randn((s.n, s.c) + s.out, dt, "dy")
    return Case((dy, x.shape), _avg_params(s), {"x": x, "dy": dy}, s)


def _global_pool(s, dt, inp):
    x = _pool_x(s, dt, inp)
    return Case((x,), {}, {"x": x}, s)


def _global_pool_backward(s, dt, inp):
    x = _pool_x(s, dt, inp)
    dy = inp.randn((s.n, s.c), dt, "dy")
    return Case((dy, x.shape), {}, {"x": x, "dy": dy}, s)


def _torch_max(t, F, x, s):
    return F.max_pool2d(x, s.kernel, s.stride, s.padding, s.dilation, s.ceil_mode, return_indices=True)


def _torch_avg(t, F, x, s):
    return F.avg_pool2d(x, s.kernel, s.stride, s.padding, s.ceil_mode, count_include_pad=True)


def _torch_global(t, F, x, s):
    return F.adaptive_avg_pool2d(x, 1)


def _is_max(s):
    return s.alg == "max"


def _is_avg(s):
    return s.alg == "avg" and s.dilation == (1, 1)


def _is_global(s):
    return s.alg == "avg" and s.is_global


POOL = [
    Op("max_pool2d", "max_pool2d", "pool", "pool", _max_pool, _forward(_torch_max, shaped=True),
       accepts=_is_max),
    Op("max_pool2d_backward", "max_pool2d_backward", "pool", "pool", _max_pool_backward,
       _backward(_torch_max, ("x",), shaped=True), accepts=_is_max),
    Op("avg_pool2d", "avg_pool2d", "pool", "pool", _avg_pool, _forward(_torch_avg, shaped=True),
       accepts=_is_avg),
    Op("avg_pool2d_backward", "avg_pool2d_backward", "pool", "pool", _avg_pool_backward,
       _backward(_torch_avg, ("x",), shaped=True), accepts=_is_avg),
    Op("global_avg_pool2d", "global_avg_pool2d", "pool", "pool", _global_pool,
       _forward(_torch_global, shaped=True), accepts=_is_global),
    Op("global_avg_pool2d_backward", "global_avg_pool2d_backward", "pool", "pool", _global_pool_backward,
       _backward(_torch_global, ("x",), shaped=True), accepts=_is_global),
]

# ---------------------------------------------------------------------------------------------
# Batch norm over (N, C, H, W); training updates fresh running statistics in place.

def _bn_arrays(s, dt, inp):
    x = inp.randn((s.n, s.c, s.h, s.w), dt)
    gamma = np.ones(s.c, dtype=dt)
    beta = np.zeros(s.c, dtype=dt)
    return x, gamma, beta


def _bn(training):
    def make(s, dt, inp):
        x, gamma, beta = _bn_arrays(s, dt, inp)
        rm, rv = np.zeros(s.c, dtype=dt), np.ones(s.c, dtype=dt)
        return Case((x, gamma, beta, rm, rv), {"training": training, "momentum": 0.1, "eps": 1e-5},
                    {"x": x, "gamma": gamma, "beta": beta, "rm": rm.copy(), "rv": rv.copy()}, s)
    return make


def _bn_backward(s, dt, inp):
    x, gamma, beta = _bn_arrays(s, dt, inp)
    rm, rv = np.zeros(s.c, dtype=dt), np.ones(s.c, dtype=dt)
    _, save_mean, save_invstd = inp.forward("batch_norm", x, gamma, beta, rm, rv, True)
    dy = inp.randn(x.shape, dt, "dy")
    return Case((dy, x, gamma, save_mean, save_invstd), {"training": True},
                {"x": x, "gamma": gamma, "beta": beta, "rm": rm, "rv": rv, "dy": dy}, s)


def _bn_relu_backward(s, dt, inp):
    case = _bn_backward(s, dt, inp)
    dy, x, gamma, _, _ = case.args
    rm, rv = np.zeros(s.c, dtype=dt), np.ones(s.c, dtype=dt)
    y, save_mean, save_invstd = inp.forward("batch_norm_relu", x, gamma, case.arrays["beta"], rm, rv, True)
    return Case((dy, y, x, gamma, save_mean, save_invstd), {"training": True}, case.arrays, s)


def _bn_pool(s, dt, inp):
    case = _bn(True)(s, dt, inp)
    return Case(case.args, dict(case.kwargs, kernel_size=2), case.arrays, s)


def _bn_pool_backward(s, dt, inp):
    x, gamma, beta = _bn_arrays(s, dt, inp)
    rm, rv = np.zeros(s.c, dtype=dt), np.ones(s.c, dtype=dt)
    y, save_mean, save_invstd, arg = inp.forward("batch_norm_relu_max_pool2d", x, gamma, beta, rm, rv, True)
    dy = inp.randn(y.shape, dt, "dy")
    return Case((dy, y, arg, x, gamma, save_mean, save_invstd), {"kernel_size": 2, "training": True},
                {"x": x, "gamma": gamma, "beta": beta, "rm": rm, "rv": rv, "dy": dy}, s)


def _torch_bn_pool(t, F, x, gamma, beta, rm, rv):
    return F.max_pool2d(_torch_bn(True, True)(t, F, x, gamma, beta, rm, rv), 2)


def _torch_bn(training, relu=False):
    def fn(t, F, x, gamma, beta, rm, rv):
        y = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=0.1, eps=1e-5)
        return F.relu(y) if relu else y
    return fn


BNORM = [
    Op("batch_norm", "batch_norm", "bnorm", "bnorm", _bn(True), _forward(_torch_bn(True))),
    Op("batch_norm_eval", "batch_norm", "bnorm", "bnorm", _bn(False), _forward(_torch_bn(False))),
    Op("batch_norm_backward", "batch_norm_backward", "bnorm", "bnorm", _bn_backward,
       _backward(_torch_bn(True), ("x", "gamma", "beta"))),
    # the fused inference/training paths of the layer API, against torch's relu(batch_norm(x))
    Op("batch_norm_relu", "batch_norm_relu", "bnorm", "bnorm", _bn(True), _forward(_torch_bn(True, True))),
    Op("batch_norm_relu_backward", "batch_norm_relu_backward", "bnorm", "bnorm", _bn_relu_backward,
       _backward(_torch_bn(True, True), ("x", "gamma", "beta"))),
    # a conv-BN-ReLU-pool block's tail, fused by the layer API, against torch's three ops
    Op("batch_norm_relu_max_pool2d", "batch_norm_relu_max_pool2d", "bnorm", "bnorm", _bn_pool,
       _forward(_torch_bn_pool)),
    Op("batch_norm_relu_max_pool2d_backward", "batch_norm_relu_max_pool2d_backward", "bnorm", "bnorm",
       _bn_pool_backward, _backward(_torch_bn_pool, ("x", "gamma", "beta"))),
]

REGISTRY = ACTIVATIONS + OUTPUT + DENSE + CONV + POOL + BNORM
FAMILIES = ("activation", "output", "dense", "conv", "pool", "bnorm")
