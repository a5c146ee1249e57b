/* runtime.c -- facts about how this library was built, and the shared index arithmetic of
 * common.h made callable, so tests check it at sizes past 2^31 without the memory. */
#include "common.h"

int cf_have_openmp(void) {
#ifdef CF_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

/* OpenMP's thread limit for the calling thread: omp_get_max_threads(), which libgomp derives from
 * OMP_NUM_THREADS or the CPU count at start-up and which omp_set_num_threads() (threadpoolctl's
 * threadpool_limits, for one) changes for the calling thread only; 1 without OpenMP. */
int cf_omp_max_threads(void) {
#ifdef CF_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* cf_partition and cf_threads_for (common.h), for tests. */
void cf_index_partition(cf_int n, int parts, int i, cf_int align, cf_int *begin, cf_int *end) {
    cf_partition(n, parts, i, align, begin, end);
}
int cf_index_threads_for(cf_int work, cf_int grain, int nthreads) { return cf_threads_for(work, grain, nthreads); }
