/* softmax.c (generic) -- the softmax kernels for generic: kernels/softmax_template.h stamped out over
 * this folder's vector layer (vec.h) for float and double, and the table that lists them. */
#include <math.h>
#include <string.h>

#include "vec.h"

#include "kernels/softmax.h"
#include "kernels/vec_names.h"

/* LOAD_COLS, STORE_SCALED: see kernels/softmax_template.h. GATHER: the W elements p[idx[0]], ...,
 * p[idx[W - 1]]; PERMUTE: the vector of lanes v[idx[0]], ..., v[idx[W - 1]] (idx: W int32,
 * 64-byte aligned); PICK(xs, lab, at): the W elements xs[at[l] + lab[l]] (lab, at: W int64) */
#define F32_GATHER(p, idx) ((p)[(idx)[0]])
#define F32_PERMUTE(v, idx) ((void)(idx), (v))
#define F64_PERMUTE(v, idx) ((void)(idx), (v))
#define F32_LOAD_COLS(xs, L, c, idx) F32_gather_cols((xs), (L), (c), (idx))
#define F64_LOAD_COLS(xs, L, c, idx) F64_gather_cols((xs), (L), (c), (idx))
#define F32_PICK(xs, lab, at) ((xs)[(at)[0] + (lab)[0]])
#define F64_PICK(xs, lab, at) ((xs)[(at)[0] + (lab)[0]])
#define F32_STORE_SCALED F32_gather_rows_scaled
#define F64_STORE_SCALED F64_gather_rows_scaled
#define F64_GATHER(p, idx) ((p)[(idx)[0]])

#define VT F32
#include "kernels/softmax_template.h"
#undef VT
#define VT F64
#include "kernels/softmax_template.h"
#undef VT

#define CF_SOFTMAX_TABLE(dt)                                                                        \
    .dt##_fwd_row = cf_##dt##_softmax_fwd_row__generic, .dt##_log_fwd_row = cf_##dt##_log_softmax_fwd_row__generic, \
    .dt##_bwd_row = cf_##dt##_softmax_bwd_row__generic, .dt##_log_bwd_row = cf_##dt##_log_softmax_bwd_row__generic, \
    .dt##_fwd_cols = cf_##dt##_softmax_fwd_cols__generic,                                            \
    .dt##_log_fwd_cols = cf_##dt##_log_softmax_fwd_cols__generic,                                    \
    .dt##_bwd_cols = cf_##dt##_softmax_bwd_cols__generic,                                            \
    .dt##_log_bwd_cols = cf_##dt##_log_softmax_bwd_cols__generic, .dt##_fwd_short = cf_##dt##_softmax_fwd_short__generic, .dt##_store_fence = cf_##dt##_store_fence__generic

const cf_softmax_kernels cf_softmax__generic = {CF_SOFTMAX_TABLE(f32), CF_SOFTMAX_TABLE(f64)};
