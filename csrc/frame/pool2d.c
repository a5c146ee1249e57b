/* pool2d.c -- max and average pooling over NCHW planes: the loops around the row kernels of
 * kernels/pool.h and the OpenMP regions.
 *
 * Forward: one work item is one output row of one plane (so a batch of one plane still splits
 * over the threads). For output row i the window rows a whose input row i*sh - ph + a*dh lies
 * inside the input are handed, in increasing order, to one row-kernel call that computes the
 * whole output row; the kernel leaves out the columns of the padding. Stride-1 max pooling
 * that keeps the plane's size (inception's 3x3 s1 p1) instead runs whole planes through the
 * flat kernels, whose 16-output blocks run across the short rows, and float32 output rows of
 * at most 8 values (a 14x14 plane pooled to 7x7) go two to a vector through the pairs kernels.
 * Backward: the gradient of a plane (or of a band of its rows, when there are fewer planes
 * than threads) is zeroed and accumulated while it sits in cache; average pooling whose
 * windows tile the input (kernel = stride) writes each gradient row once instead. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "kernels/pool.h"

/* An OpenMP directive, or nothing in a build without OpenMP. */
#ifdef CF_HAVE_OPENMP
#define CF_OMP(directive) _Pragma(#directive)
#else
#define CF_OMP(directive)
#endif

/* Input elements a thread should get at least. */
#define CF_POOL_GRAIN 16384
/* Output rows per work item of the forward pass at least (taken dynamically, so a thread that
 * the OS delays takes fewer). */
#define CF_POOL_ROWS 32

/* Work items of `size` elements per dynamically scheduled chunk: at least CF_POOL_GRAIN
 * elements, so that taking a chunk (an atomic on a counter the threads share) stays rare;
 * chunks of a few small planes made two threads slower than one. */
static inline cf_int per_chunk(cf_int size) { return CF_MAX(1, CF_POOL_GRAIN / CF_MAX(1, size)); }

/* The taps t of a window starting at `start` (stride d, k taps) that land in [0, size):
 * [*first, *last] inclusive, as cnnfast._shapes.window_span; first > last when none does. */
static inline void span(cf_int size, cf_int k, cf_int d, cf_int start, cf_int *first,
                        cf_int *last) {
    cf_int f = start < 0 ? (-start + d - 1) / d : 0;
    cf_int l = (size - 1 - start) / d;
    *first = f;
    *last = l < k - 1 ? l : k - 1;
}

/* Outputs [*jl, *jr) of a row whose windows lie wholly inside the input columns. */
static inline void interior(cf_int w, cf_int q, cf_int kw, cf_int sw, cf_int pw, cf_int dw,
                            cf_int *jl, cf_int *jr) {
    cf_int lo = (pw + sw - 1) / sw;
    cf_int room = w - 1 + pw - (kw - 1) * dw; /* largest window start + pw that still fits */
    cf_int hi = room < 0 ? 0 : room / sw + 1;
    if (lo > q) lo = q;
    if (hi > q) hi = q;
    if (hi < lo) hi = lo;
    *jl = lo;
    *jr = hi;
}

/* What was computed once per call, so the row loops divide nothing: per output row i the window
 * rows [ra[2i], ra[2i+1]] inside the input, per output column j the taps [cb[2j], cb[2j+1]]
 * inside it, the interior columns [jl, jr), and (average pooling) the divisors of each axis:
 * the window clipped to the padded input [-pad, size + pad) with count_include_pad, else to
 * the input, as the reference. */
typedef struct {
    cf_int *ra, *cb, jl, jr;
    cf_int tap0, tap1; /* the column taps [tap0, tap1) that some output of a row reads */
    double *rdiv, *cdiv;
} plan;

static inline double divisor(cf_int size, cf_int k, cf_int pad, cf_int start, int include_pad) {
    cf_int end = start + k;
    if (include_pad) return (double)((end < size + pad ? end : size + pad) - start);
    return (double)((end < size ? end : size) - (start > 0 ? start : 0));
}

