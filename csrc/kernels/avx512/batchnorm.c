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

/* ---- batch_norm_relu_max_pool2d, 2 x 2 windows (others go to the plain-C kernels) ----------
 * 16 windows of a row pair at a time: their 32 columns of each row are loaded as two vectors
 * and split into even and odd columns, the window positions t = 0 (top left), 1, 2, 3. */
static inline __m512 even_cols(__m512 a, __m512 b) {
    const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, e, b);
}
static inline __m512 odd_cols(__m512 a, __m512 b) {
    const __m512i o = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(a, o, b);
}

/* The 32 columns from c of row r (those below 2m; 0 past them), as two vectors. */
static inline void load_cols(const float *r, cf_int c, cf_int m, __m512 *a, __m512 *b) {
    *a = _mm512_maskz_loadu_ps(lanes16(2 * m), r + c);
    *b = _mm512_maskz_loadu_ps(lanes16(CF_MAX(0, 2 * m - 16)), r + c + 16);
}

static inline __m512 bn_relu(__m512 v, __m512 h, __m512 l, __m512 sc, __m512 be) {
    return _mm512_max_ps(_mm512_setzero_ps(), _mm512_fmadd_ps(_mm512_sub_ps(_mm512_sub_ps(v, h), l), sc, be));
}

/* best, at take v, t in the lanes where v is greater or NaN */
static inline void take_max(__m512 v, int t, __m512 *best, __m512i *at) {
    __mmask16 k = _mm512_cmp_ps_mask(v, *best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    *best = _mm512_mask_mov_ps(*best, k, v);
    *at = _mm512_mask_mov_epi32(*at, k, _mm512_set1_epi32(t));
}

void cf_f32_bnorm_maxpool__avx512(const cf_bn_pool *bp, const float *x, float *y, uint8_t *arg,
                                  const float *p) {
    if (bp->kh != 2 || bp->kw != 2) {
        cf_f32_bnorm_maxpool__generic(bp, x, y, arg, p);
        return;
    }
    const __m512 h = _mm512_set1_ps(p[0]), l = _mm512_set1_ps(p[1]), sc = _mm512_set1_ps(p[2]);
    const __m512 be = _mm512_set1_ps(p[3]);
    for (cf_int i = 0; i < bp->p; i++) {
        const float *r0 = x + 2 * i * bp->w, *r1 = r0 + bp->w;
        for (cf_int j = 0; j < bp->q; j += 16) {
            cf_int m = CF_MIN(16, bp->q - j);
            __m512 a, b, c, d;
            load_cols(r0, 2 * j, m, &a, &b);
            load_cols(r1, 2 * j, m, &c, &d);
            a = bn_relu(a, h, l, sc, be);
            b = bn_relu(b, h, l, sc, be);
            c = bn_relu(c, h, l, sc, be);
            d = bn_relu(d, h, l, sc, be);
            __m512 best = even_cols(a, b);
            __m512i at = _mm512_setzero_si512();
            take_max(odd_cols(a, b), 1, &best, &at);
            take_max(even_cols(c, d), 2, &best, &at);
            take_max(odd_cols(c, d), 3, &best, &at);
            _mm512_mask_storeu_ps(y + i * bp->q + j, lanes16(m), best);
            _mm_mask_storeu_epi8(arg + i * bp->q + j, lanes16(m), _mm512_cvtepi32_epi8(at));
        }
    }
}

/* the positions of 16 windows from o (0 past m) */
static inline __m512i window_arg(const uint8_t *arg, cf_int o, cf_int m) {
    return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(lanes16(m), arg + o));
}
static inline __mmask16 is_at(__m512i at, int t) {
    return _mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(t));
}

void cf_f32_bnorm_maxpool_grad_stats__avx512(const cf_bn_pool *bp, const float *dy,
                                             const float *y, const uint8_t *arg, const float *x,
                                             const float *p, double *s) {
    if (bp->kh != 2 || bp->kw != 2) {
        cf_f32_bnorm_maxpool_grad_stats__generic(bp, dy, y, arg, x, p, s);
        return;
    }
    const __m512 h = _mm512_set1_ps(p[0]), l = _mm512_set1_ps(p[1]);
    __m512d a0 = _mm512_setzero_pd(), q0 = _mm512_setzero_pd();
    for (cf_int i = 0; i < bp->p; i++) {
        const float *r0 = x + 2 * i * bp->w, *r1 = r0 + bp->w;
        for (cf_int j = 0; j < bp->q; j += 16) {
            cf_int m = CF_MIN(16, bp->q - j), o = i * bp->q + j;
            __m512 g = masked_grad_f32(dy, y, o, lanes16(m)), a, b, c, d;
            __m512i at = window_arg(arg, o, m);
            load_cols(r0, 2 * j, m, &a, &b);
            load_cols(r1, 2 * j, m, &c, &d);
            __m512 v = even_cols(a, b);
            v = _mm512_mask_mov_ps(v, is_at(at, 1), odd_cols(a, b));
            v = _mm512_mask_mov_ps(v, is_at(at, 2), even_cols(c, d));
            v = _mm512_mask_mov_ps(v, is_at(at, 3), odd_cols(c, d));
            __m512 gx = _mm512_mul_ps(g, _mm512_sub_ps(_mm512_sub_ps(v, h), l));
            a0 = _mm512_add_pd(a0, _mm512_add_pd(low_f64(g), high_f64(g)));
            q0 = _mm512_add_pd(q0, _mm512_add_pd(low_f64(gx), high_f64(gx)));
        }
    }
    s[0] += _mm512_reduce_add_pd(a0);
    s[1] += _mm512_reduce_add_pd(q0);
}

