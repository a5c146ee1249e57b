/* avx512/pool.c -- AVX-512 pooling row kernels (contracts in kernels/pool.h).
 *
 * Vectorised along the output row, 16 float / 8 double outputs per register; the padding of
 * edge windows is masked out lane by lane. Stride 1 loads the
 * taps directly; stride 2 loads the 2x wider run of input and keeps its even elements with one
 * two-source permute:
 *      x[c .. c+32)  --permutex2var(0, 2, 4, ..., 30)-->  x[c], x[c+2], ..., x[c+30]
 * Other strides and short rows go to the plain-C kernels. Masked loads and stores handle the
 * row's tail, so nothing past the last tap is touched. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/pool.h"

/* Lanes [0, m) of a 16-lane mask. */
static inline __mmask16 lanes16(cf_int m) { return m >= 16 ? 0xffff : (__mmask16)((1u << m) - 1); }
static inline __mmask8 lanes8(cf_int m) { return m >= 8 ? 0xff : (__mmask8)((1u << m) - 1); }

/* Which lanes read the input: a tap at column offset t from the block's first window start
 * reads, in lane l, column c + l*sw + t. `cols` holds c + l*sw (lanes >= m hold a huge value),
 * and lane l is inside when 0 <= cols[l] + t < w. Columns fit int32 (checked on entry). */
typedef struct {
    __m512i cols, w;       /* float32: 16 lanes; for stride 2, elements 0-15 and 16-31   */
    __m512i cols_hi;       /* stride 2: the columns of elements 16-31                     */
    cf_int first, last, width; /* columns of lane 0 and lane m-1 at t = 0; the row width  */
    __mmask16 all, all_hi; /* the load masks when every lane is inside                    */
} lanes_f32;

static inline __mmask16 inside16(__m512i cols, __m512i w, int32_t t) {
    __m512i v = _mm512_add_epi32(cols, _mm512_set1_epi32(t));
    return _mm512_cmpge_epi32_mask(v, _mm512_setzero_si512()) & _mm512_cmplt_epi32_mask(v, w);
}

/* Lane l (< m) reads column col + l*sw (sw in {1, 2}) of the row starting at `row`: lanes
 * inside the row are loaded, the others get `fill`. The address may lie before or past the
 * row: masked loads do not touch the elements they leave out. */
static inline __m512 taps_f32(const float *row, cf_int c, int32_t t, cf_int sw,
                              const lanes_f32 *ln, __m512 fill) {
    int inside = ln->first + t >= 0 && ln->last + t < ln->width; /* the common case */
    __mmask16 k = inside ? ln->all : inside16(ln->cols, ln->w, t);
    if (sw == 1) return _mm512_mask_loadu_ps(fill, k, row + c + t);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    __mmask16 k_hi = inside ? ln->all_hi : inside16(ln->cols_hi, ln->w, t);
    __m512 a = _mm512_mask_loadu_ps(fill, k, row + c + t);
    __m512 b = _mm512_mask_loadu_ps(fill, k_hi, row + c + t + 16);
    return _mm512_permutex2var_ps(a, even, b);
}

/* Element columns for a block of m lanes from column c: per lane (sw = 1) or per element of
 * the 2x wider run (sw = 2; only the even elements e = 2l, l < m, count). */
static inline lanes_f32 lanes_make_f32(cf_int c, cf_int sw, cf_int m, cf_int w) {
    lanes_f32 ln;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i far = _mm512_set1_epi32(INT32_MAX / 2);
    ln.w = _mm512_set1_epi32((int32_t)w);
    ln.cols = _mm512_add_epi32(iota, _mm512_set1_epi32((int32_t)c));
    ln.cols_hi = _mm512_add_epi32(ln.cols, _mm512_set1_epi32(16));
    ln.first = c;
    ln.last = c + (m - 1) * sw;
    ln.width = w;
    if (sw == 1) {
        ln.all = lanes16(m);
        ln.all_hi = 0;
    } else { /* elements past 2(m-1) are not needed */
        cf_int e = 2 * m - 1;
        ln.all = lanes16(e);
        ln.all_hi = lanes16(e - 16 > 0 ? e - 16 : 0);
    }
    ln.cols = _mm512_mask_mov_epi32(far, ln.all, ln.cols);
    ln.cols_hi = _mm512_mask_mov_epi32(far, ln.all_hi, ln.cols_hi);
    return ln;
}

typedef struct {
    __m256i cols, w, cols_hi;
    cf_int first, last, width;
    __mmask8 all, all_hi;
} lanes_f64;

static inline __mmask8 inside8(__m256i cols, __m256i w, int32_t t) {
    __m256i v = _mm256_add_epi32(cols, _mm256_set1_epi32(t));
    return _mm256_cmpge_epi32_mask(v, _mm256_setzero_si256()) & _mm256_cmplt_epi32_mask(v, w);
}