static int plan_make(const cf_pool2d *g, plan *pl) {
    pl->ra = cf_malloc((size_t)(2 * (g->p + g->q)) * sizeof(cf_int));
    pl->rdiv = cf_malloc((size_t)(g->p + g->q) * sizeof(double));
    if (pl->ra == NULL || pl->rdiv == NULL) {
        cf_free(pl->ra);
        cf_free(pl->rdiv);
        return 1;
    }
    pl->cb = pl->ra + 2 * g->p;
    pl->cdiv = pl->rdiv + g->p;
    for (cf_int i = 0; i < g->p; i++) {
        span(g->h, g->kh, g->dh, i * g->sh - g->ph, &pl->ra[2 * i], &pl->ra[2 * i + 1]);
        pl->rdiv[i] = divisor(g->h, g->kh, g->ph, i * g->sh - g->ph, g->count_include_pad);
    }
    for (cf_int j = 0; j < g->q; j++) {
        span(g->w, g->kw, g->dw, j * g->sw - g->pw, &pl->cb[2 * j], &pl->cb[2 * j + 1]);
        pl->cdiv[j] = divisor(g->w, g->kw, g->pw, j * g->sw - g->pw, g->count_include_pad);
    }
    interior(g->w, g->q, g->kw, g->sw, g->pw, g->dw, &pl->jl, &pl->jr);
    pl->tap0 = pl->cb[0];
    pl->tap1 = pl->cb[1] + 1;
    for (cf_int j = 1; j < g->q; j++) {
        pl->tap0 = CF_MIN(pl->tap0, pl->cb[2 * j]);
        pl->tap1 = CF_MAX(pl->tap1, pl->cb[2 * j + 1] + 1);
    }
    return 0;
}

static void plan_free(plan *pl) {
    cf_free(pl->ra);
    cf_free(pl->rdiv);
}

/* ---- forward --------------------------------------------------------------------------- */

/* Forward: threads take runs of output rows (all planes' rows in a row); for each
 * row, the window rows inside the input are gathered into rows[] / base[] (at most
 * min(kh, h), per-thread scratch), and one kernel call (BODY) computes the whole output row,
 * the edge outputs' padding left out lane by lane. */
