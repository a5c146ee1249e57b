/* vec.h (avx2) -- the vector layer the kernel templates (kernels/<family>_template.h) are written in:
 * F32_* works on 8 floats in a ymm register, F64_* on 4 doubles. Compares give all-ones lanes;
 * the tail of an array uses vmaskmov loads and stores.
 *
 * exp and expm1: as in avx512/vec.h (Cody-Waite reduction, Taylor polynomial of expm1(r), degree
 * 7 for float and 13 for double), but without vscalef: x is clamped to [-104, 89] (float) or
 * [-746, 710] (double), just past the underflow and overflow limits, and 2^k is applied as two
 * factors 2^k1 * 2^k2 (k1 = floor(k/2)), each a normal number built in the exponent bits, so the
 * product rounds to inf, to a subnormal or to 0 exactly where it should. NaN stays NaN. */
#ifndef CF_KERNELS_AVX2_VEC_H
#define CF_KERNELS_AVX2_VEC_H

#include <immintrin.h>
#include <string.h>

#include "common.h"

/* ---- float: 8 lanes ---- */
/* 2^k for integer-valued k in [-126, 127] */
static inline __m256 cf_v8f_pow2(__m256 k) {
    const __m256 t = _mm256_add_ps(k, _mm256_set1_ps(12582912.0f + 127.0f)); /* 0x1.8p23 + bias */
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
}
static inline __m256 cf_v8f_expm1_poly(__m256 x, __m256 *s1, __m256 *s2) {
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), _mm256_min_ps(_mm256_set1_ps(89.0f), x));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 k1 = _mm256_floor_ps(_mm256_mul_ps(k, _mm256_set1_ps(0.5f)));
    *s1 = cf_v8f_pow2(k1);
    *s2 = cf_v8f_pow2(_mm256_sub_ps(k, k1));
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 q = _mm256_set1_ps(1.0f / 5040);
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 720));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 120));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 24));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 6));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(_mm256_mul_ps(q, r), r, r);
}
static inline __m256 cf_v8f_exp(__m256 x) {
    __m256 s1, s2, p = cf_v8f_expm1_poly(x, &s1, &s2);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(p, _mm256_set1_ps(1.0f)), s1), s2);
}
static inline __m256 cf_v8f_expm1(__m256 x) {
    __m256 s1, s2, p = cf_v8f_expm1_poly(x, &s1, &s2);
    const __m256 two_k = _mm256_mul_ps(s1, s2);
    return _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, s1), s2), _mm256_sub_ps(two_k, _mm256_set1_ps(1.0f)));
}

/* ---- double: 4 lanes ---- */
/* 2^k for integer-valued k in [-1022, 1023] */
static inline __m256d cf_v4d_pow2(__m256d k) {
    const __m256d t = _mm256_add_pd(k, _mm256_set1_pd(6755399441055744.0 + 1023.0)); /* 0x1.8p52 + bias */
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(t), 52));
}
static inline __m256d cf_v4d_expm1_poly(__m256d x, __m256d *s1, __m256d *s2) {
    x = _mm256_max_pd(_mm256_set1_pd(-746.0), _mm256_min_pd(_mm256_set1_pd(710.0), x));
    const __m256d k = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634074)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256d k1 = _mm256_floor_pd(_mm256_mul_pd(k, _mm256_set1_pd(0.5)));
    *s1 = cf_v4d_pow2(k1);
    *s2 = cf_v4d_pow2(_mm256_sub_pd(k, k1));
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01), x);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10), r);
    static const double c[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                               1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
                               1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
    __m256d q = _mm256_set1_pd(c[0]);
    for (int i = 1; i < 12; i++) q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(c[i]));
    return _mm256_fmadd_pd(_mm256_mul_pd(q, r), r, r);
}
static inline __m256d cf_v4d_exp(__m256d x) {
    __m256d s1, s2, p = cf_v4d_expm1_poly(x, &s1, &s2);
    return _mm256_mul_pd(_mm256_mul_pd(_mm256_add_pd(p, _mm256_set1_pd(1.0)), s1), s2);
}
static inline __m256d cf_v4d_expm1(__m256d x) {
    __m256d s1, s2, p = cf_v4d_expm1_poly(x, &s1, &s2);
    const __m256d two_k = _mm256_mul_pd(s1, s2);
    return _mm256_add_pd(_mm256_mul_pd(_mm256_mul_pd(p, s1), s2), _mm256_sub_pd(two_k, _mm256_set1_pd(1.0)));
}