static inline __m512d taps_f64(const double *row, cf_int c, int32_t t, cf_int sw,
                               const lanes_f64 *ln, __m512d fill) {
    int inside = ln->first + t >= 0 && ln->last + t < ln->width;
    __mmask8 k = inside ? ln->all : inside8(ln->cols, ln->w, t);
    if (sw == 1) return _mm512_mask_loadu_pd(fill, k, row + c + t);
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    __mmask8 k_hi = inside ? ln->all_hi : inside8(ln->cols_hi, ln->w, t);
    __m512d a = _mm512_mask_loadu_pd(fill, k, row + c + t);
    __m512d b = _mm512_mask_loadu_pd(fill, k_hi, row + c + t + 8);
    return _mm512_permutex2var_pd(a, even, b);
}

static inline lanes_f64 lanes_make_f64(cf_int c, cf_int sw, cf_int m, cf_int w) {
    lanes_f64 ln;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i far = _mm256_set1_epi32(INT32_MAX / 2);
    ln.w = _mm256_set1_epi32((int32_t)w);
    ln.cols = _mm256_add_epi32(iota, _mm256_set1_epi32((int32_t)c));
    ln.cols_hi = _mm256_add_epi32(ln.cols, _mm256_set1_epi32(8));
    ln.first = c;
    ln.last = c + (m - 1) * sw;
    ln.width = w;
    if (sw == 1) {
        ln.all = lanes8(m);
        ln.all_hi = 0;
    } else {
        cf_int e = 2 * m - 1;
        ln.all = lanes8(e);
        ln.all_hi = lanes8(e - 8 > 0 ? e - 8 : 0);
    }
    ln.cols = _mm256_mask_mov_epi32(far, ln.all, ln.cols);
    ln.cols_hi = _mm256_mask_mov_epi32(far, ln.all_hi, ln.cols_hi);
    return ln;
}

/* The vector kernels take strides 1 and 2, rows of at least 4 outputs, and columns that fit
 * int32 with room to spare; anything else goes to the plain-C kernels. */
static inline int vector_ok(cf_int w, cf_int col0, cf_int sw, cf_int b0, cf_int b1, cf_int dw,
                            cf_int n) {
    const cf_int lim = (cf_int)1 << 29;
    if (n < 4 || (sw != 1 && sw != 2) || w >= lim) return 0;
    cf_int first = col0 + b0 * dw, last = col0 + (n - 1) * sw + (b1 - 1) * dw;
    return first > -lim && last < lim && (b1 - b0) * dw < lim;
}

/* The flat index of the first input position of output lane l's window (for a window whose
 * values are all -inf: no tap beats the -inf start, and the first one must be named). */
static int64_t first_inside(const cf_int *row_base, cf_int w, cf_int cs, cf_int b0, cf_int b1,
                            cf_int dw) {
    for (cf_int b = b0; b < b1; b++)
        if (cs + b * dw >= 0 && cs + b * dw < w) return row_base[0] + cs + b * dw;
    return -1; /* unreachable: every window reads the input */
}

/* Running max of one window row merged into (best, at): a tap wins if greater or NaN. The max
 * starts at -inf with no index, padding reads as -inf, and lanes left without an index at the
 * end (all their values -inf) get their window's first position. Each window row is scanned
 * as its own dependency chain and merged in order; the merge is associative, so the result is
 * that of one scan in window order. The winning tap is tracked as its int32 offset from the
 * window's top-left corner (row_base[a] - row_base[0] + b*dw) and turned into the flat index
 * once at the end.
 * As in the flat kernels below, the block is first scanned without the NaN rule: the running
 * max is max(v, best) (ties keep the first; one short dependency step per tap) and the index
 * follows v > best; a sum of the taps probes for NaN, and a block whose probe is NaN is scanned
 * again by the exact rule. */
static inline int offsets_fit(const cf_int *row_base, cf_int nrows, cf_int b1, cf_int dw) {
    return row_base[nrows - 1] - row_base[0] + (b1 - 1) * dw < INT32_MAX;
}

/* The winners' offsets of one block of 16 outputs (-1: none), their maxima in *best, and
 * (exact = 0) whether the NaN probe fired in *nan. */
static inline __m512i max_block_f32(const float *const *rows, const cf_int *row_base,
                                    cf_int nrows, cf_int c, cf_int sw, cf_int b0, cf_int b1,
                                    cf_int dw, const lanes_f32 *ln, int exact, __m512 *best,
                                    int *nan) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __m512i none = _mm512_set1_epi32(-1);
    __m512 bst = ninf, probe = _mm512_setzero_ps();
    __m512i at = none;
    for (cf_int a = 0; a < nrows; a++) {
        __m512 rb = ninf;
        __m512i r = none;
        int32_t row_off = (int32_t)(row_base[a] - row_base[0]);
        for (cf_int b = b0; b < b1; b++) {
            __m512 v = taps_f32(rows[a], c, (int32_t)(b * dw), sw, ln, ninf);
            __m512i off = _mm512_set1_epi32(row_off + (int32_t)(b * dw));
            if (exact) {
                __mmask16 win = _mm512_cmp_ps_mask(v, rb, _CMP_GT_OQ) |
                                _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                rb = _mm512_mask_mov_ps(rb, win, v);
                r = _mm512_mask_mov_epi32(r, win, off);
            } else {
                r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, rb, _CMP_GT_OQ), off);
                rb = _mm512_max_ps(v, rb);
                probe = _mm512_add_ps(probe, v);
            }
        }
        if (exact) {
            __mmask16 win = _mm512_cmp_ps_mask(rb, bst, _CMP_GT_OQ) |
                            _mm512_cmp_ps_mask(rb, rb, _CMP_UNORD_Q);
            bst = _mm512_mask_mov_ps(bst, win, rb);
            at = _mm512_mask_mov_epi32(at, win, r);
        } else {
            at = _mm512_mask_mov_epi32(at, _mm512_cmp_ps_mask(rb, bst, _CMP_GT_OQ), r);
            bst = _mm512_max_ps(rb, bst);
        }
    }
    *best = bst;
    *nan = !exact && _mm512_cmp_ps_mask(probe, probe, _CMP_UNORD_Q) != 0;
    return at;
}

