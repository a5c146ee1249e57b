/* generic/batchnorm.c -- plain-C batch-norm passes: the fallback on every CPU and the twins of
 * the SIMD kernels (contracts in kernels/batchnorm.h). */
#include "kernels/batchnorm.h"

#define CF_STATS(T, NAME)                                                                      \
    void NAME(const T *x, cf_int n, T shift, double s[2]) {                                     \
        double s1 = 0, s2 = 0;                                                                  \
        for (cf_int i = 0; i < n; i++) {                                                        \
            double d = (double)(x[i] - shift);                                                  \
            s1 += d;                                                                            \
            s2 += d * d;                                                                        \
        }                                                                                       \
        s[0] += s1;                                                                             \
        s[1] += s2;                                                                             \
    }

#define CF_NORMALISE(T, NAME)                                                                  \
    void NAME(const T *x, T *y, cf_int n, T hi, T lo, T scale, T beta, int relu) {              \
        for (cf_int i = 0; i < n; i++) {                                                        \
            T v = ((x[i] - hi) - lo) * scale + beta;                                            \
            y[i] = (relu && v < 0) ? (T)0 : v;                                                  \
        }                                                                                       \
    }

#define CF_GRAD_STATS(T, NAME)                                                                 \
    void NAME(const T *dy, const T *y, const T *x, cf_int n, T hi, T lo, double s[2]) {         \
        double s1 = 0, s2 = 0;                                                                  \
        for (cf_int i = 0; i < n; i++) {                                                        \
            T g = (y == NULL || y[i] > 0) ? dy[i] : (T)0;                                       \
            s1 += (double)g;                                                                    \
            s2 += (double)(g * ((x[i] - hi) - lo));                                             \
        }                                                                                       \
        s[0] += s1;                                                                             \
        s[1] += s2;                                                                             \
    }

#define CF_GRAD(T, NAME)                                                                       \
    void NAME(const T *dy, const T *y, const T *x, T *dx, cf_int n, T hi, T lo, T a, T b,       \
              T c) {                                                                            \
        for (cf_int i = 0; i < n; i++) {                                                        \
            T g = (y == NULL || y[i] > 0) ? dy[i] : (T)0;                                       \
            dx[i] = x ? a * g + (b * ((x[i] - hi) - lo) + c) : a * g + c;                       \
        }                                                                                       \
    }

CF_STATS(float, cf_f32_bnorm_stats__generic)
CF_STATS(double, cf_f64_bnorm_stats__generic)
CF_NORMALISE(float, cf_f32_bnorm_normalise__generic)
CF_NORMALISE(double, cf_f64_bnorm_normalise__generic)
CF_GRAD_STATS(float, cf_f32_bnorm_grad_stats__generic)
CF_GRAD_STATS(double, cf_f64_bnorm_grad_stats__generic)
CF_GRAD(float, cf_f32_bnorm_grad__generic)
CF_GRAD(double, cf_f64_bnorm_grad__generic)

const cf_batchnorm_kernels batchnorm__generic = {
    cf_f32_bnorm_stats__generic, cf_f64_bnorm_stats__generic,
    cf_f32_bnorm_normalise__generic, cf_f64_bnorm_normalise__generic,
    cf_f32_bnorm_grad_stats__generic, cf_f64_bnorm_grad_stats__generic,
    cf_f32_bnorm_grad__generic, cf_f64_bnorm_grad__generic,
};
