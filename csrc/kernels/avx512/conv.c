/* conv.c (avx512) -- the direct plane kernels of kernels/conv.h for avx512: kernels/conv_template.h
 * compiled under this folder's flags for float and double, and the table that lists them. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/x86_pack.h"

/* wgrad_dot (contract: kernels/conv.h) as a 4 x 6 block: 24 accumulators of one vector each, and
 * per vector of lanes 4 + 6 loads for 24 FMAs. Rows past the block repeat row 0 and are not stored. */
#define DEFINE_WGRAD_DOT(NAME, T, VEC, L, ZERO, LOADU, STOREU, FMA)                                \
    void NAME(cf_int len, int mi, int nj, const T *a, cf_int lda, const T *b, const cf_int *boff, T *acc, \
              cf_int ldacc) {                                                                      \
        const T *a0 = a, *a1 = a + (mi > 1) * lda, *a2 = a + (mi > 2) * 2 * lda, *a3 = a + (mi > 3) * 3 * lda; \
        const T *br[6];                                                                            \
        VEC s[4][6];                                                                               \
        for (int j = 0; j < 6; ++j) br[j] = b + boff[j < nj ? j : 0];                              \
        for (int i = 0; i < 4; ++i)                                                                \
            for (int j = 0; j < 6; ++j)                                                            \
                s[i][j] = i < mi && j < nj ? LOADU(acc + (i * ldacc + j) * L) : ZERO();            \
        for (cf_int u = 0; u < len; u += L) {                                                      \
            const VEC x0 = LOADU(a0 + u), x1 = LOADU(a1 + u), x2 = LOADU(a2 + u), x3 = LOADU(a3 + u); \
            for (int j = 0; j < 6; ++j) {                                                          \
                const VEC y = LOADU(br[j] + u);                                                    \
                s[0][j] = FMA(x0, y, s[0][j]);                                                     \
                s[1][j] = FMA(x1, y, s[1][j]);                                                     \
                s[2][j] = FMA(x2, y, s[2][j]);                                                     \
                s[3][j] = FMA(x3, y, s[3][j]);                                                     \
            }                                                                                      \
        }                                                                                          \
        for (int i = 0; i < mi; ++i)                                                               \
            for (int j = 0; j < nj; ++j) STOREU(acc + (i * ldacc + j) * L, s[i][j]);               \
    }
DEFINE_WGRAD_DOT(cf_f32_conv_wgrad_dot_4x6__avx512, float, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps,
                 _mm512_storeu_ps, _mm512_fmadd_ps)
/* The AVX-512 im2col row (contract of cf_im2col_row_ps in kernels/x86_pack.h; w a multiple of 16
 * floats / 8 doubles): the row zeroed, then each run copied by whole vectors, its two ends and its
 * holes under bit masks (a masked load reads nothing outside the mask, so off may point before
 * the plane). */
#define DEFINE_IM2COL_ROW(NAME, T, VEC, L, MASK, ZERO, LOADU, STOREU, MASKZ_LOADU, MASK_STOREU)    \
    static inline void NAME(T *dst, const T *chan, const cf_conv_run *run, int nr, int w) {       \
        for (int u = 0; u < w; u += L) STOREU(dst + u, ZERO());                                    \
        for (int k = 0; k < nr; ++k) {                                                             \
            const T *src = chan + run[k].off;                                                      \
            for (int u = run[k].lo / L * L; u < run[k].hi; u += L) {                               \
                const int lo = CF_MAX(run[k].lo - u, 0), hi = CF_MIN(run[k].hi - u, L);            \
                const MASK hole = (MASK)(u < 32 ? run[k].holes >> u : 0);                          \
                if (lo == 0 && hi == L && !hole) {                                                 \
                    STOREU(dst + u, LOADU(src + u));                                               \
                } else {                                                                           \
                    const MASK m = (MASK)((((unsigned)1 << hi) - 1) & ~(((unsigned)1 << lo) - 1) & ~hole); \
                    MASK_STOREU(dst + u, m, MASKZ_LOADU(m, src + u));                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
DEFINE_IM2COL_ROW(im2col_row_ps512, float, __m512, 16, __mmask16, _mm512_setzero_ps, _mm512_loadu_ps,
                  _mm512_storeu_ps, _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps)
DEFINE_IM2COL_ROW(im2col_row_pd512, double, __m512d, 8, __mmask8, _mm512_setzero_pd, _mm512_loadu_pd,
                  _mm512_storeu_pd, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd)

DEFINE_WGRAD_DOT(cf_f64_conv_wgrad_dot_4x6__avx512, double, __m512d, 8, _mm512_setzero_pd, _mm512_loadu_pd,
                 _mm512_storeu_pd, _mm512_fmadd_pd)

#define T float
#define CB 64
#define KN(op) cf_f32_conv_##op##__avx512
#define ROW_RUNS im2col_row_ps512
#define TBLOCK cf_transpose8x8_ps
#define TB 8
#include "kernels/conv_template.h"
#undef T
#undef CB
#undef KN
#undef ROW_RUNS
#undef TBLOCK
#undef TB

#define T double
#define CB 32
#define KN(op) cf_f64_conv_##op##__avx512
#define ROW_RUNS im2col_row_pd512
#define TBLOCK cf_transpose4x4_pd
#define TB 4
#include "kernels/conv_template.h"
#undef T
#undef CB
#undef KN
#undef ROW_RUNS
#undef TBLOCK
#undef TB

const cf_conv_kernels cf_conv__avx512 = {
    .fwd_f32 = cf_f32_conv_fwd__avx512,
    .fwd_lanes_f32 = cf_f32_conv_fwd_lanes__avx512,
    .adj_f32 = cf_f32_conv_adj__avx512,
    .adj_lanes_f32 = cf_f32_conv_adj_lanes__avx512,
    .wgrad_f32 = cf_f32_conv_wgrad__avx512,
    .wgrad_lanes_f32 = cf_f32_conv_wgrad_lanes__avx512,
    .im2col_f32 = cf_f32_conv_im2col__avx512,
    .wgrad_dot_f32 = cf_f32_conv_wgrad_dot_4x6__avx512,
    .fwd_f64 = cf_f64_conv_fwd__avx512,
    .fwd_lanes_f64 = cf_f64_conv_fwd_lanes__avx512,
    .adj_f64 = cf_f64_conv_adj__avx512,
    .adj_lanes_f64 = cf_f64_conv_adj_lanes__avx512,
    .wgrad_f64 = cf_f64_conv_wgrad__avx512,
    .wgrad_lanes_f64 = cf_f64_conv_wgrad_lanes__avx512,
    .im2col_f64 = cf_f64_conv_im2col__avx512,
    .wgrad_dot_f64 = cf_f64_conv_wgrad_dot_4x6__avx512,
    .dot_mi = 4,
    .dot_nj = 6,
    .dot_lanes_f32 = 16,
    .dot_lanes_f64 = 8,
};
