/* batchnorm.c -- batch normalisation over (n, c, s) data: the loops around the streaming passes
 * of kernels/batchnorm.h, the per-channel arithmetic (in float64) and the OpenMP regions; and
 * batch_norm_relu_max_pool2d, whose second pass pools whole planes (see forward()).
 *
 * Training forward reads x twice (statistics, then normalise) and backward reads dy and x twice
 * (two sums, then dx). With enough channels each thread takes whole channels and runs both
 * passes of a channel back to back, so the second pass finds the channel's n planes in cache
 * when they fit. Otherwise the passes are split over (plane, chunk) items, each thread taking
 * one run of items in memory order, all in one parallel region: the items' partial sums, a
 * barrier, the coefficients of each thread's share of the channels (in parallel: with short
 * planes and many channels, summing n*c partials is no small serial step), a barrier, the
 * second pass. Both ways sum the same (plane, chunk) pieces in the same order, so the result
 * does not depend on the thread count. A 2-D input (s = 1) has its own loops, along the rows. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "kernels/batchnorm.h"

/* An OpenMP directive, or nothing in a build without OpenMP. */
#ifdef CF_HAVE_OPENMP
#define CF_OMP(directive) _Pragma(#directive)
#else
#define CF_OMP(directive)
#endif

#define CF_BN_GRAIN 16384 /* values a thread should get at least */
#define CF_BN_CHUNK 8192  /* values per work item when channels are split */

/* What one channel's passes need, derived in float64 from its statistics. */
typedef struct {
    double mean, invstd;   /* mean as hi + lo in the data type (see kernels/batchnorm.h) */
    double scale, beta;    /* forward: y = (x - mean)*scale + beta                        */
    double a, b, c;        /* backward: dx = a*g + b*(x - mean) + c                       */
} coef;

