/* frame/dense.c -- the dense (fully connected) layer on the GEMM engine.
 *
 *   forward   y  = x w^T + bias      (n x in)(in x out)   bias added in the GEMM's tile finish
 *   backward  dx = dy w              (n x out)(out x in)
 *             dw = dy^T x            (out x n)(n x in)
 *             db = sum over rows of dy, per-thread partials in double, reduced after the region */
#include <string.h>

#include "frame/gemm.h"

/* x (n x in), w (out x in), bias (out) or NULL: IN. y (n x out): OUT. */
int cf_linear_fwd(cf_dtype dtype, cf_int n, cf_int in, cf_int out, const void *x, const void *w,
                  const void *bias, void *y, int nthreads) {
    return cf_gemm_strided(dtype, n, out, in, 1.0, x, in, 1, w, 1, in, 0.0, y, out, 1, NULL, bias, 0,
                           nthreads);
}

/* Column sums of dy (n x out) into db (out): rows split into nt parts, each summed into a double row
 * of the scratch by one thread; the rows of partials are then added in part order (deterministic for
 * a given thread count). */
#define DEFINE_COLSUM(NAME, S)                                                                     \
    static int NAME(cf_int n, cf_int out, const S *dy, S *db, int nthreads) {                      \
        const int nt = cf_threads_for(n * out, (cf_int)1 << 15, nthreads);                         \
        size_t cap = 0;                                                                            \
        double *part = (double *)cf_scratch_acquire(sizeof(double) * (size_t)(out * nt), &cap);    \
        if (!part) return CF_ERR_NOMEM;                                                            \
        CF_PRAGMA_OMP_PARALLEL(nt)                                                                 \
        for (int t = CF_THREAD_ID(); t < nt; t += CF_NUM_THREADS_IN_TEAM()) {                      \
            cf_int lo, hi;                                                                         \
            cf_partition(n, nt, t, 1, &lo, &hi);                                                   \
            double *acc = part + (size_t)t * out;                                                  \
            memset(acc, 0, sizeof(double) * (size_t)out);                                          \
            for (cf_int i = lo; i < hi; ++i)                                                       \
                for (cf_int j = 0; j < out; ++j) acc[j] += dy[i * out + j];                        \
        }                                                                                          \
        for (cf_int j = 0; j < out; ++j) {                                                         \
            double s = 0;                                                                          \
            for (int t = 0; t < nt; ++t) s += part[(size_t)t * out + j];                           \
            db[j] = (S)s;                                                                          \
        }                                                                                          \
        cf_scratch_release(part, cap);                                                             \
        return CF_OK;                                                                              \
    }
#ifdef CF_HAVE_OPENMP
#define CF_PRAGMA_OMP_PARALLEL(nt) _Pragma("omp parallel num_threads(nt) if (nt > 1)")
#else
#define CF_PRAGMA_OMP_PARALLEL(nt)
#endif
DEFINE_COLSUM(colsum_f32, float)
DEFINE_COLSUM(colsum_f64, double)

/* dy (n x out), x (n x in), w (out x in): IN. dx (n x in), dw (out x in): OUT.
 * db (out): OUT, or NULL to skip the bias gradient. */
int cf_linear_bwd(cf_dtype dtype, cf_int n, cf_int in, cf_int out, const void *dy, const void *x,
                  const void *w, void *dx, void *dw, void *db, int nthreads) {
    int st = cf_gemm_strided(dtype, n, in, out, 1.0, dy, out, 1, w, in, 1, 0.0, dx, in, 1, NULL, NULL, 0,
                             nthreads);
    if (st == CF_OK)
        st = cf_gemm_strided(dtype, out, in, n, 1.0, dy, 1, out, x, in, 1, 0.0, dw, in, 1, NULL, NULL, 0,
                             nthreads);
    if (st == CF_OK && db)
        st = dtype == CF_F32 ? colsum_f32(n, out, (const float *)dy, (float *)db, nthreads)
                             : colsum_f64(n, out, (const double *)dy, (double *)db, nthreads);
    return st;
}
