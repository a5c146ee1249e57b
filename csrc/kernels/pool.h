/* pool.h -- kernel family "pool": the row kernels of max and average pooling.
 *
 * Forward row kernels compute n consecutive outputs of one output row from its window rows
 * rows[0..nrows) (pointers to input rows of w columns, in increasing order) and the column taps
 * b in [b0, b1): output j's tap b reads column col0 + j*sw + b*dw of every window row when that
 * column lies in [0, w) and skips it otherwise (padding). [b0, b1) is the union of the taps
 * that read the input for some of the n outputs, so every output has at least one.
 *
 *      rows[a]:  pad | 0 1 2 ............................ w-1 | pad
 *      output j:       columns col0 + j*sw + {b0, ..., b1-1}*dw that fall inside [0, w)
 */
#ifndef CF_KERNELS_POOL_H
#define CF_KERNELS_POOL_H

#include "common.h"

/* Stride-1 pooling that keeps the plane's size (2*ph = (kh-1)*dh and 2*pw = (kw-1)*dw, so
 * p = h and q = w), seen as one flat window sliding over the plane: output o = i*w + j reads the
 * input o + off[t] for each tap t = a*kw + b, off[t] = (a*dh - ph)*w + b*dw - pw, when that tap
 * lies inside the plane (row and column both inside). frame/pool2d.c builds this plan once per
 * call; the outputs go in blocks of 16 (the last one cut at hw), each with one mask per tap:
 *
 *     mask[blk*ntaps + t]   bit l set: output 16*blk + l reads tap t (no bits past hw)
 *     first[16*blk + l]     flat input position of that output's first tap inside the plane
 *                           (0 past hw)
 *
 *     plane (w = 5, 3x3, pad 1):   o-6 o-5 o-4      taps that fall off the plane's top, bottom
 *                                  o-1  o  o+1      or either side are masked out lane by lane,
 *                                  o+4 o+5 o+6      so a block may run across rows. */
typedef struct {
    cf_int hw, ntaps;
    const int32_t *off;
    const uint16_t *mask;
    const int32_t *first;
} cf_pool_flat;

/* Max pooling of short float32 output rows, two to a vector (2q <= 16): output rows 2g and
 * 2g + 1 of a plane fill lanes [0, q) and [q, 2q). For each window row a, the input row of
 * either output row is loaded once, 16 values from column `left` (columns outside [0, w) and
 * rows outside the plane read -inf), and every tap b picks its values from the two loads:
 *
 *     A = row of output row 2g     B = row of output row 2g + 1      (columns left, left + 1, ...)
 *     tap b, lane j < q:  A[j*sw + b*dw]      lane q + j:  B[j*sw + b*dw]
 *
 *     row[2*(g*kh + a) + r]  input row of output row 2g + r at window row a, or -1 (the row
 *                            lies in the padding, or 2g + r = p)
 *     pick[16*b + l]         the element of A:B (0-15 of A, 16-31 of B) that lane l takes at
 *                            tap b (0 for lanes past 2q); col[16*b + l] its input column
 *     first[o]               in-plane flat position of output o's first tap inside the plane
 *     fill                   bit e set: column left + e lies inside [0, w)
 * frame/pool2d.c builds this plan once per call (for rows with (q-1)*sw + (kw-1)*dw < 16). */
typedef struct {
    cf_int p, q, w, kh, kw, left;
    const int32_t *row, *pick, *col, *first;
    uint16_t fill;
} cf_pool_pairs;

