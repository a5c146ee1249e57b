/* kernels/conv.h -- direct convolution kernels: one plane of a depthwise or small-group conv,
 * where the GEMM of frame/conv2d.c would be a few rows thin (kpg = k/groups rows, crs = c/groups*r*s
 * deep: 1 x 9 for a depthwise 3x3).
 *
 * Every kernel works on one image plane x (h x w) and one feature plane y (p x q) of the geometry
 * g (cnnfast.h, cf_conv_geom; only its plane sizes, kernel, stride, dilation and padding are read)
 * and one r x s kernel wt[a*s + b]; planes are C-contiguous and do not overlap:
 *   fwd    OUT y  += correlate(x, wt)       y(i, j) += sum_ab wt[a,b] x(i*sh - pt + a*dh, j*sw - pl + b*dw)
 *   adj    OUT x  += its adjoint applied to y (scatter of y through the same taps)
 *   wgrad  OUT dw[a*s + b] += sum_ij y(i, j) x(i*sh - pt + a*dh, j*sw - pl + b*dw)
 * and fwd_lanes / adj_lanes / wgrad_lanes, a depthwise forward / data gradient / weight gradient
 * of up to CF_CONV_LANES channels at once (conv_template.h),
 * and im2col, the GEMM's packer of one im2col micro-panel from precomputed runs (below),
 * and wgrad_dot, the weight gradient's dot products over a padded pixel grid (below),
 * and rows, the float32 forward on small planes, pixels x channels (below),
 * and wgrad_taps, the float32 weight gradient of a 3x3 kernel, taps x channels over pixels (below),
 * and stem / stem_wgrad, the float32 stride-1 forward and weight gradient of few taps (below).
 * (taps outside x read zero). Kernels are named cf_<dtype>_conv_<op>__<isa>; the table of each ISA
 * lists them. They are written once in plain C (kernels/conv_template.h) that the compiler
 * vectorises under each folder's ISA flags; generic/ is the plain-C twin by construction. The one
 * exception is wgrad_dot, whose 24 accumulators the compiler would not keep in registers: avx512/
 * writes it with intrinsics (cf_<dtype>_conv_wgrad_dot_4x6__avx512), and generic/ and avx2/ compile
 * the plain-C 2 x 4 block of kernels/conv_dot_template.h. So are rows, wgrad_taps and stem
 * (cf_f32_conv_rows_14x32__avx512, cf_f32_conv_wgrad_taps_9x32__avx512, cf_f32_conv_stem_4x64__avx512,
 * cf_f32_conv_stem_1x64__avx512, cf_f32_conv_stem_wgrad_12x2__avx512, and their plain-C twins
 * ..__generic; none for avx2, whose table holds NULL). */
#ifndef CF_KERNELS_CONV_H
#define CF_KERNELS_CONV_H

#include "common.h"

/* Span of t in [0, cnt) with 0 <= x0 + t*sw < W: [*lo, *hi) (the in-image outputs of one row,
 * used by the frame's im2col and by the direct kernels). */
static inline void cf_conv_span(cf_int x0, cf_int sw, cf_int cnt, cf_int W, cf_int *lo, cf_int *hi) {
    cf_int l, h;
    if (sw == 1) {
        l = x0 >= 0 ? 0 : -x0;
        h = W - x0;
    } else {
        l = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
        h = x0 > W - 1 ? 0 : (W - 1 - x0) / sw + 1;
    }
    l = CF_MIN(l, cnt);
    h = CF_MAX(CF_MIN(h, cnt), l);
    *lo = l;
    *hi = h;
}

/* Channels of one fwd_lanes call (one vector of floats under AVX-512). */
#define CF_CONV_LANES 16

/* One run of an im2col micro-panel row (frame/conv2d_template.h builds them per panel and tap):
 * lanes lo <= u < hi of the row read the channel's plane at off + u*stride_w (off may point before
 * the plane; only the lanes in [lo, hi) are read). */
typedef struct {
    cf_int off;
    int lo, hi;
    uint32_t holes; /* bit u set: lane u (< 32) of [lo, hi) is not read and stays 0 */
} cf_conv_run;

/* wgrad_dot: an mi x nj block of dot products of length len, kept as L partial sums each (L the
 * table's dot_lanes for the dtype; len a multiple of L), for the weight gradient at stride 1
 * (frame/conv2d_template.h): a holds rows of the output gradient, b + boff[j] the image shifted
 * by tap j, both on one padded pixel grid.
 *   IN  a[i*lda + u], b[boff[j] + u]   for i < mi <= dot_mi, j < nj <= dot_nj, u < len
 *   INOUT acc[(i*ldacc + j)*L + l] += sum over u < len with u % L == l of a[i*lda + u] * b[boff[j] + u]
 * Each lane sums its terms in order of u. */

