/* conv.c (avx2) -- the direct plane kernels of kernels/conv.h for avx2: kernels/conv_template.h
 * compiled under this folder's flags for float and double, and the table that lists them. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/x86_pack.h"

#define T float
#define CB 32
#define KN(op) cf_f32_conv_##op##__avx2
#define ROW_RUNS cf_im2col_row_ps
#define TBLOCK cf_transpose8x8_ps
#define TB 8
#include "kernels/conv_template.h"
#define DL 8
#include "kernels/conv_dot_template.h"
#undef DL
#undef T
#undef CB
#undef KN
#undef ROW_RUNS
#undef TBLOCK
#undef TB

#define T double
#define CB 16
#define KN(op) cf_f64_conv_##op##__avx2
#define ROW_RUNS cf_im2col_row_pd
#define TBLOCK cf_transpose4x4_pd
#define TB 4
#include "kernels/conv_template.h"
#define DL 4
#include "kernels/conv_dot_template.h"
#undef DL
#undef T
#undef CB
#undef KN
#undef ROW_RUNS
#undef TBLOCK
#undef TB

const cf_conv_kernels cf_conv__avx2 = {
    .fwd_f32 = cf_f32_conv_fwd__avx2,
    .fwd_lanes_f32 = cf_f32_conv_fwd_lanes__avx2,
    .adj_f32 = cf_f32_conv_adj__avx2,
    .adj_lanes_f32 = cf_f32_conv_adj_lanes__avx2,
    .wgrad_f32 = cf_f32_conv_wgrad__avx2,
    .wgrad_lanes_f32 = cf_f32_conv_wgrad_lanes__avx2,
    .im2col_f32 = cf_f32_conv_im2col__avx2,
    .wgrad_dot_f32 = cf_f32_conv_wgrad_dot_2x4__avx2,
    .fwd_f64 = cf_f64_conv_fwd__avx2,
    .fwd_lanes_f64 = cf_f64_conv_fwd_lanes__avx2,
    .adj_f64 = cf_f64_conv_adj__avx2,
    .adj_lanes_f64 = cf_f64_conv_adj_lanes__avx2,
    .wgrad_f64 = cf_f64_conv_wgrad__avx2,
    .wgrad_lanes_f64 = cf_f64_conv_wgrad_lanes__avx2,
    .im2col_f64 = cf_f64_conv_im2col__avx2,
    .wgrad_dot_f64 = cf_f64_conv_wgrad_dot_2x4__avx2,
    .dot_mi = 2,
    .dot_nj = 4,
    .dot_lanes_f32 = 8,
    .dot_lanes_f64 = 4,
};
