/* avx2/gemm.c -- GEMM microkernels for AVX2 + FMA (16 ymm registers).
 *
 * f32 6x16: 6 rows x 2 ymm = 12 accumulators, 2 ymm for the B row and 1 for the broadcast A value
 * (15 of 16 registers); the B row sixteen steps ahead is prefetched, and a line of the frame's
 * prefetch stream every few steps when it passes one. f64 6x8 is the same tile in doubles.
 * Contract: kernels/gemm.h. */
#include <immintrin.h>

#include "kernels/gemm.h"
#include "kernels/x86_pack.h"

#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)

#define DECL(i) VEC c##i##0 = VZERO(), c##i##1 = VZERO();
#define STEP(i)                                                                                    \
    if (i < M) {                                                                                   \
        const VEC ai = VSET1(a[i]);                                                                \
        c##i##0 = VFMA(ai, b0, c##i##0);                                                           \
        c##i##1 = VFMA(ai, b1, c##i##1);                                                           \
    }
#define STORE0(i)                                                                                  \
    if (i < M) VSTOREU(c + i * rs_c, VMUL(va, c##i##0));                                           \
    if (i < M) VSTOREU(c + i * rs_c + W, VMUL(va, c##i##1));
#define STOREB(i)                                                                                  \
    if (i < M) VSTOREU(c + i * rs_c, VFMA(vb, VLOADU(c + i * rs_c), VMUL(va, c##i##0)));           \
    if (i < M) VSTOREU(c + i * rs_c + W, VFMA(vb, VLOADU(c + i * rs_c + W), VMUL(va, c##i##1)));

/* The kernel entry for every row count m <= 6: `_rows` specialised per M (and per OFF: B in place
 * at ldb, or at the offsets boff). */
#define DISPATCH_ROWS6(NAME, OFF, LDB, BOFF, PF)                                                   \
    const S *a = (const S *)a_, *b = (const S *)b_;                                                \
    S *c = (S *)c_;                                                                                \
    const S alpha = *(const S *)alpha_, beta = *(const S *)beta_;                                  \
    switch (m) {                                                                                   \
    case 1: NAME##_rows(1, OFF, k, a, b, LDB, BOFF, c, rs_c, alpha, beta, PF); break;              \
    case 2: NAME##_rows(2, OFF, k, a, b, LDB, BOFF, c, rs_c, alpha, beta, PF); break;              \
    case 3: NAME##_rows(3, OFF, k, a, b, LDB, BOFF, c, rs_c, alpha, beta, PF); break;              \
    case 4: NAME##_rows(4, OFF, k, a, b, LDB, BOFF, c, rs_c, alpha, beta, PF); break;              \
    case 5: NAME##_rows(5, OFF, k, a, b, LDB, BOFF, c, rs_c, alpha, beta, PF); break;              \
    default: NAME##_rows(6, OFF, k, a, b, LDB, BOFF, c, rs_c, alpha, beta, PF); break;             \
    }

/* The 6 x 2W kernel body, written once for both dtypes (VEC, S, W and the V* ops set below) and
 * specialised for each row count M by the switch (rows past M compile away); OFF_NAME is the same
 * kernel reading B's rows at b + boff[p] (kernels/gemm.h, cf_gemm_ukernel_off_fn). */
#define DEFINE_UKERNEL_6X2W(NAME, OFF_NAME)                                                        \
    static inline __attribute__((always_inline)) void NAME##_rows(                                 \
        const int M, const int OFF, cf_int k, const S *a, const S *b, cf_int ldb,                  \
        const cf_int *boff, S *c, cf_int rs_c, S alpha, S beta, cf_gemm_prefetch *pf) {            \
        ROWS6(DECL)                                                                                \
        cf_gemm_prefetch stream = cf_pf_open(pf);                                                  \
        for (cf_int p = 0; p < k; ++p) {                                                           \
            const S *bp = OFF ? b + boff[p] : b;                                                   \
            const S *ahead = OFF ? b + boff[p + CF_GEMM_BOFF_AHEAD] : b + 16 * ldb;                \
            const VEC b0 = VLOADU(bp), b1 = VLOADU(bp + W);                                        \
            _mm_prefetch((const char *)ahead, _MM_HINT_T0);                                        \
            ROWS6(STEP)                                                                            \
            a += 6;                                                                                \
            if (!OFF) b += ldb;                                                                    \
            cf_pf_step(&stream, p);                                                                \
        }                                                                                          \
        cf_pf_close(pf, &stream);                                                                  \
        const VEC va = VSET1(alpha);                                                               \
        if (beta == (S)0) {                                                                        \
            ROWS6(STORE0)                                                                          \
        } else {                                                                                   \
            const VEC vb = VSET1(beta);                                                            \
            ROWS6(STOREB)                                                                          \
        }                                                                                          \
    }                                                                                              \
    void NAME(cf_int k, int m, const void *a_, const void *b_, cf_int ldb, void *c_, cf_int rs_c,  \
              const void *alpha_, const void *beta_, cf_gemm_prefetch *pf) {                       \
        DISPATCH_ROWS6(NAME, 0, ldb, NULL, pf)                                                     \
    }                                                                                              \
    void OFF_NAME(cf_int k, int m, const void *a_, const void *b_, const cf_int *boff, void *c_,   \
                  cf_int rs_c, const void *alpha_, const void *beta_) {                            \
        DISPATCH_ROWS6(NAME, 1, 0, boff, NULL)                                                     \
    }

/* Dot-product kernels (contract: kernels/gemm.h): an m x 4 block of dot products along k, 8 (4)
 * lanes of k per step, the k tail under a mask; one function per m so the accumulators stay in
 * registers as far as 16 ymm allow. */
#define DEFINE_DOT_M(NAME, M)                                                                      \
    static void NAME(cf_int k, const S *a, cf_int lda, const S *const *b, S *t) {                  \
        VEC acc[M][4];                                                                             \
        for (int i = 0; i < M; ++i)                                                                \
            for (int j = 0; j < 4; ++j) acc[i][j] = VZERO();                                       \
        const __m256i lane = LANES;                                                                \
        for (cf_int p = 0; p < k; p += W) {                                                        \
            const __m256i msk = MASKGT(SET1I(k - p), lane);                                        \
            VEC vb[4];                                                                             \
            for (int j = 0; j < 4; ++j) vb[j] = VMASKLOAD(b[j] + p, msk);                          \
            for (int i = 0; i < M; ++i) {                                                          \
                const VEC va = VMASKLOAD(a + i * lda + p, msk);                                    \
                for (int j = 0; j < 4; ++j) acc[i][j] = VFMA(va, vb[j], acc[i][j]);                \
            }                                                                                      \
        }                                                                                          \
        for (int i = 0; i < M; ++i)                                                                \
            for (int j = 0; j < 4; ++j) {                                                          \
                S lanes[W];                                                                        \
                VSTOREU(lanes, acc[i][j]);                                                         \
                S sum = 0;                                                                         \
                for (int l = 0; l < W; ++l) sum += lanes[l];                                       \
                t[i * 4 + j] = sum;                                                                \
            }                                                                                      \
    }

#define DEFINE_DOT(NAME)                                                                           \
    DEFINE_DOT_M(NAME##_m1, 1)                                                                     \
    DEFINE_DOT_M(NAME##_m2, 2)                                                                     \
    DEFINE_DOT_M(NAME##_m3, 3)                                                                     \
    DEFINE_DOT_M(NAME##_m4, 4)                                                                     \
    void NAME(cf_int k, int m, int n, const void *a_, cf_int lda, const void *b_, cf_int ldb,      \
              void *t_) {                                                                          \
        const S *a = (const S *)a_, *b0 = (const S *)b_;                                           \
        const S *b[4] = {b0, n > 1 ? b0 + ldb : b0, n > 2 ? b0 + 2 * ldb : b0,                     \
                         n > 3 ? b0 + 3 * ldb : b0}; /* missing rows repeat row 0 */               \
        S *t = (S *)t_;                                                                            \
        switch (m) {                                                                               \
        case 1: NAME##_m1(k, a, lda, b, t); break;                                                 \
        case 2: NAME##_m2(k, a, lda, b, t); break;                                                 \
        case 3: NAME##_m3(k, a, lda, b, t); break;                                                 \
        default: NAME##_m4(k, a, lda, b, t); break;                                                \
        }                                                                                          \
    }

#define S float
#define VEC __m256
#define W 8
#define VZERO _mm256_setzero_ps
#define VSET1 _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define VMUL _mm256_mul_ps
#define VLOADU _mm256_loadu_ps
#define VSTOREU _mm256_storeu_ps
#define LANES _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
#define SET1I(v) _mm256_set1_epi32((int)CF_MIN((v), (cf_int)W))
#define MASKGT _mm256_cmpgt_epi32
#define VMASKLOAD _mm256_maskload_ps
DEFINE_UKERNEL_6X2W(cf_f32_gemm_ukernel_6x16__avx2, cf_f32_gemm_ukernel_off_6x16__avx2)
DEFINE_DOT(cf_f32_gemm_dot_4x4__avx2)
#undef S
#undef VEC
#undef W
#undef VZERO
#undef VSET1
#undef VFMA
#undef VMUL
#undef VLOADU
#undef VSTOREU
#undef LANES
#undef SET1I
#undef MASKGT
#undef VMASKLOAD

#define S double
#define VEC __m256d
#define W 4
#define VZERO _mm256_setzero_pd
#define VSET1 _mm256_set1_pd
#define VFMA _mm256_fmadd_pd
#define VMUL _mm256_mul_pd
#define VLOADU _mm256_loadu_pd
#define VSTOREU _mm256_storeu_pd
#define LANES _mm256_setr_epi64x(0, 1, 2, 3)
#define SET1I(v) _mm256_set1_epi64x((long long)CF_MIN((v), (cf_int)W))
#define MASKGT _mm256_cmpgt_epi64
#define VMASKLOAD _mm256_maskload_pd
DEFINE_UKERNEL_6X2W(cf_f64_gemm_ukernel_6x8__avx2, cf_f64_gemm_ukernel_off_6x8__avx2)
DEFINE_DOT(cf_f64_gemm_dot_4x4__avx2)

CF_DEFINE_PACK_ROWS(cf_f32_gemm_pack_rows_8x8__avx2, float, 8, cf_transpose8x8_ps, cf_transpose4x4_ps)
CF_DEFINE_PACK_ROWS(cf_f64_gemm_pack_rows_4x4__avx2, double, 4, cf_transpose4x4_pd, cf_transpose2x2_pd)

const cf_gemm_kernels cf_gemm__avx2 = {
    .f32 = {6, 16, 6 * 40, 256, 4096, cf_f32_gemm_ukernel_6x16__avx2, "cf_f32_gemm_ukernel_6x16__avx2",
            cf_f32_gemm_ukernel_off_6x16__avx2},
    .f64 = {6, 8, 6 * 40, 256, 2048, cf_f64_gemm_ukernel_6x8__avx2, "cf_f64_gemm_ukernel_6x8__avx2",
            cf_f64_gemm_ukernel_off_6x8__avx2},
    .dot_f32 = cf_f32_gemm_dot_4x4__avx2,
    .dot_f64 = cf_f64_gemm_dot_4x4__avx2,
    .pack_rows_f32 = cf_f32_gemm_pack_rows_8x8__avx2,
    .pack_rows_f64 = cf_f64_gemm_pack_rows_4x4__avx2,
};