/* rows: one tile of a correlation with the pixels of one output row down its rows and
 * the output channels across (the GEMM's orientation turned over, so that a 7- or 14-wide row
 * fills a tile instead of half a 32-wide vector), for rows_mr x rows_nr tiles:
 *   IN  x[x0 + xoff[p] + i]: the input pixel under output pixel i for depth step p (i < m <= rows_mr;
 *       x0 + xoff[p] >= 0 -- the frame points xoff at the taps of a padded copy); when
 *       x2 != 0 the tile is two output rows of m/2 pixels (m even), the second row's pixel i - m/2
 *       at x[x0 + xoff[p] + x2 + i - m/2]
 *   IN  w[p*rows_nr + j]: the packed weight panel (64-byte aligned)
 *   IN  bias: NULL or nk values; relu: nonzero for max(., 0) last (NaN stays NaN)
 *   OUT y[j*ys + at(i)] = relu?(sum over p < k of x[x0 + xoff[p] + i] * w[p*rows_nr + j] (+ bias[j]))
 *       for i < m, j < nk <= rows_nr (k >= 0; nothing else is written), where pixel i of the first
 *       row (i < m1: m, or m/2 when x2 != 0) is at at(i) = i*ypix and of the second at
 *       y2 + (i - m1)*ypix (1 <= ypix <= 16; ypix = 1, y2 = m1: the m pixels one run) */
typedef void (*cf_f32_conv_rows_fn)(cf_int k, int m, int nk, const float *x, cf_int x0, cf_int x2,
                                    const cf_int *xoff, const float *w, float *y, cf_int ys, cf_int ypix, cf_int y2,
                                    const float *bias, int relu);

/* stem: a stride-1 correlation of few taps (c*r*s <= CF_CONV_STEM_TAPS: one- to three-channel
 * images), for stem_nr = 4 output channels by up to stem_len = 64 pixels of one output row, the
 * pixels along vectors and each tap's weight broadcast, so no tile dimension is the short depth:
 *   IN  x[x0 + xoff[t] + u]: the (padded) input under output pixel u for tap t < taps (x0 + xoff[t] >= 0)
 *   IN  w[t*4 + j]: the packed weights of output channel j
 *   IN  bias: NULL or nk values; relu: nonzero for max(., 0) last (NaN stays NaN)
 *   OUT y[j*ys + u] = relu?(sum over t < taps, ascending from zero, of x[x0 + xoff[t] + u] * w[t*4 + j]
 *       (+ bias[j])) for u < len <= 64, j < nk <= 4 (nothing else is written)
 *   IN  stream: nonzero lets whole 64-byte-aligned vectors of y go out as non-temporal stores,
 *       which skip reading the line first but are weakly ordered: the caller runs the table's
 *       store_fence on the same thread before any other thread reads y */
typedef void (*cf_f32_conv_stem_fn)(cf_int taps, const float *x, cf_int x0, const cf_int *xoff, int len,
                                    const float *w, int nk, float *y, cf_int ys, const float *bias, int relu,
                                    int stream);
#define CF_CONV_STEM_TAPS 32
/* stem1: the same for one output channel (nk = 1, weights w[t]) and any number of taps: the
 * correlation one channel thin, as the data gradient of a one-channel image is; per tap and 64
 * pixels 4 loads and 4 FMAs. */

/* stem_wgrad: the weight gradient of up to 12 taps (t) for up to 2 output channels (j) over a band
 * of output rows, the pixels along vectors (the stem's weight gradient, at stride 1):
 *   IN    x[x0 + i*ldx + xoff[t] + u]: the (padded) input under output pixel (i, u) for tap t
 *   IN    dy[j*ldy + i*q + u]: the output gradient of channel j at pixel (i, u)
 *   INOUT acc[j*lda + t] += sum over i < rows, u < q of x[...] * dy[...]
 *         for t < taps <= 12, j < nk <= 2 */
typedef void (*cf_f32_conv_stem_wgrad_fn)(cf_int taps, int rows, cf_int q, const float *x, cf_int x0, cf_int ldx,
                                          const cf_int *xoff, const float *dy, cf_int ldy, int nk, float *acc,
                                          cf_int lda);

/* wgrad_taps: the weight gradient of one input channel's 9 taps (a 3x3 kernel, any dilation) for
 * taps_nr = 32 output channels, summed over a block of output pixels, the output gradient
 * channels-last:
 *   IN    x[n*xs + i*sh*ldx + u*sw + toff[t]]: the (padded) input under output pixel (i, u) of
 *         image n < nimg for tap t < 9
 *   IN    dy[n*ds + (i*q + u)*ldd + j]: the output gradient of channel j < 32 at that pixel; 64-byte
 *         aligned, ldd and ds multiples of 16
 *   INOUT acc[t*32 + j] += sum over n < nimg, i < rows, u < q (in that order) of x[...] * dy[...] */
