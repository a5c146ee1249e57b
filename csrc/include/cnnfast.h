/* cnnfast.h -- the C interface that cnnfast/_core.pyx calls, and nothing else.
 *
 * Contract of every cf_* entry point below:
 *  - Python (cnnfast/functional, cnnfast/_checks.py) has validated shapes, dtypes and
 *    parameters, computed output sizes with checked arithmetic, and allocated the outputs.
 *    C trusts those numbers and never a second array's shape.
 *  - Data pointers are C-contiguous arrays of the given dtype; IN pointers are never written.
 *  - `nthreads` >= 1 is the thread count decided by the Python thread policy.
 *  - The call runs without the GIL and returns CF_OK or a CF_ERR_* status. */
#ifndef CNNFAST_H
#define CNNFAST_H

#include <stdint.h>

typedef int64_t cf_int; /* every size, index and stride */

enum { CF_OK = 0, CF_ERR_NOMEM = 1, CF_ERR_INTERNAL = 2 };

typedef enum { CF_F32 = 0, CF_F64 = 1 } cf_dtype;

typedef enum { CF_ISA_GENERIC = 0, CF_ISA_AVX2 = 1, CF_ISA_AVX512 = 2 } cf_isa;

/* ---- runtime (dispatch/isa.c, frame/runtime.c) ---------------------------------------- */
cf_isa cf_isa_detected(void);     /* best ISA this CPU and OS support (cached cpuid/xgetbv)  */
cf_isa cf_isa_current(void);      /* the ISA kernels use now                                 */
void cf_isa_set(cf_isa isa);      /* lower the ISA in force; clamped to cf_isa_detected()    */
const char *cf_isa_name(cf_isa isa);
int cf_have_openmp(void);         /* 1 if built with OpenMP                                  */
int cf_omp_max_threads(void);     /* omp_get_max_threads() of the calling thread, 1 without  */
/* common.h's cf_partition and cf_threads_for, for tests of the index arithmetic */
void cf_index_partition(cf_int n, int parts, int i, cf_int align, cf_int *begin, cf_int *end);
int cf_index_threads_for(cf_int work, cf_int grain, int nthreads);

/* ---- activations, the Adam step and the output layer (frame/eltwise.c, frame/softmax.c) -----
 * Elementwise ops on n elements of flat C-contiguous arrays (any shape flattened). `param` is the
 * op's scalar (negative_slope, alpha, scale), converted to the dtype. */
typedef enum {
    CF_UNARY_RELU,        /* y = x <= 0 ? 0 : x   (NaN propagates)              */
    CF_UNARY_LEAKY_RELU,  /* y = x > 0 ? x : param * x                          */
    CF_UNARY_ELU,         /* y = x > 0 ? x : param * expm1(x)                   */
    CF_UNARY_SIGMOID,     /* y = 1 / (1 + exp(-x))                              */
    CF_UNARY_TANH,        /* y = tanh(x)                                        */
    CF_UNARY_SCALE,       /* y = param * x                                      */
    CF_UNARY_COUNT
} cf_unary_op;

typedef enum {
    CF_BINARY_RELU_BWD,        /* (dy, x): x <= 0 ? 0 : dy                      */
    CF_BINARY_LEAKY_RELU_BWD,  /* (dy, x): x > 0 ? dy : param * dy              */
    CF_BINARY_ELU_BWD,         /* (dy, x): x <= 0 ? dy * param * exp(x) : dy    */
    CF_BINARY_SIGMOID_BWD,     /* (dy, y): dy * y * (1 - y)                     */
    CF_BINARY_TANH_BWD,        /* (dy, y): dy * (1 - y * y)                     */
    CF_BINARY_RRELU,           /* (x, s): x > 0 ? x : s * x                     */
    CF_BINARY_COUNT
} cf_binary_op;

typedef enum {
    CF_TERNARY_NOISY_RELU_BWD, /* (dy, x, noise): x + noise <= 0 ? 0 : dy       */
    CF_TERNARY_RRELU_BWD,      /* (dy, x, s): x > 0 ? dy : s * dy               */
    CF_TERNARY_COUNT
} cf_ternary_op;

/* IN a, b, c; OUT y; all of n elements. */
int cf_eltwise_unary(cf_unary_op op, cf_dtype dt, cf_int n, const void *x, void *y, double param,
                     int nthreads);
int cf_eltwise_binary(cf_binary_op op, cf_dtype dt, cf_int n, const void *a, const void *b, void *y,
                      double param, int nthreads);
int cf_eltwise_ternary(cf_ternary_op op, cf_dtype dt, cf_int n, const void *a, const void *b,
                       const void *c, void *y, int nthreads);
