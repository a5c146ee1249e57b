# Activations, the Adam step and the output layer: csrc/frame/eltwise.c and csrc/frame/softmax.c.
# Arrays arrive C-contiguous, of one float dtype, validated; outputs are preallocated by the caller.

_UNARY_OPS = {"relu": CF_UNARY_RELU, "leaky_relu": CF_UNARY_LEAKY_RELU, "elu": CF_UNARY_ELU,
              "sigmoid": CF_UNARY_SIGMOID, "tanh": CF_UNARY_TANH, "scale": CF_UNARY_SCALE}
_BINARY_OPS = {"relu_bwd": CF_BINARY_RELU_BWD, "leaky_relu_bwd": CF_BINARY_LEAKY_RELU_BWD,
               "elu_bwd": CF_BINARY_ELU_BWD, "sigmoid_bwd": CF_BINARY_SIGMOID_BWD,
               "tanh_bwd": CF_BINARY_TANH_BWD}
_TERNARY_OPS = {"noisy_relu_bwd": CF_TERNARY_NOISY_RELU_BWD, "rrelu_bwd": CF_TERNARY_RRELU_BWD}
_SOFTMAX_OPS = {"softmax": CF_SOFTMAX_FWD, "log_softmax": CF_LOG_SOFTMAX_FWD,
                "softmax_bwd": CF_SOFTMAX_BWD, "log_softmax_bwd": CF_LOG_SOFTMAX_BWD}


def eltwise_unary(op, cnp.ndarray x, cnp.ndarray y, double param, int nthreads):
    """y = op(x) elementwise (op a key of _UNARY_OPS, param its scalar)."""
    cdef cf_unary_op o = _UNARY_OPS[op]
    cdef cf_dtype dt = _dtype(x)
    cdef cf_int n = x.size
    cdef const void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef int st
    with nogil:
        st = cf_eltwise_unary(o, dt, n, px, py, param, nthreads)
    _check(st)


def adam_step(cnp.ndarray p, cnp.ndarray g, cnp.ndarray m, cnp.ndarray v, c, int nthreads):
    """One Adam step on p, m, v in place (C-contiguous, of g's size and dtype); c is a
    cnnfast._shapes.AdamCoefficients."""
    cdef cf_adam_coef coef
    coef.decay = c.decay
    coef.weight_decay = c.weight_decay
    coef.lerp = c.lerp
    coef.beta2 = c.beta2
    coef.one_minus_beta2 = c.one_minus_beta2
    coef.bias2_sqrt = c.bias2_sqrt
    coef.eps = c.eps
    coef.neg_step_size = c.neg_step_size
    coef.decoupled = c.decoupled
    coef.lerp_small = c.lerp_small
    cdef cf_dtype dt = _dtype(p)
    cdef cf_int n = p.size
    cdef void *pp = _ptr(p)
    cdef const void *pg = _ptr(g)
    cdef void *pm = _ptr(m)
    cdef void *pv = _ptr(v)
    cdef int st
    with nogil:
        st = cf_adam_step(dt, n, pp, pg, pm, pv, &coef, nthreads)
    _check(st)


def eltwise_binary(op, cnp.ndarray a, cnp.ndarray b, cnp.ndarray y, double param, int nthreads):
    """y = op(a, b) elementwise (op a key of _BINARY_OPS)."""
    cdef cf_binary_op o = _BINARY_OPS[op]
    cdef cf_dtype dt = _dtype(a)
    cdef cf_int n = a.size
    cdef const void *pa = _ptr(a)
    cdef const void *pb = _ptr(b)
    cdef void *py = _ptr(y)
    cdef int st
    with nogil:
        st = cf_eltwise_binary(o, dt, n, pa, pb, py, param, nthreads)
    _check(st)


def eltwise_ternary(op, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, cnp.ndarray y, int nthreads):
    """y = op(a, b, c) elementwise (op a key of _TERNARY_OPS)."""
    cdef cf_ternary_op o = _TERNARY_OPS[op]
    cdef cf_dtype dt = _dtype(a)
    cdef cf_int n = a.size
    cdef const void *pa = _ptr(a)
    cdef const void *pb = _ptr(b)
    cdef const void *pc = _ptr(c)
    cdef void *py = _ptr(y)
    cdef int st
    with nogil:
        st = cf_eltwise_ternary(o, dt, n, pa, pb, pc, py, nthreads)
    _check(st)


