/* softmax.c (avx2) -- the softmax kernels for avx2: kernels/softmax_template.h stamped out over
 * this folder's vector layer (vec.h) for float and double, and the table that lists them. */
#include <math.h>
#include <string.h>

#include "vec.h"

#include "kernels/softmax.h"
#include "kernels/vec_names.h"

/* lane i of the result: lane idx[i] of v, as the two floats 2 idx[i], 2 idx[i] + 1 */
static inline __m256d cf_v4d_permute(__m256d v, const int32_t *idx) {
    const __m256i lo = _mm256_slli_epi64(_mm256_cvtepu32_epi64(_mm_load_si128((const __m128i *)idx)), 1);
    const __m256i pair = _mm256_or_si256(lo, _mm256_slli_epi64(_mm256_add_epi64(lo, _mm256_set1_epi64x(1)), 32));
    return _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(v), pair));
}

/* lab[l] + at[l] for l < 4 (lab: 4 int64, at: 4 int64, 32-byte aligned) */
static inline __m256i cf_v4q_add(const int64_t *lab, const int64_t *at) {
    return _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)lab), _mm256_load_si256((const __m256i *)at));
}

/* PICK(xs, lab, at): the W elements xs[at[l] + lab[l]] (lab, at: W int64, at 64-byte aligned) */
static inline __m256 cf_v8f_pick(const float *xs, const int64_t *lab, const int64_t *at) {
    return _mm256_set_m128(_mm256_i64gather_ps(xs, cf_v4q_add(lab + 4, at + 4), 4),
                           _mm256_i64gather_ps(xs, cf_v4q_add(lab, at), 4));
}

/* LOAD_COLS, STORE_SCALED: see kernels/softmax_template.h. GATHER: the W elements p[idx[0]], ...,
 * p[idx[W - 1]]; PERMUTE: the vector of lanes v[idx[0]], ..., v[idx[W - 1]] (idx: W int32,
 * 64-byte aligned) */
#define F32_GATHER(p, idx) _mm256_i32gather_ps((p), _mm256_load_si256((const __m256i *)(idx)), 4)
#define F32_PERMUTE(v, idx) _mm256_permutevar8x32_ps((v), _mm256_load_si256((const __m256i *)(idx)))
#define F64_PERMUTE(v, idx) cf_v4d_permute((v), (idx))
#define F32_LOAD_COLS(xs, L, c, idx) F32_gather_cols((xs), (L), (c), (idx))
#define F64_LOAD_COLS(xs, L, c, idx) F64_gather_cols((xs), (L), (c), (idx))
#define F32_PICK(xs, lab, at) cf_v8f_pick((xs), (lab), (at))
#define F64_PICK(xs, lab, at) _mm256_i64gather_pd((xs), cf_v4q_add((lab), (at)), 8)
#define F32_STORE_SCALED F32_gather_rows_scaled
#define F64_STORE_SCALED F64_gather_rows_scaled
#define F64_GATHER(p, idx) _mm256_i32gather_pd((p), _mm_load_si128((const __m128i *)(idx)), 8)

#define VT F32
#include "kernels/softmax_template.h"
#undef VT
#define VT F64
#include "kernels/softmax_template.h"
#undef VT

#define CF_SOFTMAX_TABLE(dt)                                                                        \
    .dt##_fwd_row = cf_##dt##_softmax_fwd_row__avx2, .dt##_log_fwd_row = cf_##dt##_log_softmax_fwd_row__avx2, \
    .dt##_bwd_row = cf_##dt##_softmax_bwd_row__avx2, .dt##_log_bwd_row = cf_##dt##_log_softmax_bwd_row__avx2, \
    .dt##_fwd_cols = cf_##dt##_softmax_fwd_cols__avx2,                                            \
    .dt##_log_fwd_cols = cf_##dt##_log_softmax_fwd_cols__avx2,                                    \
    .dt##_bwd_cols = cf_##dt##_softmax_bwd_cols__avx2,                                            \
    .dt##_log_bwd_cols = cf_##dt##_log_softmax_bwd_cols__avx2, .dt##_fwd_short = cf_##dt##_softmax_fwd_short__avx2, .dt##_store_fence = cf_##dt##_store_fence__avx2

const cf_softmax_kernels cf_softmax__avx2 = {CF_SOFTMAX_TABLE(f32), CF_SOFTMAX_TABLE(f64)};
