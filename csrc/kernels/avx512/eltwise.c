/* eltwise.c (avx512) -- the elementwise kernels for avx512: kernels/eltwise_template.h stamped out
 * over this folder's vector layer (vec.h) for float and double, and the table that lists them. */
#include "vec.h"

#include "kernels/eltwise.h"
#include "kernels/vec_names.h"

#define VT F32
#include "kernels/eltwise_template.h"
#undef VT
#define VT F64
#include "kernels/eltwise_template.h"
#undef VT

#define CF_ELTWISE_TABLE(dt)                                                                        \
    .dt##_unary = {[CF_UNARY_RELU] = cf_##dt##_relu__avx512,                                        \
                   [CF_UNARY_LEAKY_RELU] = cf_##dt##_leaky_relu__avx512,                            \
                   [CF_UNARY_ELU] = cf_##dt##_elu__avx512,                                          \
                   [CF_UNARY_SIGMOID] = cf_##dt##_sigmoid__avx512,                                  \
                   [CF_UNARY_TANH] = cf_##dt##_tanh__avx512,                                        \
                   [CF_UNARY_SCALE] = cf_##dt##_scale__avx512},                                     \
    .dt##_binary = {[CF_BINARY_RELU_BWD] = cf_##dt##_relu_bwd__avx512,                              \
                    [CF_BINARY_LEAKY_RELU_BWD] = cf_##dt##_leaky_relu_bwd__avx512,                  \
                    [CF_BINARY_ELU_BWD] = cf_##dt##_elu_bwd__avx512,                                \
                    [CF_BINARY_SIGMOID_BWD] = cf_##dt##_sigmoid_bwd__avx512,                        \
                    [CF_BINARY_TANH_BWD] = cf_##dt##_tanh_bwd__avx512,                              \
                    [CF_BINARY_RRELU] = cf_##dt##_rrelu__avx512},                                   \
    .dt##_ternary = {[CF_TERNARY_NOISY_RELU_BWD] = cf_##dt##_noisy_relu_bwd__avx512,                \
                     [CF_TERNARY_RRELU_BWD] = cf_##dt##_rrelu_bwd__avx512},                         \
    .dt##_dropout = cf_##dt##_dropout__avx512,                                                      \
    .dt##_prelu_bwd_plane = cf_##dt##_prelu_bwd_plane__avx512,                                      \
    .dt##_prelu_bwd_row = cf_##dt##_prelu_bwd_row__avx512,                                      \
    .dt##_adam = cf_##dt##_adam__avx512

const cf_eltwise_kernels cf_eltwise__avx512 = {CF_ELTWISE_TABLE(f32), CF_ELTWISE_TABLE(f64)};
