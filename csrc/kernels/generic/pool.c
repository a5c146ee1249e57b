/* generic/pool.c -- plain-C pooling row kernels: the fallback on every CPU and the twins of
 * the SIMD kernels (contracts in kernels/pool.h). */
#include "kernels/pool.h"

#define CF_MAX_ROWS(T, NAME)                                                                   \
    void NAME(const T *const *rows, const cf_int *row_base, cf_int nrows, cf_int col0,          \
              cf_int sw, cf_int b0, cf_int b1, cf_int dw, cf_int n, T *y, int64_t *idx) {       \
        for (cf_int j = 0; j < n; j++) {                                                        \
            cf_int c = col0 + j * sw;                                                           \
            T best = rows[0][c + b0 * dw];                                                      \
            int64_t at = row_base[0] + c + b0 * dw;                                             \
            for (cf_int a = 0; a < nrows; a++)                                                  \
                for (cf_int b = a == 0 ? b0 + 1 : b0; b < b1; b++) {                            \
                    T v = rows[a][c + b * dw];                                                  \
                    int take = (v > best) | (v != v); /* branch-free: data decides */           \
                    best = take ? v : best;                                                     \
                    at = take ? row_base[a] + c + b * dw : at;                                  \
                }                                                                               \
            y[j] = best;                                                                        \
            idx[j] = at;                                                                        \
        }                                                                                       \
    }

#define CF_AVG_ROWS(T, NAME)                                                                   \
    void NAME(const T *const *rows, cf_int nrows, cf_int col0, cf_int sw, cf_int b0, cf_int b1, \
              cf_int n, double div, T *y) {                                                     \
        for (cf_int j = 0; j < n; j++) {                                                        \
            cf_int c = col0 + j * sw;                                                           \
            T s = 0;                                                                            \
            for (cf_int a = 0; a < nrows; a++)                                                  \
                for (cf_int b = b0; b < b1; b++) s += rows[a][c + b];                           \
            y[j] = (T)((double)s / div);                                                        \
        }                                                                                       \
    }

#define CF_SPREAD_ROW(T, NAME)                                                                 \
    void NAME(const T *share, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int n, T *dx) {  \
        for (cf_int j = 0; j < n; j++) {                                                        \
            T *w = dx + col0 + j * sw;                                                          \
            for (cf_int b = b0; b < b1; b++) w[b] += share[j];                                  \
        }                                                                                       \
    }

#define CF_SUM(T, NAME)                                                                        \
    double NAME(const T *x, cf_int n) {                                                         \
        T s = 0;                                                                                \
        for (cf_int i = 0; i < n; i++) s += x[i];                                               \
        return (double)s;                                                                       \
    }

CF_MAX_ROWS(float, cf_f32_maxpool_rows__generic)
CF_MAX_ROWS(double, cf_f64_maxpool_rows__generic)
CF_AVG_ROWS(float, cf_f32_avgpool_rows__generic)
CF_AVG_ROWS(double, cf_f64_avgpool_rows__generic)
CF_SPREAD_ROW(float, cf_f32_avgpool_spread_row__generic)
CF_SPREAD_ROW(double, cf_f64_avgpool_spread_row__generic)
CF_SUM(float, cf_f32_sum__generic)
CF_SUM(double, cf_f64_sum__generic)

int cf_indices_inside__generic(const int64_t *idx, cf_int n, cf_int limit) {
    int bad = 0;
    for (cf_int i = 0; i < n; i++) bad |= (idx[i] < 0) | (idx[i] >= limit);
    return !bad;
}

const cf_pool_kernels pool__generic = {
    cf_f32_maxpool_rows__generic, cf_f64_maxpool_rows__generic,
    cf_f32_avgpool_rows__generic, cf_f64_avgpool_rows__generic,
    cf_f32_avgpool_spread_row__generic, cf_f64_avgpool_spread_row__generic,
    cf_f32_sum__generic, cf_f64_sum__generic,
    cf_indices_inside__generic,
};
