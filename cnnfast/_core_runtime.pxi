# Runtime facts and controls: ISA and OpenMP.

_ISA_NAMES = ("generic", "avx2", "avx512")


def isa_detected():
    """The best ISA this CPU supports: 'avx512', 'avx2' or 'generic'."""
    return _ISA_NAMES[<int>cf_isa_detected()]


def isa_current():
    """The ISA the kernels use now."""
    return _ISA_NAMES[<int>cf_isa_current()]


def isa_set(name):
    """Use the kernels of ISA `name` (clamped to what the CPU supports); for CNNFAST_ISA and tests."""
    cdef int i = _ISA_NAMES.index(name)
    cf_isa_set(<cf_isa>i)


def have_openmp():
    return bool(cf_have_openmp())


def omp_max_threads():
    """OpenMP's thread limit for the calling thread (omp_get_max_threads(); threadpoolctl sets it)."""
    return cf_omp_max_threads()


def index_partition(cf_int n, int parts, int i, cf_int align):
    """(begin, end) of chunk i when the C code splits n items into `parts` (for tests)."""
    cdef cf_int b, e
    cf_index_partition(n, parts, i, align, &b, &e)
    return b, e


def index_threads_for(cf_int work, cf_int grain, int nthreads):
    """How many threads the C code gives `work` items at `grain` per thread (for tests)."""
    return cf_index_threads_for(work, grain, nthreads)
