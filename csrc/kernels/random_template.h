/* random_template.h -- the random-activation kernels of kernels/random.h, written once over the
 * vector layer. Included by kernels/<isa>/random.c once per dtype (VT = F32, F64) after that file
 * has defined, besides its vec.h:
 *   cf_philox_group(block0, seed, w)   the 64 words of the group starting at block block0
 *   <VT>_UNIFORM_INT(w)                the uniforms' integers k of W consecutive elements, whose
 *                                      words start at w: U = k * <VT>_USCALE (exact)
 *   <VT>_RFMA, _SQRT, _ROUND           fused a * b + c, square root, round to nearest even
 *   <VT>_FREXP12(x, &e)                x = m 2^e, m in [1, 2) returned, e integer-valued (x > 0)
 *
 * Box-Muller (reference/_random.py): for u1 in (0, 1], u2 in [0, 1)
 *   log u1:  u1 = m 2^e with m in [0.75, 1.5); log m = 2 atanh(s) = 2s + 2s z Q(z), s = (m-1)/(m+1),
 *            z = s^2 <= 0.04, Q the Taylor series of atanh(s)/s - 1 over z cut where its next term
 *            is below 2^-25 (float) / 2^-54 (double) of the result; + e ln2 in two parts.
 *   2 pi u2: 4 u2 = q + f exactly (q = round(4 u2), |f| <= 1/2); sin and cos of f pi/2 by their
 *            Taylor polynomials in f (|f pi/2| <= pi/4; cut below 2^-25 / 2^-54 relative), then
 *            turned by q quarter turns with the exact factors cos(q pi/2) = |q - 2| - 1 and
 *            sin(q pi/2) = max(0, 1 - |q - 1|) - max(0, 1 - |q - 3|) (q in 0..4).
 * Each is accurate to a few ulp; the tests hold the normals to the float64 reference. */

#ifndef CF_RANDOM_TEMPLATE_NAMES
#define CF_RANDOM_TEMPLATE_NAMES
#define UNIFORM_INT CF_VJOIN(VT, UNIFORM_INT)
#define USCALE CF_VJOIN(VT, USCALE)
#define RFMA CF_VJOIN(VT, RFMA)
#define SQRT CF_VJOIN(VT, SQRT)
#define ROUND CF_VJOIN(VT, ROUND)
#define FREXP12 CF_VJOIN(VT, FREXP12)
#define RGROUP CF_VJOIN(CF, CF_VJOIN(VT, RGROUP))
#define UPOS CF_VJOIN(CF, CF_VJOIN(VT, UPOS))
#define F32_USCALE 0x1p-24
#define F64_USCALE 0x1p-53
/* ln 2 = HI + LO, HI with trailing zero bits so that e * HI is exact */
#define F32_LN2_HI 0.693145751953125
#define F32_LN2_LO 1.428606765330187045e-06
#define F64_LN2_HI 6.93147180369123816490e-01
#define F64_LN2_LO 1.90821492927058770002e-10
#define LN2_HI CF_VJOIN(VT, LN2_HI)
#define LN2_LO CF_VJOIN(VT, LN2_LO)
/* terms of the polynomials: Q of log, sin, cos */
#define F32_LOG_TERMS 5
#define F64_LOG_TERMS 11
#define F32_SIN_TERMS 5
#define F64_SIN_TERMS 9
#define F32_COS_TERMS 6
#define F64_COS_TERMS 9
#define LOG_TERMS CF_VJOIN(VT, LOG_TERMS)
#define SIN_TERMS CF_VJOIN(VT, SIN_TERMS)
#define COS_TERMS CF_VJOIN(VT, COS_TERMS)
/* store a whole vector, non-temporal when the call streams */
#define PUT(ptr, v) ((stream) ? STREAM((ptr), (v)) : STORE((ptr), (v)))

/* 1 / (2i + 3): Q(z) = sum over i of z^i / (2i + 3) */
static const double cf_atanh_q[] = {1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,  1.0 / 11, 1.0 / 13,
                                    1.0 / 15, 1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23};
