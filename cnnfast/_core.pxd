# Declarations of the C interface (csrc/include/cnnfast.h) for cnnfast/_core.pyx.
# One section per kernel family, in the order of the header.
from libc.stdint cimport int64_t

cdef extern from "cnnfast.h" nogil:
    ctypedef int64_t cf_int

    enum:
        CF_OK
        CF_ERR_NOMEM
        CF_ERR_INTERNAL

    ctypedef enum cf_dtype:
        CF_F32
        CF_F64

    ctypedef enum cf_isa:
        CF_ISA_GENERIC
        CF_ISA_AVX2
        CF_ISA_AVX512

    # ---- runtime
    cf_isa cf_isa_detected()
    cf_isa cf_isa_current()
    void cf_isa_set(cf_isa isa)
    const char *cf_isa_name(cf_isa isa)
    int cf_have_openmp()

    # ---- pooling
    ctypedef struct cf_pool2d:
        cf_int n, c, h, w, p, q
        cf_int kh, kw, sh, sw, ph, pw, dh, dw
        int count_include_pad

    enum:
        CF_ERR_POOL_INDEX

    int cf_maxpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y,
                         int64_t *indices, int nthreads)
    int cf_maxpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, cf_int pq, const void *dy,
                         const int64_t *indices, void *dx, int nthreads)
    int cf_avgpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y, int nthreads)
    int cf_avgpool2d_bwd(cf_dtype dt, const cf_pool2d *g, const void *dy, void *dx, int nthreads)
    int cf_global_avgpool2d_fwd(cf_dtype dt, cf_int nc, cf_int hw, const void *x, void *y,
                                int nthreads)
    int cf_global_avgpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, const void *dy, void *dx,
                                int nthreads)

    # ---- batch normalisation
    ctypedef struct cf_bnorm:
        cf_int n, c, s
        int training, relu
        double momentum, eps

    int cf_batchnorm_fwd(cf_dtype dt, const cf_bnorm *b, const void *x, const void *gamma,
                         const void *beta, void *running_mean, void *running_var, void *y,
                         void *save_mean, void *save_invstd, int nthreads)
    int cf_batchnorm_bwd(cf_dtype dt, const cf_bnorm *b, const void *dy, const void *y,
                         const void *x, const void *gamma, const void *save_mean,
                         const void *save_invstd, void *dx, void *dgamma, void *dbeta,
                         int nthreads)
    int cf_fold_batchnorm(cf_dtype dt, cf_int k, cf_int per, const void *weight,
                          const void *bias, const void *gamma, const void *beta,
                          const void *running_mean, const void *running_var, double eps,
                          void *folded_weight, void *folded_bias, int nthreads)
