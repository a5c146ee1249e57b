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
