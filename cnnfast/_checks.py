"""Argument validation shared by cnnfast.reference and cnnfast.functional.

Every public op validates its arguments in one place, before any work: a wrong type or dtype is a
TypeError, a wrong value or shape a ValueError, a number beyond int64 an OverflowError, and every
message names the argument and the numbers. Both the NumPy oracle and the C path call the same
validators, so they refuse exactly the same inputs.
"""
import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT64_MAX = 2**63 - 1


def data(x, name):
    """`x` must be a NumPy array of float32 or float64; return it unchanged."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32 or float64, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    return x


def same_dtype(*named):
    """named = (name, array, name, array, ...): all arrays must share one dtype."""
    first_name, first = named[0], named[1]
    for name, arr in zip(named[2::2], named[3::2]):
        if arr.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {arr.dtype} but {first_name} has dtype {first.dtype}; "
                            "both must have the same dtype")


def ndim(x, name, allowed):
    """x.ndim must be one of `allowed` (an int or a tuple of ints)."""
    allowed = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    if x.ndim not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise ValueError(f"{name} must have {want} dimensions, got {x.ndim} (shape {x.shape})")


def same_shape(name_a, a, name_b, b):
    if a.shape != b.shape:
        raise ValueError(f"{name_b} has shape {b.shape} but {name_a} has shape {a.shape}; they must match")


def shape_is(x, name, shape):
    shape = tuple(int(s) for s in shape)
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {x.shape}")


def integer(v, name, minimum=None):
    """A Python or NumPy integer (not bool, not float) within int64 and >= minimum; returns int."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__} {v!r}")
    v = operator.index(v)
    if v > INT64_MAX or v < -INT64_MAX - 1:
        raise OverflowError(f"{name} = {v} does not fit in a 64-bit signed integer")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def pair(v, name, minimum=None):
    """An integer or a pair of integers -> (int, int), each checked by integer()."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an integer or a pair of integers, got {len(v)} values {v!r}")
        return (integer(v[0], f"{name}[0]", minimum), integer(v[1], f"{name}[1]", minimum))
    i = integer(v, name, minimum)
    return (i, i)


def real(v, name, minimum=None, maximum=None, finite=True):
    """A real number (not bool) -> float, optionally finite and within [minimum, maximum]."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__} {v!r}")
    f = float(v)
    if finite and not np.isfinite(f):
        raise ValueError(f"{name} must be finite, got {f}")
    if minimum is not None and f < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {f}")
    if maximum is not None and f > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {f}")
    return f


def coefficient(v, name, dtype):
    """A real scale factor applied in `dtype` (a slope, an alpha): finite, and 0 or a normal number
    of that dtype, so that the C kernels, which hold it in the dtype, compute what the float64
    reference does (a slope of 1e-60 rounds to 0 in float32, and 0 * inf is NaN)."""
    f = real(v, name)
    info = np.finfo(dtype)
    if f != 0 and not float(info.tiny) <= abs(f) <= float(info.max):
        raise ValueError(f"{name} = {f} is not 0 or a normal {np.dtype(dtype).name} "
                         f"(|{name}| within [{float(info.tiny)}, {float(info.max)}])")
    return f


def boolean(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(v).__name__} {v!r}")
    return bool(v)


def generator(rng, name="rng"):
    """None -> a fresh numpy.random.Generator; a Generator is returned as is."""
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return rng


def axis(v, nd, name="axis"):
    """A valid axis of an nd-dimensional array -> its non-negative index."""
    a = integer(v, name)
    if not -nd <= a < nd:
        raise ValueError(f"{name} = {a} is out of range for an array of {nd} dimensions")
    return a % nd


def checked_product(values, what):
    """Product of non-negative ints, raising OverflowError if it passes int64."""
    p = 1
    for v in values:
        p *= int(v)
        if p > INT64_MAX:
            raise OverflowError(f"{what} has {p} or more elements, more than a 64-bit index can address")
    return p


def shape_tuple(shape, name):
    """A shape given by the caller (tuple/list of non-negative ints) -> tuple of int."""
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of integers, got {type(shape).__name__}")
    out = tuple(integer(s, f"{name}[{i}]", 0) for i, s in enumerate(shape))
    checked_product(out, name)
    return out


# ---- activations (d) and output layer (e) ------------------------------------------------------

def grad_and_input(dy, dy_name, x, x_name):
    """dy and x: float arrays of one dtype and one shape."""
    data(dy, dy_name)
    data(x, x_name)
    same_dtype(x_name, x, dy_name, dy)
    same_shape(x_name, x, dy_name, dy)


def prelu_weight(x, weight):
    """weight: a float array of x's dtype, shape (1,) or (C,) where C = x.shape[1] (1 if x.ndim < 2)."""
    data(x, "x")
    data(weight, "weight")
    same_dtype("x", x, "weight", weight)
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.ndim != 1 or weight.shape[0] not in (1, channels):
        raise ValueError(f"weight must have shape (1,) or ({channels},) (x has {channels} channels on axis 1), "
                         f"got {weight.shape}")


