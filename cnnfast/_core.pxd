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

    # ---- gemm and dense
    int cf_gemm_strided(cf_dtype dtype, cf_int m, cf_int n, cf_int k, double alpha, const void *a,
                        cf_int rs_a, cf_int cs_a, const void *b, cf_int rs_b, cf_int cs_b, double beta,
                        void *c, cf_int rs_c, cf_int cs_c, const void *bias_m, const void *bias_n,
                        int relu, int nthreads)
    const char *cf_gemm_kernel_info(cf_dtype dtype, cf_int out[5])
    int cf_linear_fwd(cf_dtype dtype, cf_int n, cf_int in_, cf_int out, const void *x, const void *w,
                      const void *bias, void *y, int nthreads)
    int cf_linear_bwd(cf_dtype dtype, cf_int n, cf_int in_, cf_int out, const void *dy, const void *x,
                      const void *w, void *dx, void *dw, void *db, int nthreads)
