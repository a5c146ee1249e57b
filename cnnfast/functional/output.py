"""The output layer (group e) in C: softmax, log-softmax and cross-entropy with the same
functions, signatures and checks as cnnfast.reference.output (see its docstring: any ndim and
axis, stable for logits of +-1e4, the loss a 0-d array of the logits' dtype, NaN for N = 0)."""
import math

import numpy as np

from .. import _checks, _core
from .._runtime import get_num_threads
from ._common import contiguous as _c

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
           "cross_entropy", "cross_entropy_backward"]


def _run(op, a, b, axis):
    """op along `axis` of a (and b): the C kernels see (outer, L, inner)."""
    out = _core.empty(a.shape, a.dtype)
    if out.size:
        outer = math.prod(a.shape[:axis])
        inner = math.prod(a.shape[axis + 1:])
        _core.softmax(op, _c(a), None if b is None else _c(b), out, outer, a.shape[axis], inner,
                      get_num_threads())
    return out


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along axis."""
    a = _checks.softmax_input(x, "x", axis)
    return _run("softmax", x, None, a)


def softmax_backward(dy, y, axis=-1):
    """dx = y * (dy - sum(dy * y)) along axis, y = softmax(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    a = _checks.softmax_input(y, "y", axis)
    return _run("softmax_bwd", dy, y, a)


def log_softmax(x, axis=-1):
    """x - log(sum(exp(x))) along axis."""
    a = _checks.softmax_input(x, "x", axis)
    return _run("log_softmax", x, None, a)


def log_softmax_backward(dy, y, axis=-1):
    """dx = dy - exp(y) * sum(dy) along axis, y = log_softmax(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    a = _checks.softmax_input(y, "y", axis)
    return _run("log_softmax_bwd", dy, y, a)


def cross_entropy(logits, labels):
    """(loss, probs): loss = mean over the batch of log(sum(exp(logits[i]))) - logits[i, labels[i]]
    (a 0-d array of the logits' dtype; NaN when N = 0), probs = softmax(logits) along axis 1.
    Every label must lie in [0, C): the C kernel checks each as it reads it."""
    labels64 = _checks.scores_and_labels(logits, "logits", labels, check_range=False)
    n = logits.shape[0]
    probs = _core.empty(logits.shape, logits.dtype)
    if n == 0:
        return np.array(np.nan, dtype=logits.dtype), probs
    total = _core.cross_entropy_fwd(_c(logits), _c(labels64), probs, get_num_threads())
    if total is None:
        _checks.labels_outside_classes(labels, logits.shape[1])
    return np.array(total / n, dtype=logits.dtype), probs


def cross_entropy_backward(probs, labels):
    """dlogits = (probs - onehot(labels)) / N. Every label must lie in [0, C): the C kernel checks
    each as it reads it."""
    labels64 = _checks.scores_and_labels(probs, "probs", labels, check_range=False)
    d = _core.empty(probs.shape, probs.dtype)
    if probs.shape[0] and not _core.cross_entropy_bwd(_c(probs), _c(labels64), d, get_num_threads()):
        _checks.labels_outside_classes(labels, probs.shape[1])
    return d