def rrelu_bounds(lower, upper):
    lower = real(lower, "lower")
    upper = real(upper, "upper")
    if lower > upper:
        raise ValueError(f"lower = {lower} must be <= upper = {upper}")
    return lower, upper


def same_as_input(arr, name, x, x_name="x", allow_none=False):
    """An array that a forward op returned next to its output (noise, slopes): x's dtype and shape."""
    if arr is None and allow_none:
        return
    data(arr, name)
    same_dtype(x_name, x, name, arr)
    same_shape(x_name, x, name, arr)


def dropout_args(x, p, training):
    """dropout(x, p, training): x a float array, 0 <= p <= 1 -> (p, training)."""
    data(x, "x")
    return real(p, "p", minimum=0.0, maximum=1.0), boolean(training, "training")


def dropout_backward_args(dy, mask, p):
    """dropout_backward(dy, mask, p): mask dropout's (None or bool of dy's shape) -> p."""
    data(dy, "dy")
    dropout_mask(mask, dy)
    return real(p, "p", minimum=0.0, maximum=1.0)


def dropout_mask(mask, dy):
    """The keep-mask dropout returned: None (not training) or a bool array of dy's shape."""
    if mask is None:
        return
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy.ndarray of bool or None, got {type(mask).__name__}")
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must have dtype bool, got {mask.dtype}")
    same_shape("dy", dy, "mask", mask)


def softmax_input(x, name, axis_value):
    """x: a float array of at least one dimension; returns the non-negative axis."""
    data(x, name)
    if x.ndim < 1:
        raise ValueError(f"{name} must have at least 1 dimension, got a 0-d array")
    return axis(axis_value, x.ndim)


def class_labels(labels, n, classes, check_range=True):
    """labels: an integer array of shape (n,) with values in [0, classes); returns it as int64.

    A caller that checks the range itself (the C path checks each label as it reads it) passes
    check_range=False and reports a failure through labels_outside_classes, so the message is the
    same."""
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"labels must be a numpy.ndarray of integers, got {type(labels).__name__}")
    # kinds 'i' and 'u' are integer dtypes: issubdtype (half a microsecond a call, as much as the
    # rest of this check) only decides the others
    if labels.dtype.kind not in "iu" and (labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer)):
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) (one per row of the scores), got {labels.shape}")
    if check_range and n and (labels.min() < 0 or labels.max() >= classes):
        labels_outside_classes(labels, classes)
    return labels.astype(np.int64, copy=False)


def labels_outside_classes(labels, classes):
    """Raise the ValueError for integer labels of which some lie outside [0, classes): it names the
    smallest label if that is negative, else the largest."""
    lo = labels.min()
    bad = lo if lo < 0 else labels.max()
    raise ValueError(f"labels must lie in [0, {classes}) for {classes} classes, got the value {bad}")


def scores_and_labels(scores, name, labels, check_range=True):
    """scores (N, C) float and labels (N,) integer in [0, C); returns labels as int64 (check_range:
    see class_labels)."""
    data(scores, name)
    ndim(scores, name, 2)
    return class_labels(labels, scores.shape[0], scores.shape[1], check_range)


# ---- dense (linear) ---------------------------------------------------------------------------

def linear_args(x, weight, bias):
    """linear(x, weight, bias): x (..., in), weight (out, in), bias (out,) or None, one float dtype.

    Returns (n, in_features, out_features) with n the product of x's leading dimensions."""
    data(x, "x")
    data(weight, "weight")
    same_dtype("x", x, "weight", weight)
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 dimension (..., in_features), got shape {x.shape}")
    ndim(weight, "weight", 2)
    out_features, in_features = weight.shape
    if x.shape[-1] != in_features:
        raise ValueError(f"x has {x.shape[-1]} features in its last dimension (shape {x.shape}) but weight "
                         f"has in_features = {in_features} (shape {weight.shape}); they must match")
    if bias is not None:
        data(bias, "bias")
        same_dtype("x", x, "bias", bias)
        shape_is(bias, "bias", (out_features,))
    n = checked_product(x.shape[:-1], "x")
    checked_product((n, out_features), "the output y")
    return n, in_features, out_features


def linear_backward_args(dy, x, weight, need_bias_grad):
    """linear_backward(dy, x, weight, need_bias_grad): dy must have shape x.shape[:-1] + (out,)."""
    n, in_features, out_features = linear_args(x, weight, None)
    data(dy, "dy")
    same_dtype("x", x, "dy", dy)
    shape_is(dy, "dy", x.shape[:-1] + (out_features,))
    boolean(need_bias_grad, "need_bias_grad")
    return n, in_features, out_features
