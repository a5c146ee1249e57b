/* avx2/pool.c -- AVX2 pooling kernels (contracts in kernels/pool.h): float32 max and average
 * rows, 8 outputs per register (strides 1 and 2, padding masked out lane by lane), the plane
 * sum and the index check. float64 rows and the backward spread are the plain-C kernels. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/pool.h"

/* Lane l of a block reads column c + l*sw + t: lanes inside [0, w) as an all-ones mask. `cols`
 * holds c + l*sw for the block's m lanes and a huge value past them (columns fit int32). */
static inline __m256i inside8(__m256i cols, __m256i w, int32_t t) {
    __m256i v = _mm256_add_epi32(cols, _mm256_set1_epi32(t));
    __m256i ge0 = _mm256_cmpgt_epi32(v, _mm256_set1_epi32(-1));
    return _mm256_and_si256(ge0, _mm256_cmpgt_epi32(w, v));
}

/* Tap values of the block (lanes outside the row get `fill`): stride 1 loads them directly,
 * stride 2 loads 16 columns and keeps the even ones. */
static inline __m256 taps8(const float *p, __m256i cols, __m256i cols_hi, __m256i w, int32_t t,
                           cf_int sw, __m256 fill) {
    if (sw == 1) {
        __m256i k = inside8(cols, w, t);
        return _mm256_blendv_ps(fill, _mm256_maskload_ps(p + t, k), _mm256_castsi256_ps(k));
    }
    __m256i ka = inside8(cols, w, t), kb = inside8(cols_hi, w, t);
    __m256 a = _mm256_blendv_ps(fill, _mm256_maskload_ps(p + t, ka), _mm256_castsi256_ps(ka));
    __m256 b = _mm256_blendv_ps(fill, _mm256_maskload_ps(p + t + 8, kb), _mm256_castsi256_ps(kb));
    __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Columns of lanes 0-7 (stride 1) or of elements 0-7 and 8-15 (stride 2; only the even
 * elements 2l, l < m, are needed), a huge value past them. */
static inline void block_cols(cf_int c, cf_int sw, cf_int m, __m256i *cols, __m256i *cols_hi) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    cf_int used = sw == 1 ? m : 2 * m - 1;
    __m256i far = _mm256_set1_epi32(INT32_MAX / 2);
    __m256i lo = _mm256_add_epi32(iota, _mm256_set1_epi32((int32_t)c));
    __m256i hi = _mm256_add_epi32(lo, _mm256_set1_epi32(8));
    __m256i n_lo = _mm256_set1_epi32((int32_t)used), n_hi = _mm256_set1_epi32((int32_t)(used - 8));
    *cols = _mm256_blendv_epi8(far, lo, _mm256_cmpgt_epi32(n_lo, iota));
    *cols_hi = _mm256_blendv_epi8(far, hi, _mm256_cmpgt_epi32(n_hi, iota));
}

static inline int vector_ok(cf_int w, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int dw,
                            cf_int n) {
    const cf_int lim = (cf_int)1 << 29;
    if (n < 4 || (sw != 1 && sw != 2) || w >= lim) return 0;
    cf_int first = col0 + b0 * dw, last = col0 + (n - 1) * sw + (b1 - 1) * dw;
    return first > -lim && last < lim && (b1 - b0) * dw < lim;
}

/* As the AVX-512 kernel: -inf start, each window row its own chain merged in order, the winner
 * tracked as an int32 offset from the window corner, all -inf windows fixed up at the end. */
