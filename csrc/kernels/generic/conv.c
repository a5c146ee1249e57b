/* conv.c (generic) -- the direct plane kernels of kernels/conv.h for generic: kernels/conv_template.h
 * compiled under this folder's flags for float and double, and the table that lists them. */
#include <string.h>

#include "kernels/conv.h"

#define T float
#define CB 16
#define KN(op) cf_f32_conv_##op##__generic
#define ROW_RUNS KN(im2col_row)
#include "kernels/conv_template.h"
#define DL 8
#include "kernels/conv_dot_template.h"
#undef DL
#undef T
#undef CB
#undef KN
#undef ROW_RUNS

#define T double
#define CB 8
#define KN(op) cf_f64_conv_##op##__generic
#define ROW_RUNS KN(im2col_row)
#include "kernels/conv_template.h"
#define DL 4
#include "kernels/conv_dot_template.h"
#undef DL
#undef T
#undef CB
#undef KN
#undef ROW_RUNS

/* rows (contract: kernels/conv.h) in plain C: the 14 x 32 tile of the AVX-512 kernel, summed in
 * the same order (p ascending, from zero, bias added last). */
void cf_f32_conv_rows_14x32__generic(cf_int k, int m, int nk, const float *x, cf_int x0, cf_int x2,
                                     const cf_int *xoff, const float *w, float *y, cf_int ys, cf_int ypix,
                                     cf_int y2, const float *bias, int relu) {
    float acc[14][32] = {{0}};
    const int m1 = x2 ? m / 2 : m;
    for (cf_int p = 0; p < k; ++p) {
        const float *xp = x + (x0 + xoff[p]), *wp = w + p * 32;
        for (int i = 0; i < m; ++i) {
            const float v = i < m1 ? xp[i] : xp[x2 + i - m1];
            for (int j = 0; j < 32; ++j) acc[i][j] += v * wp[j];
        }
    }
    for (int j = 0; j < nk; ++j)
        for (int i = 0; i < m; ++i) {
            const float v = bias ? acc[i][j] + bias[j] : acc[i][j];
            y[j * ys + (i < m1 ? i * ypix : y2 + (i - m1) * ypix)] = relu && v < 0.0f ? 0.0f : v;
        }
}

/* wgrad_taps (contract: kernels/conv.h) in plain C. */
void cf_f32_conv_wgrad_taps_9x32__generic(int nimg, cf_int xs, cf_int ds, int rows, int q, const float *x,
                                          cf_int ldx, cf_int sh, cf_int sw, const cf_int *toff, const float *dy,
                                          cf_int ldd, float *acc) {
    for (int n = 0; n < nimg; ++n)
        for (int i = 0; i < rows; ++i)
            for (int u = 0; u < q; ++u) {
                const float *xp = x + n * xs + i * sh * ldx + u * sw, *d = dy + n * ds + ((cf_int)i * q + u) * ldd;
                for (int t = 0; t < 9; ++t)
                    for (int j = 0; j < 32; ++j) acc[t * 32 + j] += xp[toff[t]] * d[j];
            }
}

/* stem (contract: kernels/conv.h) in plain C, summed in the same order as the AVX-512 kernel;
 * cached stores only, whatever stream says. */
void cf_f32_conv_stem_4x64__generic(cf_int taps, const float *x, cf_int x0, const cf_int *xoff, int len,
                                    const float *w, int nk, float *y, cf_int ys, const float *bias, int relu,
                                    int stream) {
    (void)stream;
    for (int j = 0; j < nk; ++j)
        for (int u = 0; u < len; ++u) {
            float acc = 0;
            for (cf_int t = 0; t < taps; ++t) acc += x[x0 + xoff[t] + u] * w[t * 4 + j];
            if (bias) acc += bias[j];
            y[j * ys + u] = relu && acc < 0 ? 0 : acc;
        }
}

/* stem1 (contract: kernels/conv.h) in plain C: even and odd taps summed apart, as the AVX-512
 * kernel does. */
void cf_f32_conv_stem_1x64__generic(cf_int taps, const float *x, cf_int x0, const cf_int *xoff, int len,
                                    const float *w, int nk, float *y, cf_int ys, const float *bias, int relu,
                                    int stream) {
    (void)nk;
    (void)ys;
    (void)stream;
    for (int u = 0; u < len; ++u) {
        float even = 0, odd = 0;
        cf_int t = 0;
        for (; t + 2 <= taps; t += 2) {
            even += x[x0 + xoff[t] + u] * w[t];
            odd += x[x0 + xoff[t + 1] + u] * w[t + 1];
        }
        if (t < taps) even += x[x0 + xoff[t] + u] * w[t];
        float acc = even + odd;
        if (bias) acc += bias[0];
        y[u] = relu && acc < 0 ? 0 : acc;
    }
}

/* stem_wgrad (contract: kernels/conv.h) in plain C, pixel by pixel. */
void cf_f32_conv_stem_wgrad_12x2__generic(cf_int taps, int rows, cf_int q, const float *x, cf_int x0, cf_int ldx,
                                          const cf_int *xoff, const float *dy, cf_int ldy, int nk, float *acc,
                                          cf_int lda) {
    for (int j = 0; j < nk; ++j)
        for (cf_int t = 0; t < taps; ++t) {
            float sum = 0;
            for (int i = 0; i < rows; ++i)
                for (cf_int u = 0; u < q; ++u) sum += x[x0 + i * ldx + xoff[t] + u] * dy[j * ldy + i * q + u];
            acc[j * lda + t] += sum;
        }
}

const cf_conv_kernels cf_conv__generic = {
    .fwd_f32 = cf_f32_conv_fwd__generic,
    .fwd_lanes_f32 = cf_f32_conv_fwd_lanes__generic,
    .adj_f32 = cf_f32_conv_adj__generic,
    .adj_lanes_f32 = cf_f32_conv_adj_lanes__generic,
    .wgrad_f32 = cf_f32_conv_wgrad__generic,
    .wgrad_lanes_f32 = cf_f32_conv_wgrad_lanes__generic,
    .im2col_f32 = cf_f32_conv_im2col__generic,
    .wgrad_dot_f32 = cf_f32_conv_wgrad_dot_2x4__generic,
    .rows_f32 = cf_f32_conv_rows_14x32__generic,
    .wgrad_taps_f32 = cf_f32_conv_wgrad_taps_9x32__generic,
    .stem_f32 = cf_f32_conv_stem_4x64__generic,
    .stem1_f32 = cf_f32_conv_stem_1x64__generic,
    .stem_wgrad_f32 = cf_f32_conv_stem_wgrad_12x2__generic,
    .fwd_f64 = cf_f64_conv_fwd__generic,
    .fwd_lanes_f64 = cf_f64_conv_fwd_lanes__generic,
    .adj_f64 = cf_f64_conv_adj__generic,
    .adj_lanes_f64 = cf_f64_conv_adj_lanes__generic,
    .wgrad_f64 = cf_f64_conv_wgrad__generic,
    .wgrad_lanes_f64 = cf_f64_conv_wgrad_lanes__generic,
    .im2col_f64 = cf_f64_conv_im2col__generic,
    .wgrad_dot_f64 = cf_f64_conv_wgrad_dot_2x4__generic,
    .dot_mi = 2,
    .dot_nj = 4,
    .dot_lanes_f32 = 8,
    .dot_lanes_f64 = 4,
    .rows_mr = 14,
    .rows_nr = 32,
    .taps_nr = 32,
};
