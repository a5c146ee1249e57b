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
