/* eltwise.c -- the frame of the elementwise ops: split a flat array over OpenMP threads and run one
 * kernel of the ISA in force (kernels/eltwise.h) on each thread's contiguous chunk.
 *
 *   [0 ........................ n)      flat array
 *   [ thread 0 )[ thread 1 )[ ... )      chunks from cf_partition, starts multiples of 16 elements
 *
 * Small arrays run on one thread (cf_threads_for with CF_ELTWISE_GRAIN elements per thread).
 * Outputs of at least CF_STREAM_BYTES (kernels/eltwise.h) are written with non-temporal stores:
 * they are far larger than the caches, so a normal store would first read every output line for
 * nothing.
 *
 * CF_OMP_PARALLEL_NT opens a region of `nt` threads (a variable of that name must be in scope). */
#include <string.h>

#include "common.h"
#include "kernels/eltwise.h"

#define CF_ELTWISE_GRAIN 32768

#ifdef CF_HAVE_OPENMP
#define CF_OMP_PARALLEL_NT _Pragma("omp parallel num_threads(nt) if (nt > 1)")
#else
#define CF_OMP_PARALLEL_NT (void)nt;
#endif

/* [b, e): this thread's chunk of [0, n) */
#define CF_MY_CHUNK(n, b, e)                                                                      \
    cf_int b, e;                                                                                  \
    cf_partition((n), CF_NUM_THREADS_IN_TEAM(), CF_THREAD_ID(), 16, &b, &e)

static int stream_output(cf_int n, size_t elem, const void *y) {
    return n * (cf_int)elem >= CF_STREAM_BYTES && (uintptr_t)y % elem == 0;
}

static const cf_eltwise_kernels *kernels(void) { return CF_SELECT(cf_eltwise, cf_isa_current()); }

/* Runs `call` (a kernel call using b, e, the typed pointers and &p) over the chunks, for the dtype
 * prefix dt (f32, f64) and C type `type`. */
#define CF_ELTWISE_RUN(dt, type, n, y, alpha, call)                                                \
    do {                                                                                          \
        const cf_##dt##_eltwise_params p = {(type)(alpha), stream_output((n), sizeof(type), (y))}; \
        const int nt = cf_threads_for((n), CF_ELTWISE_GRAIN, nthreads);                           \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_CHUNK((n), b, e);                                                               \
            if (b < e) call;                                                                      \
        }                                                                                         \
    } while (0)

/* IN x (n); OUT y (n). */
int cf_eltwise_unary(cf_unary_op op, cf_dtype dt, cf_int n, const void *x, void *y, double param,
                     int nthreads) {
    const cf_eltwise_kernels *k = kernels();
    if (dt == CF_F32) {
        const cf_f32_unary_ukernel f = k->f32_unary[op];
        const float *xs = x;
        float *ys = y;
        CF_ELTWISE_RUN(f32, float, n, y, param, f(e - b, xs + b, ys + b, &p));
    } else {
        const cf_f64_unary_ukernel f = k->f64_unary[op];
        const double *xs = x;
        double *ys = y;
        CF_ELTWISE_RUN(f64, double, n, y, param, f(e - b, xs + b, ys + b, &p));
    }
    return CF_OK;
}

/* IN a, b (n); OUT y (n). */
int cf_eltwise_binary(cf_binary_op op, cf_dtype dt, cf_int n, const void *a, const void *b_, void *y,
                      double param, int nthreads) {
    const cf_eltwise_kernels *k = kernels();
    if (dt == CF_F32) {
        const cf_f32_binary_ukernel f = k->f32_binary[op];
        const float *as = a, *bs = b_;
        float *ys = y;
        CF_ELTWISE_RUN(f32, float, n, y, param, f(e - b, as + b, bs + b, ys + b, &p));
    } else {
        const cf_f64_binary_ukernel f = k->f64_binary[op];
        const double *as = a, *bs = b_;
        double *ys = y;
        CF_ELTWISE_RUN(f64, double, n, y, param, f(e - b, as + b, bs + b, ys + b, &p));
    }
    return CF_OK;
}