void cf_f32_maxpool_rows__avx2(const float *const *rows, const cf_int *row_base, cf_int nrows,
                               cf_int w, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int dw,
                               cf_int n, float *y, int64_t *idx) {
    if (!vector_ok(w, col0, sw, b0, b1, dw, n) ||
        row_base[nrows - 1] - row_base[0] + (b1 - 1) * dw >= INT32_MAX) {
        cf_f32_maxpool_rows__generic(rows, row_base, nrows, w, col0, sw, b0, b1, dw, n, y, idx);
        return;
    }
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    const __m256 none = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    const __m256i wv = _mm256_set1_epi32((int32_t)w);
    for (cf_int j = 0; j < n; j += 8) {
        cf_int m = CF_MIN(8, n - j), c = col0 + j * sw;
        __m256i cols, cols_hi;
        block_cols(c, sw, m, &cols, &cols_hi);
        __m256 best = ninf, at = none;
        for (cf_int a = 0; a < nrows; a++) {
            __m256 rb = ninf, r = none;
            int32_t row_off = (int32_t)(row_base[a] - row_base[0]);
            for (cf_int b = b0; b < b1; b++) {
                __m256 v = taps8(rows[a] + c, cols, cols_hi, wv, (int32_t)(b * dw), sw, ninf);
                __m256 win = _mm256_or_ps(_mm256_cmp_ps(v, rb, _CMP_GT_OQ),
                                          _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                rb = _mm256_blendv_ps(rb, v, win);
                r = _mm256_blendv_ps(r, _mm256_castsi256_ps(_mm256_set1_epi32(row_off + (int32_t)(b * dw))), win);
            }
            __m256 win = _mm256_or_ps(_mm256_cmp_ps(rb, best, _CMP_GT_OQ),
                                      _mm256_cmp_ps(rb, rb, _CMP_UNORD_Q));
            best = _mm256_blendv_ps(best, rb, win);
            at = _mm256_blendv_ps(at, r, win);
        }
        float yv[8];
        int32_t off[8];
        _mm256_storeu_ps(yv, best);
        _mm256_storeu_si256((__m256i *)off, _mm256_castps_si256(at));
        for (cf_int l = 0; l < m; l++) {
            cf_int cs = c + l * sw;
            y[j + l] = yv[l];
            if (off[l] >= 0) {
                idx[j + l] = row_base[0] + cs + off[l];
            } else { /* every value -inf: the window's first position */
                cf_int b = b0;
                while (cs + b * dw < 0) b++;
                idx[j + l] = row_base[0] + cs + b * dw;
            }
        }
    }
}

/* As the AVX-512 kernel, 8 outputs per register (half of a 16-output block): the tap's mask
 * bits become lanes by testing each lane's bit; padding lanes read -inf. */
void cf_f32_maxpool_flat__avx2(const cf_pool_flat *fp, const float *x, float *y, int64_t *idx) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    for (cf_int o = 0; o < fp->hw; o += 8) {
        const uint16_t *mask = fp->mask + (o / 16) * fp->ntaps;
        int half = (int)(o % 16);
        __m256i pos = _mm256_add_epi32(iota, _mm256_set1_epi32((int32_t)o));
        __m256 best = ninf;
        __m256i at = _mm256_loadu_si256((const __m256i *)(fp->first + o));
        for (cf_int t = 0; t < fp->ntaps; t++) {
            __m256i sel = _mm256_and_si256(_mm256_set1_epi32((mask[t] >> half) & 0xff), bit);
            __m256i k = _mm256_cmpeq_epi32(sel, bit);
            __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + o + fp->off[t], k),
                                        _mm256_castsi256_ps(k));
            __m256 win = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                      _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            best = _mm256_blendv_ps(best, v, win);
            at = _mm256_blendv_epi8(at, _mm256_add_epi32(pos, _mm256_set1_epi32(fp->off[t])),
                                    _mm256_castps_si256(win));
        }
        cf_int m = CF_MIN(8, fp->hw - o);
        if (m == 8) {
            _mm256_storeu_ps(y + o, best);
            _mm256_storeu_si256((__m256i *)(idx + o),
                                _mm256_cvtepi32_epi64(_mm256_castsi256_si128(at)));
            _mm256_storeu_si256((__m256i *)(idx + o + 4),
                                _mm256_cvtepi32_epi64(_mm256_extracti128_si256(at, 1)));
            continue;
        }
        float yv[8];
        int32_t iv[8];
        _mm256_storeu_ps(yv, best);
        _mm256_storeu_si256((__m256i *)iv, at);
        for (cf_int l = 0; l < m; l++) {
            y[o + l] = yv[l];
            idx[o + l] = iv[l];
        }
    }
}

void cf_f32_avgpool_rows__avx2(const float *const *rows, cf_int nrows, cf_int w, cf_int col0,
                               cf_int sw, cf_int b0, cf_int b1, cf_int n, double rdiv,
                               const double *cdiv, float *y) {
    if (!vector_ok(w, col0, sw, b0, b1, 1, n)) {
        cf_f32_avgpool_rows__generic(rows, nrows, w, col0, sw, b0, b1, n, rdiv, cdiv, y);
        return;
    }
    const __m256i wv = _mm256_set1_epi32((int32_t)w);
    for (cf_int j = 0; j < n; j += 8) {
        cf_int m = CF_MIN(8, n - j), c = col0 + j * sw;
        __m256i cols, cols_hi;
        block_cols(c, sw, m, &cols, &cols_hi);
        __m256 s = _mm256_setzero_ps();
        for (cf_int a = 0; a < nrows; a++)
            for (cf_int b = b0; b < b1; b++)
                s = _mm256_add_ps(s, taps8(rows[a] + c, cols, cols_hi, wv, (int32_t)b, sw,
                                           _mm256_setzero_ps()));
        float sv[8];
        _mm256_storeu_ps(sv, s);
        for (cf_int l = 0; l < m; l++) y[j + l] = (float)((double)sv[l] / (rdiv * cdiv[j + l]));
    }
}

static double sum_f32(const float *x, cf_int n) {
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

static double sum_f64(const double *x, cf_int n) {
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

void cf_f32_means__avx2(const float *x, cf_int planes, cf_int hw, float *y) {
    for (cf_int p = 0; p < planes; p++) y[p] = (float)(sum_f32(x + p * hw, hw) / (double)hw);
}

void cf_f64_means__avx2(const double *x, cf_int planes, cf_int hw, double *y) {
    for (cf_int p = 0; p < planes; p++) y[p] = sum_f64(x + p * hw, hw) / (double)hw;
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
    cf_f32_maxpool_rows__avx2, cf_f64_maxpool_rows__generic,
    cf_f32_maxpool_flat__avx2, cf_f64_maxpool_flat__generic,
    cf_f32_maxpool_pairs__generic,
    cf_f32_avgpool_rows__avx2, cf_f64_avgpool_rows__generic,
    cf_f32_avgpool_spread_row__generic, cf_f64_avgpool_spread_row__generic,
    cf_f32_avgpool_tile_row__generic, cf_f64_avgpool_tile_row__generic,
    cf_f32_means__avx2, cf_f64_means__avx2,
    cf_indices_inside__avx2,
};
