/* softmax.c (avx512) -- the softmax kernels for avx512: kernels/softmax_template.h stamped out over
 * this folder's vector layer (vec.h) for float and double, and the table that lists them. */
#include <math.h>
#include <string.h>

#include "vec.h"

#include "kernels/softmax.h"
#include "kernels/vec_names.h"

/* 16 rows of 16 floats -> its 16 columns, in place */
static inline void cf_v16f_transpose(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
}

/* IN xs: 16 rows of L <= 32 floats; OUT c (room for 32 columns): its L columns, 16 apart, and
 * zeros up to the next multiple of 16 columns. Each group of up to 16 columns is 16 masked row
 * loads and one in-register transpose (cheaper than 16 gathers), stored whole: with a variable
 * count of stores the compiler spilled the transpose and copied it out with rep movs. */
_Static_assert(CF_SOFTMAX_SHORT_L % 16 == 0, "load_cols stores whole groups of 16 columns");
static inline void cf_v16f_load_cols(const float *xs, cf_int L, float *c) {
    for (cf_int h = 0; h < L; h += 16) {
        const cf_int w = CF_MIN(16, L - h);
        const __mmask16 k = (__mmask16)((1u << w) - 1);
        __m512 r[16];
        for (int i = 0; i < 16; i++) r[i] = _mm512_maskz_loadu_ps(k, xs + i * L + h);
        cf_v16f_transpose(r);
        for (int j = 0; j < 16; j++) _mm512_storeu_ps(c + (h + j) * 16, r[j]);
    }
}

/* IN c: the L <= 32 columns of 16 rows, 16 apart, and room up to the next multiple of 16
 * columns; inv: a factor per row (lane); OUT ys: the 16 rows of L, each times its factor. Each
 * group of up to 16 columns is 16 multiplies, one in-register transpose and 16 masked row stores
 * (8192x10 softmax: 50 us on 1 thread, against 58 with the exps recomputed in the rows' layout
 * and the lanes' statistics permuted into place). */
static inline void cf_v16f_store_scaled(const float *c, cf_int L, __m512 inv, float *ys) {
    for (cf_int h = 0; h < L; h += 16) {
        const cf_int w = CF_MIN(16, L - h);
        const __mmask16 k = (__mmask16)((1u << w) - 1);
        __m512 r[16];
        for (int j = 0; j < 16; j++) r[j] = _mm512_mul_ps(_mm512_loadu_ps(c + (h + j) * 16), inv);
        cf_v16f_transpose(r);
        for (int i = 0; i < 16; i++) _mm512_mask_storeu_ps(ys + i * L + h, k, r[i]);
    }
}

/* 8 rows of 8 doubles -> its 8 columns, in place: pairs of rows interleaved, then 128-bit lanes
 * picked twice (rows 0-3 and 4-7 of each column). */
static inline void cf_v8d_transpose(__m512d r[8]) {
    __m512d t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0x88);
        u[i + 1] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0x88);
        u[i + 2] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0xDD);
        u[i + 3] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0xDD);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f64x2(u[j], u[j + 4], 0x88);
        r[j + 4] = _mm512_shuffle_f64x2(u[j], u[j + 4], 0xDD);
    }
}

/* The double versions of load_cols and store_scaled above: groups of up to 8 columns, each 8
 * masked row loads (stores) around one 8 x 8 transpose (8192x10 float64 softmax, 2 threads: 76 us
 * with a gather per column and per output vector). */
_Static_assert(CF_SOFTMAX_SHORT_L % 8 == 0, "load_cols stores whole groups of 8 columns");
static inline void cf_v8d_load_cols(const double *xs, cf_int L, double *c) {
    for (cf_int h = 0; h < L; h += 8) {
        const __mmask8 k = (__mmask8)((1u << CF_MIN(8, L - h)) - 1);
        __m512d r[8];
        for (int i = 0; i < 8; i++) r[i] = _mm512_maskz_loadu_pd(k, xs + i * L + h);
        cf_v8d_transpose(r);
        for (int j = 0; j < 8; j++) _mm512_storeu_pd(c + (h + j) * 8, r[j]);
    }
}

