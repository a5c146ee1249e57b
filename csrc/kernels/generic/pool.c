/* generic/pool.c -- plain-C pooling row kernels: the fallback on every CPU and the twins of
 * the SIMD kernels (contracts in kernels/pool.h). */
#include <math.h>

#include "kernels/pool.h"

/* The taps of [b0, b1) whose column c + b*dw lies in [0, w): [*lo, *hi). */
static inline void inside(cf_int w, cf_int c, cf_int dw, cf_int b0, cf_int b1, cf_int *lo,
                          cf_int *hi) {
    cf_int first = c < 0 ? (-c + dw - 1) / dw : 0, last = (w - 1 - c) / dw + 1;
    *lo = first > b0 ? first : b0;
    *hi = last < b1 ? last : b1;
}

#define CF_MAX_ROWS(T, NAME)                                                                   \
    void NAME(const T *const *rows, const cf_int *row_base, cf_int nrows, cf_int w,             \
              cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int dw, cf_int n, T *y,          \
              int64_t *idx) {                                                                   \
        for (cf_int j = 0; j < n; j++) {                                                        \
            cf_int c = col0 + j * sw, lo, hi;                                                   \
            inside(w, c, dw, b0, b1, &lo, &hi);                                                 \
            T best = rows[0][c + lo * dw];                                                      \
            int64_t at = row_base[0] + c + lo * dw;                                             \
            for (cf_int a = 0; a < nrows; a++)                                                  \
                for (cf_int b = a == 0 ? lo + 1 : lo; b < hi; b++) {                            \
                    T v = rows[a][c + b * dw];                                                  \
                    int take = (v > best) | (v != v); /* branch-free: data decides */           \
                    best = take ? v : best;                                                     \
                    at = take ? row_base[a] + c + b * dw : at;                                  \
                }                                                                               \
            y[j] = best;                                                                        \
            idx[j] = at;                                                                        \
        }                                                                                       \
    }

/* -inf start, the first tap inside as the index: a window of -inf names its first position. */
#define CF_MAX_FLAT(T, NAME)                                                                   \
    void NAME(const cf_pool_flat *fp, const T *x, T *y, int64_t *idx) {                         \
        for (cf_int o = 0; o < fp->hw; o++) {                                                   \
            const uint16_t *mask = fp->mask + (o / 16) * fp->ntaps;                             \
            T best = -(T)INFINITY;                                                              \
            int64_t at = fp->first[o];                                                          \
            for (cf_int t = 0; t < fp->ntaps; t++) {                                            \
                if (!((mask[t] >> (o % 16)) & 1)) continue;                                     \
                T v = x[o + fp->off[t]];                                                        \
                int take = (v > best) | (v != v);                                               \
                best = take ? v : best;                                                         \
                at = take ? o + fp->off[t] : at;                                                \
            }                                                                                   \
            y[o] = best;                                                                        \
            idx[o] = at;                                                                        \
        }                                                                                       \
    }

void cf_f32_maxpool_pairs__generic(const cf_pool_pairs *pp, const float *x, float *y,
                                   int64_t *idx) {
    for (cf_int o = 0; o < pp->p * pp->q; o++) {
        cf_int i = o / pp->q, lane = (i % 2) * pp->q + o % pp->q;
        const int32_t *rows = pp->row + 2 * (i / 2) * pp->kh + i % 2;
        float best = -INFINITY;
        int64_t at = pp->first[o];
        for (cf_int a = 0; a < pp->kh; a++) {
            if (rows[2 * a] < 0) continue;
            for (cf_int b = 0; b < pp->kw; b++) {
                if (!((pp->fill >> (pp->pick[16 * b + lane] % 16)) & 1)) continue;
                cf_int pos = rows[2 * a] * pp->w + pp->col[16 * b + lane];
                float v = x[pos];
                int take = (v > best) | (v != v);
                best = take ? v : best;
                at = take ? pos : at;
            }
        }
        y[o] = best;
        idx[o] = at;
    }
}