/* tail masks: lanes [0, k) all ones */
static inline __m256i cf_v8f_tail(cf_int k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i cf_v4d_tail(cf_int k) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(k), _mm256_setr_epi64x(0, 1, 2, 3));
}
/* dropout masks: W bytes (0 or 1) -> lanes */
static inline __m256 cf_v8f_bytes(const uint8_t *p) {
    const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(b, _mm256_setzero_si256()));
}
static inline __m256 cf_v8f_bytes_m(const uint8_t *p, __m256i m) {
    uint8_t buf[8] = {0};
    memcpy(buf, p, (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m))));
    return cf_v8f_bytes(buf);
}
static inline __m256d cf_v4d_bytes(const uint8_t *p) {
    int32_t word;
    memcpy(&word, p, 4);
    const __m256i b = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(word));
    return _mm256_castsi256_pd(_mm256_cmpgt_epi64(b, _mm256_setzero_si256()));
}
static inline __m256d cf_v4d_bytes_m(const uint8_t *p, __m256i m) {
    uint8_t buf[4] = {0};
    memcpy(buf, p, (size_t)__builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(m))));
    return cf_v4d_bytes(buf);
}
static inline float cf_v8f_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float cf_v8f_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline double cf_v4d_hsum(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
static inline double cf_v4d_hmax(__m256d v) {
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}

#define CF_VEC_ALIGN 32
#define CF_VEC_FENCE() _mm_sfence()

#define F32_T float
#define F32_V __m256
#define F32_C __m256
#define F32_TM __m256i
#define F32_W 8
#define F32_NAME(op) cf_f32_##op##__avx2
#define F32_LOAD(p) _mm256_loadu_ps(p)
#define F32_STORE(p, v) _mm256_storeu_ps((p), (v))
#define F32_STREAM(p, v) _mm256_stream_ps((p), (v))
#define F32_TMASK(k) cf_v8f_tail(k)
#define F32_MLOAD(p, m) _mm256_maskload_ps((p), (m))
#define F32_MLOADF(p, m, fill) _mm256_blendv_ps((fill), _mm256_maskload_ps((p), (m)), _mm256_castsi256_ps(m))
#define F32_MSTORE(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define F32_SET1(s) _mm256_set1_ps(s)
#define F32_ADD _mm256_add_ps
#define F32_SUB _mm256_sub_ps
#define F32_MUL _mm256_mul_ps
#define F32_DIV _mm256_div_ps
#define F32_SQRT _mm256_sqrt_ps
#define F32_FMA _mm256_fmadd_ps
#define F32_MAX _mm256_max_ps
#define F32_GT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define F32_LE(a, b) _mm256_cmp_ps((a), (b), _CMP_LE_OQ)
#define F32_SEL(c, a, b) _mm256_blendv_ps((b), (a), (c))
#define F32_ABS(v) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (v))
#define F32_COPYSIGN(mag, s) _mm256_or_ps((mag), _mm256_and_ps((s), _mm256_set1_ps(-0.0f)))
#define F32_HSUM(v) cf_v8f_hsum(v)
#define F32_HMAX(v) cf_v8f_hmax(v)
#define F32_EXP cf_v8f_exp
#define F32_EXPM1 cf_v8f_expm1
#define F32_BYTES(p) cf_v8f_bytes(p)
#define F32_BYTES_M(p, m) cf_v8f_bytes_m((p), (m))
#define F32_TO_LANES(v, a) _mm256_storeu_ps((a), (v))
#define F32_FROM_LANES(a) _mm256_loadu_ps(a)

#define F64_T double
#define F64_V __m256d
#define F64_C __m256d
#define F64_TM __m256i
#define F64_W 4
#define F64_NAME(op) cf_f64_##op##__avx2
#define F64_LOAD(p) _mm256_loadu_pd(p)
#define F64_STORE(p, v) _mm256_storeu_pd((p), (v))
#define F64_STREAM(p, v) _mm256_stream_pd((p), (v))
#define F64_TMASK(k) cf_v4d_tail(k)
#define F64_MLOAD(p, m) _mm256_maskload_pd((p), (m))
#define F64_MLOADF(p, m, fill) _mm256_blendv_pd((fill), _mm256_maskload_pd((p), (m)), _mm256_castsi256_pd(m))
#define F64_MSTORE(p, m, v) _mm256_maskstore_pd((p), (m), (v))
#define F64_SET1(s) _mm256_set1_pd(s)
#define F64_ADD _mm256_add_pd
#define F64_SUB _mm256_sub_pd
#define F64_MUL _mm256_mul_pd
#define F64_DIV _mm256_div_pd
#define F64_SQRT _mm256_sqrt_pd
#define F64_FMA _mm256_fmadd_pd
#define F64_MAX _mm256_max_pd
#define F64_GT(a, b) _mm256_cmp_pd((a), (b), _CMP_GT_OQ)
#define F64_LE(a, b) _mm256_cmp_pd((a), (b), _CMP_LE_OQ)
#define F64_SEL(c, a, b) _mm256_blendv_pd((b), (a), (c))
#define F64_ABS(v) _mm256_andnot_pd(_mm256_set1_pd(-0.0), (v))
#define F64_COPYSIGN(mag, s) _mm256_or_pd((mag), _mm256_and_pd((s), _mm256_set1_pd(-0.0)))
#define F64_HSUM(v) cf_v4d_hsum(v)
#define F64_HMAX(v) cf_v4d_hmax(v)
#define F64_EXP cf_v4d_exp
#define F64_EXPM1 cf_v4d_expm1
#define F64_BYTES(p) cf_v4d_bytes(p)
#define F64_BYTES_M(p, m) cf_v4d_bytes_m((p), (m))
#define F64_TO_LANES(v, a) _mm256_storeu_pd((a), (v))
#define F64_FROM_LANES(a) _mm256_loadu_pd(a)

#endif /* CF_KERNELS_AVX2_VEC_H */
