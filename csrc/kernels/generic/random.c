/* random.c (generic) -- the random-activation kernels in plain C, the twins of the SIMD ones and
 * the fallback: Philox4x32-10 one block at a time (kernels/random.h), the conversions and math
 * primitives of kernels/random_template.h from libm (fmaf/fma are the fused operations the SIMD
 * kernels use, so the results are the same bits), the template for float and double, the table. */
#include "kernels/random.h" /* first: it switches off FMA contraction for this file */

#include <math.h>

#include "vec.h"

#include "kernels/vec_names.h"

/* OUT w (64 words): the group of blocks block0 .. block0 + 15, stored word-major. */
static inline void cf_philox_group(uint64_t block0, const cf_philox_seed *s, uint32_t *w) {
    for (int l = 0; l < CF_PHILOX_LANES; l++) {
        const uint64_t b = block0 + (uint64_t)l;
        uint32_t c[4] = {(uint32_t)b, (uint32_t)(b >> 32), s->ctr[0], s->ctr[1]};
        cf_philox4x32_10(c, s->round);
        for (int j = 0; j < 4; j++) w[CF_PHILOX_LANES * j + l] = c[j];
    }
}

static inline float cf_f32_frexp12(float x, float *e) {
    int k;
    const float m = frexpf(x, &k);
    *e = (float)(k - 1);
    return 2 * m;
}
static inline double cf_f64_frexp12(double x, double *e) {
    int k;
    const double m = frexp(x, &k);
    *e = (double)(k - 1);
    return 2 * m;
}

#define F32_UNIFORM_INT(w) ((float)(*(w) >> 8))
#define F64_UNIFORM_INT(w) ((double)((w)[0] >> 5) * 0x1p26 + (double)((w)[16] >> 6))
#define F32_RFMA fmaf
#define F64_RFMA fma
#define F32_SQRT sqrtf
#define F64_SQRT sqrt
#define F32_ROUND rintf
#define F64_ROUND rint
#define F32_FREXP12 cf_f32_frexp12
#define F64_FREXP12 cf_f64_frexp12

#define VT F32
#include "kernels/random_template.h"
#undef VT
#define VT F64
#include "kernels/random_template.h"
#undef VT

static void cf_philox4x32_words__generic(cf_int groups, uint64_t group0, const cf_philox_seed *s, uint32_t *w) {
    for (cf_int g = 0; g < groups; g++) cf_philox_group((group0 + (uint64_t)g) * CF_PHILOX_LANES, s, w + 64 * g);
}

#define CF_RANDOM_TABLE(dt)                                                                         \
    .dt = {[CF_RANDOM_RRELU] = cf_##dt##_rrelu_philox__generic,                                     \
           [CF_RANDOM_GAUSSIAN_NOISE] = cf_##dt##_gaussian_noise_philox__generic,                   \
           [CF_RANDOM_NOISY_RELU] = cf_##dt##_noisy_relu_philox__generic,                           \
           [CF_RANDOM_DROPOUT] = cf_##dt##_dropout_philox__generic}

const cf_random_kernels cf_random__generic = {.words = cf_philox4x32_words__generic, CF_RANDOM_TABLE(f32),
                                              CF_RANDOM_TABLE(f64)};