static inline double load(cf_dtype dt, const void *p, cf_int i, double fallback) {
    if (p == NULL) return fallback;
    return dt == CF_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static inline void store(cf_dtype dt, void *p, cf_int i, double v) {
    if (dt == CF_F32)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}

/* Forward coefficients of channel ch from its shifted sums s (training) or the running
 * statistics (eval); updates the running statistics in training, writes save_mean/invstd. */
static coef forward_coef(cf_dtype dt, const cf_bnorm *bn, cf_int ch, double shift,
                         const double s[2], const void *gamma, const void *beta,
                         void *running_mean, void *running_var, void *save_mean,
                         void *save_invstd) {
    coef k;
    double m = (double)(bn->n * bn->s), var;
    if (!bn->training) {
        k.mean = load(dt, running_mean, ch, 0);
        var = load(dt, running_var, ch, 0);
    } else if (m == 0) {
        k.mean = 0;
        var = 0;
    } else {
        double d = s[0] / m;
        k.mean = shift + d;
        var = s[1] / m - d * d;
        if (var < 0) var = 0;
        if (running_mean != NULL) {
            double unbiased = var * m / (m - 1);
            store(dt, running_mean, ch,
                  (1 - bn->momentum) * load(dt, running_mean, ch, 0) + bn->momentum * k.mean);
            store(dt, running_var, ch,
                  (1 - bn->momentum) * load(dt, running_var, ch, 0) + bn->momentum * unbiased);
        }
    }
    k.invstd = 1 / sqrt(var + bn->eps);
    k.scale = load(dt, gamma, ch, 1) * k.invstd;
    k.beta = load(dt, beta, ch, 0);
    store(dt, save_mean, ch, k.mean);
    store(dt, save_invstd, ch, k.invstd);
    return k;
}

/* Backward coefficients of channel ch from s = (sum g, sum g*(x - mean)); writes dgamma, dbeta. */
static coef backward_coef(cf_dtype dt, const cf_bnorm *bn, cf_int ch, const double s[2],
                          const void *gamma, const void *save_mean, const void *save_invstd,
                          void *dgamma, void *dbeta) {
    coef k;
    double m = (double)(bn->n * bn->s);
    k.mean = load(dt, save_mean, ch, 0);
    k.invstd = load(dt, save_invstd, ch, 0);
    double db = s[0], dg = s[1] * k.invstd;
    k.a = load(dt, gamma, ch, 1) * k.invstd;
    k.b = 0;
    k.c = 0;
    if (bn->training && m > 0) {
        k.b = -k.a * k.invstd * dg / m;
        k.c = -k.a * db / m;
    }
    store(dt, dgamma, ch, dg);
    store(dt, dbeta, ch, db);
    return k;
}

/* A channel's kernel parameters (kernels/batchnorm.h) in the data type, at p + ch*count: the
 * mean as hi + lo (hi rounded to the data type), then scale, beta (forward) or a, b, c. */
static inline void *at(cf_dtype dt, const void *p, cf_int i) {
    return (char *)p + (size_t)i * (dt == CF_F32 ? sizeof(float) : sizeof(double));
}

static void put_mean(cf_dtype dt, void *p, cf_int i, double mean) {
    double hi = dt == CF_F32 ? (double)(float)mean : mean;
    store(dt, p, i, hi);
    store(dt, p, i + 1, mean - hi);
}

static void put_fwd_params(cf_dtype dt, void *p, cf_int ch, const coef *k) {
    cf_int i = ch * CF_BN_FWD_PARAMS;
    put_mean(dt, p, i, k->mean);
    store(dt, p, i + 2, k->scale);
    store(dt, p, i + 3, k->beta);
}

static void put_bwd_params(cf_dtype dt, void *p, cf_int ch, const coef *k) {
    cf_int i = ch * CF_BN_BWD_PARAMS;
    store(dt, p, i + 2, k->a);
    store(dt, p, i + 3, k->b);
    store(dt, p, i + 4, k->c);
}

/* The passes over `runs` consecutive runs of len values from offset off, in the data type;
 * shift and p point at the first run's channel's entries. */
static void stats(const cf_batchnorm_kernels *kr, cf_dtype dt, const void *x, cf_int off,
                  cf_int runs, cf_int len, const void *shift, double *s) {
    if (dt == CF_F32)
        kr->f32_stats((const float *)x + off, runs, len, shift, s);
    else
        kr->f64_stats((const double *)x + off, runs, len, shift, s);
}

static void normalise(const cf_batchnorm_kernels *kr, cf_dtype dt, const void *x, void *y,
                      cf_int off, cf_int runs, cf_int len, const void *p, int relu) {
    if (dt == CF_F32)
        kr->f32_normalise((const float *)x + off, (float *)y + off, runs, len, p, relu);
    else
        kr->f64_normalise((const double *)x + off, (double *)y + off, runs, len, p, relu);
}

static void grad_stats(const cf_batchnorm_kernels *kr, cf_dtype dt, const void *dy,
                       const void *y, const void *x, cf_int off, cf_int runs, cf_int len,
                       const void *p, double *s) {
    if (dt == CF_F32)
        kr->f32_grad_stats((const float *)dy + off, y ? (const float *)y + off : NULL,
                           (const float *)x + off, runs, len, p, s);
    else
        kr->f64_grad_stats((const double *)dy + off, y ? (const double *)y + off : NULL,
                           (const double *)x + off, runs, len, p, s);
}

/* x NULL (eval): dx does not depend on x or the mean (see kernels/batchnorm.h) */
static void grad(const cf_batchnorm_kernels *kr, cf_dtype dt, const void *dy, const void *y,
                 const void *x, void *dx, cf_int off, cf_int runs, cf_int len, const void *p) {
    if (dt == CF_F32)
        kr->f32_grad((const float *)dy + off, y ? (const float *)y + off : NULL,
                     x ? (const float *)x + off : NULL, (float *)dx + off, runs, len, p);
    else
        kr->f64_grad((const double *)dy + off, y ? (const double *)y + off : NULL,
                     x ? (const double *)x + off : NULL, (double *)dx + off, runs, len, p);
}

/* batch_norm_relu_max_pool2d's passes over plane `plane` (of h*w values in, p*q out) */
static void maxpool_plane(const cf_batchnorm_kernels *kr, cf_dtype dt, const cf_bn_pool *bp,
                          const void *x, void *y, uint8_t *arg, cf_int plane, const void *p) {
    cf_int in = plane * bp->h * bp->w, out = plane * bp->p * bp->q;
    if (dt == CF_F32)
        kr->f32_maxpool(bp, (const float *)x + in, (float *)y + out, arg + out, p);
    else
        kr->f64_maxpool(bp, (const double *)x + in, (double *)y + out, arg + out, p);
}

static void maxpool_grad_stats(const cf_batchnorm_kernels *kr, cf_dtype dt, const cf_bn_pool *bp,
                               const void *dy, const void *y, const uint8_t *arg, const void *x,
                               cf_int plane, const void *p, double *s) {
    cf_int in = plane * bp->h * bp->w, out = plane * bp->p * bp->q;
    if (dt == CF_F32)
        kr->f32_maxpool_grad_stats(bp, (const float *)dy + out, (const float *)y + out, arg + out,
                                   (const float *)x + in, p, s);
    else
        kr->f64_maxpool_grad_stats(bp, (const double *)dy + out, (const double *)y + out,
                                   arg + out, (const double *)x + in, p, s);
}

static void maxpool_grad(const cf_batchnorm_kernels *kr, cf_dtype dt, const cf_bn_pool *bp,
                         const void *dy, const void *y, const uint8_t *arg, const void *x,
                         void *dx, cf_int plane, const void *p) {
    cf_int in = plane * bp->h * bp->w, out = plane * bp->p * bp->q;
    if (dt == CF_F32)
        kr->f32_maxpool_grad(bp, (const float *)dy + out, (const float *)y + out, arg + out,
                             x ? (const float *)x + in : NULL, (float *)dx + in, p);
    else
        kr->f64_maxpool_grad(bp, (const double *)dy + out, (const double *)y + out, arg + out,
                             x ? (const double *)x + in : NULL, (double *)dx + in, p);
}

/* Work items when channels are split: item t covers values [lo, hi) of plane t / chunks, a
 * piece of chunk values (the last one shorter). */
typedef struct {
    cf_int chunks, chunk;
} split;

static inline split split_make(const cf_bnorm *bn) {
    split sp;
    sp.chunks = CF_MAX(1, bn->s / CF_BN_CHUNK);
    sp.chunk = CF_MAX(1, (bn->s + sp.chunks - 1) / sp.chunks); /* s may be 0 (an empty plane) */
    return sp;
}

static inline void item(const cf_bnorm *bn, const split *sp, cf_int t, cf_int *ch, cf_int *off,
                        cf_int *len) {
    if (sp->chunks == 1) {
        *ch = t % bn->c;
        *off = t * bn->s;
        *len = bn->s;
        return;
    }
    cf_int plane = t / sp->chunks, lo = (t % sp->chunks) * sp->chunk;
    *ch = plane % bn->c;
    *off = plane * bn->s + lo;
    *len = CF_MIN(bn->s, lo + sp->chunk) - lo;
}

/* How many items from t (up to e) one kernel call takes: with one item per plane, the rest of
 * item t's sample (planes of consecutive channels); otherwise item t alone. */
static inline cf_int item_runs(const cf_bnorm *bn, const split *sp, cf_int t, cf_int e, cf_int ch) {
    return sp->chunks == 1 ? CF_MIN(e - t, bn->c - ch) : 1;
}

/* A thread's share of the split layout: items [b, e) in both passes, and channels [c0, c1),
 * whose coefficients it makes in between. */
static inline void split_share(cf_int items, cf_int c, cf_int *b, cf_int *e, cf_int *c0,
                               cf_int *c1) {
    int nt = CF_NUM_THREADS_IN_TEAM(), id = CF_THREAD_ID();
    cf_partition(items, nt, id, 1, b, e);
    cf_partition(c, nt, id, 1, c0, c1);
}

/* sum += the partial sums of channel ch's items, in plane order. */
static inline void split_sum(const cf_bnorm *bn, const split *sp, const double *part, cf_int ch,
                             double sum[2]) {
    for (cf_int i = 0; i < bn->n; i++)
        for (cf_int u = 0; u < sp->chunks; u++) {
            cf_int t = (i * bn->c + ch) * sp->chunks + u;
            sum[0] += part[2 * t];
            sum[1] += part[2 * t + 1];
        }
}

/* The split passes' workspace: two partial sums per item, and `values` parameters (in doubles,
 * room for either data type). CF_ERR_NOMEM (nothing kept) when either allocation fails. */
static int split_workspace(cf_int items, size_t values, double **part, void **prm) {
    *part = cf_malloc((size_t)(items > 0 ? items : 1) * 2 * sizeof(double));
    *prm = cf_malloc(values * sizeof(double));
    if (*part == NULL || *prm == NULL) {
        cf_free(*part);
        cf_free(*prm);
        return CF_ERR_NOMEM;
    }
    return CF_OK;
}

/* Whole channels per thread when there are enough of them and their planes are long enough to
 * stream (a channel's planes lie c*s values apart and each restarts the prefetchers; below
 * CF_BN_PLANE_MIN values the split layout, which walks memory in order, measured faster). */
#define CF_BN_PLANE_MIN 8192
static inline int by_channel(const cf_bnorm *bn, int nt) {
    return bn->c >= 4 * (cf_int)nt && bn->s >= CF_BN_PLANE_MIN;
}

/* The value the statistics of channel ch are shifted by: its first value (0 when it has none). */
static inline double channel_shift(cf_dtype dt, const void *x, const cf_bnorm *bn, cf_int ch) {
    return bn->n > 0 && bn->s > 0 ? load(dt, x, ch * bn->s, 0) : 0;
}

/* ---- 2-D input (n, c): channels are the contiguous axis ----------------------------------
 * Each thread takes blocks of CF_BN_COLS channels and walks the n rows, so every loop runs
 * along a row (vectorisable by the compiler); per-channel sums are float64. */
#define CF_BN_COLS 256

#define CF_BN2D(T)                                                                                 \
    static void fwd2d_##T(const cf_bnorm *bn, const T *x, const void *gamma, const void *beta,     \
                          void *running_mean, void *running_var, T *y, void *save_mean,            \
                          void *save_invstd, int nt) {                                             \
        cf_dtype dt = sizeof(T) == 4 ? CF_F32 : CF_F64;                                            \
        cf_int n = bn->n, c = bn->c, blocks = (c + CF_BN_COLS - 1) / CF_BN_COLS;                   \
        CF_OMP(omp parallel for num_threads(nt) schedule(static))                                  \
        for (cf_int blk = 0; blk < blocks; blk++) {                                                \
            cf_int c0 = blk * CF_BN_COLS, len = CF_MIN(CF_BN_COLS, c - c0);                        \
            double s1[CF_BN_COLS] = {0}, s2[CF_BN_COLS] = {0};                                     \
            T shift[CF_BN_COLS], hi[CF_BN_COLS], lo[CF_BN_COLS], scale[CF_BN_COLS],                \
                shiftb[CF_BN_COLS];                                                                \
            for (cf_int j = 0; j < len; j++) shift[j] = n > 0 ? x[c0 + j] : 0;                     \
            if (bn->training)                                                                      \
                for (cf_int i = 0; i < n; i++) {                                                   \
                    const T *row = x + i * c + c0;                                                 \
                    for (cf_int j = 0; j < len; j++) {                                             \
                        double d = (double)(row[j] - shift[j]);                                    \
                        s1[j] += d;                                                                \
                        s2[j] += d * d;                                                            \
                    }                                                                              \
                }                                                                                  \
            for (cf_int j = 0; j < len; j++) {                                                     \
                double sum[2] = {s1[j], s2[j]};                                                    \
                coef k = forward_coef(dt, bn, c0 + j, (double)shift[j], sum, gamma, beta,          \
                                      running_mean, running_var, save_mean, save_invstd);          \
                hi[j] = (T)k.mean;                                                                 \
                lo[j] = (T)(k.mean - (double)hi[j]);                                               \
                scale[j] = (T)k.scale;                                                             \
                shiftb[j] = (T)k.beta;                                                             \
            }                                                                                      \
            for (cf_int i = 0; i < n; i++) {                                                       \
                const T *row = x + i * c + c0;                                                     \
                T *out = y + i * c + c0;                                                           \
                for (cf_int j = 0; j < len; j++) {                                                 \
                    T v = ((row[j] - hi[j]) - lo[j]) * scale[j] + shiftb[j];                       \
                    out[j] = (bn->relu && v < 0) ? (T)0 : v;                                       \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void bwd2d_##T(const cf_bnorm *bn, const T *dy, const T *y, const T *x,                 \
                          const void *gamma, const void *save_mean, const void *save_invstd,       \
                          T *dx, void *dgamma, void *dbeta, int nt) {                              \
        cf_dtype dt = sizeof(T) == 4 ? CF_F32 : CF_F64;                                            \
        cf_int n = bn->n, c = bn->c, blocks = (c + CF_BN_COLS - 1) / CF_BN_COLS;                   \
        CF_OMP(omp parallel for num_threads(nt) schedule(static))                                  \
        for (cf_int blk = 0; blk < blocks; blk++) {                                                \
            cf_int c0 = blk * CF_BN_COLS, len = CF_MIN(CF_BN_COLS, c - c0);                        \
            double s1[CF_BN_COLS] = {0}, s2[CF_BN_COLS] = {0};                                     \
            T hi[CF_BN_COLS], lo[CF_BN_COLS], ka[CF_BN_COLS], kb[CF_BN_COLS], kc[CF_BN_COLS];      \
            for (cf_int j = 0; j < len; j++) {                                                     \
                double mean = load(dt, save_mean, c0 + j, 0);                                      \
                hi[j] = (T)mean;                                                                   \
                lo[j] = (T)(mean - (double)hi[j]);                                                 \
            }                                                                                      \
            for (cf_int i = 0; i < n; i++) {                                                       \
                const T *g = dy + i * c + c0, *xr = x + i * c + c0;                                \
                const T *yr = y ? y + i * c + c0 : NULL;                                           \
                for (cf_int j = 0; j < len; j++) {                                                 \
                    T gj = (yr == NULL || yr[j] > 0) ? g[j] : (T)0;                                \
                    s1[j] += (double)gj;                                                           \
                    s2[j] += (double)(gj * ((xr[j] - hi[j]) - lo[j]));                             \
                }                                                                                  \
            }                                                                                      \
            for (cf_int j = 0; j < len; j++) {                                                     \
                double sum[2] = {s1[j], s2[j]};                                                    \
                coef k = backward_coef(dt, bn, c0 + j, sum, gamma, save_mean, save_invstd,         \
                                       dgamma, dbeta);                                             \
                ka[j] = (T)k.a;                                                                    \
                kb[j] = (T)k.b;                                                                    \
                kc[j] = (T)k.c;                                                                    \
            }                                                                                      \
            for (cf_int i = 0; i < n; i++) {                                                       \
                const T *g = dy + i * c + c0, *xr = x + i * c + c0;                                \
                const T *yr = y ? y + i * c + c0 : NULL;                                           \
                T *out = dx + i * c + c0;                                                          \
                for (cf_int j = 0; j < len; j++) {                                                 \
                    T gj = (yr == NULL || yr[j] > 0) ? g[j] : (T)0;                                \
                    out[j] = bn->training ? ka[j] * gj + (kb[j] * ((xr[j] - hi[j]) - lo[j]) + kc[j]) \
                                          : ka[j] * gj + kc[j];                                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

CF_BN2D(float)
CF_BN2D(double)

/* batch_norm (bp NULL) or batch_norm_relu_max_pool2d (bp the pooling; bn->relu set): the
 * second pass normalises items, or pools whole planes into y and arg. */
static int forward(cf_dtype dt, const cf_bnorm *bn, const cf_bn_pool *bp, const void *x,
                   const void *gamma, const void *beta, void *running_mean, void *running_var,
                   void *y, uint8_t *arg, void *save_mean, void *save_invstd, int nthreads) {
    const cf_batchnorm_kernels *kr = CF_SELECT(batchnorm, cf_isa_current());
    cf_int c = bn->c, s = bn->s, n = bn->n, total = n * c * s;
    int nt = cf_threads_for(total, CF_BN_GRAIN, nthreads);
    int learn = bn->training && n > 0;
    if (s == 1 && bp == NULL) {
        nt = cf_threads_for(c, CF_BN_COLS, nt);
        if (dt == CF_F32)
            fwd2d_float(bn, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd, nt);
        else
            fwd2d_double(bn, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd, nt);
        return CF_OK;
    }
    split sp = split_make(bn);
    if (learn && by_channel(bn, nt)) { /* eval has no statistics to keep in cache */
        CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, 1))
        for (cf_int ch = 0; ch < c; ch++) {
            double sum[2] = {0, 0}, shift = channel_shift(dt, x, bn, ch);
            double shift_t, prm[CF_BN_FWD_PARAMS]; /* in the data type */
            cf_int cc, off, len;
            store(dt, &shift_t, 0, shift);
            for (cf_int t = ch * sp.chunks; t < n * c * sp.chunks; t += c * sp.chunks)
                for (cf_int u = t; u < t + sp.chunks; u++) {
                    item(bn, &sp, u, &cc, &off, &len);
                    stats(kr, dt, x, off, 1, len, &shift_t, sum);
                }
            coef k = forward_coef(dt, bn, ch, shift, sum, gamma, beta, running_mean, running_var,
                                  save_mean, save_invstd);
            put_fwd_params(dt, prm, 0, &k);
            for (cf_int i = 0; i < n; i++)
                if (bp)
                    maxpool_plane(kr, dt, bp, x, y, arg, i * c + ch, prm);
                else
                    normalise(kr, dt, x, y, (i * c + ch) * s, 1, s, prm, bn->relu);
        }
        return CF_OK;
    }
    cf_int items = n * c * sp.chunks;
    double *part;
    void *prm;
    if (split_workspace(items, (size_t)c * (CF_BN_FWD_PARAMS + 1), &part, &prm) != CF_OK)
        return CF_ERR_NOMEM;
    void *shift = at(dt, prm, c * CF_BN_FWD_PARAMS); /* the channels' shifts, after prm */
    CF_OMP(omp parallel num_threads(nt))
    {
        cf_int b, e, c0, c1;
        split_share(items, c, &b, &e, &c0, &c1);
        for (cf_int ch = c0; ch < c1; ch++) store(dt, shift, ch, channel_shift(dt, x, bn, ch));
        CF_OMP(omp barrier)
        for (cf_int t = b; learn && t < e;) {
            cf_int ch, off, len, runs;
            item(bn, &sp, t, &ch, &off, &len);
            runs = item_runs(bn, &sp, t, e, ch);
            memset(part + 2 * t, 0, (size_t)runs * 2 * sizeof(double));
            stats(kr, dt, x, off, runs, len, at(dt, shift, ch), part + 2 * t);
            t += runs;
        }
        CF_OMP(omp barrier)
        for (cf_int ch = c0; ch < c1; ch++) {
            double sum[2] = {0, 0};
            if (learn) split_sum(bn, &sp, part, ch, sum);
            coef k = forward_coef(dt, bn, ch, load(dt, shift, ch, 0), sum, gamma, beta,
                                  running_mean, running_var, save_mean, save_invstd);
            put_fwd_params(dt, prm, ch, &k);
        }
        CF_OMP(omp barrier)
        if (bp) {
            cf_int pb, pe;
            cf_partition(n * c, CF_NUM_THREADS_IN_TEAM(), CF_THREAD_ID(), 1, &pb, &pe);
            for (cf_int plane = pb; plane < pe; plane++)
                maxpool_plane(kr, dt, bp, x, y, arg, plane,
                              at(dt, prm, plane % c * CF_BN_FWD_PARAMS));
        } else {
            for (cf_int t = b; t < e;) {
                cf_int ch, off, len, runs;
                item(bn, &sp, t, &ch, &off, &len);
                runs = item_runs(bn, &sp, t, e, ch);
                normalise(kr, dt, x, y, off, runs, len, at(dt, prm, ch * CF_BN_FWD_PARAMS),
                          bn->relu);
                t += runs;
            }
        }
    }
    cf_free(part);
    cf_free(prm);
    return CF_OK;
}

/* IN x, gamma, beta (NULL = 1, 0); IN/OUT running_mean, running_var (updated in training,
 * may be NULL then); OUT y (like x), save_mean, save_invstd (c). */
int cf_batchnorm_fwd(cf_dtype dt, const cf_bnorm *bn, const void *x, const void *gamma,
                     const void *beta, void *running_mean, void *running_var, void *y,
                     void *save_mean, void *save_invstd, int nthreads) {
    return forward(dt, bn, NULL, x, gamma, beta, running_mean, running_var, y, NULL, save_mean,
                   save_invstd, nthreads);
}

/* As cf_batchnorm_fwd, then relu and max pooling by bp: OUT y, arg (n, c, p, q). */
int cf_batchnorm_relu_maxpool_fwd(cf_dtype dt, const cf_bnorm *bn, const cf_bn_pool *bp,
                                  const void *x, const void *gamma, const void *beta,
                                  void *running_mean, void *running_var, void *y, uint8_t *arg,
                                  void *save_mean, void *save_invstd, int nthreads) {
    return forward(dt, bn, bp, x, gamma, beta, running_mean, running_var, y, arg, save_mean,
                   save_invstd, nthreads);
}

/* batch_norm's backward (bp NULL) or batch_norm_relu_max_pool2d's (bp the pooling, with dy, y
 * and arg pooled): with pooling, the split layout's items are whole planes, whose passes go
 * through the maxima (maxpool_grad_stats, maxpool_grad). */
static int backward(cf_dtype dt, const cf_bnorm *bn, const cf_bn_pool *bp, const void *dy,
                    const void *y, const uint8_t *arg, const void *x, const void *gamma,
                    const void *save_mean, const void *save_invstd, void *dx, void *dgamma,
                    void *dbeta, int nthreads) {
    const cf_batchnorm_kernels *kr = CF_SELECT(batchnorm, cf_isa_current());
    cf_int c = bn->c, s = bn->s, n = bn->n, total = n * c * s;
    int nt = cf_threads_for(total, CF_BN_GRAIN, nthreads);
    if (s == 1 && bp == NULL) {
        nt = cf_threads_for(c, CF_BN_COLS, nt);
        if (dt == CF_F32)
            bwd2d_float(bn, dy, y, x, gamma, save_mean, save_invstd, dx, dgamma, dbeta, nt);
        else
            bwd2d_double(bn, dy, y, x, gamma, save_mean, save_invstd, dx, dgamma, dbeta, nt);
        return CF_OK;
    }
    const split sp = bp ? (split){1, s} : split_make(bn);
    const void *x_dx = bn->training ? x : NULL; /* eval: dx = a*g, x and the mean not involved */
    if (bp == NULL && by_channel(bn, nt)) {
        CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, 1))
        for (cf_int ch = 0; ch < c; ch++) {
            double sum[2] = {0, 0}, prm[CF_BN_BWD_PARAMS]; /* in the data type */
            cf_int cc, off, len;
            put_mean(dt, prm, 0, load(dt, save_mean, ch, 0));
            for (cf_int t = ch * sp.chunks; t < n * c * sp.chunks; t += c * sp.chunks)
                for (cf_int u = t; u < t + sp.chunks; u++) {
                    item(bn, &sp, u, &cc, &off, &len);
                    grad_stats(kr, dt, dy, y, x, off, 1, len, prm, sum);
                }
            coef k = backward_coef(dt, bn, ch, sum, gamma, save_mean, save_invstd, dgamma, dbeta);
            put_bwd_params(dt, prm, 0, &k);
            for (cf_int i = 0; i < n; i++)
                grad(kr, dt, dy, y, x_dx, dx, (i * c + ch) * s, 1, s, prm);
        }
        return CF_OK;
    }
    cf_int items = n * c * sp.chunks;
    double *part;
    void *prm;
    if (split_workspace(items, (size_t)c * CF_BN_BWD_PARAMS, &part, &prm) != CF_OK)
        return CF_ERR_NOMEM;
    CF_OMP(omp parallel num_threads(nt))
    {
        cf_int b, e, c0, c1;
        split_share(items, c, &b, &e, &c0, &c1);
        for (cf_int ch = c0; ch < c1; ch++)
            put_mean(dt, prm, ch * CF_BN_BWD_PARAMS, load(dt, save_mean, ch, 0));
        CF_OMP(omp barrier)
        for (cf_int t = b; t < e;) {
            cf_int ch, off, len, runs;
            item(bn, &sp, t, &ch, &off, &len);
            runs = bp ? 1 : item_runs(bn, &sp, t, e, ch);
            memset(part + 2 * t, 0, (size_t)runs * 2 * sizeof(double));
            if (bp)
                maxpool_grad_stats(kr, dt, bp, dy, y, arg, x, t,
                                   at(dt, prm, ch * CF_BN_BWD_PARAMS), part + 2 * t);
            else
                grad_stats(kr, dt, dy, y, x, off, runs, len, at(dt, prm, ch * CF_BN_BWD_PARAMS),
                           part + 2 * t);
            t += runs;
        }
        CF_OMP(omp barrier)
        for (cf_int ch = c0; ch < c1; ch++) {
            double sum[2] = {0, 0};
            split_sum(bn, &sp, part, ch, sum);
            coef k = backward_coef(dt, bn, ch, sum, gamma, save_mean, save_invstd, dgamma, dbeta);
            put_bwd_params(dt, prm, ch, &k);
        }
        CF_OMP(omp barrier)
        for (cf_int t = b; t < e;) {
            cf_int ch, off, len, runs;
            item(bn, &sp, t, &ch, &off, &len);
            runs = bp ? 1 : item_runs(bn, &sp, t, e, ch);
            if (bp)
                maxpool_grad(kr, dt, bp, dy, y, arg, x_dx, dx, t, at(dt, prm, ch * CF_BN_BWD_PARAMS));
            else
                grad(kr, dt, dy, y, x_dx, dx, off, runs, len, at(dt, prm, ch * CF_BN_BWD_PARAMS));
            t += runs;
        }
    }
    cf_free(part);
    cf_free(prm);
    return CF_OK;
}

/* IN dy, y (batch_norm_relu's output or NULL), x, gamma (NULL = 1), save_mean, save_invstd;
 * OUT dx (like x), dgamma, dbeta (c). */
int cf_batchnorm_bwd(cf_dtype dt, const cf_bnorm *bn, const void *dy, const void *y, const void *x,
                     const void *gamma, const void *save_mean, const void *save_invstd, void *dx,
                     void *dgamma, void *dbeta, int nthreads) {
    return backward(dt, bn, NULL, dy, y, NULL, x, gamma, save_mean, save_invstd, dx, dgamma,
                    dbeta, nthreads);
}

/* IN dy, y, arg (n, c, p, q: the gradient of y, and the forward's y and arg), x, gamma (NULL =
 * 1), save_mean, save_invstd; OUT dx (like x), dgamma, dbeta (c). */
int cf_batchnorm_relu_maxpool_bwd(cf_dtype dt, const cf_bnorm *bn, const cf_bn_pool *bp,
                                  const void *dy, const void *y, const uint8_t *arg,
                                  const void *x, const void *gamma, const void *save_mean,
                                  const void *save_invstd, void *dx, void *dgamma, void *dbeta,
                                  int nthreads) {
    return backward(dt, bn, bp, dy, y, arg, x, gamma, save_mean, save_invstd, dx, dgamma, dbeta,
                    nthreads);
}

/* IN weight (k, per), bias/gamma/beta (k, NULL = 0/1/0), running_mean, running_var (k);
 * OUT folded_weight (k, per), folded_bias (k). */
int cf_fold_batchnorm(cf_dtype dt, cf_int k, cf_int per, const void *weight, const void *bias,
                      const void *gamma, const void *beta, const void *running_mean,
                      const void *running_var, double eps, void *folded_weight,
                      void *folded_bias, int nthreads) {
    int nt = cf_threads_for(k * per, CF_BN_GRAIN, nthreads);
    (void)nt; /* unused without OpenMP */
    CF_OMP(omp parallel for num_threads(nt) schedule(static))
    for (cf_int o = 0; o < k; o++) {
        double scale = load(dt, gamma, o, 1) / sqrt(load(dt, running_var, o, 0) + eps);
        for (cf_int e = o * per; e < (o + 1) * per; e++)
            store(dt, folded_weight, e, load(dt, weight, e, 0) * scale);
        store(dt, folded_bias, o,
              (load(dt, bias, o, 0) - load(dt, running_mean, o, 0)) * scale + load(dt, beta, o, 0));
    }
    return CF_OK;
}
