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

/* ---- activations and output layer (frame/eltwise.c, frame/softmax.c) -------------------------
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
    CF_BINARY_ADD,             /* (x, noise): x + noise                         */
    CF_BINARY_NOISY_RELU,      /* (x, noise): relu(x + noise)                   */
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
/* IN logits (N, C), labels (N,) int64 in [0, C) (validated); OUT probs (N, C) = softmax of each
 * row, *loss_sum = sum over rows of logsumexp(row) - row[label] (double). C >= 1. */
int cf_cross_entropy_fwd(cf_dtype dt, cf_int N, cf_int C, const void *logits, const int64_t *labels,
                         void *probs, double *loss_sum, int nthreads);
/* IN probs (N, C), labels; OUT dlogits = (probs - onehot(labels)) / N. N >= 1, C >= 1. */
int cf_cross_entropy_bwd(cf_dtype dt, cf_int N, cf_int C, const void *probs, const int64_t *labels,
                         void *dlogits, int nthreads);

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

#endif /* CNNFAST_H */
