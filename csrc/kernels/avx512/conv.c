/* conv.c (avx512) -- the direct plane kernels of kernels/conv.h for avx512: kernels/conv_template.h
 * compiled under this folder's flags for float and double, and the table that lists them. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/x86_pack.h"

#define T float
#define CB 64
#define KN(op) cf_f32_conv_##op##__avx512
#define TBLOCK cf_transpose8x8_ps
#define TB 8
#include "kernels/conv_template.h"
#undef T
#undef CB
#undef KN
#undef TBLOCK
#undef TB

#define T double
#define CB 32
#define KN(op) cf_f64_conv_##op##__avx512
#define TBLOCK cf_transpose4x4_pd
#define TB 4
#include "kernels/conv_template.h"
#undef T
#undef CB
#undef KN
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
    .fwd_f64 = cf_f64_conv_fwd__avx512,
    .fwd_lanes_f64 = cf_f64_conv_fwd_lanes__avx512,
    .adj_f64 = cf_f64_conv_adj__avx512,
    .adj_lanes_f64 = cf_f64_conv_adj_lanes__avx512,
    .wgrad_f64 = cf_f64_conv_wgrad__avx512,
    .wgrad_lanes_f64 = cf_f64_conv_wgrad_lanes__avx512,
    .im2col_f64 = cf_f64_conv_im2col__avx512,
};