def dropout(cnp.ndarray x, cnp.ndarray mask, cnp.ndarray y, double scale, int nthreads):
    """y = x * (mask ? scale : 0); mask a bool array of x's size."""
    cdef cf_dtype dt = _dtype(x)
    cdef cf_int n = x.size
    cdef const void *px = _ptr(x)
    cdef const unsigned char *pm = <const unsigned char *>_ptr(mask)
    cdef void *py = _ptr(y)
    cdef int st
    with nogil:
        st = cf_dropout(dt, n, px, pm, py, scale, nthreads)
    _check(st)


def prelu_fwd(cnp.ndarray x, cnp.ndarray w, cnp.ndarray y, cf_int outer, cf_int channels, cf_int inner,
              int nthreads):
    """y = prelu(x) with x viewed as (outer, channels, inner) and w of length channels."""
    cdef cf_dtype dt = _dtype(x)
    cdef const void *px = _ptr(x)
    cdef const void *pw = _ptr(w)
    cdef void *py = _ptr(y)
    cdef int st
    with nogil:
        st = cf_prelu_fwd(dt, outer, channels, inner, px, pw, py, nthreads)
    _check(st)


def prelu_bwd(cnp.ndarray dy, cnp.ndarray x, cnp.ndarray w, cnp.ndarray dx, cnp.ndarray dw, cf_int outer,
              cf_int channels, cf_int inner, int nthreads):
    """dx and dw of prelu, x viewed as (outer, channels, inner), w and dw of length channels."""
    cdef cf_dtype dt = _dtype(x)
    cdef const void *pdy = _ptr(dy)
    cdef const void *px = _ptr(x)
    cdef const void *pw = _ptr(w)
    cdef void *pdx = _ptr(dx)
    cdef void *pdw = _ptr(dw)
    cdef int st
    with nogil:
        st = cf_prelu_bwd(dt, outer, channels, inner, pdy, px, pw, pdx, pdw, nthreads)
    _check(st)


def softmax(op, cnp.ndarray a, b, cnp.ndarray out, cf_int outer, cf_int length, cf_int inner, int nthreads):
    """One of _SOFTMAX_OPS along the middle axis of (outer, length, inner); b is y for the backward
    ops, None for the forward ones."""
    cdef cf_softmax_op o = _SOFTMAX_OPS[op]
    cdef cf_dtype dt = _dtype(a)
    cdef const void *pa = _ptr(a)
    cdef const void *pb = NULL if b is None else _ptr(b)
    cdef void *po = _ptr(out)
    cdef int st
    with nogil:
        st = cf_softmax(o, dt, outer, length, inner, pa, pb, po, nthreads)
    _check(st)


def cross_entropy_fwd(cnp.ndarray logits, cnp.ndarray labels, cnp.ndarray probs, int nthreads):
    """probs = softmax of each row of logits (N, C); returns the sum of the rows' losses (double),
    or None when a label of labels (int64, (N,)) lies outside [0, C) (probs is then garbage)."""
    cdef cf_dtype dt = _dtype(logits)
    cdef cf_int n = logits.shape[0]
    cdef cf_int c = logits.shape[1]
    cdef const void *px = _ptr(logits)
    cdef const int64_t *pl = <const int64_t *>_ptr(labels)
    cdef void *pp = _ptr(probs)
    cdef double loss_sum = 0
    cdef int st
    with nogil:
        st = cf_cross_entropy_fwd(dt, n, c, px, pl, pp, &loss_sum, nthreads)
    if st == CF_ERR_LABEL:
        return None
    _check(st)
    return loss_sum


def cross_entropy_bwd(cnp.ndarray probs, cnp.ndarray labels, cnp.ndarray dlogits, int nthreads):
    """dlogits = (probs - onehot(labels)) / N, probs (N, C) with N >= 1; returns False when a label
    of labels (int64, (N,)) lies outside [0, C) (dlogits is then garbage), else True."""
    cdef cf_dtype dt = _dtype(probs)
    cdef cf_int n = probs.shape[0]
    cdef cf_int c = probs.shape[1]
    cdef const void *pp = _ptr(probs)
    cdef const int64_t *pl = <const int64_t *>_ptr(labels)
    cdef void *pd = _ptr(dlogits)
    cdef int st
    with nogil:
        st = cf_cross_entropy_bwd(dt, n, c, pp, pl, pd, nthreads)
    if st == CF_ERR_LABEL:
        return False
    _check(st)
    return True