/* IN x, mask (n bytes, 0 or 1); OUT y = x * (mask ? scale : 0). */
int cf_dropout(cf_dtype dt, cf_int n, const void *x, const uint8_t *mask, void *y, double scale,
               int nthreads);
/* x viewed as (outer, channels, inner); IN w (channels,): the slope of each channel.
 * fwd: OUT y = x > 0 ? x : w[c] * x.
 * bwd: IN dy; OUT dx = x > 0 ? dy : w[c] * dy and dw[c] = sum over x <= 0 of x * dy (summed in
 * double, per-thread partials reduced after the parallel region). */
int cf_prelu_fwd(cf_dtype dt, cf_int outer, cf_int channels, cf_int inner, const void *x, const void *w,
                 void *y, int nthreads);
int cf_prelu_bwd(cf_dtype dt, cf_int outer, cf_int channels, cf_int inner, const void *dy, const void *x,
                 const void *w, void *dx, void *dw, int nthreads);

/* One Adam step (kernels/eltwise.h) on n values: the coefficients in float64, as
 * cnnfast/_shapes.py's AdamCoefficients makes them, rounded to the data type before use.
 * IN g; IN/OUT p, m, v. */
typedef struct {
    double decay, weight_decay, lerp, beta2, one_minus_beta2, bias2_sqrt, eps, neg_step_size;
    int decoupled, lerp_small;
} cf_adam_coef;

int cf_adam_step(cf_dtype dt, cf_int n, void *p, const void *g, void *m, void *v,
                 const cf_adam_coef *c, int nthreads);

typedef enum {
    CF_SOFTMAX_FWD,      /* (x)     -> y = softmax(x)                */
    CF_LOG_SOFTMAX_FWD,  /* (x)     -> y = log_softmax(x)            */
    CF_SOFTMAX_BWD,      /* (dy, y) -> dx = y * (dy - sum(dy * y))   */
    CF_LOG_SOFTMAX_BWD   /* (dy, y) -> dx = dy - exp(y) * sum(dy)    */
} cf_softmax_op;

/* Arrays viewed as (outer, L, inner), the softmax taken along L >= 1. IN a (x or dy), b (y for the
 * backward ops, NULL for the forward ones); OUT out. */
int cf_softmax(cf_softmax_op op, cf_dtype dt, cf_int outer, cf_int L, cf_int inner, const void *a,
               const void *b, void *out, int nthreads);
/* Status of the cross-entropy calls when a label lies outside [0, C) (their outputs are then
 * garbage; nothing outside the arrays is read or written). */
enum { CF_ERR_LABEL = 17 };

/* IN logits (N, C), labels (N,) int64, each checked to lie in [0, C); OUT probs (N, C) = softmax
 * of each row, *loss_sum = sum over rows of logsumexp(row) - row[label] (double). C >= 1. */
int cf_cross_entropy_fwd(cf_dtype dt, cf_int N, cf_int C, const void *logits, const int64_t *labels,
                         void *probs, double *loss_sum, int nthreads);
/* IN probs (N, C), labels (N,) int64, each checked to lie in [0, C); OUT dlogits = (probs -
 * onehot(labels)) / N. N >= 1, C >= 1. */
int cf_cross_entropy_bwd(cf_dtype dt, cf_int N, cf_int C, const void *probs, const int64_t *labels,
                         void *dlogits, int nthreads);

/* ---- random activations in training (frame/random.c) -----------------------------------------
 * The random numbers come from Philox4x32-10 keyed by `seed` (two 64-bit words the caller drew
 * from the user's numpy.random.Generator) and are drawn in the same pass as the op; the stream is
 * specified by cnnfast/reference/_random.py and does not depend on the thread count or the ISA. */
typedef enum {
    CF_RANDOM_RRELU,          /* drawn = slopes: a + b * U (a = lower, b = upper - lower, in the
                                 dtype); y = x > 0 ? x : slope * x                              */
    CF_RANDOM_GAUSSIAN_NOISE, /* drawn = noise = a * Z (a = stddev); y = x + noise              */
    CF_RANDOM_NOISY_RELU,     /* drawn = noise = a * Z; y = relu(x + noise)                     */
    CF_RANDOM_DROPOUT,        /* drawn = keep-mask bytes, 1 where U >= a (a = p); y = x * (kept ?
                                 b : 0), b = 1 / (1 - p) or 0                                   */
    CF_RANDOM_COUNT
} cf_random_op;

/* IN x (n); OUT y (n), drawn (n of the dtype, or n bytes for dropout). */
int cf_random_activation(cf_random_op op, cf_dtype dt, cf_int n, const void *x, void *y, void *drawn,
                         const uint64_t seed[2], double a, double b, int nthreads);
/* OUT words (groups * 64): the raw stream from group group0 on, for tests. */
int cf_philox_words(cf_int groups, uint64_t group0, const uint64_t seed[2], uint32_t *words);