#define CF_POOL_FWD(T, NAME, BODY)                                                                 \
    static int NAME(const cf_pool_kernels *k, const cf_pool2d *g, const T *x, T *y,                \
                    int64_t *ind, int nt) {                                                        \
        cf_int outrows = g->n * g->c * g->p, most = CF_MIN(g->kh, g->h);                           \
        cf_int run = CF_MAX(CF_POOL_ROWS, per_chunk(g->sh * g->w));                                \
        cf_int chunks = (outrows + run - 1) / run;                                                 \
        int failed = 0;                                                                            \
        plan pl;                                                                                   \
        if (plan_make(g, &pl)) return 1;                                                           \
        CF_OMP(omp parallel num_threads(nt))                                                       \
        {                                                                                          \
            const T **rows = cf_malloc((size_t)most * sizeof(T *));                                \
            cf_int *base = cf_malloc((size_t)most * sizeof(cf_int));                               \
            if (rows == NULL || base == NULL) {                                                    \
                CF_OMP(omp atomic write)                                                           \
                failed = 1;                                                                        \
            }                                                                                      \
            CF_OMP(omp for schedule(dynamic, 1))                                                   \
            for (cf_int t = 0; t < chunks; t++) {                                                  \
                cf_int lo = t * run, hi = CF_MIN(outrows, lo + run);                               \
                cf_int plane = lo / g->p, i = lo % g->p;                                           \
                if (rows == NULL || base == NULL) continue;                                        \
                for (cf_int r = lo; r < hi; r++) {                                                 \
                    const T *xp = x + plane * g->h * g->w;                                         \
                    cf_int top = i * g->sh - g->ph, nrows = 0;                                     \
                    for (cf_int a = pl.ra[2 * i]; a <= pl.ra[2 * i + 1]; a++, nrows++) {           \
                        base[nrows] = (top + a * g->dh) * g->w;                                    \
                        rows[nrows] = xp + base[nrows];                                            \
                    }                                                                              \
                    BODY;                                                                          \
                    if (++i == g->p) {                                                             \
                        i = 0;                                                                     \
                        plane++;                                                                   \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
            cf_free(rows);                                                                         \
            cf_free(base);                                                                         \
        }                                                                                          \
        plan_free(&pl);                                                                            \
        return failed;                                                                             \
    }

CF_POOL_FWD(float, maxpool_fwd_float,
            k->f32_max_rows(rows, base, nrows, g->w, -g->pw, g->sw, pl.tap0, pl.tap1, g->dw, g->q,
                            y + r * g->q, ind + r * g->q))
CF_POOL_FWD(double, maxpool_fwd_double,
            k->f64_max_rows(rows, base, nrows, g->w, -g->pw, g->sw, pl.tap0, pl.tap1, g->dw, g->q,
                            y + r * g->q, ind + r * g->q))
CF_POOL_FWD(float, avgpool_fwd_float,
            k->f32_avg_rows(rows, nrows, g->w, -g->pw, g->sw, pl.tap0, pl.tap1, g->q, pl.rdiv[i],
                            pl.cdiv, y + r * g->q))
CF_POOL_FWD(double, avgpool_fwd_double,
            k->f64_avg_rows(rows, nrows, g->w, -g->pw, g->sw, pl.tap0, pl.tap1, g->q, pl.rdiv[i],
                            pl.cdiv, y + r * g->q))

/* ---- "same" stride-1 max pooling: whole planes through the flat kernels ------------------ */

/* Most taps and largest plane of a flat plan (its masks take hw * taps / 8 bytes, its first
 * taps 4 * hw: at most 768 KiB). Longer rows lose little to the row path. */
#define CF_POOL_FLAT_TAPS 64
#define CF_POOL_FLAT_PLANE ((cf_int)1 << 16)

/* Stride 1 with the output the input's size (kernels/pool.h, cf_pool_flat), a plan of bounded
 * size, and planes enough to share among the threads (with fewer, the row path splits each
 * plane's rows over them). */
static int flat_ok(const cf_pool2d *g, int nt) {
    return g->sh == 1 && g->sw == 1 && g->p == g->h && g->q == g->w &&
           g->kh * g->kw <= CF_POOL_FLAT_TAPS && g->h * g->w <= CF_POOL_FLAT_PLANE &&
           g->n * g->c >= 4 * (cf_int)nt;
}

/* The plan of kernels/pool.h in one block of memory (NULL if out of memory; cf_free it). */
static void *flat_make(const cf_pool2d *g, cf_pool_flat *fp) {
    cf_int hw = g->h * g->w, ntaps = g->kh * g->kw, nblk = (hw + 15) / 16;
    size_t bytes = (size_t)(16 * nblk + ntaps) * sizeof(int32_t) +
                   (size_t)(nblk * ntaps) * sizeof(uint16_t);
    int32_t *first = cf_malloc(bytes);
    if (first == NULL) return NULL;
    int32_t *off = first + 16 * nblk;
    uint16_t *mask = (uint16_t *)(off + ntaps);
    memset(first, 0, bytes);
    for (cf_int t = 0; t < ntaps; t++)
        off[t] = (int32_t)(((t / g->kw) * g->dh - g->ph) * g->w + (t % g->kw) * g->dw - g->pw);
    for (cf_int o = 0; o < hw; o++) {
        cf_int i = o / g->w, j = o % g->w;
        int found = 0;
        for (cf_int t = 0; t < ntaps; t++) {
            cf_int r = i + (t / g->kw) * g->dh - g->ph, c = j + (t % g->kw) * g->dw - g->pw;
            if (r < 0 || r >= g->h || c < 0 || c >= g->w) continue;
            mask[(o / 16) * ntaps + t] |= (uint16_t)(1u << (o % 16));
            if (!found) first[o] = (int32_t)(o + off[t]);
            found = 1;
        }
    }
    fp->hw = hw;
    fp->ntaps = ntaps;
    fp->off = off;
    fp->mask = mask;
    fp->first = first;
    return first;
}

/* Threads take runs of whole planes, each run at least CF_POOL_GRAIN outputs. */
#define CF_POOL_FLAT(T, KERNEL)                                                                    \
    static int maxpool_flat_##T(const cf_pool_kernels *k, const cf_pool2d *g, const T *x, T *y,   \
                                int64_t *ind, int nt) {                                            \
        cf_pool_flat fp;                                                                           \
        void *mem = flat_make(g, &fp);                                                             \
        cf_int planes = g->n * g->c, run = per_chunk(fp.hw);                                       \
        (void)run; /* unused without OpenMP */                                                     \
        if (mem == NULL) return 1;                                                                 \
        CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, run))                            \
        for (cf_int plane = 0; plane < planes; plane++)                                            \
            k->KERNEL(&fp, x + plane * fp.hw, y + plane * fp.hw, ind + plane * fp.hw);             \
        cf_free(mem);                                                                              \
        return 0;                                                                                  \
    }

