# Pooling (csrc/frame/pool2d.c). Called by cnnfast/functional/pool.py after validation, with
# C-contiguous arrays and outputs it allocated; `g` is a cnnfast._shapes.PoolGeometry.


cdef cf_pool2d _geometry(g):
    cdef cf_pool2d c
    c.n, c.c, c.h, c.w, c.p, c.q = g.n, g.c, g.h, g.w, g.p, g.q
    c.kh, c.kw, c.sh, c.sw = g.kernel_h, g.kernel_w, g.stride_h, g.stride_w
    c.ph, c.pw, c.dh, c.dw = g.pad_h, g.pad_w, g.dilation_h, g.dilation_w
    c.count_include_pad = g.count_include_pad
    return c


def max_pool2d_fwd(g, cnp.ndarray x, cnp.ndarray y, cnp.ndarray indices, int nthreads):
    cdef cf_pool2d c = _geometry(g)
    cdef cf_dtype dt = _dtype(x)
    cdef const void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef int64_t *pi = <int64_t *>_ptr(indices)
    cdef int status
    with nogil:
        status = cf_maxpool2d_fwd(dt, &c, px, py, pi, nthreads)
    _check(status)


def max_pool2d_bwd(cnp.ndarray dy, cnp.ndarray indices, cnp.ndarray dx, int nthreads):
    """False if an index lies outside its plane (dx is then incomplete)."""
    cdef cf_dtype dt = _dtype(dy)
    cdef cf_int nc = dx.shape[0] * dx.shape[1], hw = dx.shape[2] * dx.shape[3]
    cdef cf_int pq = dy.shape[2] * dy.shape[3]
    cdef const void *pdy = _ptr(dy)
    cdef const int64_t *pi = <const int64_t *>_ptr(indices)
    cdef void *pdx = _ptr(dx)
    cdef int status
    with nogil:
        status = cf_maxpool2d_bwd(dt, nc, hw, pq, pdy, pi, pdx, nthreads)
    if status == CF_ERR_POOL_INDEX:
        return False
    _check(status)
    return True


def avg_pool2d_fwd(g, cnp.ndarray x, cnp.ndarray y, int nthreads):
    cdef cf_pool2d c = _geometry(g)
    cdef cf_dtype dt = _dtype(x)
    cdef const void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef int status
    with nogil:
        status = cf_avgpool2d_fwd(dt, &c, px, py, nthreads)
    _check(status)


def avg_pool2d_bwd(g, cnp.ndarray dy, cnp.ndarray dx, int nthreads):
    cdef cf_pool2d c = _geometry(g)
    cdef cf_dtype dt = _dtype(dy)
    cdef const void *pdy = _ptr(dy)
    cdef void *pdx = _ptr(dx)
    cdef int status
    with nogil:
        status = cf_avgpool2d_bwd(dt, &c, pdy, pdx, nthreads)
    _check(status)


def global_avg_pool2d_fwd(cnp.ndarray x, cnp.ndarray y, int nthreads):
    cdef cf_dtype dt = _dtype(x)
    cdef cf_int nc = x.shape[0] * x.shape[1], hw = x.shape[2] * x.shape[3]
    cdef const void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef int status
    with nogil:
        status = cf_global_avgpool2d_fwd(dt, nc, hw, px, py, nthreads)
    _check(status)


def global_avg_pool2d_bwd(cnp.ndarray dy, cnp.ndarray dx, int nthreads):
    cdef cf_dtype dt = _dtype(dy)
    cdef cf_int nc = dx.shape[0] * dx.shape[1], hw = dx.shape[2] * dx.shape[3]
    cdef const void *pdy = _ptr(dy)
    cdef void *pdx = _ptr(dx)
    cdef int status
    with nogil:
        status = cf_global_avgpool2d_bwd(dt, nc, hw, pdy, pdx, nthreads)
    _check(status)
