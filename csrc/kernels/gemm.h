/* kernels/gemm.h -- the GEMM microkernel family: one register tile per ISA and dtype.
 *
 * Contract of every microkernel cf_<dt>_gemm_ukernel_<MR>x<NR>__<isa>(k, m, a, b, ldb, c, rs_c, alpha, beta, pf):
 *   IN  a      packed A micro-panel, k columns of MR values:  a[p*MR + i]
 *   IN  b      k rows of NR values, b[p*ldb + j]: a packed B micro-panel (ldb = NR), or the rows of
 *              a row-major B read in place (ldb = its row stride) when packing would not pay
 *   IN  alpha, beta  pointers to one scalar of the kernel's dtype
 *   OUT c      the first m rows (1 <= m <= MR) of the MR x NR tile at c[i*rs_c + j] (unit column
 *              stride, no alignment needed):
 *                  c = alpha * (a * b) + beta * c,   and when *beta == 0, c is never read
 *                  (so it may hold NaN or garbage). Rows m..MR-1 are neither computed nor touched,
 *              so a short edge panel costs its rows, not a full tile.
 *   IN/OUT pf  NULL, or a stream of cache lines to prefetch while the k loop runs (below)
 *   k >= 0 (k == 0 gives c = beta * c, or 0). Edge columns and strided C are the frame's business
 *   (frame/gemm.c computes them into an aligned MR x NR scratch tile and copies the part it needs).
 *
 * The packed layouts (drawn in frame/gemm.h) put the k-th column of A and the k-th row of B next to
 * each other, so the kernel streams both panels strictly forward.
 *
 * Each ISA's table also carries its cache blocking (BLIS keeps these in config/<arch>/):
 *   kc  depth of one packed block: a KC x NR micro-panel of B stays in L1 while the MR-row panels of A
 *       stream past it;
 *   mc  rows of the packed A block (MC x KC, kept in L2), a multiple of MR;
 *   nc  columns of the packed B block (KC x NC, kept in L3), a multiple of NR. */
#ifndef CF_KERNELS_GEMM_H
#define CF_KERNELS_GEMM_H

#include "common.h"

/* A prefetch stream: `runs` runs of `bytes` bytes each, `ld` bytes apart, the current one at `run`
 * (64-byte aligned), `off` bytes of it already fetched. A SIMD microkernel fetches one line (into
 * L1) on each step p of its k loop with (p & step_mask) == 0, and leaves the stream advanced past
 * what it fetched, so the next tile goes on where this one stopped (plain-C kernels leave it be:
 * it is only a hint). The frame points it at the source of the next B panel it will pack: those
 * misses then overlap the FMAs instead of stalling the packing (frame/gemm.c, gemm_b_streamed). */
typedef struct {
    const char *run;
    cf_int off, bytes, ld;
    cf_int runs;
    cf_int step_mask;
} cf_gemm_prefetch;

typedef void (*cf_gemm_ukernel_fn)(cf_int k, int m, const void *a, const void *b, cf_int ldb, void *c,
                                   cf_int rs_c, const void *alpha, const void *beta, cf_gemm_prefetch *pf);

/* The same microkernel with the rows of B anywhere: row p at b + boff[p] (elements), for the
 * convolution's forward on a padded pixel grid, whose im2col rows are the image shifted by each
 * tap (frame/conv2d_template.h). boff holds k + CF_GEMM_BOFF_AHEAD entries: the kernel prefetches
 * the row that many steps ahead. Named cf_<dt>_gemm_ukernel_off_<MR>x<NR>__<isa>. */
#define CF_GEMM_BOFF_AHEAD 16
typedef void (*cf_gemm_ukernel_off_fn)(cf_int k, int m, const void *a, const void *b, const cf_int *boff, void *c,
                                       cf_int rs_c, const void *alpha, const void *beta);

/* One microkernel and the blocking that feeds it. */
typedef struct {
    int mr, nr;       /* register tile */
    cf_int mc, kc, nc; /* cache blocking: multiples of mr / (any) / nr */
    cf_gemm_ukernel_fn ukernel;
    const char *name;  /* the kernel's function name, for tests and show_config */
    cf_gemm_ukernel_off_fn ukernel_off;
    /* NULL, or the same kernel computing only the tile's first nr/2 columns (writing no others),
     * for edge panels at most that wide: cf_<dt>_gemm_ukernel_<MR>x<NR/2>__<isa> */
    cf_gemm_ukernel_fn ukernel_half;
} cf_gemm_ukernel;

/* Dot-product kernel for skinny products that skip packing (a batch-1 dense layer reads its weight
 * once, instead of packing it and filling a 14-row tile with one useful row):
 *   IN  a: m rows, a[i*lda + p];  b: n rows, b[j*ldb + p]   (both contiguous along k; any alignment)
 *   OUT t[i*4 + j] = sum_p a[i*lda + p] * b[j*ldb + p]   for i < m, j < n;   1 <= m, n <= 4, k >= 0 */
typedef void (*cf_gemm_dot_fn)(cf_int k, int m, int n, const void *a, cf_int lda, const void *b,
                               cf_int ldb, void *t);

/* Packing of one micro-panel (layout: frame/gemm.h) from rows that are contiguous along k -- the
 * transposing case (row-major A, or the weight of a dense layer as B):
 *   IN  src[i*ld + p] for i < rows, p < kc;   1 <= rows <= w
 *   OUT dst[p*w + i] = src[i*ld + p], and 0 for rows <= i < w */
typedef void (*cf_gemm_pack_rows_fn)(const void *src, cf_int ld, int rows, cf_int kc, int w, void *dst);

typedef struct {
    cf_gemm_ukernel f32, f64;
    cf_gemm_dot_fn dot_f32, dot_f64;
    cf_gemm_pack_rows_fn pack_rows_f32, pack_rows_f64;
} cf_gemm_kernels;

extern const cf_gemm_kernels cf_gemm__generic, cf_gemm__avx2, cf_gemm__avx512;

/* Largest tile of any table (the frame's scratch tile for edges holds MR_MAX x NR_MAX doubles). */
#define CF_GEMM_MR_MAX 16
#define CF_GEMM_NR_MAX 32

#endif /* CF_KERNELS_GEMM_H */
