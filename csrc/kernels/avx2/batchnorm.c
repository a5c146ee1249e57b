/* avx2/batchnorm.c -- AVX2+FMA batch-norm passes (contracts in kernels/batchnorm.h): 8 floats
 * or 4 doubles per register, float32 sums in float64 lanes; each run's tail goes to the
 * plain-C twin. Each kernel runs its one-run loop (the _run functions) over the runs. */
#include <immintrin.h>

#include "kernels/batchnorm.h"

static inline double hsum(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static inline __m256 grad_f32(const float *dy, const float *y, cf_int i) {
    __m256 g = _mm256_loadu_ps(dy + i);
    if (y == NULL) return g;
    return _mm256_and_ps(g, _mm256_cmp_ps(_mm256_loadu_ps(y + i), _mm256_setzero_ps(), _CMP_GT_OQ));
}

static inline __m256d grad_f64(const double *dy, const double *y, cf_int i) {
    __m256d g = _mm256_loadu_pd(dy + i);
    if (y == NULL) return g;
    return _mm256_and_pd(g, _mm256_cmp_pd(_mm256_loadu_pd(y + i), _mm256_setzero_pd(), _CMP_GT_OQ));
}

static inline void f32_stats_run(const float *x, cf_int n, float shift, double s[2]) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
    const __m256 sh = _mm256_set1_ps(shift);
    cf_int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), sh);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
        a0 = _mm256_add_pd(a0, lo);
        a1 = _mm256_add_pd(a1, hi);
        q0 = _mm256_fmadd_pd(lo, lo, q0);
        q1 = _mm256_fmadd_pd(hi, hi, q1);
    }
    s[0] += hsum(_mm256_add_pd(a0, a1));
    s[1] += hsum(_mm256_add_pd(q0, q1));
    cf_f32_bnorm_stats__generic(x + i, 1, n - i, &shift, s);
}

void cf_f32_bnorm_stats__avx2(const float *x, cf_int runs, cf_int len, const float *shift,
                              double *s) {
    for (cf_int r = 0; r < runs; r++) f32_stats_run(x + r * len, len, shift[r], s + 2 * r);
}

static inline void f64_stats_run(const double *x, cf_int n, double shift, double s[2]) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
    const __m256d sh = _mm256_set1_pd(shift);
    cf_int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d d0 = _mm256_sub_pd(_mm256_loadu_pd(x + i), sh);
        __m256d d1 = _mm256_sub_pd(_mm256_loadu_pd(x + i + 4), sh);
        a0 = _mm256_add_pd(a0, d0);
        a1 = _mm256_add_pd(a1, d1);
        q0 = _mm256_fmadd_pd(d0, d0, q0);
        q1 = _mm256_fmadd_pd(d1, d1, q1);
    }
    s[0] += hsum(_mm256_add_pd(a0, a1));
    s[1] += hsum(_mm256_add_pd(q0, q1));
    cf_f64_bnorm_stats__generic(x + i, 1, n - i, &shift, s);
}

void cf_f64_bnorm_stats__avx2(const double *x, cf_int runs, cf_int len, const double *shift,
                              double *s) {
    for (cf_int r = 0; r < runs; r++) f64_stats_run(x + r * len, len, shift[r], s + 2 * r);
}

static inline void f32_normalise_run(const float *x, float *y, cf_int n, const float *p,
                                     int relu) {
    const __m256 h = _mm256_set1_ps(p[0]), l = _mm256_set1_ps(p[1]), sc = _mm256_set1_ps(p[2]);
    const __m256 be = _mm256_set1_ps(p[3]), zero = _mm256_setzero_ps();
    cf_int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), h), l);
        v = _mm256_fmadd_ps(v, sc, be);
        if (relu) v = _mm256_max_ps(zero, v); /* second operand on NaN: NaN propagates */
        _mm256_storeu_ps(y + i, v);
    }
    cf_f32_bnorm_normalise__generic(x + i, y + i, 1, n - i, p, relu);
}

void cf_f32_bnorm_normalise__avx2(const float *x, float *y, cf_int runs, cf_int len,
                                  const float *p, int relu) {
    for (cf_int r = 0; r < runs; r++)
        f32_normalise_run(x + r * len, y + r * len, len, p + r * CF_BN_FWD_PARAMS, relu);
}

static inline void f64_normalise_run(const double *x, double *y, cf_int n, const double *p,
                                     int relu) {
    const __m256d h = _mm256_set1_pd(p[0]), l = _mm256_set1_pd(p[1]), sc = _mm256_set1_pd(p[2]);
    const __m256d be = _mm256_set1_pd(p[3]), zero = _mm256_setzero_pd();
    cf_int i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d v = _mm256_sub_pd(_mm256_sub_pd(_mm256_loadu_pd(x + i), h), l);
        v = _mm256_fmadd_pd(v, sc, be);
        if (relu) v = _mm256_max_pd(zero, v);
        _mm256_storeu_pd(y + i, v);
    }
    cf_f64_bnorm_normalise__generic(x + i, y + i, 1, n - i, p, relu);
}

void cf_f64_bnorm_normalise__avx2(const double *x, double *y, cf_int runs, cf_int len,
                                  const double *p, int relu) {
    for (cf_int r = 0; r < runs; r++)
        f64_normalise_run(x + r * len, y + r * len, len, p + r * CF_BN_FWD_PARAMS, relu);
}

