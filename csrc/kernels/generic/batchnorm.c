/* generic/batchnorm.c -- plain-C batch-norm passes: the fallback on every CPU and the twins of
 * the SIMD kernels (contracts in kernels/batchnorm.h). */
#include "kernels/batchnorm.h"

#define CF_STATS(T, NAME)                                                                      \
    void NAME(const T *x, cf_int runs, cf_int len, const T *shift, double *s) {                 \
        for (cf_int r = 0; r < runs; r++) {                                                     \
            const T *xr = x + r * len, sh = shift[r];                                           \
            double s1 = 0, s2 = 0;                                                              \
            for (cf_int i = 0; i < len; i++) {                                                  \
                double d = (double)(xr[i] - sh);                                                \
                s1 += d;                                                                        \
                s2 += d * d;                                                                    \
            }                                                                                   \
            s[2 * r] += s1;                                                                     \
            s[2 * r + 1] += s2;                                                                 \
        }                                                                                       \
    }

#define CF_NORMALISE(T, NAME)                                                                  \
    void NAME(const T *x, T *y, cf_int runs, cf_int len, const T *p, int relu) {                \
        for (cf_int r = 0; r < runs; r++, p += CF_BN_FWD_PARAMS) {                              \
            const T *xr = x + r * len;                                                          \
            T *yr = y + r * len;                                                                \
            for (cf_int i = 0; i < len; i++) {                                                  \
                T v = ((xr[i] - p[0]) - p[1]) * p[2] + p[3];                                    \
                yr[i] = (relu && v < 0) ? (T)0 : v;                                             \
            }                                                                                   \
        }                                                                                       \
    }

#define CF_GRAD_STATS(T, NAME)                                                                 \
    void NAME(const T *dy, const T *y, const T *x, cf_int runs, cf_int len, const T *p,         \
              double *s) {                                                                      \
        for (cf_int r = 0; r < runs; r++, p += CF_BN_BWD_PARAMS) {                              \
            const T *dr = dy + r * len, *yr = y ? y + r * len : NULL, *xr = x + r * len;        \
            double s1 = 0, s2 = 0;                                                              \
            for (cf_int i = 0; i < len; i++) {                                                  \
                T g = (yr == NULL || yr[i] > 0) ? dr[i] : (T)0;                                 \
                s1 += (double)g;                                                                \
                s2 += (double)(g * ((xr[i] - p[0]) - p[1]));                                    \
            }                                                                                   \
            s[2 * r] += s1;                                                                     \
            s[2 * r + 1] += s2;                                                                 \
        }                                                                                       \
    }

#define CF_GRAD(T, NAME)                                                                       \
    void NAME(const T *dy, const T *y, const T *x, T *dx, cf_int runs, cf_int len, const T *p) { \
        for (cf_int r = 0; r < runs; r++, p += CF_BN_BWD_PARAMS) {                              \
            const T *dr = dy + r * len, *yr = y ? y + r * len : NULL;                           \
            const T *xr = x ? x + r * len : NULL;                                               \
            T *out = dx + r * len;                                                              \
            for (cf_int i = 0; i < len; i++) {                                                  \
                T g = (yr == NULL || yr[i] > 0) ? dr[i] : (T)0;                                 \
                out[i] = xr ? p[2] * g + (p[3] * ((xr[i] - p[0]) - p[1]) + p[4])                \
                            : p[2] * g + p[4];                                                  \
            }                                                                                   \
        }                                                                                       \
    }

/* Pooling windows (cf_bn_pool): window (i, j)'s position t is x[(i*kh + t/kw)*w + j*kw + t%kw]. */
static inline cf_int window_at(const cf_bn_pool *bp, cf_int i, cf_int j, cf_int t) {
    return (i * bp->kh + t / bp->kw) * bp->w + j * bp->kw + t % bp->kw;
}

#define CF_MAXPOOL(T, NAME)                                                                    \
    void NAME(const cf_bn_pool *bp, const T *x, T *y, uint8_t *arg, const T *p) {               \
        cf_int taps = bp->kh * bp->kw;                                                          \
        for (cf_int i = 0; i < bp->p; i++)                                                      \
            for (cf_int j = 0; j < bp->q; j++) {                                                \
                T best = 0;                                                                     \
                cf_int at = 0;                                                                  \
                for (cf_int t = 0; t < taps; t++) {                                             \
                    T v = ((x[window_at(bp, i, j, t)] - p[0]) - p[1]) * p[2] + p[3];            \
                    if (v < 0) v = 0; /* relu; NaN stays */                                     \
                    if (t == 0 || v > best || v != v) {                                         \
                        best = v;                                                               \
                        at = t;                                                                 \
                    }                                                                           \
                }                                                                               \
                y[i * bp->q + j] = best;                                                        \
                arg[i * bp->q + j] = (uint8_t)at;                                               \
            }                                                                                   \
    }

