/* generic/gemm.c -- plain-C GEMM microkernels: the fallback on every CPU and the template of the
 * SIMD kernels. A local MR x NR accumulator that the compiler can keep in vector registers
 * (-O3 vectorises the j loop with whatever SIMD the baseline target has: SSE2, NEON).
 * Contract: kernels/gemm.h. */
#include "kernels/gemm.h"

#define DEFINE_UKERNEL(NAME, OFF_NAME, S, MR, NR)                                                  \
    static void NAME##_rows(cf_int k, int m, const S *a, const S *b, cf_int ldb, const cf_int *boff,  \
                            S *c, cf_int rs_c, S alpha, S beta) {                                  \
        S acc[MR][NR] = {{0}};                                                                     \
        for (cf_int p = 0; p < k; ++p) {                                                           \
            const S *bp = boff ? b + boff[p] : b + p * ldb;                                        \
            for (int i = 0; i < MR; ++i)                                                           \
                for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * bp[j];                            \
            a += MR;                                                                               \
        }                                                                                          \
        for (int i = 0; i < m; ++i)                                                                \
            for (int j = 0; j < NR; ++j)                                                           \
                c[i * rs_c + j] = beta == (S)0 ? alpha * acc[i][j]                                 \
                                               : alpha * acc[i][j] + beta * c[i * rs_c + j];       \
    }                                                                                              \
    void NAME(cf_int k, int m, const void *a, const void *b, cf_int ldb, void *c, cf_int rs_c,     \
              const void *alpha, const void *beta, cf_gemm_prefetch *pf) {                         \
        (void)pf; /* a hint the plain-C kernel does not take */                                    \
        NAME##_rows(k, m, (const S *)a, (const S *)b, ldb, NULL, (S *)c, rs_c, *(const S *)alpha,  \
                    *(const S *)beta);                                                             \
    }                                                                                              \
    void OFF_NAME(cf_int k, int m, const void *a, const void *b, const cf_int *boff, void *c,      \
                  cf_int rs_c, const void *alpha, const void *beta) {                              \
        NAME##_rows(k, m, (const S *)a, (const S *)b, 0, boff, (S *)c, rs_c, *(const S *)alpha,    \
                    *(const S *)beta);                                                             \
    }

DEFINE_UKERNEL(cf_f32_gemm_ukernel_4x8__generic, cf_f32_gemm_ukernel_off_4x8__generic, float, 4, 8)
DEFINE_UKERNEL(cf_f64_gemm_ukernel_4x4__generic, cf_f64_gemm_ukernel_off_4x4__generic, double, 4, 4)

/* Dot-product kernel (contract: kernels/gemm.h): plain sequential sums along k. */
#define DEFINE_DOT(NAME, S)                                                                        \
    void NAME(cf_int k, int m, int n, const void *a_, cf_int lda, const void *b_, cf_int ldb,      \
              void *t_) {                                                                          \
        const S *a = (const S *)a_, *b = (const S *)b_;                                            \
        S *t = (S *)t_;                                                                            \
        for (int i = 0; i < m; ++i)                                                                \
            for (int j = 0; j < n; ++j) {                                                          \
                S sum = 0;                                                                         \
                for (cf_int p = 0; p < k; ++p) sum += a[i * lda + p] * b[j * ldb + p];             \
                t[i * 4 + j] = sum;                                                                \
            }                                                                                      \
    }

DEFINE_DOT(cf_f32_gemm_dot_4x4__generic, float)
DEFINE_DOT(cf_f64_gemm_dot_4x4__generic, double)

/* Packing from rows contiguous along k (contract: kernels/gemm.h): each row read once, in order. */
#define DEFINE_PACK_ROWS(NAME, S)                                                                  \
    void NAME(const void *src_, cf_int ld, int rows, cf_int kc, int w, void *dst_) {               \
        const S *src = (const S *)src_;                                                            \
        S *dst = (S *)dst_;                                                                        \
        for (int i = 0; i < rows; ++i)                                                             \
            for (cf_int p = 0; p < kc; ++p) dst[p * w + i] = src[i * ld + p];                      \
        for (cf_int p = 0; p < kc && rows < w; ++p)                                                \
            for (int i = rows; i < w; ++i) dst[p * w + i] = 0;                                     \
    }

DEFINE_PACK_ROWS(cf_f32_gemm_pack_rows__generic, float)
DEFINE_PACK_ROWS(cf_f64_gemm_pack_rows__generic, double)

const cf_gemm_kernels cf_gemm__generic = {
    .f32 = {4, 8, 4 * 32, 256, 2048, cf_f32_gemm_ukernel_4x8__generic, "cf_f32_gemm_ukernel_4x8__generic",
            cf_f32_gemm_ukernel_off_4x8__generic},
    .f64 = {4, 4, 4 * 32, 256, 1024, cf_f64_gemm_ukernel_4x4__generic, "cf_f64_gemm_ukernel_4x4__generic",
            cf_f64_gemm_ukernel_off_4x4__generic},
    .dot_f32 = cf_f32_gemm_dot_4x4__generic,
    .dot_f64 = cf_f64_gemm_dot_4x4__generic,
    .pack_rows_f32 = cf_f32_gemm_pack_rows__generic,
    .pack_rows_f64 = cf_f64_gemm_pack_rows__generic,
};
