/* x86_pack.h -- packing of micro-panels from rows contiguous along k, with in-register transposes
 * (AVX instructions only, so both the avx2/ and the avx512/ kernels include it; contract in
 * kernels/gemm.h, cf_gemm_pack_rows_fn). Blocks of 8 x 8 and 4 x 4 floats (4 x 4 and 2 x 2
 * doubles) are loaded as rows and stored as columns; leftover rows and k are copied one by one. */
#ifndef CF_KERNELS_X86_PACK_H
#define CF_KERNELS_X86_PACK_H

#include <immintrin.h>

#include "kernels/conv.h"
#include "kernels/gemm.h"

/* dst[j*w + i] = src[i*ld + j] for an 8 x 8 block of floats */
static inline void cf_transpose8x8_ps(const float *src, cf_int ld, float *dst, cf_int w) {
    const __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld),
                 r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld),
                 r4 = _mm256_loadu_ps(src + 4 * ld), r5 = _mm256_loadu_ps(src + 5 * ld),
                 r6 = _mm256_loadu_ps(src + 6 * ld), r7 = _mm256_loadu_ps(src + 7 * ld);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + w, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * w, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * w, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * w, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * w, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * w, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * w, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* dst[j*w + i] = src[i*ld + j] for a 4 x 4 block of doubles */
static inline void cf_transpose4x4_pd(const double *src, cf_int ld, double *dst, cf_int w) {
    const __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + ld),
                  r2 = _mm256_loadu_pd(src + 2 * ld), r3 = _mm256_loadu_pd(src + 3 * ld);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1),
                  t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + w, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * w, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * w, _mm256_permute2f128_pd(t1, t3, 0x31));
}

/* dst[j*w + i] = src[i*ld + j] for a 4 x 4 block of floats */
static inline void cf_transpose4x4_ps(const float *src, cf_int ld, float *dst, cf_int w) {
    __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + ld), r2 = _mm_loadu_ps(src + 2 * ld),
           r3 = _mm_loadu_ps(src + 3 * ld);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst, r0);
    _mm_storeu_ps(dst + w, r1);
    _mm_storeu_ps(dst + 2 * w, r2);
    _mm_storeu_ps(dst + 3 * w, r3);
}

/* dst[j*w + i] = src[i*ld + j] for a 2 x 2 block of doubles */
static inline void cf_transpose2x2_pd(const double *src, cf_int ld, double *dst, cf_int w) {
    const __m128d r0 = _mm_loadu_pd(src), r1 = _mm_loadu_pd(src + ld);
    _mm_storeu_pd(dst, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(dst + w, _mm_unpackhi_pd(r0, r1));
}

/* Rows i0.. of the panel in groups of B, each group in B x B blocks through TRANSPOSE (the k tail
 * element by element); advances i0 past the groups. */
#define CF_PACK_ROW_GROUPS(S, B, TRANSPOSE)                                                        \
    for (; i0 + B <= rows; i0 += B) {                                                              \
        const S *s = src + i0 * ld;                                                                \
        cf_int p = 0;                                                                              \
        for (; p + B <= kc; p += B) TRANSPOSE(s + p, ld, dst + p * w + i0, w);                     \
        for (; p < kc; ++p)                                                                        \
            for (int i = 0; i < B; ++i) dst[p * w + i0 + i] = s[i * ld + p];                       \
    }

/* One pack_rows kernel: groups of B rows, then of B/2 rows (a 14-row panel is 8 + 4 + 2), through
 * in-register transposes; the last odd row element by element. */
#define CF_DEFINE_PACK_ROWS(NAME, S, B, TRANSPOSE, TRANSPOSE_HALF)                                 \
    void NAME(const void *src_, cf_int ld, int rows, cf_int kc, int w, void *dst_) {               \
        const S *src = (const S *)src_;                                                            \
        S *dst = (S *)dst_;                                                                        \
        int i0 = 0;                                                                                \
        CF_PACK_ROW_GROUPS(S, B, TRANSPOSE)                                                        \
        CF_PACK_ROW_GROUPS(S, B / 2, TRANSPOSE_HALF)                                               \
        for (; i0 < rows; ++i0)                                                                    \
            for (cf_int p = 0; p < kc; ++p) dst[p * w + i0] = src[i0 * ld + p];                    \
        for (cf_int p = 0; p < kc && rows < w; ++p)                                                \
            for (int i = rows; i < w; ++i) dst[p * w + i] = 0;                                     \
    }

/* One unit-stride im2col row (kernels/conv.h, conv_template.h's im2col_row) for AVX2: w a multiple
 * of 8 floats / 4 doubles. Each vector ORs one masked load per run: masked-off lanes read nothing
 * (off may point before the plane) and give +0, and the runs are disjoint. */
static inline void cf_im2col_row_ps(float *dst, const float *chan, const cf_conv_run *run, int nr, int w) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int u = 0; u < w; u += 8) {
        const __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32(u));
        __m256 v = _mm256_setzero_ps();
        for (int k = 0; k < nr; ++k) {
            const __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(run[k].lo), idx),
                                                  _mm256_cmpgt_epi32(_mm256_set1_epi32(run[k].hi), idx));
            v = _mm256_or_ps(v, _mm256_maskload_ps(chan + run[k].off + u, m));
        }
        _mm256_storeu_ps(dst + u, v);
    }
}

static inline void cf_im2col_row_pd(double *dst, const double *chan, const cf_conv_run *run, int nr, int w) {
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    for (int u = 0; u < w; u += 4) {
        const __m256i idx = _mm256_add_epi64(lane, _mm256_set1_epi64x(u));
        __m256d v = _mm256_setzero_pd();
        for (int k = 0; k < nr; ++k) {
            const __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(run[k].lo), idx),
                                                  _mm256_cmpgt_epi64(_mm256_set1_epi64x(run[k].hi), idx));
            v = _mm256_or_pd(v, _mm256_maskload_pd(chan + run[k].off + u, m));
        }
        _mm256_storeu_pd(dst + u, v);
    }
}

#endif /* CF_KERNELS_X86_PACK_H */
