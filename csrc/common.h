/* common.h -- what every C file of cnnfast shares: the index type, status codes, the ISA enum,
 * checked size arithmetic, aligned allocation, debug asserts and the OpenMP shims.
 * Internal: Cython sees only include/cnnfast.h. */
#ifndef CF_COMMON_H
#define CF_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cnnfast.h"

#ifdef CF_HAVE_OPENMP
#include <omp.h>
#endif

/* Preconditions that Python has already validated. Checked in debug builds (CNNFAST_DEBUG=1),
 * compiled out otherwise. */
#ifdef CF_DEBUG
#include <stdio.h>
#define CF_ASSERT(cond)                                                                     \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "cnnfast: precondition failed: %s (%s:%d)\n", #cond, __FILE__,  \
                    __LINE__);                                                              \
            abort();                                                                        \
        }                                                                                   \
    } while (0)
#else
#define CF_ASSERT(cond) ((void)0)
#endif

#define CF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CF_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Alignment of every buffer cnnfast allocates: one cache line, one zmm register. */
#define CF_ALIGN 64

/* a*b and a+b on cf_int; return nonzero on overflow (the result is then unspecified). */
static inline int cf_mul_overflow(cf_int a, cf_int b, cf_int *out) { return __builtin_mul_overflow(a, b, out); }
static inline int cf_add_overflow(cf_int a, cf_int b, cf_int *out) { return __builtin_add_overflow(a, b, out); }

/* 64-byte aligned allocation; NULL on failure or on size 0 handled as 1 byte. */
static inline void *cf_malloc(size_t size) {
    void *p = NULL;
    size = (size + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    if (size == 0) size = CF_ALIGN;
    if (posix_memalign(&p, CF_ALIGN, size) != 0) return NULL;
    return p;
}
static inline void cf_free(void *p) { free(p); }

/* Number of threads worth using for `work` units when each thread should get at least `grain`
 * of them: small work runs on one thread, since starting a team costs more than it saves. */
static inline int cf_threads_for(cf_int work, cf_int grain, int nthreads) {
    cf_int useful = grain > 0 ? work / grain : work;
    if (useful < 1) useful = 1;
    if (nthreads < 1) nthreads = 1;
    return useful < nthreads ? (int)useful : nthreads;
}

#ifdef CF_HAVE_OPENMP
#define CF_THREAD_ID() omp_get_thread_num()
#define CF_NUM_THREADS_IN_TEAM() omp_get_num_threads()
#else
#define CF_THREAD_ID() 0
#define CF_NUM_THREADS_IN_TEAM() 1
#endif

/* Split [0, n) into `parts` contiguous chunks; chunk `i` is [*begin, *end). Chunk starts are
 * rounded down to multiples of `align` elements (so SIMD kernels see aligned-ish starts). */
static inline void cf_partition(cf_int n, int parts, int i, cf_int align, cf_int *begin, cf_int *end) {
    cf_int chunk = (n + parts - 1) / parts;
    if (align > 1) chunk = (chunk + align - 1) / align * align;
    cf_int b = (cf_int)i * chunk, e = b + chunk;
    if (b > n) b = n;
    if (e > n) e = n;
    *begin = b;
    *end = e;
}

/* Kernel-table selection. Each kernel family declares one table type and one table per ISA,
 * named <family>__generic, <family>__avx2, <family>__avx512 (see kernels/<family>.h);
 * CF_SELECT(family, isa) picks the table for the ISA in force. */
#ifdef CF_X86
#define CF_SELECT(family, isa)                         \
    ((isa) == CF_ISA_AVX512 ? &family##__avx512        \
     : (isa) == CF_ISA_AVX2 ? &family##__avx2          \
                            : &family##__generic)
#else
#define CF_SELECT(family, isa) ((void)(isa), &family##__generic)
#endif

#endif /* CF_COMMON_H */
