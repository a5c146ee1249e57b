/* vec.h (avx512) -- the vector layer the kernel templates (kernels/<family>_template.h) are written in:
 * F32_* works on 16 floats in a zmm register, F64_* on 8 doubles. Compares give an opmask; the
 * tail of an array is handled with masked loads and stores.
 *
 * exp and expm1: x = k*ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 split in a high and a low part),
 * expm1(r) by its Taylor polynomial (degree 7 for float, 13 for double: truncation below 0.1 ulp),
 * evaluated by Horner (float) or by Estrin (double: half the dependency chain, ~8% faster here),
 * then exp(x) = 2^k * (1 + p) and expm1(x) = 2^k * p + (2^k - 1), scaled with vscalefps, which
 * gives inf on overflow, 0 / subnormals on underflow. x is first clamped to [-200, 200] (float) or
 * [-1500, 1500] (double), far beyond both limits, with the NaN-propagating operand order, so NaN
 * stays NaN. Accuracy: a few ulp (the tests hold sigmoid, tanh and elu over the whole range to
 * 4 ulp of the float64 reference). */
#ifndef CF_KERNELS_AVX512_VEC_H
#define CF_KERNELS_AVX512_VEC_H

#include <immintrin.h>
#include <string.h>

#include "common.h"

/* ---- float: 16 lanes ---- */
static inline __m512 cf_v16f_expm1_poly(__m512 x, __m512 *k) {
    x = _mm512_max_ps(_mm512_set1_ps(-200.0f), _mm512_min_ps(_mm512_set1_ps(200.0f), x));
    *k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(*k, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(*k, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 q = _mm512_set1_ps(1.0f / 5040);
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 720));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 120));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 24));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 6));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(_mm512_mul_ps(q, r), r, r); /* expm1(r) */
}
static inline __m512 cf_v16f_exp(__m512 x) {
    __m512 k, p = cf_v16f_expm1_poly(x, &k);
    return _mm512_scalef_ps(_mm512_add_ps(p, _mm512_set1_ps(1.0f)), k);
}
static inline __m512 cf_v16f_expm1(__m512 x) {
    __m512 k, p = cf_v16f_expm1_poly(x, &k);
    __m512 two_k = _mm512_scalef_ps(_mm512_set1_ps(1.0f), k);
    return _mm512_add_ps(_mm512_scalef_ps(p, k), _mm512_sub_ps(two_k, _mm512_set1_ps(1.0f)));
}

/* ---- double: 8 lanes ---- */
static inline __m512d cf_v8d_expm1_poly(__m512d x, __m512d *k) {
    x = _mm512_max_pd(_mm512_set1_pd(-1500.0), _mm512_min_pd(_mm512_set1_pd(1500.0), x));
    *k = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634074)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(*k, _mm512_set1_pd(6.93147180369123816490e-01), x);
    r = _mm512_fnmadd_pd(*k, _mm512_set1_pd(1.90821492927058770002e-10), r);
    /* q(r) = sum a_i r^i, a_i = 1/(i+2)!, i = 0..11, by Estrin's scheme (6 FMAs deep, not 12) */
#define CF_A(i) _mm512_set1_pd(cf_inv_fact[(i) + 2])
    static const double cf_inv_fact[] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720,
                                         1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,
                                         1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};
    const __m512d r2 = _mm512_mul_pd(r, r), r4 = _mm512_mul_pd(r2, r2);
    const __m512d p01 = _mm512_fmadd_pd(CF_A(1), r, CF_A(0)), p23 = _mm512_fmadd_pd(CF_A(3), r, CF_A(2));
    const __m512d p45 = _mm512_fmadd_pd(CF_A(5), r, CF_A(4)), p67 = _mm512_fmadd_pd(CF_A(7), r, CF_A(6));
    const __m512d p89 = _mm512_fmadd_pd(CF_A(9), r, CF_A(8)), pab = _mm512_fmadd_pd(CF_A(11), r, CF_A(10));
#undef CF_A
    const __m512d q0 = _mm512_fmadd_pd(p23, r2, p01), q1 = _mm512_fmadd_pd(p67, r2, p45);
    const __m512d q2 = _mm512_fmadd_pd(pab, r2, p89);
    const __m512d q = _mm512_fmadd_pd(_mm512_fmadd_pd(q2, r4, q1), r4, q0);
    return _mm512_fmadd_pd(q, r2, r);
}
static inline __m512d cf_v8d_exp(__m512d x) {
    __m512d k, p = cf_v8d_expm1_poly(x, &k);
    return _mm512_scalef_pd(_mm512_add_pd(p, _mm512_set1_pd(1.0)), k);
}
static inline __m512d cf_v8d_expm1(__m512d x) {
    __m512d k, p = cf_v8d_expm1_poly(x, &k);
    __m512d two_k = _mm512_scalef_pd(_mm512_set1_pd(1.0), k);
    return _mm512_add_pd(_mm512_scalef_pd(p, k), _mm512_sub_pd(two_k, _mm512_set1_pd(1.0)));
}