typedef struct {
    /* y[j], idx[j] = the max over the window and its flat index row_base[a] + column. Taps are
     * visited row by row, columns increasing; a tap wins if it is greater or NaN, so ties stay
     * with the first and the last NaN wins (as PyTorch). */
    void (*f32_max_rows)(const float *const *rows, const cf_int *row_base, cf_int nrows,
                         cf_int w, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int dw,
                         cf_int n, float *y, int64_t *idx);
    void (*f64_max_rows)(const double *const *rows, const cf_int *row_base, cf_int nrows,
                         cf_int w, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int dw,
                         cf_int n, double *y, int64_t *idx);
    /* One plane of a "same" stride-1 max pooling (cf_pool_flat): y[o], idx[o] for o < hw, the
     * taps visited in order t = 0, 1, ... with the rule of the row kernels. IN x, the plane
     * (hw values); OUT y, idx (hw each). */
    void (*f32_max_flat)(const cf_pool_flat *fp, const float *x, float *y, int64_t *idx);
    void (*f64_max_flat)(const cf_pool_flat *fp, const double *x, double *y, int64_t *idx);
    /* One plane of max pooling by output row pairs (cf_pool_pairs): y[o], idx[o] for o < p*q,
     * the taps visited row by row with the rule of the row kernels. IN x, the plane (h*w
     * values); OUT y, idx (p*q each). */
    void (*f32_max_pairs)(const cf_pool_pairs *pp, const float *x, float *y, int64_t *idx);
    /* y[j] = (the window's sum in the data type, dilation 1) / (rdiv * cdiv[j]), divided in
     * float64 so that an exact sum gives the correctly rounded mean. */
    void (*f32_avg_rows)(const float *const *rows, cf_int nrows, cf_int w, cf_int col0,
                         cf_int sw, cf_int b0, cf_int b1, cf_int n, double rdiv,
                         const double *cdiv, float *y);
    void (*f64_avg_rows)(const double *const *rows, cf_int nrows, cf_int w, cf_int col0,
                         cf_int sw, cf_int b0, cf_int b1, cf_int n, double rdiv,
                         const double *cdiv, double *y);
    /* dx[col0 + j*sw + b] += share[j] for every tap b (dilation 1): avg_pool2d's backward. */
    void (*f32_spread_row)(const float *share, cf_int col0, cf_int sw, cf_int b0, cf_int b1,
                           cf_int n, float *dx);
    void (*f64_spread_row)(const double *share, cf_int col0, cf_int sw, cf_int b0, cf_int b1,
                           cf_int n, double *dx);
    /* Windows that tile the row (kernel = stride s, dilation 1; avg_pool2d's backward): for
     * c in [0, w), dx[c] = dy[j] / (rdiv * cdiv[j]) with j = (c + pw) / s, divided in float64,
     * when j < q, and 0 past the last window. OUT dx (w values). */
    void (*f32_tile_row)(const float *dy, const double *cdiv, double rdiv, cf_int q, cf_int s,
                         cf_int pw, cf_int w, float *dx);
    void (*f64_tile_row)(const double *dy, const double *cdiv, double rdiv, cf_int q, cf_int s,
                         cf_int pw, cf_int w, double *dx);
    /* Global average pooling of `planes` planes of hw values each (hw >= 1): y[p] = the sum
     * of plane p, taken in the data type, divided by hw in float64. IN x; OUT y (planes). */
    void (*f32_means)(const float *x, cf_int planes, cf_int hw, float *y);
    void (*f64_means)(const double *x, cf_int planes, cf_int hw, double *y);
    /* 1 if every idx[0..n) lies in [0, limit), else 0. */
    int (*indices_inside)(const int64_t *idx, cf_int n, cf_int limit);
} cf_pool_kernels;

/* The plain-C kernels (generic/pool.c), which the SIMD tables fall back on. */
void cf_f32_maxpool_rows__generic(const float *const *rows, const cf_int *row_base,
                                  cf_int nrows, cf_int w, cf_int col0, cf_int sw, cf_int b0,
                                  cf_int b1, cf_int dw, cf_int n, float *y, int64_t *idx);
void cf_f64_maxpool_rows__generic(const double *const *rows, const cf_int *row_base,
                                  cf_int nrows, cf_int w, cf_int col0, cf_int sw, cf_int b0,
                                  cf_int b1, cf_int dw, cf_int n, double *y, int64_t *idx);
void cf_f32_maxpool_flat__generic(const cf_pool_flat *fp, const float *x, float *y,
                                  int64_t *idx);
void cf_f64_maxpool_flat__generic(const cf_pool_flat *fp, const double *x, double *y,
                                  int64_t *idx);
void cf_f32_maxpool_pairs__generic(const cf_pool_pairs *pp, const float *x, float *y,
                                   int64_t *idx);
void cf_f32_avgpool_rows__generic(const float *const *rows, cf_int nrows, cf_int w, cf_int col0,
                                  cf_int sw, cf_int b0, cf_int b1, cf_int n, double rdiv,
                                  const double *cdiv, float *y);
void cf_f64_avgpool_rows__generic(const double *const *rows, cf_int nrows, cf_int w,
                                  cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int n,
                                  double rdiv, const double *cdiv, double *y);
void cf_f32_avgpool_spread_row__generic(const float *share, cf_int col0, cf_int sw, cf_int b0,
                                        cf_int b1, cf_int n, float *dx);
void cf_f64_avgpool_spread_row__generic(const double *share, cf_int col0, cf_int sw, cf_int b0,
                                        cf_int b1, cf_int n, double *dx);
void cf_f32_avgpool_tile_row__generic(const float *dy, const double *cdiv, double rdiv,
                                      cf_int q, cf_int s, cf_int pw, cf_int w, float *dx);
void cf_f64_avgpool_tile_row__generic(const double *dy, const double *cdiv, double rdiv,
                                      cf_int q, cf_int s, cf_int pw, cf_int w, double *dx);
void cf_f32_means__generic(const float *x, cf_int planes, cf_int hw, float *y);
void cf_f64_means__generic(const double *x, cf_int planes, cf_int hw, double *y);
int cf_indices_inside__generic(const int64_t *idx, cf_int n, cf_int limit);

extern const cf_pool_kernels pool__generic, pool__avx2, pool__avx512;

#endif /* CF_KERNELS_POOL_H */
