/* avx512/batchnorm.c -- AVX-512 batch-norm passes (contracts in kernels/batchnorm.h).
 * float32 sums: each lane adds CF_BN_BLOCK values in float32, then the block's partial sums
 * are widened to float64 and accumulated there. */
#include <immintrin.h>

#include "kernels/batchnorm.h"

static inline __mmask16 lanes16(cf_int m) { return m >= 16 ? 0xffff : (__mmask16)((1u << m) - 1); }
static inline __mmask8 lanes8(cf_int m) { return m >= 8 ? 0xff : (__mmask8)((1u << m) - 1); }

/* g = dy where y is NULL or y > 0, else 0 (lanes outside k are 0). */
static inline __m512 masked_grad_f32(const float *dy, const float *y, cf_int i, __mmask16 k) {
    if (y != NULL) k &= _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, y + i), _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_maskz_loadu_ps(k, dy + i);
}

static inline __m512d masked_grad_f64(const double *dy, const double *y, cf_int i, __mmask8 k) {
    if (y != NULL) k &= _mm512_mask_cmp_pd_mask(k, _mm512_maskz_loadu_pd(k, y + i), _mm512_setzero_pd(), _CMP_GT_OQ);
    return _mm512_maskz_loadu_pd(k, dy + i);
}

static inline __m512d low_f64(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d high_f64(__m512 v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* Each kernel runs its one-run loop (the _run functions) over the runs. */
static inline void f32_stats_run(const float *x, cf_int n, float shift, double s[2]) {
    __m512d a0 = _mm512_setzero_pd(), q0 = _mm512_setzero_pd();
    const __m512 sh = _mm512_set1_ps(shift);
    for (cf_int i = 0; i < n;) {
        /* a block of up to CF_BN_BLOCK registers summed in float32, then added in float64 */
        __m512 a = _mm512_setzero_ps(), q = _mm512_setzero_ps();
        cf_int end = CF_MIN(n, i + 16 * CF_BN_BLOCK);
        for (; i < end; i += 16) {
            __mmask16 k = lanes16(end - i);
            __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), sh);
            a = _mm512_add_ps(a, d);
            q = _mm512_fmadd_ps(d, d, q);
        }
        a0 = _mm512_add_pd(a0, _mm512_add_pd(low_f64(a), high_f64(a)));
        q0 = _mm512_add_pd(q0, _mm512_add_pd(low_f64(q), high_f64(q)));
    }
    s[0] += _mm512_reduce_add_pd(a0);
    s[1] += _mm512_reduce_add_pd(q0);
}

void cf_f32_bnorm_stats__avx512(const float *x, cf_int runs, cf_int len, const float *shift,
                                double *s) {
    for (cf_int r = 0; r < runs; r++) f32_stats_run(x + r * len, len, shift[r], s + 2 * r);
}

static inline void f64_stats_run(const double *x, cf_int n, double shift, double s[2]) {
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    __m512d q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
    const __m512d sh = _mm512_set1_pd(shift);
    cf_int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d d0 = _mm512_sub_pd(_mm512_loadu_pd(x + i), sh);
        __m512d d1 = _mm512_sub_pd(_mm512_loadu_pd(x + i + 8), sh);
        a0 = _mm512_add_pd(a0, d0);
        a1 = _mm512_add_pd(a1, d1);
        q0 = _mm512_fmadd_pd(d0, d0, q0);
        q1 = _mm512_fmadd_pd(d1, d1, q1);
    }
    for (; i < n; i += 8) {
        __mmask8 k = lanes8(n - i);
        __m512d d = _mm512_maskz_sub_pd(k, _mm512_maskz_loadu_pd(k, x + i), sh);
        a0 = _mm512_add_pd(a0, d);
        q0 = _mm512_fmadd_pd(d, d, q0);
    }
    s[0] += _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    s[1] += _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
}

void cf_f64_bnorm_stats__avx512(const double *x, cf_int runs, cf_int len, const double *shift,
                                double *s) {
    for (cf_int r = 0; r < runs; r++) f64_stats_run(x + r * len, len, shift[r], s + 2 * r);
}