/* ---- output buffers (frame/outbuf.c): a small cache of large freed blocks, used as NumPy's
 * allocator for the op outputs so that repeated calls reuse mapped pages instead of faulting. */
#include <stddef.h>
void *cf_outbuf_malloc(size_t size);
void *cf_outbuf_calloc(size_t nelem, size_t elsize);
void *cf_outbuf_realloc(void *p, size_t size);
void cf_outbuf_free(void *p);
size_t cf_outbuf_set_limit(size_t bytes); /* returns the previous limit; 0 disables the cache */
size_t cf_outbuf_cached(void);            /* bytes held now */

/* ---- gemm and dense (frame/gemm.c, frame/dense.c) ------------------------------------------ */
/* C = alpha*A*B + beta*C + bias_m[i] + bias_n[j] on strided matrices (strides in elements, any
 * sign): A(i,p) = a[i*rs_a + p*cs_a] (m x k), B(p,j) = b[p*rs_b + j*cs_b] (k x n),
 * C(i,j) = c[i*rs_c + j*cs_c] (m x n, must not overlap A or B). beta == 0 never reads C.
 * bias_m (length m) and bias_n (length n) are optional (NULL); relu != 0 clamps the result at 0. */
int cf_gemm_strided(cf_dtype dtype, cf_int m, cf_int n, cf_int k, double alpha, const void *a,
                    cf_int rs_a, cf_int cs_a, const void *b, cf_int rs_b, cf_int cs_b, double beta,
                    void *c, cf_int rs_c, cf_int cs_c, const void *bias_m, const void *bias_n, int relu,
                    int nthreads);
/* The name of the microkernel cf_gemm_strided uses now for `dtype` (e.g. "cf_f32_gemm_ukernel_14x32__avx512"),
 * and its tile and blocking: out[0..4] = MR, NR, MC, KC, NC. */
const char *cf_gemm_kernel_info(cf_dtype dtype, cf_int out[5]);

/* y (n x out) = x (n x in) * w^T + bias; w is (out x in); bias (out) optional (NULL). */
int cf_linear_fwd(cf_dtype dtype, cf_int n, cf_int in, cf_int out, const void *x, const void *w,
                  const void *bias, void *y, int nthreads);
/* dx (n x in) = dy w; dw (out x in) = dy^T x; db (out) = column sums of dy, skipped when NULL. */
int cf_linear_bwd(cf_dtype dtype, cf_int n, cf_int in, cf_int out, const void *dy, const void *x,
                  const void *w, void *dx, void *dw, void *db, int nthreads);

/* ---- convolution (frame/conv2d.c) --------------------------------------------------------- */
/* One 2-D cross-correlation seen from both sides (cnnfast._shapes.ConvGeometry): the image side
 * (n, c, h, w), the feature side (n, k, p, q), the weight (k, c/groups, r, s). Feature (i, j) of
 * channel kk sums weight[kk, cc, a, b] * image[g*c/groups + cc, i*stride_h - pad_top + a*dilation_h,
 * j*stride_w - pad_left + b*dilation_w] (zero outside the image). All sizes validated by Python:
 * n >= 0, the rest >= 1, c and k divisible by groups. Arrays are C-contiguous, of dtype. */
typedef struct {
    cf_int n, c, h, w, k, p, q, r, s, groups;
    cf_int stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
} cf_conv_geom;

/* feature = correlate(image, weight) + bias (optional, length k), clamped at 0 when relu:
 * conv2d's forward and conv_transpose2d's data gradient. */
int cf_conv_correlate(cf_dtype dtype, const cf_conv_geom *g, const void *image, const void *weight,
                      const void *bias, int relu, void *feature, int nthreads);
/* image = adjoint of correlate applied to feature, + bias (optional, length c): conv2d's data
 * gradient and conv_transpose2d's forward. */
int cf_conv_correlate_adjoint(cf_dtype dtype, const cf_conv_geom *g, const void *feature,
                              const void *weight, const void *bias, void *image, int nthreads);
/* dweight (k, c/groups, r, s) = the gradient of the weight for the image and the feature
 * side's gradient. */
int cf_conv_weight_grad(cf_dtype dtype, const cf_conv_geom *g, const void *image,
                        const void *feature_grad, void *dweight, int nthreads);
/* db (channels) = sum over n and the plane of t (n, channels, plane). */
int cf_conv_bias_grad(cf_dtype dtype, cf_int n, cf_int channels, cf_int plane, const void *t, void *db,
                      int nthreads);

/* ---- pooling (frame/pool2d.c) ------------------------------------------------------------
 * x (n, c, h, w) -> y (n, c, p, q): output (i, j) pools the input rows i*sh - ph + a*dh, a < kh,
 * and columns j*sw - pw + b*dw, b < kw, that lie inside the input (cnnfast/_shapes.py,
 * PoolGeometry, says which geometries are valid; every window reads the input at least once). */