static inline __mmask16 cf_v16f_tail(cf_int k) { return (__mmask16)((1u << k) - 1u); }
static inline __mmask8 cf_v8d_tail(cf_int k) { return (__mmask8)((1u << k) - 1u); }
static inline __mmask16 cf_v16f_bytes(const uint8_t *p) {
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    return _mm_test_epi8_mask(b, b);
}
static inline __mmask16 cf_v16f_bytes_m(const uint8_t *p, __mmask16 m) {
    __m128i b = _mm_maskz_loadu_epi8(m, p);
    return _mm_test_epi8_mask(b, b);
}
static inline __mmask8 cf_v8d_bytes(const uint8_t *p) {
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return (__mmask8)_mm_test_epi8_mask(b, b);
}
static inline __mmask8 cf_v8d_bytes_m(const uint8_t *p, __mmask8 m) {
    __m128i b = _mm_maskz_loadu_epi8((__mmask16)m, p);
    return (__mmask8)_mm_test_epi8_mask(b, b);
}

#define CF_VEC_ALIGN 64

#define F32_T float
#define F32_V __m512
#define F32_C __mmask16
#define F32_TM __mmask16
#define F32_W 16
#define F32_NAME(op) cf_f32_##op##__avx512
#define F32_LOAD(p) _mm512_loadu_ps(p)
#define F32_STORE(p, v) _mm512_storeu_ps((p), (v))
#define F32_STREAM(p, v) _mm512_stream_ps((p), (v))
#define F32_TMASK(k) cf_v16f_tail(k)
#define F32_MLOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define F32_MLOADF(p, m, fill) _mm512_mask_loadu_ps((fill), (m), (p))
#define F32_MSTORE(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define F32_SET1(s) _mm512_set1_ps(s)
#define F32_ADD _mm512_add_ps
#define F32_SUB _mm512_sub_ps
#define F32_MUL _mm512_mul_ps
#define F32_DIV _mm512_div_ps
#define F32_SQRT _mm512_sqrt_ps
#define F32_FMA _mm512_fmadd_ps
#define F32_MAX _mm512_max_ps
#define F32_GT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define F32_LE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LE_OQ)
#define F32_SEL(c, a, b) _mm512_mask_blend_ps((c), (b), (a))
#define F32_ABS(v) _mm512_abs_ps(v)
#define F32_COPYSIGN(mag, s) _mm512_or_ps((mag), _mm512_and_ps((s), _mm512_set1_ps(-0.0f)))
#define F32_HSUM(v) _mm512_reduce_add_ps(v)
#define F32_HMAX(v) _mm512_reduce_max_ps(v)
#define F32_EXP cf_v16f_exp
#define F32_EXPM1 cf_v16f_expm1
#define F32_BYTES(p) cf_v16f_bytes(p)
#define F32_BYTES_M(p, m) cf_v16f_bytes_m((p), (m))
#define F32_TO_LANES(v, a) _mm512_storeu_ps((a), (v))
#define F32_FROM_LANES(a) _mm512_loadu_ps(a)

#define F64_T double
#define F64_V __m512d
#define F64_C __mmask8
#define F64_TM __mmask8
#define F64_W 8
#define F64_NAME(op) cf_f64_##op##__avx512
#define F64_LOAD(p) _mm512_loadu_pd(p)
#define F64_STORE(p, v) _mm512_storeu_pd((p), (v))
#define F64_STREAM(p, v) _mm512_stream_pd((p), (v))
#define F64_TMASK(k) cf_v8d_tail(k)
#define F64_MLOAD(p, m) _mm512_maskz_loadu_pd((m), (p))
#define F64_MLOADF(p, m, fill) _mm512_mask_loadu_pd((fill), (m), (p))
#define F64_MSTORE(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define F64_SET1(s) _mm512_set1_pd(s)
#define F64_ADD _mm512_add_pd
#define F64_SUB _mm512_sub_pd
#define F64_MUL _mm512_mul_pd
#define F64_DIV _mm512_div_pd
#define F64_SQRT _mm512_sqrt_pd
#define F64_FMA _mm512_fmadd_pd
#define F64_MAX _mm512_max_pd
#define F64_GT(a, b) _mm512_cmp_pd_mask((a), (b), _CMP_GT_OQ)
#define F64_LE(a, b) _mm512_cmp_pd_mask((a), (b), _CMP_LE_OQ)
#define F64_SEL(c, a, b) _mm512_mask_blend_pd((c), (b), (a))
#define F64_ABS(v) _mm512_abs_pd(v)
#define F64_COPYSIGN(mag, s) _mm512_or_pd((mag), _mm512_and_pd((s), _mm512_set1_pd(-0.0)))
#define F64_HSUM(v) _mm512_reduce_add_pd(v)
#define F64_HMAX(v) _mm512_reduce_max_pd(v)
#define F64_EXP cf_v8d_exp
#define F64_EXPM1 cf_v8d_expm1
#define F64_BYTES(p) cf_v8d_bytes(p)
#define F64_BYTES_M(p, m) cf_v8d_bytes_m((p), (m))
#define F64_TO_LANES(v, a) _mm512_storeu_pd((a), (v))
#define F64_FROM_LANES(a) _mm512_loadu_pd(a)

#define CF_VEC_FENCE() _mm_sfence()

#endif /* CF_KERNELS_AVX512_VEC_H */