void cf_f32_maxpool_rows__avx512(const float *const *rows, const cf_int *row_base,
                                 cf_int nrows, cf_int w, cf_int col0, cf_int sw, cf_int b0,
                                 cf_int b1, cf_int dw, cf_int n, float *y, int64_t *idx) {
    if (!vector_ok(w, col0, sw, b0, b1, dw, n) || !offsets_fit(row_base, nrows, b1, dw)) {
        cf_f32_maxpool_rows__generic(rows, row_base, nrows, w, col0, sw, b0, b1, dw, n, y, idx);
        return;
    }
    const __m512i none = _mm512_set1_epi32(-1);
    const __m512i step = _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm512_set1_epi64(sw));
    for (cf_int j = 0; j < n; j += 16) {
        cf_int m = CF_MIN(16, n - j), c = col0 + j * sw;
        lanes_f32 ln = lanes_make_f32(c, sw, m, w);
        __m512 best;
        int nan;
        __m512i at = max_block_f32(rows, row_base, nrows, c, sw, b0, b1, dw, &ln, 0, &best, &nan);
        if (nan) at = max_block_f32(rows, row_base, nrows, c, sw, b0, b1, dw, &ln, 1, &best, &nan);
        __mmask16 k = lanes16(m);
        /* flat index = row_base[0] + the lane's window start column + offset */
        __m512i corner = _mm512_add_epi64(step, _mm512_set1_epi64(row_base[0] + c));
        __m512i lo = _mm512_add_epi64(corner, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
        __m512i hi = _mm512_add_epi64(_mm512_add_epi64(corner, _mm512_set1_epi64(8 * sw)),
                                      _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
        _mm512_mask_storeu_ps(y + j, k, best);
        _mm512_mask_storeu_epi64(idx + j, (__mmask8)k, lo);
        _mm512_mask_storeu_epi64(idx + j + 8, (__mmask8)(k >> 8), hi);
        __mmask16 lost = k & _mm512_cmpeq_epi32_mask(at, none);
        for (int l = 0; lost; l++, lost >>= 1)
            if (lost & 1) idx[j + l] = first_inside(row_base, w, c + l * sw, b0, b1, dw);
    }
}

static inline __m256i max_block_f64(const double *const *rows, const cf_int *row_base,
                                    cf_int nrows, cf_int c, cf_int sw, cf_int b0, cf_int b1,
                                    cf_int dw, const lanes_f64 *ln, int exact, __m512d *best,
                                    int *nan) {
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    const __m256i none = _mm256_set1_epi32(-1);
    __m512d bst = ninf, probe = _mm512_setzero_pd();
    __m256i at = none;
    for (cf_int a = 0; a < nrows; a++) {
        __m512d rb = ninf;
        __m256i r = none;
        int32_t row_off = (int32_t)(row_base[a] - row_base[0]);
        for (cf_int b = b0; b < b1; b++) {
            __m512d v = taps_f64(rows[a], c, (int32_t)(b * dw), sw, ln, ninf);
            __m256i off = _mm256_set1_epi32(row_off + (int32_t)(b * dw));
            if (exact) {
                __mmask8 win = _mm512_cmp_pd_mask(v, rb, _CMP_GT_OQ) |
                               _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);
                rb = _mm512_mask_mov_pd(rb, win, v);
                r = _mm256_mask_mov_epi32(r, win, off);
            } else {
                r = _mm256_mask_mov_epi32(r, _mm512_cmp_pd_mask(v, rb, _CMP_GT_OQ), off);
                rb = _mm512_max_pd(v, rb);
                probe = _mm512_add_pd(probe, v);
            }
        }
        if (exact) {
            __mmask8 win = _mm512_cmp_pd_mask(rb, bst, _CMP_GT_OQ) |
                           _mm512_cmp_pd_mask(rb, rb, _CMP_UNORD_Q);
            bst = _mm512_mask_mov_pd(bst, win, rb);
            at = _mm256_mask_mov_epi32(at, win, r);
        } else {
            at = _mm256_mask_mov_epi32(at, _mm512_cmp_pd_mask(rb, bst, _CMP_GT_OQ), r);
            bst = _mm512_max_pd(rb, bst);
        }
    }
    *best = bst;
    *nan = !exact && _mm512_cmp_pd_mask(probe, probe, _CMP_UNORD_Q) != 0;
    return at;
}

