/* avx512/gemm.c -- GEMM microkernels for AVX-512 (32 zmm registers, 2 FMA pipes on Zen 5).
 *
 * f32 14x32: 14 rows x 2 zmm = 28 accumulators, 2 zmm for the B row, A broadcast straight from
 * memory into the FMA ({1to16}): per k step 2 loads + 14 broadcasts feed 28 independent FMAs,
 * enough chains to cover the FMA latency on both pipes. f64 14x16 is the same tile in doubles.
 * Contract: kernels/gemm.h. */
#include <immintrin.h>

#include "kernels/gemm.h"

#define ROWS14(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

#define DECL(i) VEC c##i##0 = VZERO(), c##i##1 = VZERO();
#define STEP(i)                                                                                 \
    {                                                                                           \
        const VEC ai = VSET1(a[i]);                                                             \
        c##i##0 = VFMA(ai, b0, c##i##0);                                                        \
        c##i##1 = VFMA(ai, b1, c##i##1);                                                        \
    }
#define STORE0(i)                                                                               \
    VSTOREU(c + i * rs_c, VMUL(va, c##i##0));                                                   \
    VSTOREU(c + i * rs_c + W, VMUL(va, c##i##1));
#define STOREB(i)                                                                               \
    VSTOREU(c + i * rs_c, VFMA(vb, VLOADU(c + i * rs_c), VMUL(va, c##i##0)));                   \
    VSTOREU(c + i * rs_c + W, VFMA(vb, VLOADU(c + i * rs_c + W), VMUL(va, c##i##1)));

/* The 14 x 2W kernel body, written once for both dtypes (VEC, S, W and the V* ops set below). */
#define DEFINE_UKERNEL_14X2W(NAME)                                                              \
    void NAME(cf_int k, const void *a_, const void *b_, void *c_, cf_int rs_c, const void *alpha_, \
              const void *beta_) {                                                              \
        const S *a = (const S *)a_, *b = (const S *)b_;                                         \
        S *c = (S *)c_;                                                                         \
        const S alpha = *(const S *)alpha_, beta = *(const S *)beta_;                           \
        ROWS14(DECL)                                                                            \
        for (cf_int p = 0; p < k; ++p) {                                                        \
            const VEC b0 = VLOAD(b), b1 = VLOAD(b + W);                                         \
            ROWS14(STEP)                                                                        \
            a += 14;                                                                            \
            b += 2 * W;                                                                         \
        }                                                                                       \
        const VEC va = VSET1(alpha);                                                            \
        if (beta == (S)0) {                                                                     \
            ROWS14(STORE0)                                                                      \
        } else {                                                                                \
            const VEC vb = VSET1(beta);                                                         \
            ROWS14(STOREB)                                                                      \
        }                                                                                       \
    }

#define S float
#define VEC __m512
#define W 16
#define VZERO _mm512_setzero_ps
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VMUL _mm512_mul_ps
#define VLOAD _mm512_load_ps
#define VLOADU _mm512_loadu_ps
#define VSTOREU _mm512_storeu_ps
DEFINE_UKERNEL_14X2W(cf_f32_gemm_ukernel_14x32__avx512)
#undef S
#undef VEC
#undef W
#undef VZERO
#undef VSET1
#undef VFMA
#undef VMUL
#undef VLOAD
#undef VLOADU
#undef VSTOREU

#define S double
#define VEC __m512d
#define W 8
#define VZERO _mm512_setzero_pd
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define VMUL _mm512_mul_pd
#define VLOAD _mm512_load_pd
#define VLOADU _mm512_loadu_pd
#define VSTOREU _mm512_storeu_pd
DEFINE_UKERNEL_14X2W(cf_f64_gemm_ukernel_14x16__avx512)

const cf_gemm_kernels cf_gemm__avx512 = {
    .f32 = {14, 32, 14 * 24, 256, 4096, cf_f32_gemm_ukernel_14x32__avx512, "cf_f32_gemm_ukernel_14x32__avx512"},
    .f64 = {14, 16, 14 * 24, 256, 2048, cf_f64_gemm_ukernel_14x16__avx512, "cf_f64_gemm_ukernel_14x16__avx512"},
};