/* dx = a*g + rest over n values of a row from x (NULL: rest = c), g = 0 */
static inline __m512 grad_rest(const float *x, cf_int e, __mmask16 k, __m512 h, __m512 l,
                               __m512 vb, __m512 vc) {
    if (x == NULL) return vc;
    return _mm512_fmadd_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + e), h), l), vb, vc);
}

static inline void grad_no_window(const float *x, float *dx, cf_int e, cf_int n, __m512 h,
                                  __m512 l, __m512 va, __m512 vb, __m512 vc) {
    for (cf_int i = 0; i < n; i += 16) {
        __mmask16 k = lanes16(n - i);
        __m512 rest = grad_rest(x, e + i, k, h, l, vb, vc);
        _mm512_mask_storeu_ps(dx + e + i, k, _mm512_fmadd_ps(_mm512_setzero_ps(), va, rest));
    }
}

void cf_f32_bnorm_maxpool_grad__avx512(const cf_bn_pool *bp, const float *dy, const float *y,
                                       const uint8_t *arg, const float *x, float *dx,
                                       const float *p) {
    if (bp->kh != 2 || bp->kw != 2) {
        cf_f32_bnorm_maxpool_grad__generic(bp, dy, y, arg, x, dx, p);
        return;
    }
    const __m512 h = _mm512_set1_ps(p[0]), l = _mm512_set1_ps(p[1]);
    const __m512 va = _mm512_set1_ps(p[2]), vb = _mm512_set1_ps(p[3]), vc = _mm512_set1_ps(p[4]);
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    cf_int w = bp->w, used = 2 * bp->q; /* columns in windows */
    for (cf_int i = 0; i < bp->p; i++) {
        for (cf_int j = 0; j < bp->q; j += 16) {
            cf_int m = CF_MIN(16, bp->q - j), o = i * bp->q + j;
            __m512 g = masked_grad_f32(dy, y, o, lanes16(m));
            __m512i at = window_arg(arg, o, m);
            for (int r = 0; r < 2; r++) { /* the window row r: positions 2r (even), 2r + 1 */
                __m512 ge = _mm512_maskz_mov_ps(is_at(at, 2 * r), g);
                __m512 go = _mm512_maskz_mov_ps(is_at(at, 2 * r + 1), g);
                cf_int e = (2 * i + r) * w + 2 * j;
                __mmask16 k0 = lanes16(2 * m), k1 = lanes16(CF_MAX(0, 2 * m - 16));
                __m512 d0 = _mm512_fmadd_ps(_mm512_permutex2var_ps(ge, lo, go), va,
                                            grad_rest(x, e, k0, h, l, vb, vc));
                __m512 d1 = _mm512_fmadd_ps(_mm512_permutex2var_ps(ge, hi, go), va,
                                            grad_rest(x, e + 16, k1, h, l, vb, vc));
                _mm512_mask_storeu_ps(dx + e, k0, d0);
                _mm512_mask_storeu_ps(dx + e + 16, k1, d1);
            }
        }
        if (used < w)
            for (int r = 0; r < 2; r++)
                grad_no_window(x, dx, (2 * i + r) * w + used, w - used, h, l, va, vb, vc);
    }
    for (cf_int r = 2 * bp->p; r < bp->h; r++) grad_no_window(x, dx, r * w, w, h, l, va, vb, vc);
}

const cf_batchnorm_kernels batchnorm__avx512 = {
    cf_f32_bnorm_stats__avx512, cf_f64_bnorm_stats__avx512,
    cf_f32_bnorm_normalise__avx512, cf_f64_bnorm_normalise__avx512,
    cf_f32_bnorm_grad_stats__avx512, cf_f64_bnorm_grad_stats__avx512,
    cf_f32_bnorm_grad__avx512, cf_f64_bnorm_grad__avx512,
    cf_f32_bnorm_maxpool__avx512, cf_f64_bnorm_maxpool__generic,
    cf_f32_bnorm_maxpool_grad_stats__avx512, cf_f64_bnorm_maxpool_grad_stats__generic,
    cf_f32_bnorm_maxpool_grad__avx512, cf_f64_bnorm_maxpool_grad__generic,
};
