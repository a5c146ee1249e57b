/* conv.c (avx512) -- the direct plane kernels of kernels/conv.h for avx512: kernels/conv_template.h
 * compiled under this folder's flags for float and double, and the table that lists them. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/x86_pack.h"

/* wgrad_dot (contract: kernels/conv.h) as a 4 x 6 block: 24 accumulators of one vector each, and
 * per vector of lanes 4 + 6 loads for 24 FMAs. Rows past the block repeat row 0 and are not stored. */
#define DEFINE_WGRAD_DOT(NAME, T, VEC, L, ZERO, LOADU, STOREU, FMA)                                \
    void NAME(cf_int len, int mi, int nj, const T *a, cf_int lda, const T *b, const cf_int *boff, T *acc, \
              cf_int ldacc) {                                                                      \
        const T *a0 = a, *a1 = a + (mi > 1) * lda, *a2 = a + (mi > 2) * 2 * lda, *a3 = a + (mi > 3) * 3 * lda; \
        const T *br[6];                                                                            \
        VEC s[4][6];                                                                               \
        for (int j = 0; j < 6; ++j) br[j] = b + boff[j < nj ? j : 0];                              \
        for (int i = 0; i < 4; ++i)                                                                \
            for (int j = 0; j < 6; ++j)                                                            \
                s[i][j] = i < mi && j < nj ? LOADU(acc + (i * ldacc + j) * L) : ZERO();            \
        for (cf_int u = 0; u < len; u += L) {                                                      \
            const VEC x0 = LOADU(a0 + u), x1 = LOADU(a1 + u), x2 = LOADU(a2 + u), x3 = LOADU(a3 + u); \
            for (int j = 0; j < 6; ++j) {                                                          \
                const VEC y = LOADU(br[j] + u);                                                    \
                s[0][j] = FMA(x0, y, s[0][j]);                                                     \
                s[1][j] = FMA(x1, y, s[1][j]);                                                     \
                s[2][j] = FMA(x2, y, s[2][j]);                                                     \
                s[3][j] = FMA(x3, y, s[3][j]);                                                     \
            }                                                                                      \
        }                                                                                          \
        for (int i = 0; i < mi; ++i)                                                               \
            for (int j = 0; j < nj; ++j) STOREU(acc + (i * ldacc + j) * L, s[i][j]);               \
    }
DEFINE_WGRAD_DOT(cf_f32_conv_wgrad_dot_4x6__avx512, float, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps,
                 _mm512_storeu_ps, _mm512_fmadd_ps)
/* The AVX-512 im2col row (contract of cf_im2col_row_ps in kernels/x86_pack.h; w a multiple of 16
 * floats / 8 doubles): the row zeroed, then each run copied by whole vectors, its two ends and its
 * holes under bit masks (a masked load reads nothing outside the mask, so off may point before
 * the plane). */