/* IN a, b, c (n); OUT y (n). */
int cf_eltwise_ternary(cf_ternary_op op, cf_dtype dt, cf_int n, const void *a, const void *b_,
                       const void *c, void *y, int nthreads) {
    const cf_eltwise_kernels *k = kernels();
    if (dt == CF_F32) {
        const cf_f32_ternary_ukernel f = k->f32_ternary[op];
        const float *as = a, *bs = b_, *cs = c;
        float *ys = y;
        CF_ELTWISE_RUN(f32, float, n, y, 0, f(e - b, as + b, bs + b, cs + b, ys + b, &p));
    } else {
        const cf_f64_ternary_ukernel f = k->f64_ternary[op];
        const double *as = a, *bs = b_, *cs = c;
        double *ys = y;
        CF_ELTWISE_RUN(f64, double, n, y, 0, f(e - b, as + b, bs + b, cs + b, ys + b, &p));
    }
    return CF_OK;
}

/* IN x (n), mask (n bytes, 0/1); OUT y (n). */
int cf_dropout(cf_dtype dt, cf_int n, const void *x, const uint8_t *mask, void *y, double scale,
               int nthreads) {
    const cf_eltwise_kernels *k = kernels();
    if (dt == CF_F32) {
        const float *xs = x;
        float *ys = y;
        CF_ELTWISE_RUN(f32, float, n, y, scale, k->f32_dropout(e - b, xs + b, mask + b, ys + b, &p));
    } else {
        const double *xs = x;
        double *ys = y;
        CF_ELTWISE_RUN(f64, double, n, y, scale, k->f64_dropout(e - b, xs + b, mask + b, ys + b, &p));
    }
    return CF_OK;
}

/* ---- PReLU: x viewed as (outer, C, inner). A thread's chunk [b, e) of the flat array is cut at
 * plane boundaries (inner > 1: one slope per plane segment, the leaky kernels) or at row
 * boundaries (inner == 1: per-element slopes w[j], the rrelu kernels with w as the slopes).
 * Only long segments stream their output (each kernel call ends with a store fence). ---- */

/* IN x, w (C); OUT y. */
int cf_prelu_fwd(cf_dtype dt, cf_int outer, cf_int C, cf_int inner, const void *x, const void *w, void *y,
                 int nthreads) {
    const cf_eltwise_kernels *k = kernels();
    const cf_int n = outer * C * inner, seg_len = inner > 1 ? inner : C;
#define CF_PRELU_FWD(dt, type)                                                                    \
    do {                                                                                          \
        const type *xs = x, *ws = w;                                                              \
        type *ys = y;                                                                             \
        const int stream = seg_len >= 4096 && stream_output(n, sizeof(type), y);                  \
        const int nt = cf_threads_for(n, CF_ELTWISE_GRAIN, nthreads);                             \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_CHUNK(n, b, e);                                                                 \
            for (cf_int i = b; i < e;) {                                                          \
                const cf_int len = CF_MIN(e - i, seg_len - i % seg_len);                          \
                if (inner > 1) {                                                                  \
                    const cf_##dt##_eltwise_params p = {ws[(i / inner) % C], stream};             \
                    k->dt##_unary[CF_UNARY_LEAKY_RELU](len, xs + i, ys + i, &p);                  \
                } else {                                                                          \
                    const cf_##dt##_eltwise_params p = {0, stream};                               \
                    k->dt##_binary[CF_BINARY_RRELU](len, xs + i, ws + i % C, ys + i, &p);         \
                }                                                                                 \
                i += len;                                                                         \
            }                                                                                     \
        }                                                                                         \
    } while (0)
    if (dt == CF_F32)
        CF_PRELU_FWD(f32, float);
    else
        CF_PRELU_FWD(f64, double);
#undef CF_PRELU_FWD
    return CF_OK;
}

/* IN dy, x, w (C); OUT dx, dw (C). Each thread sums its weight gradients into its own row of
 * `partial` (double); the rows are added in thread order after the region. */