CF_POOL_FLAT(float, f32_max_flat)
CF_POOL_FLAT(double, f64_max_flat)

/* ---- short float32 output rows: two to a vector ----------------------------------------- */

/* Two output rows fit one vector and each one's taps 16 input columns (kernels/pool.h,
 * cf_pool_pairs), and there are planes enough to share among the threads. */
static int pairs_ok(const cf_pool2d *g, int nt) {
    return 2 * g->q <= 16 && (g->q - 1) * g->sw + (g->kw - 1) * g->dw < 16 && g->p >= 2 &&
           g->h * g->w < ((cf_int)1 << 28) && g->n * g->c >= 4 * (cf_int)nt;
}

/* The plan of kernels/pool.h in one block of memory (NULL if out of memory; cf_free it). */
static void *pairs_make(const cf_pool2d *g, cf_pool_pairs *pp) {
    cf_int pairs = (g->p + 1) / 2, nrow = 2 * pairs * g->kh;
    int32_t *row = cf_malloc((size_t)(nrow + 32 * g->kw + g->p * g->q) * sizeof(int32_t));
    if (row == NULL) return NULL;
    int32_t *pick = row + nrow, *col = pick + 16 * g->kw, *first = col + 16 * g->kw;
    pp->left = -g->pw;
    pp->fill = 0;
    for (cf_int e = 0; e < 16; e++)
        if (pp->left + e >= 0 && pp->left + e < g->w) pp->fill |= (uint16_t)(1u << e);
    for (cf_int i = 0; i < 2 * pairs; i++)
        for (cf_int a = 0; a < g->kh; a++) {
            cf_int r = i * g->sh - g->ph + a * g->dh;
            row[2 * ((i / 2) * g->kh + a) + i % 2] = i < g->p && r >= 0 && r < g->h ? (int32_t)r : -1;
        }
    for (cf_int b = 0; b < g->kw; b++)
        for (cf_int l = 0; l < 16; l++) {
            cf_int e = l < 2 * g->q ? (l / g->q) * 16 + (l % g->q) * g->sw + b * g->dw : 0;
            pick[16 * b + l] = (int32_t)e;
            col[16 * b + l] = (int32_t)(pp->left + e % 16);
        }
    for (cf_int o = 0; o < g->p * g->q; o++) {
        cf_int top = (o / g->q) * g->sh - g->ph, left = (o % g->q) * g->sw - g->pw;
        first[o] = -1;
        for (cf_int t = 0; t < g->kh * g->kw && first[o] < 0; t++) {
            cf_int r = top + (t / g->kw) * g->dh, c = left + (t % g->kw) * g->dw;
            if (r >= 0 && r < g->h && c >= 0 && c < g->w) first[o] = (int32_t)(r * g->w + c);
        }
    }
    pp->p = g->p;
    pp->q = g->q;
    pp->w = g->w;
    pp->kh = g->kh;
    pp->kw = g->kw;
    pp->row = row;
    pp->pick = pick;
    pp->col = col;
    pp->first = first;
    return row;
}

