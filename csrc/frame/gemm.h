/* frame/gemm.h -- the GEMM engine's internal interface, for the ops built on it (dense now,
 * convolution next).
 *
 *     C[m x n] = relu?( alpha * A[m x k] * B[k x n] + beta * C  (+ bias_m[i] + bias_n[j]) )
 *
 * A and B are not arrays but *operands*: a pack callback and its context. The engine asks an
 * operand for one block at a time, already packed in the layout the microkernel streams. A plain
 * strided matrix is one such operand (cf_gemm_matrix below); convolution supplies its own packer
 * that reads the image directly (implicit im2col) and the engine never knows the difference.
 *
 * Packing contract: pack(ctx, i0, mn, p0, kc, w, dst)
 *   Rows i0 .. i0+mn-1 of the operand seen as an (m or n) x k matrix X, depth p0 .. p0+kc-1,
 *   cut into ceil(mn / w) micro-panels of w rows; rows past mn are zero-filled.
 *   For A, X = A (X(i, p) = A[i, p]) and w = MR; for B, X = B^T (X(j, p) = B[p, j]) and w = NR.
 *   OUT dst (64-byte aligned, ceil(mn/w) * w * kc elements):
 *
 *        micro-panel 0               micro-panel 1                ...
 *       +--------------------------+--------------------------+
 *       | p=0: X(i0+0..w-1, p0)    | p=0: X(i0+w..2w-1, p0)   |
 *       | p=1: X(i0+0..w-1, p0+1)  | p=1: ...                 |
 *       | ...        (kc rows)     | ...                      |   dst[(r*kc + p)*w + i]
 *       +--------------------------+--------------------------+   = X(i0 + r*w + i, p0 + p)
 *
 *   so the microkernel reads, for each p, the w values of column p of A (or row p of B) as one
 *   contiguous vector. A packer may be called from several threads at once (on distinct dst). */
#ifndef CF_FRAME_GEMM_H
#define CF_FRAME_GEMM_H

#include "common.h"

typedef void (*cf_gemm_pack_fn)(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w,
                                void *dst);

typedef struct {
    cf_gemm_pack_fn pack;
    const void *ctx;
} cf_gemm_operand;

/* A strided matrix as an operand: X(i, p) = data[i*s_mn + p*s_k] (strides in elements, any sign).
 * For A: s_mn = row stride, s_k = column stride; for B: s_mn = column stride, s_k = row stride. */
typedef struct {
    const void *data;
    cf_int s_mn, s_k;
} cf_gemm_matrix;

void cf_f32_gemm_pack_strided(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w, void *dst);
void cf_f64_gemm_pack_strided(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w, void *dst);

typedef struct {
    cf_dtype dtype;
    cf_int m, n, k;              /* >= 0 */
    const void *alpha, *beta;    /* IN: one scalar of dtype each; beta == 0 never reads C */
    cf_gemm_operand a, b;        /* IN: A (m x k) and B (k x n) as packers */
    void *c;                     /* OUT: C(i, j) = c[i*rs_c + j*cs_c], any strides that do not alias */
    cf_int rs_c, cs_c;
    const void *bias_m, *bias_n; /* IN, optional (NULL): length m / length n, added after the product */
    int relu;                    /* nonzero: C = max(C, 0) last (NaN stays NaN), for fused conv+ReLU */
} cf_gemm_problem;

/* Run one GEMM on up to `nthreads` threads (fewer for small work): C is cut into a grid of blocks,
 * one per thread, each running the five loops with its own packed panels (so the packers must be
 * safe to call concurrently on distinct dst). Each element of C is summed in the same order for any
 * thread count. Safe to call from several threads at once, and from inside a parallel region (with
 * nthreads = 1 there). Returns CF_OK or CF_ERR_NOMEM (nothing written). The microkernel is the one
 * of cf_isa_current(). */
int cf_gemm(const cf_gemm_problem *pb, int nthreads);

/* Reusable 64-byte aligned scratch: a small pool of blocks shared by all threads (locked), so that
 * repeated calls do not map and fault in fresh multi-MB buffers. acquire returns a block of at least
 * `bytes` bytes (NULL when out of memory); release hands it back. */
void *cf_scratch_acquire(size_t bytes, size_t *capacity);
void cf_scratch_release(void *block, size_t capacity);

#endif /* CF_FRAME_GEMM_H */
