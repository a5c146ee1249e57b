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

#endif /* CNNFAST_H */