int cf_prelu_bwd(cf_dtype dt, cf_int outer, cf_int C, cf_int inner, const void *dy, const void *x,
                 const void *w, void *dx, void *dw, int nthreads) {
    const cf_eltwise_kernels *k = kernels();
    const cf_int n = outer * C * inner, seg_len = inner > 1 ? inner : C;
    const size_t elem = dt == CF_F32 ? sizeof(float) : sizeof(double);
    const int nt = cf_threads_for(n, CF_ELTWISE_GRAIN, nthreads);
    double *partial = cf_malloc((size_t)nt * (size_t)C * sizeof(double));
    void *contrib = inner > 1 ? NULL : cf_malloc((size_t)nt * (size_t)C * elem);
    if (!partial || (inner == 1 && !contrib)) {
        cf_free(partial);
        cf_free(contrib);
        return CF_ERR_NOMEM;
    }
    memset(partial, 0, (size_t)nt * (size_t)C * sizeof(double));
#define CF_PRELU_BWD(dt, type)                                                                    \
    do {                                                                                          \
        const type *dys = dy, *xs = x, *ws = w;                                                   \
        type *dxs = dx, *dws = dw;                                                                \
        const int stream = seg_len >= 4096 && stream_output(n, sizeof(type), dx);                 \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_CHUNK(n, b, e);                                                                 \
            double *acc = partial + (cf_int)CF_THREAD_ID() * C;                                   \
            type *buf = inner > 1 ? NULL : (type *)contrib + (cf_int)CF_THREAD_ID() * C;          \
            for (cf_int i = b; i < e;) {                                                          \
                const cf_int len = CF_MIN(e - i, seg_len - i % seg_len);                          \
                if (inner > 1) {                                                                  \
                    const cf_int c = (i / inner) % C;                                             \
                    const cf_##dt##_eltwise_params p = {ws[c], stream};                           \
                    acc[c] += k->dt##_prelu_bwd_plane(len, dys + i, xs + i, dxs + i, &p);         \
                } else {                                                                          \
                    const cf_int j = i % C;                                                       \
                    k->dt##_prelu_bwd_row(len, dys + i, xs + i, ws + j, dxs + i, buf);            \
                    for (cf_int q = 0; q < len; q++) acc[j + q] += (double)buf[q];                \
                }                                                                                 \
                i += len;                                                                         \
            }                                                                                     \
        }                                                                                         \
        for (cf_int c = 0; c < C; c++) {                                                          \
            double s = 0;                                                                         \
            for (int t = 0; t < nt; t++) s += partial[(cf_int)t * C + c];                         \
            dws[c] = (type)s;                                                                     \
        }                                                                                         \
    } while (0)
    if (dt == CF_F32)
        CF_PRELU_BWD(f32, float);
    else
        CF_PRELU_BWD(f64, double);
#undef CF_PRELU_BWD
    cf_free(partial);
    cf_free(contrib);
    return CF_OK;
}

/* ---- the Adam step: the coefficients (cnnfast.h) rounded to the data type, then the kernel on
 * each thread's chunk of the four arrays. ---- */

/* IN g (n); IN/OUT p, m, v (n). */
int cf_adam_step(cf_dtype dt, cf_int n, void *p, const void *g, void *m, void *v,
                 const cf_adam_coef *c, int nthreads) {
    const cf_eltwise_kernels *k = kernels();
    const int nt = cf_threads_for(n, CF_ELTWISE_GRAIN, nthreads);
#define CF_ADAM_RUN(dt, type)                                                                     \
    do {                                                                                          \
        const cf_##dt##_adam_params a = {(type)c->decay, (type)c->weight_decay, (type)c->lerp,     \
                                         (type)c->beta2, (type)c->one_minus_beta2,                 \
                                         (type)c->bias2_sqrt, (type)c->eps,                        \
                                         (type)c->neg_step_size, c->decoupled, c->lerp_small};     \
        type *ps = p, *ms = m, *vs = v;                                                           \
        const type *gs = g;                                                                       \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_CHUNK(n, b, e);                                                                 \
            if (b < e) k->dt##_adam(e - b, ps + b, gs + b, ms + b, vs + b, &a);                   \
        }                                                                                         \
    } while (0)
    if (dt == CF_F32)
        CF_ADAM_RUN(f32, float);
    else
        CF_ADAM_RUN(f64, double);
#undef CF_ADAM_RUN
    return CF_OK;
}
