"""The output layer (group e) in plain NumPy: softmax, log-softmax and cross-entropy.

All are computed in float64 with the maximum subtracted first (log-sum-exp), so logits of +-1e4
give finite results. softmax and log_softmax work on any number of dimensions >= 1, along any axis.

cross_entropy returns the loss as a 0-d array of the logits' dtype (like PyTorch's 0-d tensor;
float(loss) gives a Python number) and the softmax probabilities, which its backward takes. With
N = 0 the mean over an empty batch is NaN, as in PyTorch.
"""
import numpy as np

from .. import _checks

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
           "cross_entropy", "cross_entropy_backward"]


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _out(v, like):
    """A fresh C-contiguous array of like's dtype (0-d stays 0-d)."""
    return np.array(v, dtype=like.dtype, order="C")


def _shifted(v, axis):
    """v - max(v) along axis (0 where the whole slice is -inf, so it stays -inf, not NaN)."""
    m = np.max(v, axis=axis, keepdims=True) if v.shape[axis] else 0.0
    m = np.where(np.isneginf(m), 0.0, m)
    return v - m


def _log_sum_exp_shifted(z, axis):
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along axis."""
    a = _checks.softmax_input(x, "x", axis)
    e = np.exp(_shifted(_f64(x), a))
    return _out(e / np.sum(e, axis=a, keepdims=True), x)


def softmax_backward(dy, y, axis=-1):
    """dx = y * (dy - sum(dy * y)) along axis, y = softmax(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    a = _checks.softmax_input(y, "y", axis)
    g, s = _f64(dy), _f64(y)
    return _out(s * (g - np.sum(g * s, axis=a, keepdims=True)), y)


def log_softmax(x, axis=-1):
    """x - log(sum(exp(x))) along axis."""
    a = _checks.softmax_input(x, "x", axis)
    z = _shifted(_f64(x), a)
    return _out(z - _log_sum_exp_shifted(z, a), x)


def log_softmax_backward(dy, y, axis=-1):
    """dx = dy - exp(y) * sum(dy) along axis, y = log_softmax(x)."""
    _checks.grad_and_input(dy, "dy", y, "y")
    a = _checks.softmax_input(y, "y", axis)
    g = _f64(dy)
    return _out(g - np.exp(_f64(y)) * np.sum(g, axis=a, keepdims=True), y)


def cross_entropy(logits, labels):
    """(loss, probs): loss = mean over the batch of log(sum(exp(logits[i]))) - logits[i, labels[i]]
    (a 0-d array of the logits' dtype; NaN when N = 0), probs = softmax(logits) along axis 1.
    logits (N, C) float; labels (N,) integer in [0, C)."""
    labels = _checks.scores_and_labels(logits, "logits", labels)
    n = logits.shape[0]
    z = _shifted(_f64(logits), 1)
    lse = _log_sum_exp_shifted(z, 1)[:, 0]
    picked = z[np.arange(n), labels]
    loss = np.mean(lse - picked) if n else np.nan
    probs = np.exp(z - lse[:, None])
    return np.array(loss, dtype=logits.dtype), _out(probs, logits)


def cross_entropy_backward(probs, labels):
    """dlogits = (probs - onehot(labels)) / N."""
    labels = _checks.scores_and_labels(probs, "probs", labels)
    n = probs.shape[0]
    d = _f64(probs).copy()
    d[np.arange(n), labels] -= 1.0
    return _out(d / max(n, 1), probs)