void cf_f64_maxpool_rows__avx512(const double *const *rows, const cf_int *row_base,
                                 cf_int nrows, cf_int w, cf_int col0, cf_int sw, cf_int b0,
                                 cf_int b1, cf_int dw, cf_int n, double *y, int64_t *idx) {
    if (!vector_ok(w, col0, sw, b0, b1, dw, n) || !offsets_fit(row_base, nrows, b1, dw)) {
        cf_f64_maxpool_rows__generic(rows, row_base, nrows, w, col0, sw, b0, b1, dw, n, y, idx);
        return;
    }
    const __m256i none = _mm256_set1_epi32(-1);
    const __m512i step = _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm512_set1_epi64(sw));
    for (cf_int j = 0; j < n; j += 8) {
        cf_int m = CF_MIN(8, n - j), c = col0 + j * sw;
        lanes_f64 ln = lanes_make_f64(c, sw, m, w);
        __m512d best;
        int nan;
        __m256i at = max_block_f64(rows, row_base, nrows, c, sw, b0, b1, dw, &ln, 0, &best, &nan);
        if (nan) at = max_block_f64(rows, row_base, nrows, c, sw, b0, b1, dw, &ln, 1, &best, &nan);
        __mmask8 k = lanes8(m);
        __m512i corner = _mm512_add_epi64(step, _mm512_set1_epi64(row_base[0] + c));
        _mm512_mask_storeu_pd(y + j, k, best);
        _mm512_mask_storeu_epi64(idx + j, k, _mm512_add_epi64(corner, _mm512_cvtepi32_epi64(at)));
        __mmask8 lost = k & _mm256_cmpeq_epi32_mask(at, none);
        for (int l = 0; lost; l++, lost >>= 1)
            if (lost & 1) idx[j + l] = first_inside(row_base, w, c + l * sw, b0, b1, dw);
    }
}

/* One plane, 16 outputs per block (float64: 8). Padding lanes load -inf and never win; each lane
 * starts at -inf with its first inside tap as the index, so a window of -inf names its first
 * position. The winner's flat position is carried as int32 (planes fit).
 * The running max is max(v, best), which keeps `best` on ties (the first tap wins) and is
 * one short dependency step per tap; the index follows the strict compare v > best. That max
 * drops a NaN tap, so a sum of the taps probes for NaN (a NaN tap, or +inf meeting -inf,
 * makes it NaN) and a block whose probe is NaN is redone by the exact rule: a tap wins if
 * greater or NaN. */
static inline __m512i max_flat_exact_f32(const cf_pool_flat *fp, const uint16_t *mask,
                                         const float *x, cf_int o, __m512i pos, __m512i at,
                                         __m512 *best) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 b = ninf;
    for (cf_int t = 0; t < fp->ntaps; t++) {
        __m512 v = _mm512_mask_loadu_ps(ninf, mask[t], x + o + fp->off[t]);
        __mmask16 win = _mm512_cmp_ps_mask(v, b, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        b = _mm512_mask_mov_ps(b, win, v);
        at = _mm512_mask_add_epi32(at, win, pos, _mm512_set1_epi32(fp->off[t]));
    }
    *best = b;
    return at;
}

void cf_f32_maxpool_flat__avx512(const cf_pool_flat *fp, const float *x, float *y,
                                 int64_t *idx) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const uint16_t *mask = fp->mask;
    for (cf_int o = 0; o < fp->hw; o += 16, mask += fp->ntaps) {
        __m512i pos = _mm512_add_epi32(iota, _mm512_set1_epi32((int32_t)o));
        __m512i first = _mm512_loadu_si512(fp->first + o), at = first;
        __m512 best = ninf, probe = _mm512_setzero_ps();
        for (cf_int t = 0; t < fp->ntaps; t++) {
            __m512 v = _mm512_mask_loadu_ps(ninf, mask[t], x + o + fp->off[t]);
            at = _mm512_mask_add_epi32(at, _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ), pos,
                                       _mm512_set1_epi32(fp->off[t]));
            best = _mm512_max_ps(v, best);
            probe = _mm512_add_ps(probe, v);
        }
        if (_mm512_cmp_ps_mask(probe, probe, _CMP_UNORD_Q))
            at = max_flat_exact_f32(fp, mask, x, o, pos, first, &best);
        __mmask16 k = lanes16(fp->hw - o);
        _mm512_mask_storeu_ps(y + o, k, best);
        _mm512_mask_storeu_epi64(idx + o, (__mmask8)k,
                                 _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
        _mm512_mask_storeu_epi64(idx + o + 8, (__mmask8)(k >> 8),
                                 _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
    }
}

