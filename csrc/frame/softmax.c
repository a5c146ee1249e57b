/* softmax.c -- the frame of softmax, log-softmax and cross-entropy: arrays are viewed as
 * (outer, L, inner) with the softmax along L, and the work is split over OpenMP threads.
 *
 *   inner == 1 (softmax axis is the last):  rows of L contiguous elements, one row kernel each;
 *                                           threads take contiguous ranges of rows.
 *   inner  > 1:                             units of up to CF_SOFTMAX_COLS_MAX neighbouring
 *                                           columns of one (L, inner) slab; the column kernel
 *                                           vectorises across them; threads take ranges of units.
 *   forward, inner == 1 and                short rows (class scores): the short-row kernel, which
 *   L <= CF_SOFTMAX_SHORT_L:                works on blocks of W rows transposed in registers, one
 *                                           lane per row (gathers in, gathers out). A row kernel
 *                                           on a 10-element row spends its time in horizontal
 *                                           reductions and per-row overhead. (The backward row
 *                                           kernels have no exp to amortise: they stay faster.)
 * Large outputs with rows of at least 1 KiB are streamed (non-temporal stores, see
 * CF_STREAM_BYTES). Cross-entropy takes the same two paths, checks each label as it reads it,
 * and sums the rows' losses in an order that does not depend on the thread count.
 *
 * CF_OMP_PARALLEL_NT opens a region of `nt` threads (a variable of that name must be in scope). */
#include "common.h"
#include "kernels/eltwise.h"
#include "kernels/softmax.h"

#define CF_SOFTMAX_GRAIN 32768 /* elements per thread below which one thread does it all */
#define CF_SOFTMAX_LOSS_CHUNK 256 /* cross-entropy's short rows per kernel call */

#ifdef CF_HAVE_OPENMP
#define CF_OMP_PARALLEL_NT _Pragma("omp parallel num_threads(nt) if (nt > 1)")
#else
#define CF_OMP_PARALLEL_NT (void)nt;
#endif

/* flag = 1 from inside a parallel region (several threads may set it) */
#ifdef CF_HAVE_OPENMP
#define CF_ATOMIC_SET(flag) _Pragma("omp atomic write") flag = 1
#else
#define CF_ATOMIC_SET(flag) flag = 1
#endif

#define CF_MY_RANGE(n, b, e)                                                                      \
    cf_int b, e;                                                                                  \
    cf_partition((n), CF_NUM_THREADS_IN_TEAM(), CF_THREAD_ID(), 1, &b, &e)

static const cf_softmax_kernels *kernels(void) { return CF_SELECT(cf_softmax, cf_isa_current()); }

/* threads for `units` units of `per_unit` elements each */
static int threads_for_units(cf_int units, cf_int per_unit, int nthreads) {
    return cf_threads_for(units, CF_MAX(1, CF_SOFTMAX_GRAIN / CF_MAX(1, per_unit)), nthreads);
}

/* The sum, in double, of v[0..n) in a fixed order: four interleaved partial sums, i = 0, 1, 2, 3
 * mod 4 (which keeps the adds' latency chain a quarter as long). */
#define CF_FIXED_ORDER_SUM(name, type)                                                            \
    static double name(const type *v, cf_int n) {                                                 \
        double part[4] = {0, 0, 0, 0};                                                            \
        cf_int r = 0;                                                                             \
        for (; r + 4 <= n; r += 4)                                                                \
            for (int i = 0; i < 4; i++) part[i] += (double)v[r + i];                              \
        for (; r < n; r++) part[r % 4] += (double)v[r];                                           \
        return (part[0] + part[1]) + (part[2] + part[3]);                                         \
    }
CF_FIXED_ORDER_SUM(sum_f32, float)
CF_FIXED_ORDER_SUM(sum_f64, double)
#undef CF_FIXED_ORDER_SUM

/* Short rows: IN x; OUT y; N rows of L <= CF_SOFTMAX_SHORT_L, y = softmax (log_out = 0) or
 * log_softmax (log_out = 1). Threads take ranges of rows starting at multiples of 16 (the
 * kernels' blocks of W rows). With labels != NULL (cross-entropy) the threads take whole chunks
 * of CF_SOFTMAX_LOSS_CHUNK rows instead: the kernel leaves each row's loss, in T, in a scratch on
 * the thread's stack, and chunk_loss[i] gets the sum (in double, in a fixed order) of the losses
 * of chunk i, rows [i CF_SOFTMAX_LOSS_CHUNK, (i + 1) CF_SOFTMAX_LOSS_CHUNK), whatever the thread
 * count. Returns 1 if some label lies outside [0, L) (the kernel checks a chunk's labels before
 * it reads anything through them; the thread then stops), else 0. (The kernel once stored each
 * row's log-sum-exp in double and this loop subtracted the labelled score row by row, after
 * Python had checked the labels' range: 8192x10 float32 took 89 us on 1 thread, now 59, against
 * 50 for plain softmax.) */
