/* eltwise.h -- the elementwise kernel family (activations and their gradients, the Adam step).
 *
 * Every kernel works on one contiguous chunk of n >= 0 elements; the frame (frame/eltwise.c) splits
 * a flat array over threads and calls one kernel per chunk. IN pointers are read, OUT pointers are
 * written, IN and OUT never overlap. Kernels are named cf_<dtype>_<op>__<isa>; each ISA's table
 * below holds them, generic/ has a plain-C twin of every SIMD kernel.
 *
 * The tables are written once, in kernels/eltwise_template.h, over a small vector layer that each
 * ISA folder provides (kernels/<isa>/vec.h: load/store/compare/select/exp for float and double). */
#ifndef CF_KERNELS_ELTWISE_H
#define CF_KERNELS_ELTWISE_H

#include "common.h"

/* Frame policy shared by the eltwise and softmax frames: outputs of at least this many bytes are
 * far larger than the caches and are written with non-temporal stores. */
#define CF_STREAM_BYTES ((cf_int)8 << 20)

/* alpha: the op's scalar (slope, ELU alpha, scale); unused by ops without one.
 * stream: 1 = write the output with non-temporal stores (the frame sets it when the output is far
 * larger than the caches, so the store does not first read the line it overwrites). */
typedef struct { float alpha; int stream; } cf_f32_eltwise_params;
typedef struct { double alpha; int stream; } cf_f64_eltwise_params;

/* y[i] = f(x[i]) */
typedef void (*cf_f32_unary_ukernel)(cf_int n, const float *x, float *y, const cf_f32_eltwise_params *p);
typedef void (*cf_f64_unary_ukernel)(cf_int n, const double *x, double *y, const cf_f64_eltwise_params *p);
/* y[i] = f(a[i], b[i]) */
typedef void (*cf_f32_binary_ukernel)(cf_int n, const float *a, const float *b, float *y,
                                      const cf_f32_eltwise_params *p);
typedef void (*cf_f64_binary_ukernel)(cf_int n, const double *a, const double *b, double *y,
                                      const cf_f64_eltwise_params *p);
/* y[i] = f(a[i], b[i], c[i]) */
typedef void (*cf_f32_ternary_ukernel)(cf_int n, const float *a, const float *b, const float *c, float *y,
                                       const cf_f32_eltwise_params *p);
typedef void (*cf_f64_ternary_ukernel)(cf_int n, const double *a, const double *b, const double *c,
                                       double *y, const cf_f64_eltwise_params *p);
/* dropout: y[i] = x[i] * (mask[i] ? alpha : 0), mask bytes 0 or 1 (NumPy bool) */
typedef void (*cf_f32_dropout_ukernel)(cf_int n, const float *x, const uint8_t *mask, float *y,
                                       const cf_f32_eltwise_params *p);
typedef void (*cf_f64_dropout_ukernel)(cf_int n, const double *x, const uint8_t *mask, double *y,
                                       const cf_f64_eltwise_params *p);
/* PReLU backward on one plane of slope alpha: dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i];
 * returns the weight gradient of the plane, sum over x[i] <= 0 of x[i] * dy[i], in double. */
typedef double (*cf_f32_prelu_bwd_plane_ukernel)(cf_int n, const float *dy, const float *x, float *dx,
                                                 const cf_f32_eltwise_params *p);
typedef double (*cf_f64_prelu_bwd_plane_ukernel)(cf_int n, const double *dy, const double *x, double *dx,
                                                 const cf_f64_eltwise_params *p);
/* PReLU backward on one row of an (N, C) input, per-channel slopes w[0..n):
 * dx[j] = x[j] > 0 ? dy[j] : w[j] * dy[j];  contrib[j] = x[j] > 0 ? 0 : x[j] * dy[j]. */
typedef void (*cf_f32_prelu_bwd_row_ukernel)(cf_int n, const float *dy, const float *x, const float *w,
                                             float *dx, float *contrib);
typedef void (*cf_f64_prelu_bwd_row_ukernel)(cf_int n, const double *dy, const double *x, const double *w,
                                             double *dx, double *contrib);

/* One Adam step (adam_step: cnnfast/_shapes.py, AdamCoefficients, says how each coefficient is
 * made), in the data type, each operation rounded on its own (no fused multiply-add):
 *     decoupled: p = p*decay               else, weight_decay != 0: g = p*weight_decay + g
 *     lerp_small: m = m + (g - m)*lerp     else: m = g - (g - m)*lerp
 *     v = v*beta2 + (g*g)*one_minus_beta2
 *     p = p + (m / (sqrt(v) / bias2_sqrt + eps))*neg_step_size
 * IN g; IN/OUT p, m, v (n values each). */
typedef struct {
    float decay, weight_decay, lerp, beta2, one_minus_beta2, bias2_sqrt, eps, neg_step_size;
    int decoupled, lerp_small;
} cf_f32_adam_params;
typedef struct {
    double decay, weight_decay, lerp, beta2, one_minus_beta2, bias2_sqrt, eps, neg_step_size;
    int decoupled, lerp_small;
} cf_f64_adam_params;
typedef void (*cf_f32_adam_ukernel)(cf_int n, float *p, const float *g, float *m, float *v,
                                    const cf_f32_adam_params *c);
typedef void (*cf_f64_adam_ukernel)(cf_int n, double *p, const double *g, double *m, double *v,
                                    const cf_f64_adam_params *c);

typedef struct {
    cf_f32_unary_ukernel f32_unary[CF_UNARY_COUNT];
    cf_f64_unary_ukernel f64_unary[CF_UNARY_COUNT];
    cf_f32_binary_ukernel f32_binary[CF_BINARY_COUNT];
    cf_f64_binary_ukernel f64_binary[CF_BINARY_COUNT];
    cf_f32_ternary_ukernel f32_ternary[CF_TERNARY_COUNT];
    cf_f64_ternary_ukernel f64_ternary[CF_TERNARY_COUNT];
    cf_f32_dropout_ukernel f32_dropout;
    cf_f64_dropout_ukernel f64_dropout;
    cf_f32_prelu_bwd_plane_ukernel f32_prelu_bwd_plane;
    cf_f64_prelu_bwd_plane_ukernel f64_prelu_bwd_plane;
    cf_f32_prelu_bwd_row_ukernel f32_prelu_bwd_row;
    cf_f64_prelu_bwd_row_ukernel f64_prelu_bwd_row;
    cf_f32_adam_ukernel f32_adam;
    cf_f64_adam_ukernel f64_adam;
} cf_eltwise_kernels;

extern const cf_eltwise_kernels cf_eltwise__generic, cf_eltwise__avx2, cf_eltwise__avx512;

#endif /* CF_KERNELS_ELTWISE_H */