static inline __m256i max_flat_exact_f64(const cf_pool_flat *fp, const uint16_t *mask, int half,
                                         const double *x, cf_int o, __m256i pos, __m256i at,
                                         __m512d *best) {
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    __m512d b = ninf;
    for (cf_int t = 0; t < fp->ntaps; t++) {
        __m512d v = _mm512_mask_loadu_pd(ninf, (__mmask8)(mask[t] >> half), x + o + fp->off[t]);
        __mmask8 win = _mm512_cmp_pd_mask(v, b, _CMP_GT_OQ) | _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);
        b = _mm512_mask_mov_pd(b, win, v);
        at = _mm256_mask_add_epi32(at, win, pos, _mm256_set1_epi32(fp->off[t]));
    }
    *best = b;
    return at;
}

void cf_f64_maxpool_flat__avx512(const cf_pool_flat *fp, const double *x, double *y,
                                 int64_t *idx) {
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (cf_int o = 0; o < fp->hw; o += 8) {
        const uint16_t *mask = fp->mask + (o / 16) * fp->ntaps;
        int half = (int)(o % 16);
        __m256i pos = _mm256_add_epi32(iota, _mm256_set1_epi32((int32_t)o));
        __m256i first = _mm256_loadu_si256((const __m256i *)(fp->first + o)), at = first;
        __m512d best = ninf, probe = _mm512_setzero_pd();
        for (cf_int t = 0; t < fp->ntaps; t++) {
            __m512d v = _mm512_mask_loadu_pd(ninf, (__mmask8)(mask[t] >> half), x + o + fp->off[t]);
            at = _mm256_mask_add_epi32(at, _mm512_cmp_pd_mask(v, best, _CMP_GT_OQ), pos,
                                       _mm256_set1_epi32(fp->off[t]));
            best = _mm512_max_pd(v, best);
            probe = _mm512_add_pd(probe, v);
        }
        if (_mm512_cmp_pd_mask(probe, probe, _CMP_UNORD_Q))
            at = max_flat_exact_f64(fp, mask, half, x, o, pos, first, &best);
        __mmask8 k = lanes8(fp->hw - o);
        _mm512_mask_storeu_pd(y + o, k, best);
        _mm512_mask_storeu_epi64(idx + o, k, _mm512_cvtepi32_epi64(at));
    }
}

/* Output row pairs (kernels/pool.h, cf_pool_pairs): per window row two masked loads, per tap
 * one two-source permute. The scan is that of the flat kernels, with the NaN probe and the
 * exact redo (exact = 1) of a block whose probe is NaN. */
static inline __m512i max_pairs_f32(const cf_pool_pairs *pp, const float *x, const int32_t *rows,
                                    __m512i at, int exact, __m512 *best, int *nan) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __mmask16 lo = lanes16(pp->q);
    __m512 bst = ninf, probe = _mm512_setzero_ps();
    for (cf_int a = 0; a < pp->kh; a++) {
        int32_t r0 = rows[2 * a], r1 = rows[2 * a + 1];
        __m512 top = r0 < 0 ? ninf : _mm512_mask_loadu_ps(ninf, pp->fill, x + r0 * pp->w + pp->left);
        __m512 bot = r1 < 0 ? ninf : _mm512_mask_loadu_ps(ninf, pp->fill, x + r1 * pp->w + pp->left);
        __m512i base = _mm512_mask_blend_epi32(lo, _mm512_set1_epi32(r1 * (int32_t)pp->w),
                                               _mm512_set1_epi32(r0 * (int32_t)pp->w));
        for (cf_int b = 0; b < pp->kw; b++) {
            __m512 v = _mm512_permutex2var_ps(top, _mm512_loadu_si512(pp->pick + 16 * b), bot);
            __m512i col = _mm512_loadu_si512(pp->col + 16 * b);
            if (exact) {
                __mmask16 win = _mm512_cmp_ps_mask(v, bst, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                bst = _mm512_mask_mov_ps(bst, win, v);
                at = _mm512_mask_add_epi32(at, win, base, col);
            } else {
                at = _mm512_mask_add_epi32(at, _mm512_cmp_ps_mask(v, bst, _CMP_GT_OQ), base, col);
                bst = _mm512_max_ps(v, bst);
                probe = _mm512_add_ps(probe, v);
            }
        }
    }
    *best = bst;
    *nan = !exact && _mm512_cmp_ps_mask(probe, probe, _CMP_UNORD_Q) != 0;
    return at;
}