/* Threads take runs of whole planes, each run at least CF_POOL_GRAIN input values. */
static int maxpool_pairs(const cf_pool_kernels *k, const cf_pool2d *g, const float *x, float *y,
                         int64_t *ind, int nt) {
    cf_pool_pairs pp;
    void *mem = pairs_make(g, &pp);
    cf_int planes = g->n * g->c, hw = g->h * g->w, pq = g->p * g->q, run = per_chunk(hw);
    (void)run; /* unused without OpenMP */
    if (mem == NULL) return 1;
    CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, run))
    for (cf_int plane = 0; plane < planes; plane++)
        k->f32_max_pairs(&pp, x + plane * hw, y + plane * pq, ind + plane * pq);
    cf_free(mem);
    return 0;
}

/* IN x (n, c, h, w); OUT y, indices (n, c, p, q). Every window reads the input (validated). */
int cf_maxpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y, int64_t *indices,
                     int nthreads) {
    const cf_pool_kernels *k = CF_SELECT(pool, cf_isa_current());
    int nt = cf_threads_for(g->n * g->c * g->h * g->w, CF_POOL_GRAIN, nthreads), failed;
    if (g->n == 0) return CF_OK;
    if (flat_ok(g, nt))
        failed = dt == CF_F32 ? maxpool_flat_float(k, g, x, y, indices, nt)
                              : maxpool_flat_double(k, g, x, y, indices, nt);
    else if (dt == CF_F32 && pairs_ok(g, nt))
        failed = maxpool_pairs(k, g, x, y, indices, nt);
    else if (dt == CF_F32)
        failed = maxpool_fwd_float(k, g, x, y, indices, nt);
    else
        failed = maxpool_fwd_double(k, g, x, y, indices, nt);
    return failed ? CF_ERR_NOMEM : CF_OK;
}

/* ---- max_pool2d backward ---------------------------------------------------------------- */

#define CF_MAXPOOL_BWD(T)                                                                          \
    static int maxpool_bwd_##T(const cf_pool_kernels *k, cf_int nc, cf_int hw, cf_int pq,          \
                               const T *dy, const int64_t *ind, T *dx, int nt) {                   \
        int bad = 0;                                                                               \
        if (nc >= nt) {                                                                            \
            CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, per_chunk(hw)))              \
            for (cf_int plane = 0; plane < nc; plane++) {                                          \
                const T *d = dy + plane * pq;                                                      \
                const int64_t *at = ind + plane * pq;                                              \
                T *out = dx + plane * hw;                                                          \
                if (!k->indices_inside(at, pq, hw)) {                                              \
                    CF_OMP(omp atomic write)                                                       \
                    bad = 1;                                                                       \
                    continue;                                                                      \
                }                                                                                  \
                memset(out, 0, (size_t)hw * sizeof(T));                                            \
                for (cf_int o = 0; o < pq; o++) out[at[o]] += d[o];                                \
            }                                                                                      \
            return bad;                                                                            \
        }                                                                                          \
        /* fewer planes than threads: each thread owns a slice of every plane's gradient */     \
        if (!k->indices_inside(ind, nc * pq, hw)) return 1;                                        \
        CF_OMP(omp parallel num_threads(nt))                                                       \
        {                                                                                          \
            cf_int lo, hi;                                                                         \
            cf_partition(hw, CF_NUM_THREADS_IN_TEAM(), CF_THREAD_ID(), 16, &lo, &hi);              \
            for (cf_int plane = 0; plane < nc && lo < hi; plane++) {                               \
                const T *d = dy + plane * pq;                                                      \
                const int64_t *at = ind + plane * pq;                                              \
                T *out = dx + plane * hw;                                                          \
                memset(out + lo, 0, (size_t)(hi - lo) * sizeof(T));                                \
                for (cf_int o = 0; o < pq; o++)                                                    \
                    if (at[o] >= lo && at[o] < hi) out[at[o]] += d[o];                             \
            }                                                                                      \
        }                                                                                          \
        return 0;                                                                                  \
    }

