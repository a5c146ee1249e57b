/* softmax.h -- the softmax kernel family: softmax and log-softmax, forward and backward.
 *
 * Row kernels work on one contiguous row of L >= 1 elements (the softmax axis is the last one).
 * Both kinds take `stream` (fwd: a scratch `work` of L elements for rows, L * CF_SOFTMAX_COLS_MAX
 * for columns): they then write their output with non-temporal stores, and the caller calls
 * store_fence() once after its last call.
 * Column kernels work on 1 <= m <= CF_SOFTMAX_COLS_MAX neighbouring columns of an (L, stride)
 * block, the softmax axis
 * running down the columns (element (r, j) at r * stride + j): they vectorise across the columns,
 * for a softmax axis that is not the last one. IN and OUT never overlap.
 *
 *   fwd:      y = exp(x - max) / sum(exp(x - max))
 *   log_fwd:  y = (x - max) - log(sum(exp(x - max)))
 *   bwd:      dx = y * (dy - sum(dy * y))           (a = dy, b = y)
 *   log_bwd:  dx = dy - exp(y) * sum(dy)             (a = dy, b = y)
 * Short-row kernels (fwd_short) work on n >= 0 contiguous rows of 1 <= L <= CF_SOFTMAX_SHORT_L
 * elements: y = softmax (log_out = 0) or log_softmax (log_out = 1) of each row. With labels !=
 * NULL (cross-entropy, n labels) they also store each row's loss, logsumexp(x[r]) - x[r, labels[r]]
 * (in T), in loss[r]; they first check every label and return 1 without writing anything if
 * one lies outside [0, L). Otherwise (and with labels == NULL) they return 0.
 * The forward row kernel returns max + log(sum(exp(x - max))) (the row's log-sum-exp) in double,
 * for cross-entropy. Written once in kernels/softmax_template.h over each ISA's vec.h. */
#ifndef CF_KERNELS_SOFTMAX_H
#define CF_KERNELS_SOFTMAX_H

#include "common.h"

#define CF_SOFTMAX_COLS_MAX 128
#define CF_SOFTMAX_SHORT_L 32 /* the longest row of the short-row kernels */

typedef struct {
    double (*f32_fwd_row)(cf_int L, const float *x, float *y, float *work);
    double (*f64_fwd_row)(cf_int L, const double *x, double *y, double *work);
    void (*f32_log_fwd_row)(cf_int L, const float *x, float *y, int stream);
    void (*f64_log_fwd_row)(cf_int L, const double *x, double *y, int stream);
    void (*f32_bwd_row)(cf_int L, const float *dy, const float *y, float *dx, int stream);
    void (*f64_bwd_row)(cf_int L, const double *dy, const double *y, double *dx, int stream);
    void (*f32_log_bwd_row)(cf_int L, const float *dy, const float *y, float *dx, int stream);
    void (*f64_log_bwd_row)(cf_int L, const double *dy, const double *y, double *dx, int stream);
    void (*f32_fwd_cols)(cf_int L, cf_int m, cf_int stride, const float *x, float *y, float *work);
    void (*f64_fwd_cols)(cf_int L, cf_int m, cf_int stride, const double *x, double *y, double *work);
    void (*f32_log_fwd_cols)(cf_int L, cf_int m, cf_int stride, const float *x, float *y, int stream);
    void (*f64_log_fwd_cols)(cf_int L, cf_int m, cf_int stride, const double *x, double *y, int stream);
    void (*f32_bwd_cols)(cf_int L, cf_int m, cf_int stride, const float *dy, const float *y, float *dx,
                         int stream);
    void (*f64_bwd_cols)(cf_int L, cf_int m, cf_int stride, const double *dy, const double *y, double *dx,
                         int stream);
    void (*f32_log_bwd_cols)(cf_int L, cf_int m, cf_int stride, const float *dy, const float *y, float *dx,
                             int stream);
    void (*f64_log_bwd_cols)(cf_int L, cf_int m, cf_int stride, const double *dy, const double *y,
                             double *dx, int stream);
    int (*f32_fwd_short)(cf_int n, cf_int L, const float *x, float *y, int log_out, const int64_t *labels,
                         float *loss);
    int (*f64_fwd_short)(cf_int n, cf_int L, const double *x, double *y, int log_out, const int64_t *labels,
                         double *loss);
    void (*f32_store_fence)(void);
    void (*f64_store_fence)(void);
} cf_softmax_kernels;

extern const cf_softmax_kernels cf_softmax__generic, cf_softmax__avx2, cf_softmax__avx512;

#endif /* CF_KERNELS_SOFTMAX_H */
