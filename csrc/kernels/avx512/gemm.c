/* avx512/gemm.c -- GEMM microkernels for AVX-512 (32 zmm registers; Zen 5 has two 512-bit FMA
 * pipes, Zen 4 splits each 512-bit FMA into two 256-bit halves).
 *
 * f32 14x32: 14 rows x 2 zmm = 28 accumulators, 2 zmm for the B row, 1 for the broadcast A value:
 * per k step 2 loads + 14 broadcasts feed 28 independent FMAs, enough chains to cover the FMA
 * latency on both pipes. The B row sixteen steps ahead is prefetched (they come from
 * memory when B is read in place), and a line of the frame's prefetch stream every few steps when
 * it passes one. f64 14x16 is the same tile in doubles. The left half of each tile (14x16, f64
 * 14x8) is a kernel of its own for edge panels at most that wide. Measured on the Zen 4 development machine:
 * the 14x32 kernel runs at the speed of a register-only FMA loop when its panels are in L1 (the
 * f64 kernel at 98% of the float64 peak with C in cache). Contract: kernels/gemm.h. */
#include <immintrin.h>

#include "kernels/gemm.h"
#include "kernels/x86_pack.h"

#define DECL(i, ...) VEC c##i##0 = VZERO(), c##i##1 = VZERO();
#define STEP(i, ...)                                                                               \
    if (i < M) {                                                                                   \
        const VEC ai = VSET1(a[i]);                                                                \
        c##i##0 = VFMA(ai, b0, c##i##0);                                                           \
        if (!H) c##i##1 = VFMA(ai, b1, c##i##1);                                                   \
    }