CF_MAXPOOL_BWD(float)
CF_MAXPOOL_BWD(double)

/* IN dy, indices (nc planes of pq); OUT dx (nc planes of hw). Each plane's indices are checked
 * to lie in [0, hw) before that plane is written; CF_ERR_POOL_INDEX if one does not (dx is then
 * incomplete and must be discarded). */
int cf_maxpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, cf_int pq, const void *dy,
                     const int64_t *indices, void *dx, int nthreads) {
    const cf_pool_kernels *k = CF_SELECT(pool, cf_isa_current());
    int nt = cf_threads_for(nc * hw, CF_POOL_GRAIN, nthreads), bad;
    if (nc == 0) return CF_OK;
    if (dt == CF_F32)
        bad = maxpool_bwd_float(k, nc, hw, pq, dy, indices, dx, nt);
    else
        bad = maxpool_bwd_double(k, nc, hw, pq, dy, indices, dx, nt);
    return bad ? CF_ERR_POOL_INDEX : CF_OK;
}

/* ---- avg_pool2d ------------------------------------------------------------------------- */

/* A window that is exactly the plane: global average pooling. */
static inline int whole_plane(const cf_pool2d *g) {
    return g->p == 1 && g->q == 1 && g->ph == 0 && g->pw == 0 && g->kh == g->h && g->kw == g->w;
}

/* IN x (n, c, h, w); OUT y (n, c, p, q). Dilation is 1. */
int cf_avgpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y, int nthreads) {
    const cf_pool_kernels *k = CF_SELECT(pool, cf_isa_current());
    int nt = cf_threads_for(g->n * g->c * g->h * g->w, CF_POOL_GRAIN, nthreads), failed;
    if (g->n == 0) return CF_OK;
    if (whole_plane(g)) return cf_global_avgpool2d_fwd(dt, g->n * g->c, g->h * g->w, x, y, nthreads);
    if (dt == CF_F32)
        failed = avgpool_fwd_float(k, g, x, y, NULL, nt);
    else
        failed = avgpool_fwd_double(k, g, x, y, NULL, nt);
    return failed ? CF_ERR_NOMEM : CF_OK;
}

/* Backward: one work item is a band of input rows [r0, r1) of one plane (the whole plane when
 * there are planes enough for every thread). The band is zeroed, then every output row whose
 * window meets the band spreads its shares dy / divisor over the window rows inside the band. */