static int short_rows(const cf_softmax_kernels *k, cf_dtype dt, cf_int N, cf_int L, const void *x, void *y,
                      int log_out, const int64_t *labels, double *chunk_loss, int nthreads) {
    const int nt = threads_for_units(N, L, nthreads);
    int bad = 0;
    CF_OMP_PARALLEL_NT
    {
        cf_int r0, r1;
        cf_partition(N, CF_NUM_THREADS_IN_TEAM(), CF_THREAD_ID(), labels ? CF_SOFTMAX_LOSS_CHUNK : 16, &r0, &r1);
        if (!labels) {
            if (dt == CF_F32)
                k->f32_fwd_short(r1 - r0, L, (const float *)x + r0 * L, (float *)y + r0 * L, log_out, NULL, NULL);
            else
                k->f64_fwd_short(r1 - r0, L, (const double *)x + r0 * L, (double *)y + r0 * L, log_out, NULL, NULL);
        } else {
            _Alignas(64) double loss[CF_SOFTMAX_LOSS_CHUNK]; /* the chunk's row losses, float or double */
            int my_bad = 0;
            for (cf_int c0 = r0; c0 < r1 && !my_bad; c0 += CF_SOFTMAX_LOSS_CHUNK) {
                const cf_int n = CF_MIN(r1, c0 + CF_SOFTMAX_LOSS_CHUNK) - c0;
                double *sum = chunk_loss + c0 / CF_SOFTMAX_LOSS_CHUNK;
                if (dt == CF_F32) {
                    my_bad = k->f32_fwd_short(n, L, (const float *)x + c0 * L, (float *)y + c0 * L, 0, labels + c0,
                                              (float *)loss);
                    if (!my_bad) *sum = sum_f32((const float *)loss, n);
                } else {
                    my_bad = k->f64_fwd_short(n, L, (const double *)x + c0 * L, (double *)y + c0 * L, 0, labels + c0,
                                              loss);
                    if (!my_bad) *sum = sum_f64(loss, n);
                }
            }
            if (my_bad) CF_ATOMIC_SET(bad);
        }
    }
    return bad;
}

/* IN a (x or dy), b (y for the backward ops, else NULL); OUT out; all (outer, L, inner), L >= 1. */
int cf_softmax(cf_softmax_op op, cf_dtype dt, cf_int outer, cf_int L, cf_int inner, const void *a,
               const void *b, void *out, int nthreads) {
    const cf_softmax_kernels *k = kernels();
    if (inner == 1 && L <= CF_SOFTMAX_SHORT_L && (op == CF_SOFTMAX_FWD || op == CF_LOG_SOFTMAX_FWD)) {
        (void)short_rows(k, dt, outer, L, a, out, op == CF_LOG_SOFTMAX_FWD, NULL, NULL, nthreads);
        return CF_OK;
    }
    if (inner == 1) {
        const int nt = threads_for_units(outer, L, nthreads);
        const size_t elem = dt == CF_F32 ? sizeof(float) : sizeof(double);
        const int stream = outer * L * (cf_int)elem >= CF_STREAM_BYTES && L * (cf_int)elem >= 1024 &&
                           (uintptr_t)out % elem == 0;
        /* streaming softmax keeps each row's exps in a scratch row per thread */
        char *work = stream && op == CF_SOFTMAX_FWD ? cf_malloc((size_t)nt * (size_t)L * elem) : NULL;
        if (stream && op == CF_SOFTMAX_FWD && !work) return CF_ERR_NOMEM;
#define CF_SOFTMAX_ROWS(dt, type)                                                                 \
    do {                                                                                          \
        const type *as = a, *bs = b;                                                              \
        type *os = out;                                                                           \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_RANGE(outer, r0, r1);                                                           \
            type *row_work = work ? (type *)work + (cf_int)CF_THREAD_ID() * L : NULL;             \
            for (cf_int r = r0; r < r1; r++) {                                                    \
                const cf_int o = r * L;                                                           \
                switch (op) {                                                                     \
                case CF_SOFTMAX_FWD: k->dt##_fwd_row(L, as + o, os + o, row_work); break;         \
                case CF_LOG_SOFTMAX_FWD: k->dt##_log_fwd_row(L, as + o, os + o, stream); break;   \
                case CF_SOFTMAX_BWD: k->dt##_bwd_row(L, as + o, bs + o, os + o, stream); break;   \
                case CF_LOG_SOFTMAX_BWD:                                                          \
                    k->dt##_log_bwd_row(L, as + o, bs + o, os + o, stream);                       \
                    break;                                                                        \
                }                                                                                 \
            }                                                                                     \
            if (stream) k->dt##_store_fence();                                                    \
        }                                                                                         \
    } while (0)
        if (dt == CF_F32)
            CF_SOFTMAX_ROWS(f32, float);
        else
            CF_SOFTMAX_ROWS(f64, double);
#undef CF_SOFTMAX_ROWS
        cf_free(work);
        return CF_OK;
    }
    const cf_int per_slab = (inner + CF_SOFTMAX_COLS_MAX - 1) / CF_SOFTMAX_COLS_MAX, units = outer * per_slab;
    const int nt = threads_for_units(units, L * CF_MIN(inner, CF_SOFTMAX_COLS_MAX), nthreads);
    const size_t elem = dt == CF_F32 ? sizeof(float) : sizeof(double);
    /* streaming softmax keeps a block's exps in a scratch block per thread, if that fits in L2 */
    const size_t work_len = (size_t)L * CF_SOFTMAX_COLS_MAX;
    const int stream = outer * L * inner * (cf_int)elem >= CF_STREAM_BYTES && (uintptr_t)out % elem == 0 &&
                       (op != CF_SOFTMAX_FWD || work_len * elem <= ((size_t)1 << 20));
    char *work = stream && op == CF_SOFTMAX_FWD ? cf_malloc((size_t)nt * work_len * elem) : NULL;
    if (stream && op == CF_SOFTMAX_FWD && !work) return CF_ERR_NOMEM;
