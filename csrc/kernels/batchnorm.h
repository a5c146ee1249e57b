/* batchnorm.h -- kernel family "batchnorm": the streaming passes of batch normalisation over
 * `runs` consecutive runs of `len` values, run r at x + r*len, each a piece of one channel
 * (the runs of one call are consecutive planes of one sample, or a single run), with that
 * channel's parameters: the sums of run r go to s[2r], s[2r + 1]; its parameters are shift[r]
 * or the CF_BN_FWD_PARAMS or CF_BN_BWD_PARAMS values at p + r*count. One call does a sample's
 * stretch of short planes, so a 7x7 plane costs no call of its own.
 *
 * Precision: float32 data is summed in float64, shifted by a value of the channel (`shift`),
 * so a channel with mean 1e4 and std 1 keeps its digits. A SIMD kernel may first add up to
 * CF_BN_BLOCK values per lane in float32 (relative error at most CF_BN_BLOCK*eps of the sum of
 * their magnitudes) before widening the partial sums. The channel mean is given
 * as hi + lo (hi = the mean rounded to the data type, lo = the rest), and x - mean is computed
 * as (x - hi) - lo, whose first subtraction is exact near the mean. */
#ifndef CF_KERNELS_BATCHNORM_H
#define CF_KERNELS_BATCHNORM_H

#include "common.h"

#define CF_BN_BLOCK 8

/* A run's parameters, in the data type: forward hi, lo, scale, beta; backward hi, lo, a, b, c. */
#define CF_BN_FWD_PARAMS 4
#define CF_BN_BWD_PARAMS 5

typedef struct {
    /* s[2r] += sum(x - shift[r]), s[2r + 1] += sum((x - shift[r])^2), in float64. */
    void (*f32_stats)(const float *x, cf_int runs, cf_int len, const float *shift, double *s);
    void (*f64_stats)(const double *x, cf_int runs, cf_int len, const double *shift, double *s);
    /* y = ((x - hi) - lo)*scale + beta, then max(y, 0) if relu (NaN propagates). */
    void (*f32_normalise)(const float *x, float *y, cf_int runs, cf_int len, const float *p,
                          int relu);
    void (*f64_normalise)(const double *x, double *y, cf_int runs, cf_int len, const double *p,
                          int relu);
    /* With g = dy where y is NULL or y > 0, else 0 (dy, y, x alike):
     * s[2r] += sum(g), s[2r + 1] += sum(g*((x - hi) - lo)), in float64. */
    void (*f32_grad_stats)(const float *dy, const float *y, const float *x, cf_int runs,
                           cf_int len, const float *p, double *s);
    void (*f64_grad_stats)(const double *dy, const double *y, const double *x, cf_int runs,
                           cf_int len, const double *p, double *s);
    /* dx = a*g + b*((x - hi) - lo) + c, g as above; x NULL (eval, b = 0): dx = a*g + c, so a
     * non-finite x or mean does not reach dx. */
    void (*f32_grad)(const float *dy, const float *y, const float *x, float *dx, cf_int runs,
                     cf_int len, const float *p);
    void (*f64_grad)(const double *dy, const double *y, const double *x, double *dx, cf_int runs,
                     cf_int len, const double *p);
    /* One plane (cf_bn_pool) of batch_norm_relu_max_pool2d with a channel's CF_BN_FWD_PARAMS p:
     * y[o] = the max over window o of relu(((x - hi) - lo)*scale + beta), and arg[o] its
     * position t, the positions visited in order with the rule of the max-pool kernels (a
     * greater value or a NaN wins: ties keep the first, the last NaN wins). IN x (h*w); OUT y,
     * arg (p*q each). */
    void (*f32_maxpool)(const cf_bn_pool *bp, const float *x, float *y, uint8_t *arg,
                        const float *p);
    void (*f64_maxpool)(const cf_bn_pool *bp, const double *x, double *y, uint8_t *arg,
                        const double *p);
    /* Its backward, with the channel's CF_BN_BWD_PARAMS p. g = dy[o] where y[o] > 0, else 0,
     * sits at position arg[o] of window o, and every other value of the plane has g = 0.
     * grad_stats: s[0] += sum g, s[1] += sum g*((x - hi) - lo), over the windows' g only.
     * grad: dx = a*g + (b*((x - hi) - lo) + c) over the whole plane; x NULL (eval):
     * dx = a*g + c. IN dy, y, arg (p*q each), x (h*w); OUT dx (h*w). */
    void (*f32_maxpool_grad_stats)(const cf_bn_pool *bp, const float *dy, const float *y,
                                   const uint8_t *arg, const float *x, const float *p, double *s);
    void (*f64_maxpool_grad_stats)(const cf_bn_pool *bp, const double *dy, const double *y,
                                   const uint8_t *arg, const double *x, const double *p,
                                   double *s);
    void (*f32_maxpool_grad)(const cf_bn_pool *bp, const float *dy, const float *y,
                             const uint8_t *arg, const float *x, float *dx, const float *p);
    void (*f64_maxpool_grad)(const cf_bn_pool *bp, const double *dy, const double *y,
                             const uint8_t *arg, const double *x, double *dx, const double *p);
} cf_batchnorm_kernels;