typedef void (*cf_f32_conv_wgrad_taps_fn)(int nimg, cf_int xs, cf_int ds, int rows, int q, const float *x, cf_int ldx,
                                          cf_int sh, cf_int sw, const cf_int *toff, const float *dy, cf_int ldd,
                                          float *acc);

/* im2col: kc rows of one packed micro-panel of w lanes (layout: frame/gemm.h), depth q = p0 + p
 * for p < kc, channel q / rs and tap t = q % rs:
 *   OUT dst[p*w + u] = base[(q / rs)*cs + run.off + u*sw] for the lanes [run.lo, run.hi) of each
 *       run of tap t (runs[t*maxrun + 0 .. nrun[t]-1], disjoint) but its holes, 0 in every other
 *       lane. Runs have holes only at unit stride; hole lanes are never read. */
#define CF_CONV_PLANE_TYPES(dt, T)                                                                 \
    typedef void (*cf_##dt##_conv_im2col_fn)(const T *base, cf_int cs, cf_int rs, cf_int p0, cf_int kc, \
                                             cf_int sw, const cf_conv_run *runs, const int *nrun,     \
                                             int maxrun, int w, T *dst);                              \
    typedef int (*cf_##dt##_conv_fwd_lanes_fn)(const cf_conv_geom *g, int nch, const T *x, cf_int xs,    \
                                               const T *wt, const T *bias, int relu, T *y, cf_int ys);   \
    typedef int (*cf_##dt##_conv_adj_lanes_fn)(const cf_conv_geom *g, int nch, const T *y, cf_int ys,   \
                                               const T *wt, T *x, cf_int xs);                         \
    typedef int (*cf_##dt##_conv_wgrad_lanes_fn)(const cf_conv_geom *g, int nch, const T *x, cf_int xs,  \
                                                 const T *y, cf_int ys, T *dwt);                      \
    typedef void (*cf_##dt##_conv_fwd_fn)(const cf_conv_geom *g, const T *x, const T *wt, T *y);       \
    typedef void (*cf_##dt##_conv_adj_fn)(const cf_conv_geom *g, T *x, const T *wt, const T *y);       \
    typedef void (*cf_##dt##_conv_wgrad_fn)(const cf_conv_geom *g, const T *x, const T *y, T *dwt);    \
    typedef void (*cf_##dt##_conv_wgrad_dot_fn)(cf_int len, int mi, int nj, const T *a, cf_int lda,       \
                                                const T *b, const cf_int *boff, T *acc, cf_int ldacc);
CF_CONV_PLANE_TYPES(f32, float)
CF_CONV_PLANE_TYPES(f64, double)

typedef struct {
    cf_f32_conv_fwd_fn fwd_f32;
    cf_f32_conv_fwd_lanes_fn fwd_lanes_f32;
    cf_f32_conv_adj_fn adj_f32;
    cf_f32_conv_adj_lanes_fn adj_lanes_f32;
    cf_f32_conv_wgrad_fn wgrad_f32;
    cf_f32_conv_wgrad_lanes_fn wgrad_lanes_f32;
    cf_f32_conv_im2col_fn im2col_f32;
    cf_f32_conv_wgrad_dot_fn wgrad_dot_f32;
    cf_f32_conv_rows_fn rows_f32; /* NULL: no such kernel for this ISA */
    cf_f32_conv_wgrad_taps_fn wgrad_taps_f32; /* NULL: none */
    cf_f32_conv_stem_fn stem_f32;             /* NULL: none */
    cf_f32_conv_stem_fn stem1_f32;            /* NULL: none */
    cf_f32_conv_stem_wgrad_fn stem_wgrad_f32; /* NULL: none */
    void (*store_fence)(void);                /* orders non-temporal stores; NULL: none are made */
    cf_f64_conv_fwd_fn fwd_f64;
    cf_f64_conv_fwd_lanes_fn fwd_lanes_f64;
    cf_f64_conv_adj_fn adj_f64;
    cf_f64_conv_adj_lanes_fn adj_lanes_f64;
    cf_f64_conv_wgrad_fn wgrad_f64;
    cf_f64_conv_wgrad_lanes_fn wgrad_lanes_f64;
    cf_f64_conv_im2col_fn im2col_f64;
    cf_f64_conv_wgrad_dot_fn wgrad_dot_f64;
    int dot_mi, dot_nj, dot_lanes_f32, dot_lanes_f64; /* wgrad_dot's block and lanes */
    int rows_mr, rows_nr;                             /* rows' tile */
    int taps_nr;                                      /* wgrad_taps' channels */
} cf_conv_kernels;

extern const cf_conv_kernels cf_conv__generic, cf_conv__avx2, cf_conv__avx512;

#endif /* CF_KERNELS_CONV_H */