#define CF_SOFTMAX_COLS_RUN(dt, type)                                                             \
    do {                                                                                          \
        const type *as = a, *bs = b;                                                              \
        type *os = out;                                                                           \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_RANGE(units, u0, u1);                                                           \
            type *blk_work = work ? (type *)work + (cf_int)CF_THREAD_ID() * (cf_int)work_len : NULL; \
            for (cf_int u = u0; u < u1; u++) {                                                    \
                const cf_int j = (u % per_slab) * CF_SOFTMAX_COLS_MAX;                            \
                const cf_int m = CF_MIN(CF_SOFTMAX_COLS_MAX, inner - j);                          \
                const cf_int o = (u / per_slab) * L * inner + j;                                  \
                switch (op) {                                                                     \
                case CF_SOFTMAX_FWD: k->dt##_fwd_cols(L, m, inner, as + o, os + o, blk_work); break; \
                case CF_LOG_SOFTMAX_FWD:                                                          \
                    k->dt##_log_fwd_cols(L, m, inner, as + o, os + o, stream);                    \
                    break;                                                                        \
                case CF_SOFTMAX_BWD:                                                              \
                    k->dt##_bwd_cols(L, m, inner, as + o, bs + o, os + o, stream);                \
                    break;                                                                        \
                case CF_LOG_SOFTMAX_BWD:                                                          \
                    k->dt##_log_bwd_cols(L, m, inner, as + o, bs + o, os + o, stream);            \
                    break;                                                                        \
                }                                                                                 \
            }                                                                                     \
            if (stream) k->dt##_store_fence();                                                    \
        }                                                                                         \
    } while (0)
    if (dt == CF_F32)
        CF_SOFTMAX_COLS_RUN(f32, float);
    else
        CF_SOFTMAX_COLS_RUN(f64, double);
#undef CF_SOFTMAX_COLS_RUN
    cf_free(work);
    return CF_OK;
}

/* Cross-entropy with the row kernels: IN logits (N, C), labels; OUT probs (N, C) and
 * row_loss[r] = logsumexp(logits[r]) - logits[r, labels[r]] (in double). Returns 1 if some label
 * lies outside [0, C) (its row's loss is then not computed), else 0; -1 when out of memory. */
