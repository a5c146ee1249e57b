/* random.c (avx2) -- the random-activation kernels for avx2: Philox4x32-10 on 16 blocks at once
 * (two ymm registers of 8 32-bit lanes per counter word), the conversions and math primitives that
 * kernels/random_template.h needs, the template stamped out for float and double, and the table. */
#include "kernels/random.h" /* first: it switches off FMA contraction for this file */

#include "vec.h"

#include "kernels/vec_names.h"

/* (hi, lo) 32-bit halves of the 32 x 32-bit products a * m, lane by lane: even lanes from one
 * vpmuludq, odd lanes from another on a shifted down by 32 bits. */
static inline __m256i cf_v8u_mulhilo(__m256i a, __m256i m, __m256i *lo) {
    const __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* OUT w (64 words): the group of blocks block0 .. block0 + 15 (block0 a multiple of 16, so the low
 * counter word never carries into the high one inside a group); blocks 0-7 in the first register
 * of each counter word, 8-15 in the second. */
static inline void cf_philox_group(uint64_t block0, const cf_philox_seed *s, uint32_t *w) {
    const __m256i m0 = _mm256_set1_epi32((int)CF_PHILOX_M0), m1 = _mm256_set1_epi32((int)CF_PHILOX_M1);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i c[2][4];
    for (int h = 0; h < 2; h++) {
        c[h][0] = _mm256_add_epi32(_mm256_set1_epi32((int)((uint32_t)block0 + 8u * (uint32_t)h)), lanes);
        c[h][1] = _mm256_set1_epi32((int)(uint32_t)(block0 >> 32));
        c[h][2] = _mm256_set1_epi32((int)s->ctr[0]);
        c[h][3] = _mm256_set1_epi32((int)s->ctr[1]);
    }
    for (int r = 0; r < 10; r++) {
        const __m256i key0 = _mm256_set1_epi32((int)s->round[r][0]), key1 = _mm256_set1_epi32((int)s->round[r][1]);
        for (int h = 0; h < 2; h++) {
            __m256i lo0, lo1;
            const __m256i hi0 = cf_v8u_mulhilo(c[h][0], m0, &lo0), hi1 = cf_v8u_mulhilo(c[h][2], m1, &lo1);
            c[h][0] = _mm256_xor_si256(_mm256_xor_si256(hi1, c[h][1]), key0);
            c[h][2] = _mm256_xor_si256(_mm256_xor_si256(hi0, c[h][3]), key1);
            c[h][1] = lo1;
            c[h][3] = lo0;
        }
    }
    for (int j = 0; j < 4; j++)
        for (int h = 0; h < 2; h++) _mm256_storeu_si256((__m256i *)(w + 16 * j + 8 * h), c[h][j]);
}

static inline __m256d cf_v4d_uniform_int(const uint32_t *w) {
    const __m128i hi = _mm_srli_epi32(_mm_loadu_si128((const __m128i *)w), 5);
    const __m128i lo = _mm_srli_epi32(_mm_loadu_si128((const __m128i *)(w + 16)), 6);
    return _mm256_fmadd_pd(_mm256_cvtepi32_pd(hi), _mm256_set1_pd(0x1p26), _mm256_cvtepi32_pd(lo));
}
/* x > 0 normal: exponent and mantissa read from the bits (the int64 exponent field becomes a
 * double through the 2^52 trick, AVX2 having no int64 -> double conversion) */
static inline __m256 cf_v8f_frexp12(__m256 x, __m256 *e) {
    const __m256i b = _mm256_castps_si256(x);
    *e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127)));
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007FFFFF)),
                                               _mm256_set1_epi32(0x3F800000)));
}
static inline __m256d cf_v4d_frexp12(__m256d x, __m256d *e) {
    const __m256i b = _mm256_castpd_si256(x);
    const __m256d biased = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(b, 52), _mm256_set1_epi64x(0x4330000000000000))),
        _mm256_set1_pd(0x1p52));
    *e = _mm256_sub_pd(biased, _mm256_set1_pd(1023));
    return _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi64x(0x000FFFFFFFFFFFFF)),
                                               _mm256_set1_epi64x(0x3FF0000000000000)));
}

#define F32_UNIFORM_INT(w) \
    _mm256_cvtepi32_ps(_mm256_srli_epi32(_mm256_loadu_si256((const __m256i *)(w)), 8))
#define F64_UNIFORM_INT(w) cf_v4d_uniform_int(w)
#define F32_RFMA _mm256_fmadd_ps
#define F64_RFMA _mm256_fmadd_pd
#define F32_SQRT _mm256_sqrt_ps
#define F64_SQRT _mm256_sqrt_pd
#define F32_ROUND(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define F64_ROUND(x) _mm256_round_pd((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define F32_FREXP12 cf_v8f_frexp12
#define F64_FREXP12 cf_v4d_frexp12

#define VT F32
#include "kernels/random_template.h"
#undef VT
#define VT F64
#include "kernels/random_template.h"
#undef VT

static void cf_philox4x32_words__avx2(cf_int groups, uint64_t group0, const cf_philox_seed *s, uint32_t *w) {
    for (cf_int g = 0; g < groups; g++) cf_philox_group((group0 + (uint64_t)g) * CF_PHILOX_LANES, s, w + 64 * g);
}

#define CF_RANDOM_TABLE(dt)                                                                         \
    .dt = {[CF_RANDOM_RRELU] = cf_##dt##_rrelu_philox__avx2,                                        \
           [CF_RANDOM_GAUSSIAN_NOISE] = cf_##dt##_gaussian_noise_philox__avx2,                      \
           [CF_RANDOM_NOISY_RELU] = cf_##dt##_noisy_relu_philox__avx2,                              \
           [CF_RANDOM_DROPOUT] = cf_##dt##_dropout_philox__avx2}

const cf_random_kernels cf_random__avx2 = {.words = cf_philox4x32_words__avx2, CF_RANDOM_TABLE(f32),
                                           CF_RANDOM_TABLE(f64)};