static inline void f32_normalise_run(const float *x, float *y, cf_int n, const float *p,
                                     int relu) {
    const __m512 h = _mm512_set1_ps(p[0]), l = _mm512_set1_ps(p[1]), sc = _mm512_set1_ps(p[2]);
    const __m512 be = _mm512_set1_ps(p[3]), zero = _mm512_setzero_ps();
    for (cf_int i = 0; i < n; i += 16) {
        __mmask16 k = lanes16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_sub_ps(v, h), l), sc, be);
        if (relu) v = _mm512_max_ps(zero, v); /* second operand on NaN: NaN propagates */
        _mm512_mask_storeu_ps(y + i, k, v);
    }
}

void cf_f32_bnorm_normalise__avx512(const float *x, float *y, cf_int runs, cf_int len,
                                    const float *p, int relu) {
    for (cf_int r = 0; r < runs; r++)
        f32_normalise_run(x + r * len, y + r * len, len, p + r * CF_BN_FWD_PARAMS, relu);
}

static inline void f64_normalise_run(const double *x, double *y, cf_int n, const double *p,
                                     int relu) {
    const __m512d h = _mm512_set1_pd(p[0]), l = _mm512_set1_pd(p[1]), sc = _mm512_set1_pd(p[2]);
    const __m512d be = _mm512_set1_pd(p[3]), zero = _mm512_setzero_pd();
    for (cf_int i = 0; i < n; i += 8) {
        __mmask8 k = lanes8(n - i);
        __m512d v = _mm512_maskz_loadu_pd(k, x + i);
        v = _mm512_fmadd_pd(_mm512_sub_pd(_mm512_sub_pd(v, h), l), sc, be);
        if (relu) v = _mm512_max_pd(zero, v);
        _mm512_mask_storeu_pd(y + i, k, v);
    }
}

void cf_f64_bnorm_normalise__avx512(const double *x, double *y, cf_int runs, cf_int len,
                                    const double *p, int relu) {
    for (cf_int r = 0; r < runs; r++)
        f64_normalise_run(x + r * len, y + r * len, len, p + r * CF_BN_FWD_PARAMS, relu);
}

static inline void f32_grad_stats_run(const float *dy, const float *y, const float *x, cf_int n,
                                      const float *p, double s[2]) {
    __m512d a0 = _mm512_setzero_pd(), q0 = _mm512_setzero_pd();
    const __m512 h = _mm512_set1_ps(p[0]), l = _mm512_set1_ps(p[1]);
    for (cf_int i = 0; i < n;) {
        __m512 a = _mm512_setzero_ps(), q = _mm512_setzero_ps();
        cf_int end = CF_MIN(n, i + 16 * CF_BN_BLOCK);
        for (; i < end; i += 16) {
            __mmask16 k = lanes16(end - i);
            __m512 g = masked_grad_f32(dy, y, i, k);
            __m512 xc = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), h), l);
            a = _mm512_add_ps(a, g);
            q = _mm512_fmadd_ps(g, xc, q);
        }
        a0 = _mm512_add_pd(a0, _mm512_add_pd(low_f64(a), high_f64(a)));
        q0 = _mm512_add_pd(q0, _mm512_add_pd(low_f64(q), high_f64(q)));
    }
    s[0] += _mm512_reduce_add_pd(a0);
    s[1] += _mm512_reduce_add_pd(q0);
}

void cf_f32_bnorm_grad_stats__avx512(const float *dy, const float *y, const float *x,
                                     cf_int runs, cf_int len, const float *p, double *s) {
    for (cf_int r = 0; r < runs; r++)
        f32_grad_stats_run(dy + r * len, y ? y + r * len : NULL, x + r * len, len,
                           p + r * CF_BN_BWD_PARAMS, s + 2 * r);
}

