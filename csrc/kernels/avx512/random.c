/* random.c (avx512) -- the random-activation kernels for avx512: Philox4x32-10 on 16 blocks at once
 * (one per 32-bit lane of a zmm register), the conversions and math primitives that
 * kernels/random_template.h needs, the template stamped out for float and double, and the table. */
#include "kernels/random.h" /* first: it switches off FMA contraction for this file */

#include "vec.h"

#include "kernels/vec_names.h"

/* (hi, lo) 32-bit halves of the 32 x 32-bit products a * m, lane by lane: even lanes from one
 * vpmuludq, odd lanes from another on a shifted down by 32 bits; each half is then gathered with
 * one masked in-lane shuffle (5 instructions in all). */
static inline __m512i cf_v16u_mulhilo(__m512i a, __m512i m, __m512i *lo) {
    const __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CCAA);  /* odd lanes <- odd's low */
    return _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_DDBB); /* even lanes <- even's high */
}

/* OUT w (64 words): the group of blocks block0 .. block0 + 15 (block0 a multiple of 16, so the low
 * counter word never carries into the high one inside a group). */
static inline void cf_philox_group(uint64_t block0, const cf_philox_seed *s, uint32_t *w) {
    const __m512i m0 = _mm512_set1_epi32((int)CF_PHILOX_M0), m1 = _mm512_set1_epi32((int)CF_PHILOX_M1);
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)block0),
                                  _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i c1 = _mm512_set1_epi32((int)(uint32_t)(block0 >> 32));
    __m512i c2 = _mm512_set1_epi32((int)s->ctr[0]), c3 = _mm512_set1_epi32((int)s->ctr[1]);
    for (int r = 0; r < 10; r++) {
        __m512i lo0, lo1;
        const __m512i hi0 = cf_v16u_mulhilo(c0, m0, &lo0), hi1 = cf_v16u_mulhilo(c2, m1, &lo1);
        /* a ^ b ^ key, the key broadcast from the schedule in memory */
        c0 = _mm512_ternarylogic_epi32(hi1, c1, _mm512_set1_epi32((int)s->round[r][0]), 0x96);
        c2 = _mm512_ternarylogic_epi32(hi0, c3, _mm512_set1_epi32((int)s->round[r][1]), 0x96);
        c1 = lo1;
        c3 = lo0;
    }
    _mm512_storeu_si512(w, c0);
    _mm512_storeu_si512(w + 16, c1);
    _mm512_storeu_si512(w + 32, c2);
    _mm512_storeu_si512(w + 48, c3);
}

static inline __m512d cf_v8d_uniform_int(const uint32_t *w) {
    const __m256i hi = _mm256_srli_epi32(_mm256_loadu_si256((const __m256i *)w), 5);
    const __m256i lo = _mm256_srli_epi32(_mm256_loadu_si256((const __m256i *)(w + 16)), 6);
    return _mm512_fmadd_pd(_mm512_cvtepi32_pd(hi), _mm512_set1_pd(0x1p26), _mm512_cvtepi32_pd(lo));
}
static inline __m512 cf_v16f_frexp12(__m512 x, __m512 *e) {
    *e = _mm512_getexp_ps(x);
    return _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
}
static inline __m512d cf_v8d_frexp12(__m512d x, __m512d *e) {
    *e = _mm512_getexp_pd(x);
    return _mm512_getmant_pd(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
}

#define F32_UNIFORM_INT(w) _mm512_cvtepi32_ps(_mm512_srli_epi32(_mm512_loadu_si512(w), 8))
#define F64_UNIFORM_INT(w) cf_v8d_uniform_int(w)
#define F32_RFMA _mm512_fmadd_ps
#define F64_RFMA _mm512_fmadd_pd
#define F32_SQRT _mm512_sqrt_ps
#define F64_SQRT _mm512_sqrt_pd
#define F32_ROUND(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define F64_ROUND(x) _mm512_roundscale_pd((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define F32_FREXP12 cf_v16f_frexp12
#define F64_FREXP12 cf_v8d_frexp12

#define VT F32
#include "kernels/random_template.h"
#undef VT
#define VT F64
#include "kernels/random_template.h"
#undef VT

static void cf_philox4x32_words__avx512(cf_int groups, uint64_t group0, const cf_philox_seed *s, uint32_t *w) {
    for (cf_int g = 0; g < groups; g++) cf_philox_group((group0 + (uint64_t)g) * CF_PHILOX_LANES, s, w + 64 * g);
}

#define CF_RANDOM_TABLE(dt)                                                                         \
    .dt = {[CF_RANDOM_RRELU] = cf_##dt##_rrelu_philox__avx512,                                      \
           [CF_RANDOM_GAUSSIAN_NOISE] = cf_##dt##_gaussian_noise_philox__avx512,                    \
           [CF_RANDOM_NOISY_RELU] = cf_##dt##_noisy_relu_philox__avx512,                            \
           [CF_RANDOM_DROPOUT] = cf_##dt##_dropout_philox__avx512}

const cf_random_kernels cf_random__avx512 = {.words = cf_philox4x32_words__avx512, CF_RANDOM_TABLE(f32),
                                             CF_RANDOM_TABLE(f64)};
