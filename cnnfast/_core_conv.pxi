# Convolution (csrc/frame/conv2d.c). Each wrapper takes the ConvGeometry the shared validator
# (cnnfast._shapes) returned, C-contiguous inputs of one dtype and preallocated outputs.


cdef cf_conv_geom _geom(g):
    cdef cf_conv_geom c
    c.n, c.c, c.h, c.w = g.n, g.c, g.h, g.w
    c.k, c.p, c.q, c.r, c.s, c.groups = g.k, g.p, g.q, g.r, g.s, g.groups
    c.stride_h, c.stride_w, c.dilation_h, c.dilation_w = g.stride_h, g.stride_w, g.dilation_h, g.dilation_w
    c.pad_top, c.pad_left = g.pad_top, g.pad_left
    return c


def conv_correlate(g, cnp.ndarray image, cnp.ndarray weight, bias, bint relu, cnp.ndarray feature,
                   int nthreads):
    """feature = correlate(image, weight) (+ bias per feature channel, ReLU when relu)."""
    cdef cf_conv_geom cg = _geom(g)
    cdef cf_dtype dt = _dtype(image)
    cdef const void *pi = _ptr(image)
    cdef const void *pw = _ptr(weight)
    cdef const void *pb = NULL if bias is None else _ptr(bias)
    cdef void *pf = _ptr(feature)
    cdef int st
    with nogil:
        st = cf_conv_correlate(dt, &cg, pi, pw, pb, relu, pf, nthreads)
    _check(st)


def conv_adjoint(g, cnp.ndarray feature, cnp.ndarray weight, bias, cnp.ndarray image, int nthreads):
    """image = the adjoint of correlate applied to feature (+ bias per image channel)."""
    cdef cf_conv_geom cg = _geom(g)
    cdef cf_dtype dt = _dtype(feature)
    cdef const void *pf = _ptr(feature)
    cdef const void *pw = _ptr(weight)
    cdef const void *pb = NULL if bias is None else _ptr(bias)
    cdef void *pi = _ptr(image)
    cdef int st
    with nogil:
        st = cf_conv_correlate_adjoint(dt, &cg, pf, pw, pb, pi, nthreads)
    _check(st)


def conv_weight_grad(g, cnp.ndarray image, cnp.ndarray feature_grad, cnp.ndarray dweight, int nthreads):
    """dweight = the weight gradient for image and the feature side's gradient."""
    cdef cf_conv_geom cg = _geom(g)
    cdef cf_dtype dt = _dtype(image)
    cdef const void *pi = _ptr(image)
    cdef const void *pf = _ptr(feature_grad)
    cdef void *pw = _ptr(dweight)
    cdef int st
    with nogil:
        st = cf_conv_weight_grad(dt, &cg, pi, pf, pw, nthreads)
    _check(st)


def conv_bias_grad(cnp.ndarray t, cnp.ndarray db, int nthreads):
    """db = t.sum(axis=(0, 2, 3)) for t (n, channels, h, w)."""
    cdef cf_dtype dt = _dtype(t)
    cdef cf_int n = t.shape[0], ch = t.shape[1], plane = t.shape[2] * t.shape[3]
    cdef const void *pt = _ptr(t)
    cdef void *pd = _ptr(db)
    cdef int st
    with nogil:
        st = cf_conv_bias_grad(dt, n, ch, plane, pt, pd, nthreads)
    _check(st)