static inline void f64_grad_stats_run(const double *dy, const double *y, const double *x,
                                      cf_int n, const double *p, double s[2]) {
    __m512d a0 = _mm512_setzero_pd(), q0 = _mm512_setzero_pd();
    const __m512d h = _mm512_set1_pd(p[0]), l = _mm512_set1_pd(p[1]);
    for (cf_int i = 0; i < n; i += 8) {
        __mmask8 k = lanes8(n - i);
        __m512d g = masked_grad_f64(dy, y, i, k);
        __m512d xc = _mm512_sub_pd(_mm512_sub_pd(_mm512_maskz_loadu_pd(k, x + i), h), l);
        a0 = _mm512_add_pd(a0, g);
        q0 = _mm512_add_pd(q0, _mm512_mul_pd(g, xc));
    }
    s[0] += _mm512_reduce_add_pd(a0);
    s[1] += _mm512_reduce_add_pd(q0);
}

void cf_f64_bnorm_grad_stats__avx512(const double *dy, const double *y, const double *x,
                                     cf_int runs, cf_int len, const double *p, double *s) {
    for (cf_int r = 0; r < runs; r++)
        f64_grad_stats_run(dy + r * len, y ? y + r * len : NULL, x + r * len, len,
                           p + r * CF_BN_BWD_PARAMS, s + 2 * r);
}

static inline void f32_grad_run(const float *dy, const float *y, const float *x, float *dx,
                                cf_int n, const float *p) {
    const __m512 h = _mm512_set1_ps(p[0]), l = _mm512_set1_ps(p[1]);
    const __m512 va = _mm512_set1_ps(p[2]), vb = _mm512_set1_ps(p[3]), vc = _mm512_set1_ps(p[4]);
    for (cf_int i = 0; i < n; i += 16) {
        __mmask16 k = lanes16(n - i);
        __m512 g = masked_grad_f32(dy, y, i, k);
        __m512 rest = vc;
        if (x) rest = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), h), l), vb, vc);
        _mm512_mask_storeu_ps(dx + i, k, _mm512_fmadd_ps(g, va, rest));
    }
}

void cf_f32_bnorm_grad__avx512(const float *dy, const float *y, const float *x, float *dx,
                               cf_int runs, cf_int len, const float *p) {
    for (cf_int r = 0; r < runs; r++)
        f32_grad_run(dy + r * len, y ? y + r * len : NULL, x ? x + r * len : NULL, dx + r * len,
                     len, p + r * CF_BN_BWD_PARAMS);
}

static inline void f64_grad_run(const double *dy, const double *y, const double *x, double *dx,
                                cf_int n, const double *p) {
    const __m512d h = _mm512_set1_pd(p[0]), l = _mm512_set1_pd(p[1]);
    const __m512d va = _mm512_set1_pd(p[2]), vb = _mm512_set1_pd(p[3]), vc = _mm512_set1_pd(p[4]);
    for (cf_int i = 0; i < n; i += 8) {
        __mmask8 k = lanes8(n - i);
        __m512d g = masked_grad_f64(dy, y, i, k);
        __m512d rest = vc;
        if (x) rest = _mm512_fmadd_pd(_mm512_sub_pd(_mm512_sub_pd(_mm512_maskz_loadu_pd(k, x + i), h), l), vb, vc);
        _mm512_mask_storeu_pd(dx + i, k, _mm512_fmadd_pd(g, va, rest));
    }
}

void cf_f64_bnorm_grad__avx512(const double *dy, const double *y, const double *x, double *dx,
                               cf_int runs, cf_int len, const double *p) {
    for (cf_int r = 0; r < runs; r++)
        f64_grad_run(dy + r * len, y ? y + r * len : NULL, x ? x + r * len : NULL, dx + r * len,
                     len, p + r * CF_BN_BWD_PARAMS);
}

const cf_batchnorm_kernels batchnorm__avx512 = {
    cf_f32_bnorm_stats__avx512, cf_f64_bnorm_stats__avx512,
    cf_f32_bnorm_normalise__avx512, cf_f64_bnorm_normalise__avx512,
    cf_f32_bnorm_grad_stats__avx512, cf_f64_bnorm_grad_stats__avx512,
    cf_f32_bnorm_grad__avx512, cf_f64_bnorm_grad__avx512,
};