#define CF_AVGPOOL_BWD(T, SPREAD)                                                                  \
    static int avgpool_bwd_##T(const cf_pool_kernels *k, const cf_pool2d *g, const T *dy,          \
                               T *dx, int nt) {                                                    \
        cf_int planes = g->n * g->c;                                                               \
        cf_int bands = planes >= nt ? 1 : CF_MIN(g->h, (cf_int)nt);                                \
        int failed = 0;                                                                            \
        plan pl;                                                                                   \
        if (plan_make(g, &pl)) return 1;                                                           \
        CF_OMP(omp parallel num_threads(nt))                                                       \
        {                                                                                          \
            T *share = cf_malloc((size_t)g->q * sizeof(T));                                        \
            if (share == NULL) {                                                                   \
                CF_OMP(omp atomic write)                                                           \
                failed = 1;                                                                        \
            }                                                                                      \
            CF_OMP(omp for schedule(dynamic, per_chunk(g->h * g->w / bands)))                       \
            for (cf_int t = 0; t < planes * bands; t++) {                                          \
                if (share == NULL) continue;                                                       \
                cf_int plane = t / bands, r0, r1;                                                  \
                cf_partition(g->h, (int)bands, (int)(t % bands), 1, &r0, &r1);                     \
                T *out = dx + plane * g->h * g->w;                                                 \
                memset(out + r0 * g->w, 0, (size_t)((r1 - r0) * g->w) * sizeof(T));                \
                for (cf_int i = 0; i < g->p; i++) {                                                \
                    cf_int top = i * g->sh - g->ph;                                                \
                    cf_int a0 = CF_MAX(pl.ra[2 * i], r0 - top);                                    \
                    cf_int a1 = CF_MIN(pl.ra[2 * i + 1], r1 - 1 - top);                            \
                    if (a0 > a1) continue;                                                         \
                    const T *d = dy + (plane * g->p + i) * g->q;                                   \
                    for (cf_int j = 0; j < g->q; j++)                                              \
                        share[j] = (T)((double)d[j] / (pl.rdiv[i] * pl.cdiv[j]));                  \
                    for (cf_int a = a0; a <= a1; a++) {                                            \
                        T *xr = out + (top + a) * g->w;                                            \
                        for (cf_int j = 0; j < g->q; j++) {                                        \
                            if (j == pl.jl && pl.jr > pl.jl) {                                     \
                                k->SPREAD(share + pl.jl, pl.jl * g->sw - g->pw, g->sw, 0,          \
                                          g->kw, pl.jr - pl.jl, xr);                               \
                                j = pl.jr;                                                         \
                                if (j >= g->q) break;                                              \
                            }                                                                      \
                            k->SPREAD(share + j, j * g->sw - g->pw, 0, pl.cb[2 * j],               \
                                      pl.cb[2 * j + 1] + 1, 1, xr);                                \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
            cf_free(share);                                                                        \
        }                                                                                          \
        plan_free(&pl);                                                                            \
        return failed;                                                                             \
    }

CF_AVGPOOL_BWD(float, f32_spread_row)
CF_AVGPOOL_BWD(double, f64_spread_row)

/* Windows that tile the input (kernel = stride on both axes): every dx element takes the share
 * of at most one window, so each dx row is written once, without zeroing or accumulating. A
 * window row's first dx row is computed by the tile kernel and copied to its other rows; rows
 * past the last window are zeroed. Work items as in avgpool_bwd_*. */
#define CF_AVGPOOL_BWD_TILED(T, TILE)                                                              \
    static int avgpool_bwd_tiled_##T(const cf_pool_kernels *k, const cf_pool2d *g, const T *dy,    \
                                     T *dx, int nt) {                                              \
        cf_int planes = g->n * g->c;                                                               \
        cf_int bands = planes >= nt ? 1 : CF_MIN(g->h, (cf_int)nt);                                \
        plan pl;                                                                                   \
        if (plan_make(g, &pl)) return 1;                                                           \
        CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, per_chunk(g->h * g->w / bands))) \
        for (cf_int t = 0; t < planes * bands; t++) {                                              \
            cf_int plane = t / bands, r0, r1;                                                      \
            cf_partition(g->h, (int)bands, (int)(t % bands), 1, &r0, &r1);                         \
            T *out = dx + plane * g->h * g->w;                                                     \
            for (cf_int r = r0; r < r1; r++) {                                                     \
                cf_int i = (r + g->ph) / g->sh;                                                    \
                T *row = out + r * g->w;                                                           \
                if (i >= g->p)                                                                     \
                    memset(row, 0, (size_t)g->w * sizeof(T));                                      \
                else if (r > r0 && (r + g->ph) % g->sh != 0)                                       \
                    memcpy(row, row - g->w, (size_t)g->w * sizeof(T));                             \
                else                                                                               \
                    k->TILE(dy + (plane * g->p + i) * g->q, pl.cdiv, pl.rdiv[i], g->q, g->sw,      \
                            g->pw, g->w, row);                                                     \
            }                                                                                      \
        }                                                                                          \
        plan_free(&pl);                                                                            \
        return 0;                                                                                  \
    }

CF_AVGPOOL_BWD_TILED(float, f32_tile_row)
CF_AVGPOOL_BWD_TILED(double, f64_tile_row)

/* IN dy (n, c, p, q); OUT dx (n, c, h, w). Dilation is 1. */
int cf_avgpool2d_bwd(cf_dtype dt, const cf_pool2d *g, const void *dy, void *dx, int nthreads) {
    const cf_pool_kernels *k = CF_SELECT(pool, cf_isa_current());
    int nt = cf_threads_for(g->n * g->c * g->h * g->w, CF_POOL_GRAIN, nthreads), failed;
    if (g->n == 0) return CF_OK;
    if (whole_plane(g)) return cf_global_avgpool2d_bwd(dt, g->n * g->c, g->h * g->w, dy, dx, nthreads);
    if (g->kh == g->sh && g->kw == g->sw)
        failed = dt == CF_F32 ? avgpool_bwd_tiled_float(k, g, dy, dx, nt)
                              : avgpool_bwd_tiled_double(k, g, dy, dx, nt);
    else if (dt == CF_F32)
        failed = avgpool_bwd_float(k, g, dy, dx, nt);
    else
        failed = avgpool_bwd_double(k, g, dy, dx, nt);
    return failed ? CF_ERR_NOMEM : CF_OK;
}

/* ---- global average pooling ------------------------------------------------------------- */

/* IN x (nc planes of hw); OUT y (nc). Threads take runs of planes. */
int cf_global_avgpool2d_fwd(cf_dtype dt, cf_int nc, cf_int hw, const void *x, void *y,
                            int nthreads) {
    const cf_pool_kernels *k = CF_SELECT(pool, cf_isa_current());
    int nt = cf_threads_for(nc * hw, CF_POOL_GRAIN, nthreads);
    cf_int run = per_chunk(hw), chunks = (nc + run - 1) / run;
    (void)nt; /* unused without OpenMP */
    CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, 1))
    for (cf_int t = 0; t < chunks; t++) {
        cf_int lo = t * run, m = CF_MIN(run, nc - lo);
        if (dt == CF_F32)
            k->f32_means((const float *)x + lo * hw, m, hw, (float *)y + lo);
        else
            k->f64_means((const double *)x + lo * hw, m, hw, (double *)y + lo);
    }
    return CF_OK;
}

/* IN dy (nc); OUT dx (nc planes of hw), each plane filled with dy / hw. */
int cf_global_avgpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, const void *dy, void *dx,
                            int nthreads) {
    int nt = cf_threads_for(nc * hw, CF_POOL_GRAIN, nthreads);
    (void)nt; /* unused without OpenMP */
    CF_OMP(omp parallel for num_threads(nt) schedule(dynamic, per_chunk(hw)))
    for (cf_int plane = 0; plane < nc; plane++) {
        if (dt == CF_F32) {
            float v = (float)((double)((const float *)dy)[plane] / (double)hw);
            float *out = (float *)dx + plane * hw;
            for (cf_int e = 0; e < hw; e++) out[e] = v;
        } else {
            double v = ((const double *)dy)[plane] / (double)hw;
            double *out = (double *)dx + plane * hw;
            for (cf_int e = 0; e < hw; e++) out[e] = v;
        }
    }
    return CF_OK;
}