#define DEFINE_IM2COL_ROW(NAME, T, VEC, L, MASK, ZERO, LOADU, STOREU, MASKZ_LOADU, MASK_STOREU)    \
    static inline void NAME(T *dst, const T *chan, const cf_conv_run *run, int nr, int w) {       \
        for (int u = 0; u < w; u += L) STOREU(dst + u, ZERO());                                    \
        for (int k = 0; k < nr; ++k) {                                                             \
            const T *src = chan + run[k].off;                                                      \
            for (int u = run[k].lo / L * L; u < run[k].hi; u += L) {                               \
                const int lo = CF_MAX(run[k].lo - u, 0), hi = CF_MIN(run[k].hi - u, L);            \
                const MASK hole = (MASK)(u < 32 ? run[k].holes >> u : 0);                          \
                if (lo == 0 && hi == L && !hole) {                                                 \
                    STOREU(dst + u, LOADU(src + u));                                               \
                } else {                                                                           \
                    const MASK m = (MASK)((((unsigned)1 << hi) - 1) & ~(((unsigned)1 << lo) - 1) & ~hole); \
                    MASK_STOREU(dst + u, m, MASKZ_LOADU(m, src + u));                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
DEFINE_IM2COL_ROW(im2col_row_ps512, float, __m512, 16, __mmask16, _mm512_setzero_ps, _mm512_loadu_ps,
                  _mm512_storeu_ps, _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps)
DEFINE_IM2COL_ROW(im2col_row_pd512, double, __m512d, 8, __mmask8, _mm512_setzero_pd, _mm512_loadu_pd,
                  _mm512_storeu_pd, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd)

DEFINE_WGRAD_DOT(cf_f64_conv_wgrad_dot_4x6__avx512, double, __m512d, 8, _mm512_setzero_pd, _mm512_loadu_pd,
                 _mm512_storeu_pd, _mm512_fmadd_pd)

/* rows (contract: kernels/conv.h) as a 14 x 32 tile: 14 pixels (of one output row, or of two) x 2
 * zmm of channels = 28 accumulators; per depth step 2 weight loads + 14 broadcasts feed 28 FMAs
 * (the GEMM microkernel's tile with the pixels, read in place, as its broadcast side). The tile
 * leaves through two 16 x 16 in-register transposes, so that each channel's m pixels go out as
 * one masked store. Weight panels of at most 16 channels (nk <= 16) take the left half of the
 * tile only. */
#define RW_DECL(i, ...) __m512 r##i##0 = _mm512_setzero_ps(), r##i##1 = _mm512_setzero_ps();
#define RW_STEP(i, ...)                                                                            \
    if (i < M) {                                                                                   \
        const __m512 xi = _mm512_set1_ps(i < M1 ? xp[i] : xb[i]);                                 \
        r##i##0 = _mm512_fmadd_ps(xi, w0, r##i##0);                                                \
        if (!H) r##i##1 = _mm512_fmadd_ps(xi, w1, r##i##1);                                        \
    }
#define RW_LEFT(i, ...) v[i] = r##i##0;
#define RW_RIGHT(i, ...) v[i] = r##i##1;

/* A channel's pixels as they leave the tile: plus its bias, then max(., 0) for relu (the second
 * operand when either is NaN, so NaN stays NaN). */
static inline __m512 rows_out(__m512 col, const float *bias, int relu) {
    const __m512 o = bias ? _mm512_add_ps(col, _mm512_set1_ps(*bias)) : col;
    return relu ? _mm512_max_ps(_mm512_setzero_ps(), o) : o;
}

/* v[i] (i < 16) holds channels 0..15 of pixel i: channel j (< nk) of pixel i goes to y + j*ys +
 * at(i) (kernels/conv.h): one masked store where the pixels are one run, else a permutation of
 * them under a mask per 16 positions that the runs of pixels ypix apart cover. */
static inline void rows_transpose_store(const __m512 *v, int m, int m1, int nk, float *y, cf_int ys, cf_int ypix,
                                        cf_int y2, const float *bias, int relu) {
    __m512 t[16], u[16], col[16];
    for (int i = 0; i < 16; i += 2) { /* per 128-bit lane L: pixels i, i+1 of channels 4L .. 4L+3 */
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) { /* u[g + c], lane L: pixels g .. g+3 of channel 4L + c */
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) { /* the four lanes of each channel gathered in pixel order */
        const __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), b = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        const __m512 d = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88),
                     e = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        col[c] = _mm512_shuffle_f32x4(a, d, 0x88);
        col[c + 8] = _mm512_shuffle_f32x4(a, d, 0xDD);
        col[c + 4] = _mm512_shuffle_f32x4(b, e, 0x88);
        col[c + 12] = _mm512_shuffle_f32x4(b, e, 0xDD);
    }
    if (ypix == 1 && (m1 == m || y2 == m1)) { /* the m pixels one run */
        const __mmask16 mask = (__mmask16)((1u << m) - 1);
        for (int j = 0; j < nk; ++j)
            _mm512_mask_storeu_ps(y + j * ys, mask, rows_out(col[j], bias ? bias + j : NULL, relu));
        return;
    }
    enum { RUNS = 2 * 14 }; /* two rows of up to 14 pixels 16 apart: 14 vectors each */
    __m512i idx[RUNS];
    __mmask16 msk[RUNS];
    cf_int at[RUNS];
    int nv = 0;
    for (int row = 0; row < 1 + (m1 < m); ++row) {
        const int i0 = row ? m1 : 0, span = ((row ? m - m1 : m1) - 1) * (int)ypix + 1;
        for (int u = 0; u < span; u += 16, ++nv) {
            int id[16];
            unsigned mk = 0;
            for (int l = 0; l < 16; ++l) {
                const int pos = u + l, hit = pos < span && pos % ypix == 0;
                id[l] = hit ? i0 + pos / (int)ypix : 0;
                mk |= (unsigned)hit << l;
            }
            idx[nv] = _mm512_loadu_si512(id);
            msk[nv] = (__mmask16)mk;
            at[nv] = (row ? y2 : 0) + u;
        }
    }
    for (int j = 0; j < nk; ++j) {
        const __m512 o = rows_out(col[j], bias ? bias + j : NULL, relu);
        for (int r = 0; r < nv; ++r)
            _mm512_mask_storeu_ps(y + j * ys + at[r], msk[r], _mm512_permutexvar_ps(idx[r], o));
    }
}

static inline __attribute__((always_inline)) void rows_body(const int M, const int M1, const int H, cf_int k,
                                                            int nk, const float *x, cf_int x0, cf_int x2,
                                                            const cf_int *xoff, const float *w, float *y, cf_int ys,
                                                            cf_int ypix, cf_int y2, const float *bias, int relu) {
    CF_ROWS14(RW_DECL)
    for (cf_int p = 0; p < k; ++p) {
        const float *xp = x + (x0 + xoff[p]), *xb = xp + x2 - M1; /* pixels M1.. of the second row */
        const __m512 w0 = _mm512_load_ps(w + p * 32), w1 = H ? _mm512_setzero_ps() : _mm512_load_ps(w + p * 32 + 16);
        CF_ROWS14(RW_STEP)
    }
    __m512 v[16];
    v[14] = v[15] = _mm512_setzero_ps();
    CF_ROWS14(RW_LEFT)
    rows_transpose_store(v, M, M1, nk < 16 ? nk : 16, y, ys, ypix, y2, bias, relu);
    if (!H && nk > 16) {
        CF_ROWS14(RW_RIGHT)
        rows_transpose_store(v, M, M1, nk - 16, y + 16 * ys, ys, ypix, y2, bias ? bias + 16 : NULL, relu);
    }
}

#define RW_CALL(mm, m1)                                                                            \
    if (nk <= 16)                                                                                  \
        rows_body(mm, m1, 1, k, nk, x, x0, x2, xoff, w, y, ys, ypix, y2, bias, relu);                        \
    else                                                                                           \
        rows_body(mm, m1, 0, k, nk, x, x0, x2, xoff, w, y, ys, ypix, y2, bias, relu);
#define RW_CASE(i, ...)                                                                            \
    case i + 1:                                                                                    \
        RW_CALL(i + 1, i + 1)                                                                      \
        break;
#define RW_PAIR(mm)                                                                                \
    case mm:                                                                                       \
        RW_CALL(mm, mm / 2)                                                                        \
        break;

void cf_f32_conv_rows_14x32__avx512(cf_int k, int m, int nk, const float *x, cf_int x0, cf_int x2,
                                    const cf_int *xoff, const float *w, float *y, cf_int ys, cf_int ypix, cf_int y2,
                                    const float *bias, int relu) {
    if (x2) {
        switch (m) {
            RW_PAIR(2) RW_PAIR(4) RW_PAIR(6) RW_PAIR(8) RW_PAIR(10) RW_PAIR(12)
        default:
            RW_CALL(14, 7)
            break;
        }
        return;
    }
    switch (m) {
        CF_ROWS14(RW_CASE)
    }
}

/* wgrad_taps (contract: kernels/conv.h) as a 9 x 32 tile: 9 taps x 2 zmm of output channels = 18
 * accumulators; per output pixel 2 loads of the gradient + 9 broadcasts of the input feed 18 FMAs.
 * No padded grid: every pixel is an output pixel. */
#define TP_TAPS9(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8)
#define TP_DECL(t)                                                                                 \
    const cf_int o##t = toff[t];                                                                   \
    __m512 s##t##0 = _mm512_loadu_ps(acc + t * 32), s##t##1 = _mm512_loadu_ps(acc + t * 32 + 16);
#define TP_STEP(t)                                                                                 \
    {                                                                                              \
        const __m512 b = _mm512_set1_ps(xp[o##t]);                                                 \
        s##t##0 = _mm512_fmadd_ps(b, d0, s##t##0);                                                 \
        s##t##1 = _mm512_fmadd_ps(b, d1, s##t##1);                                                 \
    }
#define TP_STORE(t)                                                                                \
    _mm512_storeu_ps(acc + t * 32, s##t##0);                                                       \
    _mm512_storeu_ps(acc + t * 32 + 16, s##t##1);

void cf_f32_conv_wgrad_taps_9x32__avx512(int nimg, cf_int xs, cf_int ds, int rows, int q, const float *x,
                                         cf_int ldx, cf_int sh, cf_int sw, const cf_int *toff, const float *dy,
                                         cf_int ldd, float *acc) {
    TP_TAPS9(TP_DECL)
    for (int n = 0; n < nimg; ++n)
        for (int i = 0; i < rows; ++i) {
            const float *xr = x + n * xs + i * sh * ldx, *dr = dy + n * ds + (cf_int)i * q * ldd;
            for (int u = 0; u < q; ++u) {
                const float *xp = xr + u * sw;
                const __m512 d0 = _mm512_load_ps(dr + u * ldd), d1 = _mm512_load_ps(dr + u * ldd + 16);
                TP_TAPS9(TP_STEP)
            }
        }
    TP_TAPS9(TP_STORE)
}

#define T float
#define CB 64
#define KN(op) cf_f32_conv_##op##__avx512
#define ROW_RUNS im2col_row_ps512
#define TBLOCK cf_transpose8x8_ps
#define TB 8
#include "kernels/conv_template.h"
#undef T
#undef CB
#undef KN
#undef ROW_RUNS
#undef TBLOCK
#undef TB

#define T double
#define CB 32
#define KN(op) cf_f64_conv_##op##__avx512
#define ROW_RUNS im2col_row_pd512
#define TBLOCK cf_transpose4x4_pd
#define TB 4
#include "kernels/conv_template.h"
#undef T
#undef CB
#undef KN
#undef ROW_RUNS
#undef TBLOCK
#undef TB

/* stem (contract: kernels/conv.h) as 4 channels x NB vectors of 16 pixels, NB = 1..4 by the
 * row's length: per tap NB loads (the last one masked) and 4 broadcasts for 4*NB FMAs. With
 * stream, whole aligned vectors leave as non-temporal stores: a 3-channel 3x3 layer's output is
 * written at 27 taps per value, and reading each line before writing it was half its memory
 * traffic (VGG conv1_1, 8x3x224x224 K64: 10.3 -> 7.2 ms). */
static inline __attribute__((always_inline)) void stem_tile(const int NB, cf_int taps, const float *x, cf_int x0,
                                                            const cf_int *xoff, int len, const float *w, int nk,
                                                            float *y, cf_int ys, const float *bias, int relu,
                                                            int stream) {
    const __mmask16 last = (__mmask16)((1u << (len - 16 * (NB - 1))) - 1); /* 1 to 16 lanes */
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j)
#pragma GCC unroll 4
        for (int v = 0; v < NB; ++v) acc[j][v] = _mm512_setzero_ps();
    for (cf_int t = 0; t < taps; ++t) {
        const float *xt = x + (x0 + xoff[t]);
        __m512 xv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NB; ++v)
            xv[v] = v < NB - 1 ? _mm512_loadu_ps(xt + 16 * v) : _mm512_maskz_loadu_ps(last, xt + 16 * v);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m512 wj = _mm512_set1_ps(w[t * 4 + j]);
#pragma GCC unroll 4
            for (int v = 0; v < NB; ++v) acc[j][v] = _mm512_fmadd_ps(xv[v], wj, acc[j][v]);
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) /* constant bounds (not j < nk) keep acc in registers */
#pragma GCC unroll 4
        for (int v = 0; v < NB; ++v) {
            if (j >= nk) continue;
            __m512 o = acc[j][v];
            if (bias) o = _mm512_add_ps(o, _mm512_set1_ps(bias[j]));
            if (relu) o = _mm512_max_ps(_mm512_setzero_ps(), o); /* second operand on NaN */
            float *d = y + j * ys + 16 * v;
            if (stream && (v < NB - 1 || last == 0xffff) && ((uintptr_t)d & 63) == 0)
                _mm512_stream_ps(d, o);
            else
                _mm512_mask_storeu_ps(d, v < NB - 1 ? 0xffff : last, o);
        }
}

void cf_f32_conv_stem_4x64__avx512(cf_int taps, const float *x, cf_int x0, const cf_int *xoff, int len,
                                   const float *w, int nk, float *y, cf_int ys, const float *bias, int relu,
                                   int stream) {
    switch ((len + 15) / 16) {
    case 1: stem_tile(1, taps, x, x0, xoff, len, w, nk, y, ys, bias, relu, stream); break;
    case 2: stem_tile(2, taps, x, x0, xoff, len, w, nk, y, ys, bias, relu, stream); break;
    case 3: stem_tile(3, taps, x, x0, xoff, len, w, nk, y, ys, bias, relu, stream); break;
    default: stem_tile(4, taps, x, x0, xoff, len, w, nk, y, ys, bias, relu, stream); break;
    }
}

/* store_fence (kernels/conv.h): orders this thread's non-temporal stores before what follows. */
static void cf_conv_store_fence__avx512(void) { _mm_sfence(); }

/* stem1 (contract: kernels/conv.h): one channel x NB vectors of 16 pixels, two accumulators per
 * vector (even and odd taps) so that consecutive FMAs do not wait on each other. */
static inline __attribute__((always_inline)) void stem1_tile(const int NB, cf_int taps, const float *x, cf_int x0,
                                                             const cf_int *xoff, int len, const float *w, float *y,
                                                             const float *bias, int relu) {
    const __mmask16 last = (__mmask16)((1u << (len - 16 * (NB - 1))) - 1); /* 1 to 16 lanes */
    __m512 acc[2][4];
#pragma GCC unroll 4
    for (int v = 0; v < NB; ++v) acc[0][v] = acc[1][v] = _mm512_setzero_ps();
    cf_int t = 0;
    for (; t + 2 <= taps; t += 2) {
#pragma GCC unroll 2
        for (int e = 0; e < 2; ++e) {
            const float *xt = x + (x0 + xoff[t + e]);
            const __m512 wt = _mm512_set1_ps(w[t + e]);
#pragma GCC unroll 4
            for (int v = 0; v < NB; ++v)
                acc[e][v] = _mm512_fmadd_ps(v < NB - 1 ? _mm512_loadu_ps(xt + 16 * v)
                                                       : _mm512_maskz_loadu_ps(last, xt + 16 * v), wt, acc[e][v]);
        }
    }
    if (t < taps) {
        const float *xt = x + (x0 + xoff[t]);
        const __m512 wt = _mm512_set1_ps(w[t]);
#pragma GCC unroll 4
        for (int v = 0; v < NB; ++v)
            acc[0][v] = _mm512_fmadd_ps(v < NB - 1 ? _mm512_loadu_ps(xt + 16 * v)
                                                   : _mm512_maskz_loadu_ps(last, xt + 16 * v), wt, acc[0][v]);
    }
#pragma GCC unroll 4
    for (int v = 0; v < NB; ++v) {
        __m512 o = _mm512_add_ps(acc[0][v], acc[1][v]);
        if (bias) o = _mm512_add_ps(o, _mm512_set1_ps(bias[0]));
        if (relu) o = _mm512_max_ps(_mm512_setzero_ps(), o); /* second operand on NaN */
        _mm512_mask_storeu_ps(y + 16 * v, v < NB - 1 ? 0xffff : last, o);
    }
}

void cf_f32_conv_stem_1x64__avx512(cf_int taps, const float *x, cf_int x0, const cf_int *xoff, int len,
                                   const float *w, int nk, float *y, cf_int ys, const float *bias, int relu,
                                   int stream) {
    (void)nk;
    (void)ys;
    (void)stream; /* cached stores only */
    switch ((len + 15) / 16) {
    case 1: stem1_tile(1, taps, x, x0, xoff, len, w, y, bias, relu); break;
    case 2: stem1_tile(2, taps, x, x0, xoff, len, w, y, bias, relu); break;
    case 3: stem1_tile(3, taps, x, x0, xoff, len, w, y, bias, relu); break;
    default: stem1_tile(4, taps, x, x0, xoff, len, w, y, bias, relu); break;
    }
}

/* stem_wgrad (contract: kernels/conv.h) as 12 taps x 2 channels: 24 accumulators of 16 pixel
 * lanes, per vector of pixels 2 gradient loads and one input load per tap for its 2 FMAs. */
void cf_f32_conv_stem_wgrad_12x2__avx512(cf_int taps, int rows, cf_int q, const float *x, cf_int x0, cf_int ldx,
                                         const cf_int *xoff, const float *dy, cf_int ldy, int nk, float *acc,
                                         cf_int lda) {
    __m512 s[12][2];
#pragma GCC unroll 12
    for (int t = 0; t < 12; ++t) s[t][0] = s[t][1] = _mm512_setzero_ps();
    for (int i = 0; i < rows; ++i) {
        const float *xr = x + (x0 + i * ldx), *d0 = dy + i * q, *d1 = dy + ldy * (nk > 1) + i * q;
        for (cf_int u = 0; u < q; u += 16) {
            const __mmask16 k = q - u >= 16 ? 0xffff : (__mmask16)((1u << (q - u)) - 1);
            const __m512 g0 = _mm512_maskz_loadu_ps(k, d0 + u), g1 = _mm512_maskz_loadu_ps(k, d1 + u);
#pragma GCC unroll 12
            for (int t = 0; t < 12; ++t) {
                if (t >= taps) break;
                const __m512 v = _mm512_maskz_loadu_ps(k, xr + xoff[t] + u);
                s[t][0] = _mm512_fmadd_ps(v, g0, s[t][0]);
                s[t][1] = _mm512_fmadd_ps(v, g1, s[t][1]);
            }
        }
    }
#pragma GCC unroll 12
    for (int t = 0; t < 12; ++t) {
        if (t >= taps) break;
        acc[t] += _mm512_reduce_add_ps(s[t][0]);
        if (nk > 1) acc[lda + t] += _mm512_reduce_add_ps(s[t][1]);
    }
}

const cf_conv_kernels cf_conv__avx512 = {
    .fwd_f32 = cf_f32_conv_fwd__avx512,
    .fwd_lanes_f32 = cf_f32_conv_fwd_lanes__avx512,
    .adj_f32 = cf_f32_conv_adj__avx512,
    .adj_lanes_f32 = cf_f32_conv_adj_lanes__avx512,
    .wgrad_f32 = cf_f32_conv_wgrad__avx512,
    .wgrad_lanes_f32 = cf_f32_conv_wgrad_lanes__avx512,
    .im2col_f32 = cf_f32_conv_im2col__avx512,
    .wgrad_dot_f32 = cf_f32_conv_wgrad_dot_4x6__avx512,
    .rows_f32 = cf_f32_conv_rows_14x32__avx512,
    .wgrad_taps_f32 = cf_f32_conv_wgrad_taps_9x32__avx512,
    .stem_f32 = cf_f32_conv_stem_4x64__avx512,
    .stem1_f32 = cf_f32_conv_stem_1x64__avx512,
    .stem_wgrad_f32 = cf_f32_conv_stem_wgrad_12x2__avx512,
    .store_fence = cf_conv_store_fence__avx512,
    .fwd_f64 = cf_f64_conv_fwd__avx512,
    .fwd_lanes_f64 = cf_f64_conv_fwd_lanes__avx512,
    .adj_f64 = cf_f64_conv_adj__avx512,
    .adj_lanes_f64 = cf_f64_conv_adj_lanes__avx512,
    .wgrad_f64 = cf_f64_conv_wgrad__avx512,
    .wgrad_lanes_f64 = cf_f64_conv_wgrad_lanes__avx512,
    .im2col_f64 = cf_f64_conv_im2col__avx512,
    .wgrad_dot_f64 = cf_f64_conv_wgrad_dot_4x6__avx512,
    .dot_mi = 4,
    .dot_nj = 6,
    .dot_lanes_f32 = 16,
    .dot_lanes_f64 = 8,
    .rows_mr = 14,
    .rows_nr = 32,
    .taps_nr = 32,
};
