# GEMM engine and dense layer (csrc/frame/gemm.c, csrc/frame/dense.c).


cdef inline cf_int _estride(cnp.ndarray a, int axis) except? -1:
    # Stride of `axis` in elements (any sign); a view whose byte stride is not a whole element is refused.
    cdef cf_int s = cnp.PyArray_STRIDE(a, axis), size = cnp.PyArray_ITEMSIZE(a)
    if s % size:
        raise ValueError("internal error: stride is not a multiple of the item size")
    return s // size


def gemm(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, double alpha=1.0, double beta=0.0,
         bias_m=None, bias_n=None, int nthreads=1, bint relu=False):
    """c = alpha * a @ b + beta * c (+ bias_m[:, None] + bias_n[None, :]), clamped at 0 when relu,
    written into c in place.

    Private: drives the engine directly on arbitrarily strided 2-D views (tests). a (m, k), b (k, n),
    c (m, n) share one float dtype; c must not overlap a or b; biases are C-contiguous 1-D arrays."""
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2:
        raise ValueError("gemm: a, b and c must be 2-D")
    cdef cf_int m = a.shape[0], k = a.shape[1], n = b.shape[1]
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("gemm: shapes of a, b and c do not match")
    if not (a.dtype == b.dtype == c.dtype):
        raise TypeError("gemm: a, b and c must share a dtype")
    if not c.flags.writeable:
        raise ValueError("gemm: c must be writeable")
    cdef cf_dtype dt = _dtype(a)
    cdef const void *pbm = NULL
    cdef const void *pbn = NULL
    if bias_m is not None:
        if bias_m.dtype != a.dtype or bias_m.ndim != 1 or len(bias_m) != m:
            raise ValueError("gemm: bias_m must have shape (m,) and a's dtype")
        pbm = _ptr(bias_m)
    if bias_n is not None:
        if bias_n.dtype != a.dtype or bias_n.ndim != 1 or len(bias_n) != n:
            raise ValueError("gemm: bias_n must have shape (n,) and a's dtype")
        pbn = _ptr(bias_n)
    cdef const void *pa = cnp.PyArray_DATA(a)
    cdef const void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    cdef cf_int rsa = _estride(a, 0), csa = _estride(a, 1), rsb = _estride(b, 0), csb = _estride(b, 1)
    cdef cf_int rsc = _estride(c, 0), csc = _estride(c, 1)
    cdef int st
    with nogil:
        st = cf_gemm_strided(dt, m, n, k, alpha, pa, rsa, csa, pb, rsb, csb, beta, pc, rsc, csc,
                             pbm, pbn, relu, nthreads)
    _check(st)


def gemm_kernel_info(dtype):
    """(name, MR, NR, MC, KC, NC) of the microkernel the engine uses now for `dtype`."""
    cdef cf_int out[5]
    cdef cf_dtype dt = CF_F32 if np.dtype(dtype) == np.float32 else CF_F64
    name = cf_gemm_kernel_info(dt, out).decode()
    return (name, out[0], out[1], out[2], out[3], out[4])


def linear_fwd(cnp.ndarray x, cnp.ndarray w, bias, cnp.ndarray y, int nthreads):
    """y (n, out) = x (n, in) @ w.T (+ bias); all C-contiguous, one dtype, validated by the caller."""
    cdef cf_int n = x.shape[0], fin = x.shape[1], fout = w.shape[0]
    cdef cf_dtype dt = _dtype(x)
    cdef const void *px = _ptr(x)
    cdef const void *pw = _ptr(w)
    cdef const void *pbias = NULL if bias is None else _ptr(bias)
    cdef void *py = _ptr(y)
    cdef int st
    with nogil:
        st = cf_linear_fwd(dt, n, fin, fout, px, pw, pbias, py, nthreads)
    _check(st)


def linear_bwd(cnp.ndarray dy, cnp.ndarray x, cnp.ndarray w, cnp.ndarray dx, cnp.ndarray dw, db,
               int nthreads):
    """dx = dy @ w, dw = dy.T @ x, db = dy.sum(0) (skipped when db is None); outputs preallocated."""
    cdef cf_int n = x.shape[0], fin = x.shape[1], fout = w.shape[0]
    cdef cf_dtype dt = _dtype(x)
    cdef const void *pdy = _ptr(dy)
    cdef const void *px = _ptr(x)
    cdef const void *pw = _ptr(w)
    cdef void *pdx = _ptr(dx)
    cdef void *pdw = _ptr(dw)
    cdef void *pdb = NULL if db is None else _ptr(db)
    cdef int st
    with nogil:
        st = cf_linear_bwd(dt, n, fin, fout, pdy, px, pw, pdx, pdw, pdb, nthreads)
    _check(st)