typedef struct {
    cf_int n, c, h, w, p, q;
    cf_int kh, kw, sh, sw, ph, pw, dh, dw;
    int count_include_pad; /* avg_pool2d: padding counts in the divisor (up to h + ph)      */
} cf_pool2d;

/* Status of cf_maxpool2d_bwd when an index lies outside its h*w plane (dx is then garbage). */
enum { CF_ERR_POOL_INDEX = 16 };

int cf_maxpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y, int64_t *indices,
                     int nthreads);
int cf_maxpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, cf_int pq, const void *dy,
                     const int64_t *indices, void *dx, int nthreads);
int cf_avgpool2d_fwd(cf_dtype dt, const cf_pool2d *g, const void *x, void *y, int nthreads);
int cf_avgpool2d_bwd(cf_dtype dt, const cf_pool2d *g, const void *dy, void *dx, int nthreads);
int cf_global_avgpool2d_fwd(cf_dtype dt, cf_int nc, cf_int hw, const void *x, void *y, int nthreads);
int cf_global_avgpool2d_bwd(cf_dtype dt, cf_int nc, cf_int hw, const void *dy, void *dx,
                            int nthreads);

/* ---- batch normalisation (frame/batchnorm.c) ---------------------------------------------
 * x is (n, c, s) with s = h*w (s = 1 for a 2-D (n, c) input); statistics per channel over the
 * m = n*s values. gamma, beta may be NULL (1 and 0); running_mean/var may be NULL in training. */
typedef struct {
    cf_int n, c, s;
    int training, relu;
    double momentum, eps;
} cf_bnorm;

int cf_batchnorm_fwd(cf_dtype dt, const cf_bnorm *b, const void *x, const void *gamma,
                     const void *beta, void *running_mean, void *running_var, void *y,
                     void *save_mean, void *save_invstd, int nthreads);
/* y (IN, may be NULL) is batch_norm_relu's output: the gradient passes only where y > 0. */
int cf_batchnorm_bwd(cf_dtype dt, const cf_bnorm *b, const void *dy, const void *y, const void *x,
                     const void *gamma, const void *save_mean, const void *save_invstd, void *dx,
                     void *dgamma, void *dbeta, int nthreads);

/* batch_norm_relu_max_pool2d: relu(batch_norm(x)) max-pooled in each h x w plane by windows
 * of kh x kw that tile the plane from its top-left corner (stride = window, no padding),
 * p = h / kh rows and q = w / kw columns of them; rows and columns past the last whole window belong to no window. A window's
 * positions are numbered t = a*kw + b (row a, column b; kh*kw <= 256, so t fits a uint8):
 *
 *     plane (h = w = 5, 2 x 2):   t0 t1 | t0 t1 | .      output (i, j) is window (i, j);
 *                                 t2 t3 | t2 t3 | .      "." lie in no window: their
 *                                 ------+-------+--      gradient comes from the batch
 *                                 t0 t1 | t0 t1 | .      norm alone
 *                                 t2 t3 | t2 t3 | .
 *                                 .  .  | .  .  | .                                          */
typedef struct {
    cf_int h, w, kh, kw, p, q;
} cf_bn_pool;

/* As cf_batchnorm_fwd on (n, c, h, w) data (b->s = h*w, b->relu set), with y (n, c, p, q) the
 * maxima and arg (n, c, p, q) their window positions. */
int cf_batchnorm_relu_maxpool_fwd(cf_dtype dt, const cf_bnorm *b, const cf_bn_pool *bp,
                                  const void *x, const void *gamma, const void *beta,
                                  void *running_mean, void *running_var, void *y, uint8_t *arg,
                                  void *save_mean, void *save_invstd, int nthreads);
/* Its backward: dy, y, arg (n, c, p, q) -> dx (like x), dgamma, dbeta. */
int cf_batchnorm_relu_maxpool_bwd(cf_dtype dt, const cf_bnorm *b, const cf_bn_pool *bp,
                                  const void *dy, const void *y, const uint8_t *arg,
                                  const void *x, const void *gamma, const void *save_mean,
                                  const void *save_invstd, void *dx, void *dgamma, void *dbeta,
                                  int nthreads);

/* weight (k, per) scaled per row k; bias, gamma, beta may be NULL; folded_bias is (k,). */
int cf_fold_batchnorm(cf_dtype dt, cf_int k, cf_int per, const void *weight, const void *bias,
                      const void *gamma, const void *beta, const void *running_mean,
                      const void *running_var, double eps, void *folded_weight,
                      void *folded_bias, int nthreads);

#endif /* CNNFAST_H */
