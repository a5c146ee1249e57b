# Output arrays whose data comes from csrc/frame/outbuf.c: large blocks freed by NumPy are kept
# and reused by the next output of a fitting size, so repeated calls do not pay a page fault per
# page of a fresh output. Used through `empty()` by the functional ops.
from cpython.pycapsule cimport PyCapsule_New
from libc.string cimport strncpy

cdef cnp.PyDataMem_Handler _outbuf_handler
_OUTBUF_MIN = 1 << 18  # smaller outputs use NumPy's own allocator (CF_OUTBUF_MIN in outbuf.c)


cdef void *_ob_malloc(void *ctx, size_t size) noexcept nogil:
    return cf_outbuf_malloc(size)


cdef void *_ob_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    return cf_outbuf_calloc(nelem, elsize)


cdef void *_ob_realloc(void *ctx, void *ptr, size_t size) noexcept nogil:
    return cf_outbuf_realloc(ptr, size)


cdef void _ob_free(void *ctx, void *ptr, size_t size) noexcept nogil:
    cf_outbuf_free(ptr)


strncpy(_outbuf_handler.name, b"cnnfast_outbuf", 127)
_outbuf_handler.version = 1
_outbuf_handler.allocator.ctx = NULL
_outbuf_handler.allocator.malloc = _ob_malloc
_outbuf_handler.allocator.calloc = _ob_calloc
_outbuf_handler.allocator.realloc = _ob_realloc
_outbuf_handler.allocator.free = _ob_free
_outbuf_capsule = PyCapsule_New(&_outbuf_handler, "mem_handler", NULL)


def empty(shape, dtype):
    """np.empty(shape, dtype), C order; arrays of at least 256 KiB get their memory from the cache."""
    cdef object old
    dt = np.dtype(dtype)
    n = dt.itemsize
    for s in shape:
        n *= s
    if n < _OUTBUF_MIN:
        return np.empty(shape, dtype=dt)
    old = cnp.PyDataMem_SetHandler(_outbuf_capsule)
    try:
        return np.empty(shape, dtype=dt)
    finally:
        cnp.PyDataMem_SetHandler(old)


def outbuf_set_limit(size_t nbytes):
    """Most bytes the output-buffer cache may hold (0 disables it); returns the previous limit."""
    return cf_outbuf_set_limit(nbytes)


def outbuf_cached():
    """Bytes the output-buffer cache holds now."""
    return cf_outbuf_cached()