void cf_f32_maxpool_pairs__avx512(const cf_pool_pairs *pp, const float *x, float *y,
                                  int64_t *idx) {
    for (cf_int i = 0; i < pp->p; i += 2) {
        cf_int o = i * pp->q;
        const int32_t *rows = pp->row + i * pp->kh;
        __mmask16 live = lanes16(CF_MIN(2, pp->p - i) * pp->q);
        __m512i first = _mm512_maskz_loadu_epi32(live, pp->first + o);
        __m512 best;
        int nan;
        __m512i at = max_pairs_f32(pp, x, rows, first, 0, &best, &nan);
        if (nan) at = max_pairs_f32(pp, x, rows, first, 1, &best, &nan);
        _mm512_mask_storeu_ps(y + o, live, best);
        _mm512_mask_storeu_epi64(idx + o, (__mmask8)live,
                                 _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
        _mm512_mask_storeu_epi64(idx + o + 8, (__mmask8)(live >> 8),
                                 _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
    }
}

void cf_f32_avgpool_rows__avx512(const float *const *rows, cf_int nrows, cf_int w, cf_int col0,
                                 cf_int sw, cf_int b0, cf_int b1, cf_int n, double rdiv,
                                 const double *cdiv, float *y) {
    if (!vector_ok(w, col0, sw, b0, b1, 1, n)) {
        cf_f32_avgpool_rows__generic(rows, nrows, w, col0, sw, b0, b1, n, rdiv, cdiv, y);
        return;
    }
    const __m512d r = _mm512_set1_pd(rdiv);
    for (cf_int j = 0; j < n; j += 16) {
        cf_int m = CF_MIN(16, n - j), c = col0 + j * sw;
        lanes_f32 ln = lanes_make_f32(c, sw, m, w);
        __m512 s = _mm512_setzero_ps();
        for (cf_int a = 0; a < nrows; a++)
            for (cf_int b = b0; b < b1; b++)
                s = _mm512_add_ps(s, taps_f32(rows[a], c, (int32_t)b, sw, &ln, _mm512_setzero_ps()));
        __m512d d_lo = _mm512_mul_pd(r, _mm512_maskz_loadu_pd(lanes8(m), cdiv + j));
        __m512d d_hi = _mm512_mul_pd(r, _mm512_mask_loadu_pd(_mm512_set1_pd(1), lanes8(m - 8 > 0 ? m - 8 : 0), cdiv + j + 8));
        d_lo = _mm512_mask_blend_pd(lanes8(m), _mm512_set1_pd(1), d_lo);
        __m256 lo = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(s)), d_lo));
        __m256 hi = _mm512_cvtpd_ps(_mm512_div_pd(
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1))), d_hi));
        _mm512_mask_storeu_ps(y + j, lanes16(m), _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1));
    }
}

void cf_f64_avgpool_rows__avx512(const double *const *rows, cf_int nrows, cf_int w, cf_int col0,
                                 cf_int sw, cf_int b0, cf_int b1, cf_int n, double rdiv,
                                 const double *cdiv, double *y) {
    if (!vector_ok(w, col0, sw, b0, b1, 1, n)) {
        cf_f64_avgpool_rows__generic(rows, nrows, w, col0, sw, b0, b1, n, rdiv, cdiv, y);
        return;
    }
    const __m512d r = _mm512_set1_pd(rdiv);
    for (cf_int j = 0; j < n; j += 8) {
        cf_int m = CF_MIN(8, n - j), c = col0 + j * sw;
        lanes_f64 ln = lanes_make_f64(c, sw, m, w);
        __m512d s = _mm512_setzero_pd();
        for (cf_int a = 0; a < nrows; a++)
            for (cf_int b = b0; b < b1; b++)
                s = _mm512_add_pd(s, taps_f64(rows[a], c, (int32_t)b, sw, &ln, _mm512_setzero_pd()));
        __m512d d = _mm512_mul_pd(r, _mm512_mask_loadu_pd(_mm512_set1_pd(1), lanes8(m), cdiv + j));
        _mm512_mask_storeu_pd(y + j, lanes8(m), _mm512_div_pd(s, d));
    }
}

/* Stride 2: share[l] goes to the even element 2l of a 32-wide run (odd elements get + 0). */
void cf_f32_avgpool_spread_row__avx512(const float *share, cf_int col0, cf_int sw, cf_int b0,
                                       cf_int b1, cf_int n, float *dx) {
    if (n < 4 || (sw != 1 && sw != 2)) {
        cf_f32_avgpool_spread_row__generic(share, col0, sw, b0, b1, n, dx);
        return;
    }
    const __m512i spread_lo = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
    const __m512i spread_hi = _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
    const __m512 zero = _mm512_setzero_ps();
    for (cf_int j = 0; j < n; j += 16) {
        cf_int m = CF_MIN(16, n - j);
        __m512 s = _mm512_maskz_loadu_ps(lanes16(m), share + j);
        float *p = dx + col0 + j * sw;
        if (sw == 1) {
            for (cf_int b = b0; b < b1; b++) {
                __m512 v = _mm512_maskz_loadu_ps(lanes16(m), p + b);
                _mm512_mask_storeu_ps(p + b, lanes16(m), _mm512_add_ps(v, s));
            }
            continue;
        }
        __m512 lo = _mm512_permutex2var_ps(s, spread_lo, zero);
        __m512 hi = _mm512_permutex2var_ps(s, spread_hi, zero);
        cf_int need = 2 * m - 1;
        __mmask16 klo = lanes16(need), khi = lanes16(need - 16 > 0 ? need - 16 : 0);
        for (cf_int b = b0; b < b1; b++) {
            __m512 vlo = _mm512_maskz_loadu_ps(klo, p + b);
            _mm512_mask_storeu_ps(p + b, klo, _mm512_add_ps(vlo, lo));
            __m512 vhi = _mm512_maskz_loadu_ps(khi, p + b + 16);
            _mm512_mask_storeu_ps(p + b + 16, khi, _mm512_add_ps(vhi, hi));
        }
    }
}

