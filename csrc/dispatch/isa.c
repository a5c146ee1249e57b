/* isa.c -- detect once which SIMD instruction sets this CPU *and OS* support, and hold the ISA
 * the kernels use now (lowered by CNNFAST_ISA, read in cnnfast/_runtime.py, or by tests).
 *
 * avx512: AVX-512 F, BW, DQ, VL and FMA, with ZMM/opmask state enabled by the OS (XCR0 bits 1,2,5,6,7)
 * avx2:   AVX2 and FMA, with YMM state enabled by the OS (XCR0 bits 1,2)
 * generic: anything else, and every non-x86 CPU */
#include "common.h"

#if defined(CF_X86) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static cf_isa detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return CF_ISA_GENERIC;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx || !fma) return CF_ISA_GENERIC;
    const uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return CF_ISA_GENERIC; /* SSE + YMM state */
    if (__get_cpuid_max(0, NULL) < 7) return CF_ISA_GENERIC;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    if (f && dq && bw && vl && (xcr0 & 0xe6) == 0xe6) return CF_ISA_AVX512;
    if (avx2) return CF_ISA_AVX2;
    return CF_ISA_GENERIC;
}
#else
static cf_isa detect(void) { return CF_ISA_GENERIC; }
#endif

static int detected = -1; /* cached result of detect() */
static int current = -1;  /* ISA in force; -1 until first asked */

cf_isa cf_isa_detected(void) {
    int v = __atomic_load_n(&detected, __ATOMIC_ACQUIRE);
    if (v < 0) {
        v = (int)detect();
        __atomic_store_n(&detected, v, __ATOMIC_RELEASE);
    }
    return (cf_isa)v;
}

cf_isa cf_isa_current(void) {
    int v = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
    if (v < 0) {
        v = (int)cf_isa_detected();
        __atomic_store_n(&current, v, __ATOMIC_RELEASE);
    }
    return (cf_isa)v;
}

void cf_isa_set(cf_isa isa) {
    cf_isa best = cf_isa_detected();
    __atomic_store_n(&current, (int)(isa > best ? best : isa), __ATOMIC_RELEASE);
}

const char *cf_isa_name(cf_isa isa) {
    switch (isa) {
    case CF_ISA_AVX512: return "avx512";
    case CF_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}