static inline void f32_grad_stats_run(const float *dy, const float *y, const float *x, cf_int n,
                                      const float *p, double s[2]) {
    const float hi = p[0], lo = p[1];
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
    const __m256 h = _mm256_set1_ps(hi), l = _mm256_set1_ps(lo);
    cf_int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = grad_f32(dy, y, i);
        __m256 gx = _mm256_mul_ps(g, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), h), l));
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(g)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(g, 1)));
        q0 = _mm256_add_pd(q0, _mm256_cvtps_pd(_mm256_castps256_ps128(gx)));
        q1 = _mm256_add_pd(q1, _mm256_cvtps_pd(_mm256_extractf128_ps(gx, 1)));
    }
    s[0] += hsum(_mm256_add_pd(a0, a1));
    s[1] += hsum(_mm256_add_pd(q0, q1));
    cf_f32_bnorm_grad_stats__generic(dy + i, y ? y + i : NULL, x + i, 1, n - i, p, s);
}

void cf_f32_bnorm_grad_stats__avx2(const float *dy, const float *y, const float *x, cf_int runs,
                                   cf_int len, const float *p, double *s) {
    for (cf_int r = 0; r < runs; r++)
        f32_grad_stats_run(dy + r * len, y ? y + r * len : NULL, x + r * len, len,
                           p + r * CF_BN_BWD_PARAMS, s + 2 * r);
}

static inline void f64_grad_stats_run(const double *dy, const double *y, const double *x, cf_int n,
                                      const double *p, double s[2]) {
    const double hi = p[0], lo = p[1];
    __m256d a0 = _mm256_setzero_pd(), q0 = _mm256_setzero_pd();
    const __m256d h = _mm256_set1_pd(hi), l = _mm256_set1_pd(lo);
    cf_int i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d g = grad_f64(dy, y, i);
        a0 = _mm256_add_pd(a0, g);
        q0 = _mm256_add_pd(q0, _mm256_mul_pd(g, _mm256_sub_pd(_mm256_sub_pd(_mm256_loadu_pd(x + i), h), l)));
    }
    s[0] += hsum(a0);
    s[1] += hsum(q0);
    cf_f64_bnorm_grad_stats__generic(dy + i, y ? y + i : NULL, x + i, 1, n - i, p, s);
}

void cf_f64_bnorm_grad_stats__avx2(const double *dy, const double *y, const double *x, cf_int runs,
                                   cf_int len, const double *p, double *s) {
    for (cf_int r = 0; r < runs; r++)
        f64_grad_stats_run(dy + r * len, y ? y + r * len : NULL, x + r * len, len,
                           p + r * CF_BN_BWD_PARAMS, s + 2 * r);
}

static inline void f32_grad_run(const float *dy, const float *y, const float *x, float *dx,
                                cf_int n, const float *p) {
    const __m256 h = _mm256_set1_ps(p[0]), l = _mm256_set1_ps(p[1]);
    const __m256 va = _mm256_set1_ps(p[2]), vb = _mm256_set1_ps(p[3]), vc = _mm256_set1_ps(p[4]);
    cf_int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 rest = vc;
        if (x) rest = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), h), l), vb, vc);
        _mm256_storeu_ps(dx + i, _mm256_fmadd_ps(grad_f32(dy, y, i), va, rest));
    }
    cf_f32_bnorm_grad__generic(dy + i, y ? y + i : NULL, x ? x + i : NULL, dx + i, 1, n - i, p);
}

void cf_f32_bnorm_grad__avx2(const float *dy, const float *y, const float *x, float *dx,
                             cf_int runs, cf_int len, const float *p) {
    for (cf_int r = 0; r < runs; r++)
        f32_grad_run(dy + r * len, y ? y + r * len : NULL, x ? x + r * len : NULL, dx + r * len,
                     len, p + r * CF_BN_BWD_PARAMS);
}

static inline void f64_grad_run(const double *dy, const double *y, const double *x, double *dx,
                                cf_int n, const double *p) {
    const __m256d h = _mm256_set1_pd(p[0]), l = _mm256_set1_pd(p[1]);
    const __m256d va = _mm256_set1_pd(p[2]), vb = _mm256_set1_pd(p[3]), vc = _mm256_set1_pd(p[4]);
    cf_int i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d rest = vc;
        if (x) rest = _mm256_fmadd_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_loadu_pd(x + i), h), l), vb, vc);
        _mm256_storeu_pd(dx + i, _mm256_fmadd_pd(grad_f64(dy, y, i), va, rest));
    }
    cf_f64_bnorm_grad__generic(dy + i, y ? y + i : NULL, x ? x + i : NULL, dx + i, 1, n - i, p);
}

void cf_f64_bnorm_grad__avx2(const double *dy, const double *y, const double *x, double *dx,
                             cf_int runs, cf_int len, const double *p) {
    for (cf_int r = 0; r < runs; r++)
        f64_grad_run(dy + r * len, y ? y + r * len : NULL, x ? x + r * len : NULL, dx + r * len,
                     len, p + r * CF_BN_BWD_PARAMS);
}

const cf_batchnorm_kernels batchnorm__avx2 = {
    cf_f32_bnorm_stats__avx2, cf_f64_bnorm_stats__avx2,
    cf_f32_bnorm_normalise__avx2, cf_f64_bnorm_normalise__avx2,
    cf_f32_bnorm_grad_stats__avx2, cf_f64_bnorm_grad_stats__avx2,
    cf_f32_bnorm_grad__avx2, cf_f64_bnorm_grad__avx2,
    cf_f32_bnorm_maxpool__generic, cf_f64_bnorm_maxpool__generic,
    cf_f32_bnorm_maxpool_grad_stats__generic, cf_f64_bnorm_maxpool_grad_stats__generic,
    cf_f32_bnorm_maxpool_grad__generic, cf_f64_bnorm_maxpool_grad__generic,
};