void cf_f64_avgpool_spread_row__avx512(const double *share, cf_int col0, cf_int sw, cf_int b0,
                                       cf_int b1, cf_int n, double *dx) {
    if (n < 4 || (sw != 1 && sw != 2)) {
        cf_f64_avgpool_spread_row__generic(share, col0, sw, b0, b1, n, dx);
        return;
    }
    const __m512i spread_lo = _mm512_setr_epi64(0, 8, 1, 8, 2, 8, 3, 8);
    const __m512i spread_hi = _mm512_setr_epi64(4, 8, 5, 8, 6, 8, 7, 8);
    const __m512d zero = _mm512_setzero_pd();
    for (cf_int j = 0; j < n; j += 8) {
        cf_int m = CF_MIN(8, n - j);
        __m512d s = _mm512_maskz_loadu_pd(lanes8(m), share + j);
        double *p = dx + col0 + j * sw;
        if (sw == 1) {
            for (cf_int b = b0; b < b1; b++) {
                __m512d v = _mm512_maskz_loadu_pd(lanes8(m), p + b);
                _mm512_mask_storeu_pd(p + b, lanes8(m), _mm512_add_pd(v, s));
            }
            continue;
        }
        __m512d lo = _mm512_permutex2var_pd(s, spread_lo, zero);
        __m512d hi = _mm512_permutex2var_pd(s, spread_hi, zero);
        cf_int need = 2 * m - 1;
        __mmask8 klo = lanes8(need), khi = lanes8(need - 8 > 0 ? need - 8 : 0);
        for (cf_int b = b0; b < b1; b++) {
            __m512d vlo = _mm512_maskz_loadu_pd(klo, p + b);
            _mm512_mask_storeu_pd(p + b, klo, _mm512_add_pd(vlo, lo));
            __m512d vhi = _mm512_maskz_loadu_pd(khi, p + b + 8);
            _mm512_mask_storeu_pd(p + b + 8, khi, _mm512_add_pd(vhi, hi));
        }
    }
}

/* Stride 2: the shares of 16 windows (float64: 8) are computed once, and each is written to
 * its two columns by a two-source permute of this block's and the next block's shares:
 *      dx[c + l] = share[(c + l + pw) / 2]  for the 32 columns from c (c even, j0 = c / 2)
 * Other strides go to the plain-C kernel. */
static inline __m512 shares16(const float *dy, const double *cdiv, __m512d r, cf_int q, cf_int j) {
    cf_int m = q - j < 0 ? 0 : q - j;
    __mmask8 k_lo = lanes8(m), k_hi = lanes8(m > 8 ? m - 8 : 0);
    const __m512d one = _mm512_set1_pd(1);
    __m512 v = _mm512_maskz_loadu_ps(lanes16(m), dy + j);
    __m512d d_lo = _mm512_mul_pd(r, _mm512_mask_loadu_pd(one, k_lo, cdiv + j));
    __m512d d_hi = _mm512_mul_pd(r, _mm512_mask_loadu_pd(one, k_hi, cdiv + j + 8));
    __m256 lo = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), d_lo));
    __m256 hi = _mm512_cvtpd_ps(_mm512_div_pd(
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), d_hi));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

void cf_f32_avgpool_tile_row__avx512(const float *dy, const double *cdiv, double rdiv, cf_int q,
                                     cf_int s, cf_int pw, cf_int w, float *dx) {
    if (s != 2 || w >= ((cf_int)1 << 30)) {
        cf_f32_avgpool_tile_row__generic(dy, cdiv, rdiv, q, s, pw, w, dx);
        return;
    }
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i p = _mm512_set1_epi32((int32_t)pw);
    const __m512i at_lo = _mm512_srli_epi32(_mm512_add_epi32(iota, p), 1);
    const __m512i at_hi = _mm512_add_epi32(at_lo, _mm512_set1_epi32(8));
    const __m512d r = _mm512_set1_pd(rdiv);
    cf_int covered = CF_MIN(w, 2 * q - pw); /* columns inside some window */
    __m512 a = shares16(dy, cdiv, r, q, 0);
    for (cf_int c = 0; c < w; c += 32) {
        __m512 b = shares16(dy, cdiv, r, q, c / 2 + 16);
        cf_int in = covered - c < 0 ? 0 : covered - c;
        __m512 lo = _mm512_maskz_permutex2var_ps(lanes16(in), a, at_lo, b);
        __m512 hi = _mm512_maskz_permutex2var_ps(lanes16(in > 16 ? in - 16 : 0), a, at_hi, b);
        _mm512_mask_storeu_ps(dx + c, lanes16(w - c), lo);
        _mm512_mask_storeu_ps(dx + c + 16, lanes16(w - c > 16 ? w - c - 16 : 0), hi);
        a = b;
    }
}

