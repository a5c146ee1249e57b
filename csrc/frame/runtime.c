/* runtime.c -- facts about how this library was built. */
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