/* The plain-C kernels (generic/batchnorm.c), which finish the SIMD kernels' tails. */
void cf_f32_bnorm_stats__generic(const float *x, cf_int runs, cf_int len, const float *shift,
                                 double *s);
void cf_f64_bnorm_stats__generic(const double *x, cf_int runs, cf_int len, const double *shift,
                                 double *s);
void cf_f32_bnorm_normalise__generic(const float *x, float *y, cf_int runs, cf_int len,
                                     const float *p, int relu);
void cf_f64_bnorm_normalise__generic(const double *x, double *y, cf_int runs, cf_int len,
                                     const double *p, int relu);
void cf_f32_bnorm_grad_stats__generic(const float *dy, const float *y, const float *x,
                                      cf_int runs, cf_int len, const float *p, double *s);
void cf_f64_bnorm_grad_stats__generic(const double *dy, const double *y, const double *x,
                                      cf_int runs, cf_int len, const double *p, double *s);
void cf_f32_bnorm_grad__generic(const float *dy, const float *y, const float *x, float *dx,
                                cf_int runs, cf_int len, const float *p);
void cf_f64_bnorm_grad__generic(const double *dy, const double *y, const double *x, double *dx,
                                cf_int runs, cf_int len, const double *p);

void cf_f32_bnorm_maxpool__generic(const cf_bn_pool *bp, const float *x, float *y, uint8_t *arg,
                                   const float *p);
void cf_f64_bnorm_maxpool__generic(const cf_bn_pool *bp, const double *x, double *y,
                                   uint8_t *arg, const double *p);
void cf_f32_bnorm_maxpool_grad_stats__generic(const cf_bn_pool *bp, const float *dy,
                                              const float *y, const uint8_t *arg, const float *x,
                                              const float *p, double *s);
void cf_f64_bnorm_maxpool_grad_stats__generic(const cf_bn_pool *bp, const double *dy,
                                              const double *y, const uint8_t *arg,
                                              const double *x, const double *p, double *s);
void cf_f32_bnorm_maxpool_grad__generic(const cf_bn_pool *bp, const float *dy, const float *y,
                                        const uint8_t *arg, const float *x, float *dx,
                                        const float *p);
void cf_f64_bnorm_maxpool_grad__generic(const cf_bn_pool *bp, const double *dy, const double *y,
                                        const uint8_t *arg, const double *x, double *dx,
                                        const double *p);

extern const cf_batchnorm_kernels batchnorm__generic, batchnorm__avx2, batchnorm__avx512;

#endif /* CF_KERNELS_BATCHNORM_H */