void cf_f64_avgpool_tile_row__avx512(const double *dy, const double *cdiv, double rdiv,
                                     cf_int q, cf_int s, cf_int pw, cf_int w, double *dx) {
    if (s != 2) {
        cf_f64_avgpool_tile_row__generic(dy, cdiv, rdiv, q, s, pw, w, dx);
        return;
    }
    const __m512i at_lo = _mm512_srli_epi64(
        _mm512_add_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(pw)), 1);
    const __m512i at_hi = _mm512_add_epi64(at_lo, _mm512_set1_epi64(4));
    const __m512d r = _mm512_set1_pd(rdiv), one = _mm512_set1_pd(1);
    cf_int covered = CF_MIN(w, 2 * q - pw);
#define CF_SHARES8(j)                                                                           \
    _mm512_div_pd(_mm512_maskz_loadu_pd(lanes8(q - (j) < 0 ? 0 : q - (j)), dy + (j)),           \
                  _mm512_mul_pd(r, _mm512_mask_loadu_pd(one, lanes8(q - (j) < 0 ? 0 : q - (j)), \
                                                        cdiv + (j))))
    __m512d a = CF_SHARES8(0);
    for (cf_int c = 0; c < w; c += 16) {
        __m512d b = CF_SHARES8(c / 2 + 8);
        cf_int in = covered - c < 0 ? 0 : covered - c;
        __m512d lo = _mm512_maskz_permutex2var_pd(lanes8(in), a, at_lo, b);
        __m512d hi = _mm512_maskz_permutex2var_pd(lanes8(in > 8 ? in - 8 : 0), a, at_hi, b);
        _mm512_mask_storeu_pd(dx + c, lanes8(w - c), lo);
        _mm512_mask_storeu_pd(dx + c + 8, lanes8(w - c > 8 ? w - c - 8 : 0), hi);
        a = b;
    }
#undef CF_SHARES8
}

static inline float sum_f32(const float *x, cf_int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    cf_int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i < n; i += 16) s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(lanes16(n - i), x + i));
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline double sum_f64(const double *x, cf_int n) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    cf_int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm512_add_pd(s0, _mm512_loadu_pd(x + i));
        s1 = _mm512_add_pd(s1, _mm512_loadu_pd(x + i + 8));
    }
    for (; i < n; i += 8) s0 = _mm512_add_pd(s0, _mm512_maskz_loadu_pd(lanes8(n - i), x + i));
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

/* Eight planes' sums at a time, divided by one vector division (a scalar one per plane cost as
 * much as summing a 7x7 plane). */
void cf_f32_means__avx512(const float *x, cf_int planes, cf_int hw, float *y) {
    const __m512d d = _mm512_set1_pd((double)hw);
    for (cf_int p = 0; p < planes; p += 8) {
        cf_int m = CF_MIN(8, planes - p);
        float s[8] = {0};
        for (cf_int l = 0; l < m; l++) s[l] = sum_f32(x + (p + l) * hw, hw);
        __m512d q = _mm512_div_pd(_mm512_cvtps_pd(_mm256_loadu_ps(s)), d);
        _mm256_mask_storeu_ps(y + p, lanes8(m), _mm512_cvtpd_ps(q));
    }
}

void cf_f64_means__avx512(const double *x, cf_int planes, cf_int hw, double *y) {
    const __m512d d = _mm512_set1_pd((double)hw);
    for (cf_int p = 0; p < planes; p += 8) {
        cf_int m = CF_MIN(8, planes - p);
        double s[8] = {0};
        for (cf_int l = 0; l < m; l++) s[l] = sum_f64(x + (p + l) * hw, hw);
        _mm512_mask_storeu_pd(y + p, lanes8(m), _mm512_div_pd(_mm512_loadu_pd(s), d));
    }
}

int cf_indices_inside__avx512(const int64_t *idx, cf_int n, cf_int limit) {
    const __m512i zero = _mm512_setzero_si512(), lim = _mm512_set1_epi64(limit);
    __mmask8 bad = 0;
    for (cf_int i = 0; i < n; i += 8) {
        __mmask8 k = lanes8(n - i);
        __m512i v = _mm512_maskz_loadu_epi64(k, idx + i);
        bad |= _mm512_mask_cmplt_epi64_mask(k, v, zero) | _mm512_mask_cmpge_epi64_mask(k, v, lim);
    }
    return bad == 0;
}

const cf_pool_kernels pool__avx512 = {
    cf_f32_maxpool_rows__avx512, cf_f64_maxpool_rows__avx512,
    cf_f32_maxpool_flat__avx512, cf_f64_maxpool_flat__avx512,
    cf_f32_maxpool_pairs__avx512,
    cf_f32_avgpool_rows__avx512, cf_f64_avgpool_rows__avx512,
    cf_f32_avgpool_spread_row__avx512, cf_f64_avgpool_spread_row__avx512,
    cf_f32_avgpool_tile_row__avx512, cf_f64_avgpool_tile_row__avx512,
    cf_f32_means__avx512, cf_f64_means__avx512,
    cf_indices_inside__avx512,
};