static inline void cf_v8d_store_scaled(const double *c, cf_int L, __m512d inv, double *ys) {
    for (cf_int h = 0; h < L; h += 8) {
        const __mmask8 k = (__mmask8)((1u << CF_MIN(8, L - h)) - 1);
        __m512d r[8];
        for (int j = 0; j < 8; j++) r[j] = _mm512_mul_pd(_mm512_loadu_pd(c + (h + j) * 8), inv);
        cf_v8d_transpose(r);
        for (int i = 0; i < 8; i++) _mm512_mask_storeu_pd(ys + i * L + h, k, r[i]);
    }
}

/* PICK(xs, lab, at): the W elements xs[at[l] + lab[l]] (lab, at: W int64, at 64-byte aligned) */
static inline __m512 cf_v16f_pick(const float *xs, const int64_t *lab, const int64_t *at) {
    const __m256 lo = _mm512_i64gather_ps(_mm512_add_epi64(_mm512_loadu_si512(lab), _mm512_load_si512(at)), xs, 4);
    const __m256 hi =
        _mm512_i64gather_ps(_mm512_add_epi64(_mm512_loadu_si512(lab + 8), _mm512_load_si512(at + 8)), xs, 4);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

/* LOAD_COLS, STORE_SCALED: see kernels/softmax_template.h. GATHER: the W elements p[idx[0]], ...,
 * p[idx[W - 1]]; PERMUTE: the vector of lanes v[idx[0]], ..., v[idx[W - 1]] (idx: W int32,
 * 64-byte aligned) */
#define F32_GATHER(p, idx) _mm512_i32gather_ps(_mm512_load_si512((const void *)(idx)), (p), 4)
#define F32_PERMUTE(v, idx) _mm512_permutexvar_ps(_mm512_load_si512((const void *)(idx)), (v))
#define F64_PERMUTE(v, idx) _mm512_permutexvar_pd(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(idx))), (v))
#define F32_LOAD_COLS(xs, L, c, idx) ((void)(idx), cf_v16f_load_cols((xs), (L), (c)))
#define F64_LOAD_COLS(xs, L, c, idx) ((void)(idx), cf_v8d_load_cols((xs), (L), (c)))
#define F32_PICK(xs, lab, at) cf_v16f_pick((xs), (lab), (at))
#define F64_PICK(xs, lab, at) _mm512_i64gather_pd(_mm512_add_epi64(_mm512_loadu_si512(lab), _mm512_load_si512(at)), (xs), 8)
#define F32_STORE_SCALED(c, L, inv, ys, out_idx, row_idx)                                         \
    ((void)(out_idx), (void)(row_idx), cf_v16f_store_scaled((c), (L), (inv), (ys)))
#define F64_STORE_SCALED(c, L, inv, ys, out_idx, row_idx)                                         \
    ((void)(out_idx), (void)(row_idx), cf_v8d_store_scaled((c), (L), (inv), (ys)))
#define F64_GATHER(p, idx) _mm512_i32gather_pd(_mm256_load_si256((const __m256i *)(idx)), (p), 8)

#define VT F32
#include "kernels/softmax_template.h"
#undef VT
#define VT F64
#include "kernels/softmax_template.h"
#undef VT

#define CF_SOFTMAX_TABLE(dt)                                                                        \
    .dt##_fwd_row = cf_##dt##_softmax_fwd_row__avx512, .dt##_log_fwd_row = cf_##dt##_log_softmax_fwd_row__avx512, \
    .dt##_bwd_row = cf_##dt##_softmax_bwd_row__avx512, .dt##_log_bwd_row = cf_##dt##_log_softmax_bwd_row__avx512, \
    .dt##_fwd_cols = cf_##dt##_softmax_fwd_cols__avx512,                                            \
    .dt##_log_fwd_cols = cf_##dt##_log_softmax_fwd_cols__avx512,                                    \
    .dt##_bwd_cols = cf_##dt##_softmax_bwd_cols__avx512,                                            \
    .dt##_log_bwd_cols = cf_##dt##_log_softmax_bwd_cols__avx512, .dt##_fwd_short = cf_##dt##_softmax_fwd_short__avx512, .dt##_store_fence = cf_##dt##_store_fence__avx512

const cf_softmax_kernels cf_softmax__avx512 = {CF_SOFTMAX_TABLE(f32), CF_SOFTMAX_TABLE(f64)};
