/* softmax.c (avx512) -- the softmax kernels for avx512: kernels/softmax_template.h stamped out over
 * this folder's vector layer (vec.h) for float and double, and the table that lists them. */
#include <math.h>
#include <string.h>

#include "vec.h"

#include "kernels/softmax.h"
#include "kernels/vec_names.h"

/* GATHER: the W elements p[idx[0]], ..., p[idx[W - 1]]; PERMUTE: the vector of lanes v[idx[0]],
 * ..., v[idx[W - 1]] (idx: W int32, 64-byte aligned) */
#define F32_GATHER(p, idx) _mm512_i32gather_ps(_mm512_load_si512((const void *)(idx)), (p), 4)
#define F32_PERMUTE(v, idx) _mm512_permutexvar_ps(_mm512_load_si512((const void *)(idx)), (v))
#define F64_PERMUTE(v, idx) _mm512_permutexvar_pd(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(idx))), (v))
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
