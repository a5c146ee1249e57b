/* generic/pool.c -- plain-C pooling row kernels: the fallback on every CPU and the twins of
 * the SIMD kernels (contracts in kernels/pool.h). */
#include "kernels/pool.h"

#define CF_MAX_ROW(T, NAME)                                                                    \
    void NAME(const T *x, cf_int row_base, cf_int col0, cf_int sw, cf_int b0, cf_int b1,        \
              cf_int dw, cf_int n, T *y, int64_t *idx, int init) {                              \
        for (cf_int j = 0; j < n; j++) {                                                        \
            cf_int c = col0 + j * sw, b = b0;                                                   \
            T best;                                                                             \
            int64_t at;                                                                         \
            if (init) {                                                                         \
                best = x[c + b * dw];                                                           \
                at = row_base + c + b * dw;                                                     \
                b++;                                                                            \
            } else {                                                                            \
                best = y[j];                                                                    \
                at = idx[j];                                                                    \
            }                                                                                   \
            for (; b < b1; b++) {                                                               \
                T v = x[c + b * dw];                                                            \
                if (v > best || v != v) {                                                       \
                    best = v;                                                                   \
                    at = row_base + c + b * dw;                                                 \
                }                                                                               \
            }                                                                                   \
            y[j] = best;                                                                        \
            idx[j] = at;                                                                        \
        }                                                                                       \
    }

#define CF_SUM_ROW(T, NAME)                                                                    \
    void NAME(const T *x, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int n, T *y,         \
              int init) {                                                                       \
        for (cf_int j = 0; j < n; j++) {                                                        \
            const T *w = x + col0 + j * sw;                                                     \
            T s = init ? (T)0 : y[j];                                                           \
            for (cf_int b = b0; b < b1; b++) s += w[b];                                         \
            y[j] = s;                                                                           \
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

CF_MAX_ROW(float, cf_f32_maxpool_row__generic)
CF_MAX_ROW(double, cf_f64_maxpool_row__generic)
CF_SUM_ROW(float, cf_f32_sumpool_row__generic)
CF_SUM_ROW(double, cf_f64_sumpool_row__generic)
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
    cf_f32_maxpool_row__generic, cf_f64_maxpool_row__generic,
    cf_f32_sumpool_row__generic, cf_f64_sumpool_row__generic,
    cf_f32_avgpool_spread_row__generic, cf_f64_avgpool_spread_row__generic,
    cf_f32_sum__generic, cf_f64_sum__generic,
    cf_indices_inside__generic,
};