/* (-1)^i (pi/2)^(2i+1) / (2i+1)!: sin(f pi/2) = f * sum of these times f^(2i) */
static const double cf_sin_half_pi[] = {
    0x1.921fb54442d18p+0,  -0x1.4abbce625be53p-1, 0x1.466bc6775aae2p-4,  -0x1.32d2cce62bd86p-8,
    0x1.50783487ee782p-13, -0x1.e3074fde8871fp-19, 0x1.e8f434d018d63p-25, -0x1.6fadb9f155744p-31,
    0x1.aaec32af93359p-38};
/* (-1)^i (pi/2)^(2i) / (2i)!: cos(f pi/2) = sum of these times f^(2i) */
static const double cf_cos_half_pi[] = {
    0x1.0000000000000p+0,  -0x1.3bd3cc9be45dep+0, 0x1.03c1f081b5ac4p-2,  -0x1.55d3c7e3cbffap-6,
    0x1.e1f506891babbp-11, -0x1.a6d1f2a204a8cp-16, 0x1.f9d38a3763cc3p-22, -0x1.b6e24f44b128fp-28,
    0x1.20c62c2f2d7f5p-34};
#endif

/* sum over i < terms of c[i] z^i, by Horner with fused steps */
static inline V FN(horner)(V z, const double *c, int terms) {
    V p = SET1(c[terms - 1]);
    for (int i = terms - 2; i >= 0; i--) p = RFMA(p, z, SET1(c[i]));
    return p;
}

/* U of the W elements whose words start at w */
static inline V FN(uniform)(const uint32_t *w) { return MUL(UNIFORM_INT(w), SET1(USCALE)); }

/* log u for u in [2^-53, 1] */
static inline V FN(log_unit)(V u) {
    V e, m = FREXP12(u, &e);
    const CMPT big = LE(SET1(1.5), m);
    m = SEL(big, MUL(m, SET1(0.5)), m);
    e = SEL(big, ADD(e, SET1(1)), e);
    const V s = DIV(SUB(m, SET1(1)), ADD(m, SET1(1))), z = MUL(s, s), two_s = ADD(s, s);
    const V log_m = RFMA(MUL(two_s, z), FN(horner)(z, cf_atanh_q, LOG_TERMS), two_s);
    return RFMA(e, SET1(LN2_HI), RFMA(e, SET1(LN2_LO), log_m));
}

/* cos and sin of 2 pi u for u in [0, 1) */
static inline void FN(cos_sin_turn)(V u, V *cos_t, V *sin_t) {
    const V t = MUL(u, SET1(4)), q = ROUND(t), f = SUB(t, q), z = MUL(f, f);
    const V s = MUL(f, FN(horner)(z, cf_sin_half_pi, SIN_TERMS)), c = FN(horner)(z, cf_cos_half_pi, COS_TERMS);
    const V one = SET1(1), zero = SET1(0);
    const V cq = SUB(ABS(SUB(q, SET1(2))), one);
    const V sq = SUB(MAX(zero, SUB(one, ABS(SUB(q, one)))), MAX(zero, SUB(one, ABS(SUB(q, SET1(3))))));
    *cos_t = SUB(MUL(c, cq), MUL(s, sq));
    *sin_t = ADD(MUL(s, cq), MUL(c, sq));
}

/* The normals of elements e (cosine) and e + 16 (sine), e % 32 < 16, of the group's words w. */
static inline void FN(box_muller)(const uint32_t *w, int e, V *zc, V *zs) {
    const V u1 = SUB(SET1(1), FN(uniform)(w + UPOS(e))), u2 = FN(uniform)(w + UPOS(e + 16));
    const V r = SQRT(MUL(SET1(-2), FN(log_unit)(u1)));
    V c, s;
    FN(cos_sin_turn)(u2, &c, &s);
    *zc = MUL(r, c);
    *zs = MUL(r, s);
}

/* ---- the kernels (contracts in kernels/random.h) ---- */

