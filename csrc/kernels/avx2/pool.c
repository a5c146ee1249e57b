/* avx2/pool.c -- AVX2 pooling kernels (contracts in kernels/pool.h). The row kernels are the
 * plain-C ones (compiled without ISA flags); the plane sum and the index check are vectorised. */
#include <immintrin.h>

#include "kernels/pool.h"

double cf_f32_sum__avx2(const float *x, cf_int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    cf_int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(s0, s1));
    float s = 0;
    for (int l = 0; l < 8; l++) s += lanes[l];
    for (; i < n; i++) s += x[i];
    return (double)s;
}

double cf_f64_sum__avx2(const double *x, cf_int n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    cf_int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = _mm256_add_pd(s0, _mm256_loadu_pd(x + i));
        s1 = _mm256_add_pd(s1, _mm256_loadu_pd(x + i + 4));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; i++) s += x[i];
    return s;
}

int cf_indices_inside__avx2(const int64_t *idx, cf_int n, cf_int limit) {
    const __m256i below = _mm256_set1_epi64x(-1), top = _mm256_set1_epi64x(limit - 1);
    __m256i bad = _mm256_setzero_si256();
    cf_int i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(idx + i));
        bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi64(below, v),
                                                   _mm256_cmpgt_epi64(v, top)));
    }
    return _mm256_testz_si256(bad, bad) && cf_indices_inside__generic(idx + i, n - i, limit);
}

const cf_pool_kernels pool__avx2 = {
    cf_f32_maxpool_rows__generic, cf_f64_maxpool_rows__generic,
    cf_f32_avgpool_rows__generic, cf_f64_avgpool_rows__generic,
    cf_f32_avgpool_spread_row__generic, cf_f64_avgpool_spread_row__generic,
    cf_f32_sum__avx2, cf_f64_sum__avx2,
    cf_indices_inside__avx2,
};
