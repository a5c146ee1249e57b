# Batch normalisation (csrc/frame/batchnorm.c). Called by cnnfast/functional/norm.py after
# validation, with C-contiguous arrays (None where an optional one is absent) and outputs it
# allocated; `a` is a cnnfast._shapes.BatchNormArgs.


cdef inline const void *_ptr_or_null(a) except? NULL:
    if a is None:
        return NULL
    return _ptr(a)


cdef cf_bnorm _bnorm(cnp.ndarray x, a, bint relu):
    cdef cf_bnorm b
    b.n = x.shape[0]
    b.c = a.c
    b.s = x.shape[2] * x.shape[3] if x.ndim == 4 else 1
    b.training = a.training
    b.relu = relu
    b.momentum = a.momentum if a.momentum is not None else 0.0
    b.eps = a.eps if a.eps is not None else 0.0
    return b


def batch_norm_fwd(a, bint relu, cnp.ndarray x, gamma, beta, running_mean, running_var,
                   cnp.ndarray y, cnp.ndarray save_mean, cnp.ndarray save_invstd, int nthreads):
    cdef cf_bnorm b = _bnorm(x, a, relu)
    cdef cf_dtype dt = _dtype(x)
    cdef const void *px = _ptr(x)
    cdef const void *pg = _ptr_or_null(gamma)
    cdef const void *pb = _ptr_or_null(beta)
    cdef void *prm = <void *>_ptr_or_null(running_mean)
    cdef void *prv = <void *>_ptr_or_null(running_var)
    cdef void *py = _ptr(y)
    cdef void *psm = _ptr(save_mean)
    cdef void *psi = _ptr(save_invstd)
    cdef int status
    with nogil:
        status = cf_batchnorm_fwd(dt, &b, px, pg, pb, prm, prv, py, psm, psi, nthreads)
    _check(status)


def batch_norm_bwd(a, cnp.ndarray dy, y, cnp.ndarray x, gamma, cnp.ndarray save_mean,
                   cnp.ndarray save_invstd, cnp.ndarray dx, cnp.ndarray dgamma,
                   cnp.ndarray dbeta, int nthreads):
    cdef cf_bnorm b = _bnorm(x, a, y is not None)
    cdef cf_dtype dt = _dtype(x)
    cdef const void *pdy = _ptr(dy)
    cdef const void *py = _ptr_or_null(y)
    cdef const void *px = _ptr(x)
    cdef const void *pg = _ptr_or_null(gamma)
    cdef const void *psm = _ptr(save_mean)
    cdef const void *psi = _ptr(save_invstd)
    cdef void *pdx = _ptr(dx)
    cdef void *pdg = _ptr(dgamma)
    cdef void *pdb = _ptr(dbeta)
    cdef int status
    with nogil:
        status = cf_batchnorm_bwd(dt, &b, pdy, py, px, pg, psm, psi, pdx, pdg, pdb, nthreads)
    _check(status)


cdef cf_bn_pool _bn_pool(cnp.ndarray x, cnp.ndarray y, kernel_size):
    cdef cf_bn_pool bp
    bp.h = x.shape[2]
    bp.w = x.shape[3]
    bp.kh, bp.kw = kernel_size
    bp.p = y.shape[2]
    bp.q = y.shape[3]
    return bp


def batch_norm_relu_max_pool2d_fwd(a, kernel_size, cnp.ndarray x, gamma, beta, running_mean,
                                   running_var, cnp.ndarray y, cnp.ndarray arg,
                                   cnp.ndarray save_mean, cnp.ndarray save_invstd, int nthreads):
    cdef cf_bnorm b = _bnorm(x, a, True)
    cdef cf_bn_pool bp = _bn_pool(x, y, kernel_size)
    cdef cf_dtype dt = _dtype(x)
    cdef const void *px = _ptr(x)
    cdef const void *pg = _ptr_or_null(gamma)
    cdef const void *pb = _ptr_or_null(beta)
    cdef void *prm = <void *>_ptr_or_null(running_mean)
    cdef void *prv = <void *>_ptr_or_null(running_var)
    cdef void *py = _ptr(y)
    cdef uint8_t *parg = <uint8_t *>_ptr(arg)
    cdef void *psm = _ptr(save_mean)
    cdef void *psi = _ptr(save_invstd)
    cdef int status
    with nogil:
        status = cf_batchnorm_relu_maxpool_fwd(dt, &b, &bp, px, pg, pb, prm, prv, py, parg, psm,
                                               psi, nthreads)
    _check(status)


def batch_norm_relu_max_pool2d_bwd(a, kernel_size, cnp.ndarray dy, cnp.ndarray y,
                                   cnp.ndarray arg, cnp.ndarray x, gamma, cnp.ndarray save_mean,
                                   cnp.ndarray save_invstd, cnp.ndarray dx, cnp.ndarray dgamma,
                                   cnp.ndarray dbeta, int nthreads):
    cdef cf_bnorm b = _bnorm(x, a, True)
    cdef cf_bn_pool bp = _bn_pool(x, y, kernel_size)
    cdef cf_dtype dt = _dtype(x)
    cdef const void *pdy = _ptr(dy)
    cdef const void *py = _ptr(y)
    cdef const uint8_t *parg = <const uint8_t *>_ptr(arg)
    cdef const void *px = _ptr(x)
    cdef const void *pg = _ptr_or_null(gamma)
    cdef const void *psm = _ptr(save_mean)
    cdef const void *psi = _ptr(save_invstd)
    cdef void *pdx = _ptr(dx)
    cdef void *pdg = _ptr(dgamma)
    cdef void *pdb = _ptr(dbeta)
    cdef int status
    with nogil:
        status = cf_batchnorm_relu_maxpool_bwd(dt, &b, &bp, pdy, py, parg, px, pg, psm, psi, pdx,
                                               pdg, pdb, nthreads)
    _check(status)


def fold_batch_norm(cnp.ndarray weight, bias, gamma, beta, cnp.ndarray running_mean,
                    cnp.ndarray running_var, double eps, cnp.ndarray folded_weight,
                    cnp.ndarray folded_bias, int nthreads):
    cdef cf_dtype dt = _dtype(weight)
    cdef cf_int k = weight.shape[0]
    cdef cf_int per = weight.size // k
    cdef const void *pw = _ptr(weight)
    cdef const void *pb = _ptr_or_null(bias)
    cdef const void *pg = _ptr_or_null(gamma)
    cdef const void *pbe = _ptr_or_null(beta)
    cdef const void *prm = _ptr(running_mean)
    cdef const void *prv = _ptr(running_var)
    cdef void *pfw = _ptr(folded_weight)
    cdef void *pfb = _ptr(folded_bias)
    cdef int status
    with nogil:
        status = cf_fold_batchnorm(dt, k, per, pw, pb, pg, pbe, prm, prv, eps, pfw, pfb,
                                   nthreads)
    _check(status)
