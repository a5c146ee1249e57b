# Random activations in training: csrc/frame/random.c. Arrays arrive C-contiguous and validated;
# outputs are preallocated by the caller; `seed` is the call's two 64-bit words drawn from the
# user's Generator (cnnfast/_random.py).

_RANDOM_OPS = {"rrelu": CF_RANDOM_RRELU, "gaussian_noise": CF_RANDOM_GAUSSIAN_NOISE,
               "noisy_relu": CF_RANDOM_NOISY_RELU, "dropout": CF_RANDOM_DROPOUT}


def random_activation(op, cnp.ndarray x, cnp.ndarray y, cnp.ndarray drawn, seed, double a, double b,
                      int nthreads):
    """y and drawn (slopes, noise or the dropout mask) of op (a key of _RANDOM_OPS) on x; a, b the
    op's scalars (see cf_random_op in cnnfast.h)."""
    cdef cf_random_op o = _RANDOM_OPS[op]
    cdef cf_dtype dt = _dtype(x)
    cdef cf_int n = x.size
    cdef uint64_t s[2]
    s[0] = seed[0]
    s[1] = seed[1]
    cdef const void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef void *pd = _ptr(drawn)
    cdef int st
    with nogil:
        st = cf_random_activation(o, dt, n, px, py, pd, s, a, b, nthreads)
    _check(st)


def philox_words(cf_int groups, uint64_t group0, seed):
    """The raw Philox stream of groups group0 .. group0 + groups - 1 (uint32, groups * 64), made by
    the kernels of the ISA in force (for tests)."""
    cdef cnp.ndarray out = np.empty(max(groups, 1) * 64, dtype=np.uint32)
    cdef uint64_t s[2]
    s[0] = seed[0]
    s[1] = seed[1]
    cdef uint32_t *po = <uint32_t *>cnp.PyArray_DATA(out)
    if groups > 0:
        with nogil:
            cf_philox_words(groups, group0, s, po)
    return out[:groups * 64]