#define CF_MAXPOOL_GRAD_STATS(T, NAME)                                                         \
    void NAME(const cf_bn_pool *bp, const T *dy, const T *y, const uint8_t *arg, const T *x,    \
              const T *p, double *s) {                                                          \
        double s1 = 0, s2 = 0;                                                                  \
        for (cf_int i = 0; i < bp->p; i++)                                                      \
            for (cf_int j = 0; j < bp->q; j++) {                                                \
                cf_int o = i * bp->q + j;                                                       \
                T g = y[o] > 0 ? dy[o] : (T)0;                                                  \
                s1 += (double)g;                                                                \
                s2 += (double)(g * ((x[window_at(bp, i, j, arg[o])] - p[0]) - p[1]));           \
            }                                                                                   \
        s[0] += s1;                                                                             \
        s[1] += s2;                                                                             \
    }

/* dx over the plane with g = 0, then window by window a*g + rest at each maximum */
#define CF_MAXPOOL_GRAD(T, NAME)                                                               \
    static inline T NAME##_at(const T *x, cf_int e, T g, const T *p) {                          \
        return x ? p[2] * g + (p[3] * ((x[e] - p[0]) - p[1]) + p[4]) : p[2] * g + p[4];         \
    }                                                                                           \
    void NAME(const cf_bn_pool *bp, const T *dy, const T *y, const uint8_t *arg, const T *x,    \
              T *dx, const T *p) {                                                              \
        for (cf_int e = 0; e < bp->h * bp->w; e++) dx[e] = NAME##_at(x, e, 0, p);               \
        for (cf_int i = 0; i < bp->p; i++)                                                      \
            for (cf_int j = 0; j < bp->q; j++) {                                                \
                cf_int o = i * bp->q + j, e = window_at(bp, i, j, arg[o]);                      \
                dx[e] = NAME##_at(x, e, y[o] > 0 ? dy[o] : (T)0, p);                            \
            }                                                                                   \
    }

CF_STATS(float, cf_f32_bnorm_stats__generic)
CF_STATS(double, cf_f64_bnorm_stats__generic)
CF_NORMALISE(float, cf_f32_bnorm_normalise__generic)
CF_NORMALISE(double, cf_f64_bnorm_normalise__generic)
CF_GRAD_STATS(float, cf_f32_bnorm_grad_stats__generic)
CF_GRAD_STATS(double, cf_f64_bnorm_grad_stats__generic)
CF_GRAD(float, cf_f32_bnorm_grad__generic)
CF_GRAD(double, cf_f64_bnorm_grad__generic)
CF_MAXPOOL(float, cf_f32_bnorm_maxpool__generic)
CF_MAXPOOL(double, cf_f64_bnorm_maxpool__generic)
CF_MAXPOOL_GRAD_STATS(float, cf_f32_bnorm_maxpool_grad_stats__generic)
CF_MAXPOOL_GRAD_STATS(double, cf_f64_bnorm_maxpool_grad_stats__generic)
CF_MAXPOOL_GRAD(float, cf_f32_bnorm_maxpool_grad__generic)
CF_MAXPOOL_GRAD(double, cf_f64_bnorm_maxpool_grad__generic)

const cf_batchnorm_kernels batchnorm__generic = {
    cf_f32_bnorm_stats__generic, cf_f64_bnorm_stats__generic,
    cf_f32_bnorm_normalise__generic, cf_f64_bnorm_normalise__generic,
    cf_f32_bnorm_grad_stats__generic, cf_f64_bnorm_grad_stats__generic,
    cf_f32_bnorm_grad__generic, cf_f64_bnorm_grad__generic,
    cf_f32_bnorm_maxpool__generic, cf_f64_bnorm_maxpool__generic,
    cf_f32_bnorm_maxpool_grad_stats__generic, cf_f64_bnorm_maxpool_grad_stats__generic,
    cf_f32_bnorm_maxpool_grad__generic, cf_f64_bnorm_maxpool_grad__generic,
};
