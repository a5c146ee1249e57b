/* softmax.c (avx2) -- the softmax kernels for avx2: kernels/softmax_template.h stamped out over
 * this folder's vector layer (vec.h) for float and double, and the table that lists them. */
#include <math.h>

#include "vec.h"

#include "kernels/softmax.h"
#include "kernels/vec_names.h"

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
    .dt##_log_bwd_cols = cf_##dt##_log_softmax_bwd_cols__avx2, .dt##_store_fence = cf_##dt##_store_fence__avx2

const cf_softmax_kernels cf_softmax__avx2 = {CF_SOFTMAX_TABLE(f32), CF_SOFTMAX_TABLE(f64)};
