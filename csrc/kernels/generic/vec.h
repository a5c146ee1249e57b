/* vec.h (generic) -- the vector layer of the kernel templates in plain C: a "vector" is one
 * scalar (W = 1), compares are ints, exp/expm1 come from libm. This makes every template kernel a
 * plain-C twin of its SIMD versions, and the fallback on every CPU. */
#ifndef CF_KERNELS_GENERIC_VEC_H
#define CF_KERNELS_GENERIC_VEC_H

#include <math.h>

#include "common.h"

#define CF_VEC_ALIGN 8
#define CF_VEC_FENCE() ((void)0)

#define F32_T float
#define F32_V float
#define F32_C int
#define F32_TM int
#define F32_W 1
#define F32_NAME(op) cf_f32_##op##__generic
#define F32_EXP expf
#define F32_EXPM1 expm1f
#define F32_ABS fabsf
#define F32_COPYSIGN copysignf

#define F64_T double
#define F64_V double
#define F64_C int
#define F64_TM int
#define F64_W 1
#define F64_NAME(op) cf_f64_##op##__generic
#define F64_EXP exp
#define F64_EXPM1 expm1
#define F64_ABS fabs
#define F64_COPYSIGN copysign

/* the same scalar operations for both dtypes */
#define CF_SCALAR_OPS(P, type)                                                                   \
    static inline type P##_set1(double s) { return (type)s; }                                    \
    static inline type P##_max(type a, type b) { return a > b ? a : b; }

CF_SCALAR_OPS(cf_f32, float)
CF_SCALAR_OPS(cf_f64, double)

#define F32_SET1(s) cf_f32_set1(s)
#define F64_SET1(s) cf_f64_set1(s)
#define F32_MAX cf_f32_max
#define F64_MAX cf_f64_max

/* One element at a time: the tail of a 1-wide loop never runs, so masks are ignored. Operations
 * are the same for both dtypes; F64_* are aliases of F32_*. */
#define F32_LOAD(p) (*(p))
#define F32_STORE(p, v) (*(p) = (v))
#define F32_STREAM(p, v) (*(p) = (v))
#define F32_TMASK(k) ((int)(k))
#define F32_MLOAD(p, m) ((void)(m), *(p))
#define F32_MLOADF(p, m, fill) ((void)(m), (void)(fill), *(p))
#define F32_MSTORE(p, m, v) ((void)(m), *(p) = (v))
#define F32_ADD(a, b) ((a) + (b))
#define F32_SUB(a, b) ((a) - (b))
#define F32_MUL(a, b) ((a) * (b))
#define F32_DIV(a, b) ((a) / (b))
#define F32_SQRT sqrtf
#define F32_FMA(a, b, c) ((a) * (b) + (c))
#define F32_GT(a, b) ((a) > (b))
#define F32_LE(a, b) ((a) <= (b))
#define F32_SEL(c, a, b) ((c) ? (a) : (b))
#define F32_HSUM(v) (v)
#define F32_HMAX(v) (v)
#define F32_BYTES(p) (*(p) != 0)
#define F32_BYTES_M(p, m) ((void)(m), *(p) != 0)
#define F32_TO_LANES(v, a) (*(a) = (v))
#define F32_FROM_LANES(a) (*(a))

#define F64_LOAD F32_LOAD
#define F64_STORE F32_STORE
#define F64_STREAM F32_STREAM
#define F64_TMASK F32_TMASK
#define F64_MLOAD F32_MLOAD
#define F64_MLOADF F32_MLOADF
#define F64_MSTORE F32_MSTORE
#define F64_ADD F32_ADD
#define F64_SUB F32_SUB
#define F64_MUL F32_MUL
#define F64_DIV F32_DIV
#define F64_SQRT sqrt
#define F64_FMA F32_FMA
#define F64_GT F32_GT
#define F64_LE F32_LE
#define F64_SEL F32_SEL
#define F64_HSUM F32_HSUM
#define F64_HMAX F32_HMAX
#define F64_BYTES F32_BYTES
#define F64_BYTES_M F32_BYTES_M
#define F64_TO_LANES F32_TO_LANES
#define F64_FROM_LANES F32_FROM_LANES

#endif /* CF_KERNELS_GENERIC_VEC_H */
