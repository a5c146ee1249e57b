/* pool.h -- kernel family "pool": the row kernels of max and average pooling.
 *
 * A row kernel applies the column taps b in [b0, b1) of one input row to n consecutive outputs
 * of one output row. Output j's tap b reads the input column col0 + j*sw + b*dw, and the caller
 * (frame/pool2d.c) guarantees that every such column lies inside the row. Interior outputs are
 * one call with all taps; edge outputs, whose windows stick into the padding, are calls with
 * n = 1 and the taps clipped to the input.
 *
 *      input row x:  . . [col0 ...................................... ]
 *      output j   :        taps col0 + j*sw + {b0, b0+1, ..., b1-1}*dw
 */
#ifndef CF_KERNELS_POOL_H
#define CF_KERNELS_POOL_H

#include "common.h"

typedef struct {
    /* y[j], idx[j] = the max (and its flat index row_base + column) over the taps, combined with
     * the running max in y/idx unless `init` (then the first tap starts it). Taps are visited in
     * increasing column order; a tap wins if it is greater or NaN (ties stay with the first). */
    void (*f32_max_row)(const float *x, cf_int row_base, cf_int col0, cf_int sw, cf_int b0,
                        cf_int b1, cf_int dw, cf_int n, float *y, int64_t *idx, int init);
    void (*f64_max_row)(const double *x, cf_int row_base, cf_int col0, cf_int sw, cf_int b0,
                        cf_int b1, cf_int dw, cf_int n, double *y, int64_t *idx, int init);
    /* y[j] = (init ? 0 : y[j]) + sum over the taps (dilation 1). */
    void (*f32_sum_row)(const float *x, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int n,
                        float *y, int init);
    void (*f64_sum_row)(const double *x, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int n,
                        double *y, int init);
    /* dx[col0 + j*sw + b] += share[j] for every tap b (dilation 1): avg_pool2d's backward. */
    void (*f32_spread_row)(const float *share, cf_int col0, cf_int sw, cf_int b0, cf_int b1,
                           cf_int n, float *dx);
    void (*f64_spread_row)(const double *share, cf_int col0, cf_int sw, cf_int b0, cf_int b1,
                           cf_int n, double *dx);
    /* The sum of x[0..n) (global average pooling). */
    double (*f32_sum)(const float *x, cf_int n);
    double (*f64_sum)(const double *x, cf_int n);
    /* 1 if every idx[0..n) lies in [0, limit), else 0. */
    int (*indices_inside)(const int64_t *idx, cf_int n, cf_int limit);
} cf_pool_kernels;

/* The plain-C kernels (generic/pool.c), which the SIMD tables fall back on. */
void cf_f32_maxpool_row__generic(const float *x, cf_int row_base, cf_int col0, cf_int sw,
                                 cf_int b0, cf_int b1, cf_int dw, cf_int n, float *y,
                                 int64_t *idx, int init);
void cf_f64_maxpool_row__generic(const double *x, cf_int row_base, cf_int col0, cf_int sw,
                                 cf_int b0, cf_int b1, cf_int dw, cf_int n, double *y,
                                 int64_t *idx, int init);
void cf_f32_sumpool_row__generic(const float *x, cf_int col0, cf_int sw, cf_int b0, cf_int b1,
                                 cf_int n, float *y, int init);
void cf_f64_sumpool_row__generic(const double *x, cf_int col0, cf_int sw, cf_int b0, cf_int b1,
                                 cf_int n, double *y, int init);
void cf_f32_avgpool_spread_row__generic(const float *share, cf_int col0, cf_int sw, cf_int b0,
                                        cf_int b1, cf_int n, float *dx);
void cf_f64_avgpool_spread_row__generic(const double *share, cf_int col0, cf_int sw, cf_int b0,
                                        cf_int b1, cf_int n, double *dx);
int cf_indices_inside__generic(const int64_t *idx, cf_int n, cf_int limit);

extern const cf_pool_kernels pool__generic, pool__avx2, pool__avx512;

#endif /* CF_KERNELS_POOL_H */
