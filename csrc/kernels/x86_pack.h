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

/* X(i, ...) for each row i = 0..13 of the AVX-512 kernels' 14-row tiles (avx512/gemm.c, conv.c),
 * the further arguments passed on to every X. */
#define CF_ROWS14(X, ...)                                                                          \
    X(0, __VA_ARGS__) X(1, __VA_ARGS__) X(2, __VA_ARGS__) X(3, __VA_ARGS__) X(4, __VA_ARGS__)      \
    X(5, __VA_ARGS__) X(6, __VA_ARGS__) X(7, __VA_ARGS__) X(8, __VA_ARGS__) X(9, __VA_ARGS__)      \
    X(10, __VA_ARGS__) X(11, __VA_ARGS__) X(12, __VA_ARGS__) X(13, __VA_ARGS__)

/* The prefetch stream of kernels/gemm.h as the x86 microkernels walk it: a local copy (runs 0
 * without one), one line on each due step p of the k loop, and the caller's stream left advanced
 * past what was fetched. */
static inline cf_gemm_prefetch cf_pf_open(const cf_gemm_prefetch *pf) {
    const cf_gemm_prefetch none = {NULL, 0, 0, 0, 0, 0};
    return pf ? *pf : none;
}
static inline void cf_pf_step(cf_gemm_prefetch *s, cf_int p) {
    if (s->runs > 0 && (p & s->step_mask) == 0) {
        _mm_prefetch(s->run + s->off, _MM_HINT_T0);
        s->off += 64;
        if (s->off >= s->bytes) {
            s->off = 0;
            s->run += s->ld;
            --s->runs;
        }
    }
}
static inline void cf_pf_close(cf_gemm_prefetch *pf, const cf_gemm_prefetch *s) {
    if (pf) *pf = *s;
}

/* One unit-stride im2col row (kernels/conv.h, conv_template.h's im2col_row) for AVX2: w a multiple
 * of 8 floats / 4 doubles. The row is zeroed, then each run copied by whole vectors, its two ends
 * and its holes under lane masks (a masked load reads nothing outside the mask, so off may point
 * before the plane). */
#define CF_DEFINE_IM2COL_ROW(NAME, T, VEC, L, ZERO, LOADU, STOREU, MASKLOAD, MASKSTORE, LANES, SET1, CMPGT, SRLV) \
    static inline void NAME(T *dst, const T *chan, const cf_conv_run *run, int nr, int w) {       \
        for (int u = 0; u < w; u += L) STOREU(dst + u, ZERO());                                    \
        for (int k = 0; k < nr; ++k) {                                                             \
            const T *src = chan + run[k].off;                                                      \
            for (int u = run[k].lo / L * L; u < run[k].hi; u += L) {                               \
                const uint32_t holes = u < 32 ? run[k].holes >> u : 0;                             \
                if (run[k].lo <= u && u + L <= run[k].hi && !(holes & ((1u << L) - 1))) {          \
                    STOREU(dst + u, LOADU(src + u));                                               \
                } else {                                                                           \
                    const __m256i idx = LANES(u), one = SET1(1);                                   \
                    const __m256i hole = _mm256_and_si256(SRLV(SET1((int)holes), LANES(0)), one);  \
                    const __m256i in = _mm256_andnot_si256(CMPGT(SET1(run[k].lo), idx), CMPGT(SET1(run[k].hi), idx)); \
                    const __m256i m = _mm256_andnot_si256(CMPGT(hole, SET1(0)), in);               \
                    MASKSTORE(dst + u, m, MASKLOAD(src + u, m));                                   \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
#define CF_LANES_EPI32(u) _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(u))
#define CF_LANES_EPI64(u) _mm256_add_epi64(_mm256_setr_epi64x(0, 1, 2, 3), _mm256_set1_epi64x(u))
CF_DEFINE_IM2COL_ROW(cf_im2col_row_ps, float, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps,
                     _mm256_maskload_ps, _mm256_maskstore_ps, CF_LANES_EPI32, _mm256_set1_epi32, _mm256_cmpgt_epi32,
                     _mm256_srlv_epi32)
CF_DEFINE_IM2COL_ROW(cf_im2col_row_pd, double, __m256d, 4, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd,
                     _mm256_maskload_pd, _mm256_maskstore_pd, CF_LANES_EPI64, _mm256_set1_epi64x, _mm256_cmpgt_epi64,
                     _mm256_srlv_epi64)

#endif /* CF_KERNELS_X86_PACK_H */