#define STORE0(i, ...)                                                                             \
    if (i < M) VSTOREU(c + i * rs_c, VMUL(va, c##i##0));                                           \
    if (i < M && !H) VSTOREU(c + i * rs_c + W, VMUL(va, c##i##1));
#define STOREB(i, ...)                                                                             \
    if (i < M) VSTOREU(c + i * rs_c, VFMA(vb, VLOADU(c + i * rs_c), VMUL(va, c##i##0)));           \
    if (i < M && !H) VSTOREU(c + i * rs_c + W, VFMA(vb, VLOADU(c + i * rs_c + W), VMUL(va, c##i##1)));

/* The kernel entry for every row count 1 <= m <= 14: `_rows` specialised per M (and per OFF: B in
 * place at ldb, or at the offsets boff; per H: the whole tile, or its left half W wide). */
#define ROWS_CASE(i, NAME, OFF, H, LDB, BOFF, PF)                                                  \
    case i + 1:                                                                                    \
        NAME##_rows(i + 1, OFF, H, k, a, b, LDB, BOFF, c, rs_c, alpha, beta, PF);                  \
        break;
#define DISPATCH_ROWS14(NAME, OFF, H, LDB, BOFF, PF)                                               \
    const S *a = (const S *)a_, *b = (const S *)b_;                                                \
    S *c = (S *)c_;                                                                                \
    const S alpha = *(const S *)alpha_, beta = *(const S *)beta_;                                  \
    switch (m) {                                                                                   \
        CF_ROWS14(ROWS_CASE, NAME, OFF, H, LDB, BOFF, PF)                                          \
    }

/* The 14 x 2W kernel body, written once for both dtypes (VEC, S, W and the V* ops set below) and
 * specialised for each row count M by the switch (rows past M compile away); OFF_NAME is the same
 * kernel reading B's rows at b + boff[p] (kernels/gemm.h, cf_gemm_ukernel_off_fn). */
#define DEFINE_UKERNEL_14X2W(NAME, OFF_NAME, HALF_NAME)                                            \
    static inline __attribute__((always_inline)) void NAME##_rows(                                 \
        const int M, const int OFF, const int H, cf_int k, const S *a, const S *b, cf_int ldb,     \
        const cf_int *boff, S *c, cf_int rs_c, S alpha, S beta, cf_gemm_prefetch *pf) {            \
        CF_ROWS14(DECL)                                                                               \
        cf_gemm_prefetch stream = cf_pf_open(pf);                                                  \
        for (cf_int p = 0; p < k; ++p) {                                                           \
            const S *bp = OFF ? b + boff[p] : b;                                                   \
            const S *ahead = OFF ? b + boff[p + CF_GEMM_BOFF_AHEAD] : b + 16 * ldb;                \
            const VEC b0 = VLOADU(bp), b1 = H ? VZERO() : VLOADU(bp + W);                          \
            _mm_prefetch((const char *)ahead, _MM_HINT_T0);                                        \
            if (!H) _mm_prefetch((const char *)(ahead + W), _MM_HINT_T0);                          \
            CF_ROWS14(STEP)                                                                           \
            a += 14;                                                                               \
            if (!OFF) b += ldb;                                                                    \
            cf_pf_step(&stream, p);                                                                \
        }                                                                                          \
        cf_pf_close(pf, &stream);                                                                  \
        const VEC va = VSET1(alpha);                                                               \
        if (beta == (S)0) {                                                                        \
            CF_ROWS14(STORE0)                                                                         \
        } else {                                                                                   \
            const VEC vb = VSET1(beta);                                                            \
            CF_ROWS14(STOREB)                                                                         \
        }                                                                                          \
    }                                                                                              \
    void NAME(cf_int k, int m, const void *a_, const void *b_, cf_int ldb, void *c_, cf_int rs_c,  \
              const void *alpha_, const void *beta_, cf_gemm_prefetch *pf) {                       \
        DISPATCH_ROWS14(NAME, 0, 0, ldb, NULL, pf)                                                 \
    }                                                                                              \
    void OFF_NAME(cf_int k, int m, const void *a_, const void *b_, const cf_int *boff, void *c_,   \
                  cf_int rs_c, const void *alpha_, const void *beta_) {                            \
        DISPATCH_ROWS14(NAME, 1, 0, 0, boff, NULL)                                                 \
    }                                                                                              \
    void HALF_NAME(cf_int k, int m, const void *a_, const void *b_, cf_int ldb, void *c_, cf_int rs_c, \
                   const void *alpha_, const void *beta_, cf_gemm_prefetch *pf) {                  \
        DISPATCH_ROWS14(NAME, 0, 1, ldb, NULL, pf)                                                 \
    }

/* Dot-product kernels (contract: kernels/gemm.h): an m x 4 block of dot products along k, 16 (8)
 * lanes of k per step, the k tail under a mask; one function per m so the accumulators stay in
 * registers. */
#define DEFINE_DOT_M(NAME, M)                                                                      \
    static void NAME(cf_int k, const S *a, cf_int lda, const S *const *b, S *t) {                  \
        VEC acc[M][4];                                                                             \
        for (int i = 0; i < M; ++i)                                                                \
            for (int j = 0; j < 4; ++j) acc[i][j] = VZERO();                                       \
        for (cf_int p = 0; p < k; p += W) {                                                        \
            const MASK msk = k - p >= W ? (MASK)~(MASK)0 : (MASK)(((MASK)1 << (k - p)) - 1);       \
            VEC vb[4];                                                                             \
            for (int j = 0; j < 4; ++j) vb[j] = VMASKLOAD(msk, b[j] + p);                          \
            for (int i = 0; i < M; ++i) {                                                          \
                const VEC va = VMASKLOAD(msk, a + i * lda + p);                                    \
                for (int j = 0; j < 4; ++j) acc[i][j] = VFMA(va, vb[j], acc[i][j]);                \
            }                                                                                      \
        }                                                                                          \
        for (int i = 0; i < M; ++i)                                                                \
            for (int j = 0; j < 4; ++j) t[i * 4 + j] = VREDUCE(acc[i][j]);                         \
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
#define VEC __m512
#define W 16
#define VZERO _mm512_setzero_ps
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VMUL _mm512_mul_ps
#define VLOADU _mm512_loadu_ps
#define VSTOREU _mm512_storeu_ps
#define MASK __mmask16
#define VMASKLOAD _mm512_maskz_loadu_ps
#define VREDUCE _mm512_reduce_add_ps
DEFINE_UKERNEL_14X2W(cf_f32_gemm_ukernel_14x32__avx512, cf_f32_gemm_ukernel_off_14x32__avx512,
                     cf_f32_gemm_ukernel_14x16__avx512)
DEFINE_DOT(cf_f32_gemm_dot_4x4__avx512)
#undef S
#undef VEC
#undef W
#undef VZERO
#undef VSET1
#undef VFMA
#undef VMUL
#undef VLOADU
#undef VSTOREU
#undef MASK
#undef VMASKLOAD
#undef VREDUCE

#define S double
#define VEC __m512d
#define W 8
#define VZERO _mm512_setzero_pd
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define VMUL _mm512_mul_pd
#define VLOADU _mm512_loadu_pd
#define VSTOREU _mm512_storeu_pd
#define MASK __mmask8
#define VMASKLOAD _mm512_maskz_loadu_pd
#define VREDUCE _mm512_reduce_add_pd
DEFINE_UKERNEL_14X2W(cf_f64_gemm_ukernel_14x16__avx512, cf_f64_gemm_ukernel_off_14x16__avx512,
                     cf_f64_gemm_ukernel_14x8__avx512)
DEFINE_DOT(cf_f64_gemm_dot_4x4__avx512)

CF_DEFINE_PACK_ROWS(cf_f32_gemm_pack_rows_8x8__avx512, float, 8, cf_transpose8x8_ps, cf_transpose4x4_ps)
CF_DEFINE_PACK_ROWS(cf_f64_gemm_pack_rows_4x4__avx512, double, 4, cf_transpose4x4_pd, cf_transpose2x2_pd)

const cf_gemm_kernels cf_gemm__avx512 = {
    .f32 = {14, 32, 14 * 24, 384, 4096, cf_f32_gemm_ukernel_14x32__avx512, "cf_f32_gemm_ukernel_14x32__avx512",
            cf_f32_gemm_ukernel_off_14x32__avx512, cf_f32_gemm_ukernel_14x16__avx512},
    .f64 = {14, 16, 14 * 24, 384, 2048, cf_f64_gemm_ukernel_14x16__avx512, "cf_f64_gemm_ukernel_14x16__avx512",
            cf_f64_gemm_ukernel_off_14x16__avx512, cf_f64_gemm_ukernel_14x8__avx512},
    .dot_f32 = cf_f32_gemm_dot_4x4__avx512,
    .dot_f64 = cf_f64_gemm_dot_4x4__avx512,
    .pack_rows_f32 = cf_f32_gemm_pack_rows_8x8__avx512,
    .pack_rows_f64 = cf_f64_gemm_pack_rows_4x4__avx512,
};