#define CF_AVG_ROWS(T, NAME)                                                                   \
    void NAME(const T *const *rows, cf_int nrows, cf_int w, cf_int col0, cf_int sw, cf_int b0,  \
              cf_int b1, cf_int n, double rdiv, const double *cdiv, T *y) {                     \
        for (cf_int j = 0; j < n; j++) {                                                        \
            cf_int c = col0 + j * sw, lo, hi;                                                   \
            inside(w, c, 1, b0, b1, &lo, &hi);                                                  \
            T s = 0;                                                                            \
            for (cf_int a = 0; a < nrows; a++)                                                  \
                for (cf_int b = lo; b < hi; b++) s += rows[a][c + b];                           \
            y[j] = (T)((double)s / (rdiv * cdiv[j]));                                           \
        }                                                                                       \
    }

#define CF_SPREAD_ROW(T, NAME)                                                                 \
    void NAME(const T *share, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int n, T *dx) {  \
        for (cf_int j = 0; j < n; j++) {                                                        \
            T *w = dx + col0 + j * sw;                                                          \
            for (cf_int b = b0; b < b1; b++) w[b] += share[j];                                  \
        }                                                                                       \
    }

#define CF_TILE_ROW(T, NAME)                                                                   \
    void NAME(const T *dy, const double *cdiv, double rdiv, cf_int q, cf_int s, cf_int pw,      \
              cf_int w, T *dx) {                                                                \
        for (cf_int c = 0; c < w; c++) {                                                        \
            cf_int j = (c + pw) / s;                                                            \
            dx[c] = j < q ? (T)((double)dy[j] / (rdiv * cdiv[j])) : (T)0;                       \
        }                                                                                       \
    }

#define CF_MEANS(T, NAME)                                                                      \
    void NAME(const T *x, cf_int planes, cf_int hw, T *y) {                                     \
        for (cf_int p = 0; p < planes; p++) {                                                   \
            T s = 0;                                                                            \
            for (cf_int i = 0; i < hw; i++) s += x[p * hw + i];                                 \
            y[p] = (T)((double)s / (double)hw);                                                 \
        }                                                                                       \
    }

CF_MAX_ROWS(float, cf_f32_maxpool_rows__generic)
CF_MAX_ROWS(double, cf_f64_maxpool_rows__generic)
CF_MAX_FLAT(float, cf_f32_maxpool_flat__generic)
CF_MAX_FLAT(double, cf_f64_maxpool_flat__generic)
CF_AVG_ROWS(float, cf_f32_avgpool_rows__generic)
CF_AVG_ROWS(double, cf_f64_avgpool_rows__generic)
CF_SPREAD_ROW(float, cf_f32_avgpool_spread_row__generic)
CF_SPREAD_ROW(double, cf_f64_avgpool_spread_row__generic)
CF_TILE_ROW(float, cf_f32_avgpool_tile_row__generic)
CF_TILE_ROW(double, cf_f64_avgpool_tile_row__generic)
CF_MEANS(float, cf_f32_means__generic)
CF_MEANS(double, cf_f64_means__generic)

int cf_indices_inside__generic(const int64_t *idx, cf_int n, cf_int limit) {
    int bad = 0;
    for (cf_int i = 0; i < n; i++) bad |= (idx[i] < 0) | (idx[i] >= limit);
    return !bad;
}

const cf_pool_kernels pool__generic = {
    cf_f32_maxpool_rows__generic, cf_f64_maxpool_rows__generic,
    cf_f32_maxpool_flat__generic, cf_f64_maxpool_flat__generic,
    cf_f32_maxpool_pairs__generic,
    cf_f32_avgpool_rows__generic, cf_f64_avgpool_rows__generic,
    cf_f32_avgpool_spread_row__generic, cf_f64_avgpool_spread_row__generic,
    cf_f32_avgpool_tile_row__generic, cf_f64_avgpool_tile_row__generic,
    cf_f32_means__generic, cf_f64_means__generic,
    cf_indices_inside__generic,
};
