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
/* weight (k, per) scaled per row k; bias, gamma, beta may be NULL; folded_bias is (k,). */
int cf_fold_batchnorm(cf_dtype dt, cf_int k, cf_int per, const void *weight, const void *bias,
                      const void *gamma, const void *beta, const void *running_mean,
                      const void *running_var, double eps, void *folded_weight,
                      void *folded_bias, int nthreads);

#endif /* CNNFAST_H */
