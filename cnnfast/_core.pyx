# cnnfast/_core.pyx -- the thin boundary between Python and C.
#
# Every wrapper here is private and is called only by cnnfast/functional after validation:
# it takes C-contiguous arrays of one float dtype and preallocated outputs, turns them into
# pointers, releases the GIL for the C call, and turns a C status into an exception.
# One .pxi per kernel family keeps the families apart; the shared helpers live in this file.
cimport numpy as cnp
import numpy as np

cnp.import_array()


cdef inline void *_ptr(cnp.ndarray a) except NULL:
    # The data pointer of an array the caller made C-contiguous (or a 0-size array).
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError("internal error: cnnfast._core expects C-contiguous arrays")
    cdef void *p = cnp.PyArray_DATA(a)
    if p == NULL:
        raise ValueError("internal error: array without data")
    return p


cdef inline cf_dtype _dtype(cnp.ndarray a) except *:
    cdef int t = cnp.PyArray_TYPE(a)
    if t == cnp.NPY_FLOAT32:
        return CF_F32
    if t == cnp.NPY_FLOAT64:
        return CF_F64
    raise TypeError(f"internal error: cnnfast._core expects float32 or float64, got {a.dtype}")


cdef inline int _check(int status) except -1:
    if status == CF_OK:
        return 0
    if status == CF_ERR_NOMEM:
        raise MemoryError("cnnfast: out of memory in a C kernel")
    raise RuntimeError(f"cnnfast: internal error in a C kernel (status {status})")


include "_core_runtime.pxi"
include "_core_eltwise.pxi"
include "_core_random.pxi"
include "_core_outbuf.pxi"
include "_core_dense.pxi"
include "_core_conv.pxi"
include "_core_pool.pxi"
include "_core_norm.pxi"
