/* fma_peak.c -- the FMA peak of one core: independent register-only FMA chains, no memory traffic.
 *
 *     gcc -O2 -mavx512f -mfma bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 *     /tmp/fma_peak & /tmp/fma_peak; wait          # both cores at once
 *
 * Prints float32 GFLOP/s with 256-bit (ymm) and 512-bit (zmm) FMAs, 12 chains each (more than
 * latency x pipes on any current x86 core, few enough to stay in registers). The GEMM's "% of peak"
 * (bench/gemm_sweep.py --peak) is relative to the larger of the two. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 12
#define REPS 200000000L

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void) {
    __m256 y[CHAINS];
    __m512 z[CHAINS];
    const __m256 ym = _mm256_set1_ps(1.0f), ya = _mm256_set1_ps(1e-9f);
    const __m512 zm = _mm512_set1_ps(1.0f), za = _mm512_set1_ps(1e-9f);
    for (int i = 0; i < CHAINS; ++i) {
        y[i] = _mm256_set1_ps((float)i);
        z[i] = _mm512_set1_ps((float)i);
    }
    double t = seconds();
    for (long r = 0; r < REPS; ++r)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; ++i) y[i] = _mm256_fmadd_ps(y[i], ym, ya);
    const double ty = seconds() - t;
    t = seconds();
    for (long r = 0; r < REPS; ++r)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; ++i) z[i] = _mm512_fmadd_ps(z[i], zm, za);
    const double tz = seconds() - t;
    float sink = 0;
    for (int i = 0; i < CHAINS; ++i) sink += y[i][0] + z[i][0];
    printf("float32 FMA peak of one core: ymm %.1f GFLOP/s, zmm %.1f GFLOP/s (%g)\n",
           2.0 * 8 * CHAINS * REPS / ty / 1e9, 2.0 * 16 * CHAINS * REPS / tz / 1e9, sink);
    return 0;
}