void KN(rrelu_philox)(cf_int groups, uint64_t group0, const cf_philox_seed *seed, const void *x_, void *y_,
                      void *slopes_, const cf_random_params *p) {
    const T *x = x_;
    T *y = y_, *slopes = slopes_;
    const int stream = p->stream;
    const V lower = SET1((T)p->lower), width = SET1((T)p->width), zero = SET1(0);
    _Alignas(CF_ALIGN) uint32_t w[4 * CF_PHILOX_LANES];
    for (cf_int g = 0; g < groups; g++, x += RGROUP, y += RGROUP, slopes += RGROUP) {
        cf_philox_group((group0 + (uint64_t)g) * CF_PHILOX_LANES, seed, w);
        for (int e = 0; e < RGROUP; e += W) {
            const V s = ADD(lower, MUL(width, FN(uniform)(w + UPOS(e)))), v = LOAD(x + e);
            PUT(slopes + e, s);
            PUT(y + e, SEL(GT(v, zero), v, MUL(v, s)));
        }
    }
    if (stream) CF_VEC_FENCE();
}

/* gaussian_noise (OUT = x + noise) and noisy_relu (OUT = relu(x + noise), NaN propagating) */
#define CF_NOISE_OUT_gaussian_noise(v, n) ADD((v), (n))
#define CF_NOISE_OUT_noisy_relu(v, n) FN(relu_of)(ADD((v), (n)))
static inline V FN(relu_of)(V t) { return SEL(LE(t, SET1(0)), SET1(0), t); }

#define CF_NOISE_KERNEL(op)                                                                           \
    void KN(op##_philox)(cf_int groups, uint64_t group0, const cf_philox_seed *seed, const void *x_,  \
                         void *y_, void *noise_, const cf_random_params *p) {                         \
        const T *x = x_;                                                                              \
        T *y = y_, *noise = noise_;                                                                   \
        const int stream = p->stream;                                                                 \
        const V sd = SET1((T)p->stddev);                                                              \
        _Alignas(CF_ALIGN) uint32_t w[4 * CF_PHILOX_LANES];                                           \
        for (cf_int g = 0; g < groups; g++, x += RGROUP, y += RGROUP, noise += RGROUP) {              \
            cf_philox_group((group0 + (uint64_t)g) * CF_PHILOX_LANES, seed, w);                       \
            for (int h = 0; h < RGROUP; h += 32)                                                      \
                for (int l = 0; l < 16; l += W) {                                                     \
                    const int e = h + l;                                                              \
                    V zc, zs;                                                                         \
                    FN(box_muller)(w, e, &zc, &zs);                                                   \
                    const V nc = MUL(sd, zc), ns = MUL(sd, zs);                                       \
                    PUT(noise + e, nc);                                                               \
                    PUT(noise + e + 16, ns);                                                          \
                    PUT(y + e, CF_NOISE_OUT_##op(LOAD(x + e), nc));                                   \
                    PUT(y + e + 16, CF_NOISE_OUT_##op(LOAD(x + e + 16), ns));                         \
                }                                                                                     \
        }                                                                                             \
        if (stream) CF_VEC_FENCE();                                                                   \
    }
CF_NOISE_KERNEL(gaussian_noise)
CF_NOISE_KERNEL(noisy_relu)

/* dropout: the group's 64 mask bytes first (one word per element), then y = x * (kept ? scale : 0),
 * a product, so a dropped NaN stays NaN (as PyTorch) */
void KN(dropout_philox)(cf_int groups, uint64_t group0, const cf_philox_seed *seed, const void *x_, void *y_,
                        void *mask_, const cf_random_params *p) {
    const T *x = x_;
    T *y = y_;
    uint8_t *mask = mask_;
    const int stream = p->stream;
    const uint32_t threshold = p->threshold;
    const V keep = SET1((T)p->scale), zero = SET1(0);
    _Alignas(CF_ALIGN) uint32_t w[4 * CF_PHILOX_LANES];
    for (cf_int g = 0; g < groups; g++, x += CF_DROPOUT_GROUP, y += CF_DROPOUT_GROUP, mask += CF_DROPOUT_GROUP) {
        cf_philox_group((group0 + (uint64_t)g) * CF_PHILOX_LANES, seed, w);
        for (int e = 0; e < CF_DROPOUT_GROUP; e++) mask[e] = (w[e] >> 8) >= threshold;
        for (int e = 0; e < CF_DROPOUT_GROUP; e += W) PUT(y + e, MUL(LOAD(x + e), SEL(BYTES(mask + e), keep, zero)));
    }
    if (stream) CF_VEC_FENCE();
}