static int ce_rows(const cf_softmax_kernels *k, cf_dtype dt, cf_int N, cf_int C, const void *logits,
                   const int64_t *labels, void *probs, double *row_loss, int nthreads) {
    const int nt = threads_for_units(N, C, nthreads);
    const size_t elem = dt == CF_F32 ? sizeof(float) : sizeof(double);
    const int stream = N * C * (cf_int)elem >= CF_STREAM_BYTES && C * (cf_int)elem >= 1024 &&
                       (uintptr_t)probs % elem == 0;
    char *work = stream ? cf_malloc((size_t)nt * (size_t)C * elem) : NULL;
    if (stream && !work) return -1;
    int bad = 0;
#define CF_CE_FWD(dt, type)                                                                       \
    do {                                                                                          \
        const type *xs = logits;                                                                  \
        type *ps = probs;                                                                         \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_RANGE(N, r0, r1);                                                               \
            type *row_work = work ? (type *)work + (cf_int)CF_THREAD_ID() * C : NULL;             \
            int my_bad = 0;                                                                       \
            for (cf_int r = r0; r < r1; r++) {                                                    \
                const double lse = k->dt##_fwd_row(C, xs + r * C, ps + r * C, row_work);          \
                const uint64_t label = (uint64_t)labels[r];                                       \
                my_bad |= label >= (uint64_t)C;                                                   \
                row_loss[r] = label < (uint64_t)C ? lse - (double)xs[r * C + (cf_int)label] : 0;  \
            }                                                                                     \
            if (stream) k->dt##_store_fence();                                                    \
            if (my_bad) CF_ATOMIC_SET(bad);                                                       \
        }                                                                                         \
    } while (0)
    if (dt == CF_F32)
        CF_CE_FWD(f32, float);
    else
        CF_CE_FWD(f64, double);
#undef CF_CE_FWD
    cf_free(work);
    return bad;
}

/* IN logits (N, C), labels (N); OUT probs (N, C), *loss_sum. C >= 1.
 * Each label is checked to lie in [0, C) as it is read: CF_ERR_LABEL if one does not (probs and
 * *loss_sum are then meaningless and must be discarded; nothing outside the arrays is touched).
 * The rows' losses are summed in an order that does not depend on the thread count (short rows:
 * chunk by chunk, see short_rows; long rows: each row's loss kept, then summed after the parallel
 * region), so the sum is the same bits on any number of threads. */
int cf_cross_entropy_fwd(cf_dtype dt, cf_int N, cf_int C, const void *logits, const int64_t *labels,
                         void *probs, double *loss_sum, int nthreads) {
    const cf_softmax_kernels *k = kernels();
    const int short_path = C <= CF_SOFTMAX_SHORT_L;
    const cf_int parts = short_path ? (N + CF_SOFTMAX_LOSS_CHUNK - 1) / CF_SOFTMAX_LOSS_CHUNK : N;
    double *loss = cf_malloc((size_t)CF_MAX(parts, 1) * sizeof(double));
    if (!loss) return CF_ERR_NOMEM;
    const int bad = short_path ? short_rows(k, dt, N, C, logits, probs, 0, labels, loss, nthreads)
                               : ce_rows(k, dt, N, C, logits, labels, probs, loss, nthreads);
    *loss_sum = bad ? 0 : sum_f64(loss, parts);
    cf_free(loss);
    return bad < 0 ? CF_ERR_NOMEM : bad ? CF_ERR_LABEL : CF_OK;
}

/* IN probs (N, C), labels (N); OUT dlogits (N, C). N >= 1, C >= 1. Each label is checked to lie in
 * [0, C) as it is read: CF_ERR_LABEL if one does not (dlogits is then meaningless and must be
 * discarded; nothing outside the arrays is touched). */
int cf_cross_entropy_bwd(cf_dtype dt, cf_int N, cf_int C, const void *probs, const int64_t *labels,
                         void *dlogits, int nthreads) {
    const cf_eltwise_kernels *k = CF_SELECT(cf_eltwise, cf_isa_current());
    const int nt = threads_for_units(N, C, nthreads);
    int bad = 0;
#define CF_CE_BWD(dt, type)                                                                       \
    do {                                                                                          \
        const type *ps = probs;                                                                   \
        type *ds = dlogits;                                                                       \
        const type inv_n = (type)(1.0 / (double)N);                                               \
        const cf_##dt##_eltwise_params p = {inv_n, 0};                                            \
        CF_OMP_PARALLEL_NT                                                                        \
        {                                                                                         \
            CF_MY_RANGE(N, r0, r1);                                                               \
            int my_bad = 0;                                                                       \
            if (r0 < r1) k->dt##_unary[CF_UNARY_SCALE]((r1 - r0) * C, ps + r0 * C, ds + r0 * C, &p); \
            for (cf_int r = r0; r < r1; r++) {                                                    \
                const uint64_t label = (uint64_t)labels[r];                                       \
                if (label >= (uint64_t)C) {                                                       \
                    my_bad = 1;                                                                   \
                    continue;                                                                     \
                }                                                                                 \
                const cf_int o = r * C + (cf_int)label;                                           \
                ds[o] = (ps[o] - 1) * inv_n;                                                      \
            }                                                                                     \
            if (my_bad) CF_ATOMIC_SET(bad);                                                       \
        }                                                                                         \
    } while (0)
    if (dt == CF_F32)
        CF_CE_BWD(f32, float);
    else
        CF_CE_BWD(f64, double);
#undef CF_CE_BWD
    return bad ? CF_ERR_LABEL : CF_OK;
}
