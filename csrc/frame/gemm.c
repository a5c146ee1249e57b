/* frame/gemm.c -- the BLIS-style GEMM engine: five loops around a register-tile microkernel,
 * packing through operand callbacks (frame/gemm.h), OpenMP over a 2-D grid of C blocks, and a
 * scratch pool that keeps packed panels between calls. ISA-free: the microkernel and its blocking
 * come from the kernel table of cf_isa_current() (kernels/gemm.h). */
#include <string.h>

#include "frame/gemm.h"
#include "kernels/gemm.h"

/* ---- packing of strided matrices (layout: frame/gemm.h) -------------------------------------- */
/* Three cases: rows contiguous along k (the ISA's transposing kernel, panel by panel); rows of X
 * that are columns of a row-major matrix (s_mn == 1: each p is a contiguous run across all the
 * panels, copied PACK_DEPTH rows of p at a time across every panel, so that memory is read as a
 * few long streams, not as kc rows of w elements per panel); anything else element by element. */
#define PACK_DEPTH 8
#define DEFINE_PACK_STRIDED(NAME, S, PACK_ROWS_FIELD)                                              \
    void NAME(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w, void *dst_) {    \
        const cf_gemm_matrix *x = (const cf_gemm_matrix *)ctx;                                     \
        const cf_gemm_pack_rows_fn PACK_ROWS = CF_SELECT(cf_gemm, cf_isa_current())->PACK_ROWS_FIELD; \
        const cf_int s_mn = x->s_mn, s_k = x->s_k;                                                 \
        S *dst = (S *)dst_;                                                                        \
        if (s_mn == 1 && s_k != 1) {                                                               \
            const S *src = (const S *)x->data + i0 + p0 * s_k;                                     \
            for (cf_int q = 0; q < kc; q += PACK_DEPTH) {                                          \
                const cf_int qe = CF_MIN(kc, q + PACK_DEPTH);                                      \
                for (cf_int r = 0; r < mn; r += w) {                                               \
                    const int rows = (int)CF_MIN((cf_int)w, mn - r);                               \
                    S *d = dst + r * kc;                                                           \
                    for (cf_int p = q; p < qe; ++p) {                                              \
                        for (int i = 0; i < rows; ++i) d[p * w + i] = src[p * s_k + r + i];        \
                        for (int i = rows; i < w; ++i) d[p * w + i] = 0;                           \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (cf_int r = 0; r < mn; r += w, dst += (cf_int)w * kc) {                                \
            const S *src = (const S *)x->data + (i0 + r) * s_mn + p0 * s_k;                        \
            const int rows = (int)CF_MIN((cf_int)w, mn - r);                                       \
            if (s_k == 1 && s_mn != 1) { /* rows contiguous along k: the transposing kernel */     \
                PACK_ROWS(src, s_mn, rows, kc, w, dst);                                            \
                continue;                                                                          \
            }                                                                                      \
            for (cf_int p = 0; p < kc; ++p) {                                                      \
                S *d = dst + p * w;                                                                \
                const S *s = src + p * s_k;                                                        \
                for (int i = 0; i < rows; ++i) d[i] = s[i * s_mn];                                 \
                for (int i = rows; i < w; ++i) d[i] = 0;                                           \
            }                                                                                      \
        }                                                                                          \
    }
DEFINE_PACK_STRIDED(cf_f32_gemm_pack_strided, float, pack_rows_f32)
DEFINE_PACK_STRIDED(cf_f64_gemm_pack_strided, double, pack_rows_f64)

/* ---- typed helpers: C = beta*C + bias when k == 0, and the finish of one tile ----------------- */
/* Finish tile (i0, j0) of mr x nr. IN t: the product tile (t[i*tr + j], already times alpha) when
 * the microkernel could not write C itself (edge tile or strided C), else NULL. first: apply beta
 * (only with t). last: add the bias, then apply the ReLU. */
#define DEFINE_FINISH(NAME, S)                                                                     \
    static void NAME(const cf_gemm_problem *pb, const void *t_, cf_int tr, cf_int i0, cf_int j0,   \
                     cf_int mr, cf_int nr, int first, int last) {                                  \
        const S *t = (const S *)t_, *bm = (const S *)pb->bias_m, *bn = (const S *)pb->bias_n;      \
        const S beta = first ? *(const S *)pb->beta : (S)1;                                        \
        S *c = (S *)pb->c + i0 * pb->rs_c + j0 * pb->cs_c;                                         \
        if (!t && last && pb->cs_c == 1) { /* the usual case: whole rows, vectorisable passes */   \
            for (cf_int i = 0; i < mr; ++i) {                                                      \
                S *ci = c + i * pb->rs_c;                                                          \
                if (bm) {                                                                          \
                    const S a = bm[i0 + i];                                                        \
                    for (cf_int j = 0; j < nr; ++j) ci[j] += a;                                    \
                }                                                                                  \
                if (bn)                                                                            \
                    for (cf_int j = 0; j < nr; ++j) ci[j] += bn[j0 + j];                           \
                if (pb->relu)                                                                      \
                    for (cf_int j = 0; j < nr; ++j) ci[j] = ci[j] < (S)0 ? (S)0 : ci[j];           \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (cf_int i = 0; i < mr; ++i)                                                            \
            for (cf_int j = 0; j < nr; ++j) {                                                      \
                S *cij = c + i * pb->rs_c + j * pb->cs_c;                                          \
                S v = *cij;                                                                        \
                if (t) v = beta == (S)0 ? t[i * tr + j] : t[i * tr + j] + beta * v;                \
                if (last && bm) v += bm[i0 + i];                                                   \
                if (last && bn) v += bn[j0 + j];                                                   \
                if (last && pb->relu && v < (S)0) v = 0;                                           \
                *cij = v;                                                                          \
            }                                                                                      \
    }
DEFINE_FINISH(finish_f32, float)
DEFINE_FINISH(finish_f64, double)

static void finish(const cf_gemm_problem *pb, const void *t, cf_int tr, cf_int i0, cf_int j0,
                   cf_int mr, cf_int nr, int first, int last) {
    if (pb->dtype == CF_F32)
        finish_f32(pb, t, tr, i0, j0, mr, nr, first, last);
    else
        finish_f64(pb, t, tr, i0, j0, mr, nr, first, last);
}

/* One mr x nr tile of C (mr <= MR, nr <= NR) from a packed panel a (MR x kc) and kc rows of B at
 * b[p*ldb + j] (a packed panel: ldb = NR); pf: the microkernel's prefetch stream, or NULL. Tiles
 * of full width in a C with unit column stride go straight to the microkernel (which computes only
 * mr rows); narrower tiles and strided C go through the scratch tile t. */
static void tile(const cf_gemm_problem *pb, const cf_gemm_ukernel *uk, cf_int kc, const void *a,
                 const void *b, cf_int ldb, cf_int i0, cf_int j0, cf_int mr, cf_int nr, int first,
                 int last, cf_gemm_prefetch *pf) {
    static const float one_f32 = 1, zero_f32 = 0;
    static const double one_f64 = 1, zero_f64 = 0;
    const int f32 = pb->dtype == CF_F32;
    const size_t es = f32 ? sizeof(float) : sizeof(double);
    const void *beta = first ? pb->beta : f32 ? (const void *)&one_f32 : (const void *)&one_f64;
    CF_ASSERT(mr >= 1 && mr <= uk->mr && nr >= 1 && nr <= uk->nr);
    if (nr == uk->nr && pb->cs_c == 1) {
        uk->ukernel(kc, (int)mr, a, b, ldb, (char *)pb->c + (size_t)(i0 * pb->rs_c + j0) * es, pb->rs_c,
                    pb->alpha, beta, pf);
        if (last && (pb->bias_m || pb->bias_n || pb->relu)) finish(pb, NULL, 0, i0, j0, mr, nr, 0, 1);
        return;
    }
    _Alignas(CF_ALIGN) double t[CF_GEMM_MR_MAX * CF_GEMM_NR_MAX];
    /* an edge panel at most half a tile wide costs half a tile */
    const cf_gemm_ukernel_fn kernel = 2 * nr <= uk->nr && uk->ukernel_half ? uk->ukernel_half : uk->ukernel;
    kernel(kc, (int)mr, a, b, ldb, t, uk->nr, pb->alpha, f32 ? (const void *)&zero_f32 : (const void *)&zero_f64,
           pf);
    finish(pb, t, uk->nr, i0, j0, mr, nr, first, last);
}

/* ---- the five loops, on the block [i_lo, i_hi) x [j_lo, j_hi) of C, serially ---------------- */
#define SHALLOW_B_BYTES ((size_t)512 * 1024) /* a packed B block this small stays in L2 (1 MB) */
static void gemm_block(const cf_gemm_problem *pb, const cf_gemm_ukernel *uk, cf_int i_lo, cf_int i_hi,
                       cf_int j_lo, cf_int j_hi, char *abuf, char *bbuf) {
    const size_t es = pb->dtype == CF_F32 ? sizeof(float) : sizeof(double);
    const cf_int MR = uk->mr, NR = uk->nr, MC = uk->mc, KC = uk->kc, kc0 = CF_MIN(KC, pb->k);
    /* a shallow product (k <= KC/2) takes B blocks narrow enough for L2, so that C is swept by rows */
    const cf_int nc_l2 = (cf_int)(SHALLOW_B_BYTES / ((size_t)kc0 * es)) / NR * NR;
    const cf_int NC = 2 * kc0 > KC ? uk->nc : CF_MAX(NR, CF_MIN(uk->nc, nc_l2));
    /* loop 5: NC columns of C at a time; the B block of this slice lives in L3 */
    for (cf_int jc = j_lo; jc < j_hi; jc += NC) {
        const cf_int nc = CF_MIN(NC, j_hi - jc);
        /* loop 4: KC-deep slices of the product; pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels */
        for (cf_int pc = 0; pc < pb->k; pc += KC) {
            const cf_int kc = CF_MIN(KC, pb->k - pc);
            const int first = pc == 0, last = pc + kc == pb->k;
            pb->b.pack(pb->b.ctx, jc, nc, pc, kc, (int)NR, bbuf);
            /* loop 3: MC rows of C at a time; pack A[ic:ic+mc, pc:pc+kc] into MR-row panels (L2) */
            for (cf_int ic = i_lo; ic < i_hi; ic += MC) {
                const cf_int mc = CF_MIN(MC, i_hi - ic);
                pb->a.pack(pb->a.ctx, ic, mc, pc, kc, (int)MR, abuf);
                if ((size_t)(kc * nc) * es > SHALLOW_B_BYTES) {
                    /* loop 2: one NR-wide micro-panel of B, held in L1 while the A panels pass by */
                    for (cf_int jr = 0; jr < nc; jr += NR)
                        /* loop 1: one MR-row micro-panel of A times it: an MR x NR tile of C */
                        for (cf_int ir = 0; ir < mc; ir += MR)
                            tile(pb, uk, kc, abuf + (size_t)(ir * kc) * es, bbuf + (size_t)(jr * kc) * es,
                                 NR, ic + ir, jc + jr, CF_MIN(MR, mc - ir), CF_MIN(NR, nc - jr), first, last, NULL);
                } else {
                    /* loops 2-1 swapped for a shallow B block (all of it in L2): C is then written
                     * in MR long rows, not in columns of tiles that touch a new page per row */
                    for (cf_int ir = 0; ir < mc; ir += MR)
                        for (cf_int jr = 0; jr < nc; jr += NR)
                            tile(pb, uk, kc, abuf + (size_t)(ir * kc) * es, bbuf + (size_t)(jr * kc) * es,
                                 NR, ic + ir, jc + jr, CF_MIN(MR, mc - ir), CF_MIN(NR, nc - jr), first, last, NULL);
                }
            }
        }
    }
}

/* ---- threads: a tm x tn grid of C blocks, one per thread, each with its own packed panels ----- */
/* Pick the grid for `nt` threads that minimises the per-thread work: its tiles (compute) plus the
 * rows of A and columns of B it must pack (each weighted as a few tiles' worth). A tiny m (batch-1
 * dense) gives tm = 1 and splits n; a tiny n splits m. */
static void choose_grid(cf_int m, cf_int n, const cf_gemm_ukernel *uk, int nt, int *tm, int *tn) {
    const cf_int mt = (m + uk->mr - 1) / uk->mr, ntl = (n + uk->nr - 1) / uk->nr;
    double best = -1;
    for (int a = 1; a <= nt; ++a) {
        if (nt % a || a > mt || nt / a > ntl) continue;
        const cf_int bm = (mt + a - 1) / a, bn = (ntl + nt / a - 1) / (nt / a);
        const double cost =
            (double)bm * bn * uk->mr * uk->nr + 8.0 * ((double)bm * uk->mr + (double)bn * uk->nr);
        if (best < 0 || cost < best) {
            best = cost;
            *tm = a;
            *tn = nt / a;
        }
    }
}

int cf_gemm(const cf_gemm_problem *pb, int nthreads) {
    CF_ASSERT(pb->m >= 0 && pb->n >= 0 && pb->k >= 0 && nthreads >= 1);
    CF_ASSERT(pb->a.pack && pb->b.pack && pb->alpha && pb->beta && (pb->c || pb->m * pb->n == 0));
    if (pb->m == 0 || pb->n == 0) return CF_OK;
    const cf_gemm_ukernel *uk = pb->dtype == CF_F32 ? &CF_SELECT(cf_gemm, cf_isa_current())->f32
                                                     : &CF_SELECT(cf_gemm, cf_isa_current())->f64;
    if (pb->k == 0) { /* C = beta*C + bias: each element finished with a zero product */
        static const double zero = 0; /* all-zero bits: 0 as a float too */
        for (cf_int i = 0; i < pb->m; ++i)
            for (cf_int j = 0; j < pb->n; ++j) finish(pb, &zero, 0, i, j, 1, 1, 1, 1);
        return CF_OK;
    }
    /* threads worth it: at least ~2^17 multiply-adds (a few microseconds) and one tile each */
    cf_int macs = pb->m * pb->n;
    macs = macs > ((cf_int)1 << 62) / pb->k ? ((cf_int)1 << 62) : macs * pb->k;
    int nt = cf_threads_for(macs, (cf_int)1 << 17, nthreads), tm = 1, tn = 1;
    while (nt > 1) {
        tm = 0;
        choose_grid(pb->m, pb->n, uk, nt, &tm, &tn);
        if (tm) break;
        --nt; /* fewer tiles than threads in every factorisation */
    }
    if (nt <= 1) tm = tn = nt = 1;
    /* per-thread scratch: one A block (MC x KC) and one B block (KC x NC, or the thread's width) */
    const size_t es = pb->dtype == CF_F32 ? sizeof(float) : sizeof(double);
    const cf_int bw = (pb->n + tn - 1) / tn + uk->nr;
    const size_t abytes = (size_t)(uk->mc * uk->kc) * es;
    const size_t bbytes = (size_t)(uk->kc * CF_MIN(uk->nc, (bw + uk->nr - 1) / uk->nr * uk->nr)) * es;
    const size_t per = (abytes + bbytes + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    size_t cap = 0;
    char *ws = (char *)cf_scratch_acquire(per * (size_t)nt, &cap);
    if (!ws) return CF_ERR_NOMEM;
#ifdef CF_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    /* block b of the grid on thread b; a team smaller than asked for (a nested region, a thread
     * limit) takes several blocks per thread */
    for (int b = CF_THREAD_ID(); b < nt; b += CF_NUM_THREADS_IN_TEAM()) {
        cf_int i_lo, i_hi, j_lo, j_hi;
        cf_partition(pb->m, tm, b / tn, uk->mr, &i_lo, &i_hi);
        cf_partition(pb->n, tn, b % tn, uk->nr, &j_lo, &j_hi);
        char *mine = ws + per * (size_t)b;
        if (i_lo < i_hi && j_lo < j_hi) gemm_block(pb, uk, i_lo, i_hi, j_lo, j_hi, mine, mine + abytes);
    }
    cf_scratch_release(ws, cap);
    return CF_OK;
}

/* ---- the scratch pool -------------------------------------------------------------------------- */
#define POOL_SLOTS 8
static struct {
    void *block;
    size_t bytes;
} pool[POOL_SLOTS];
static int pool_lock;

static void lock(void) {
    while (__atomic_exchange_n(&pool_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&pool_lock, __ATOMIC_RELAXED)) continue;
}
static void unlock(void) { __atomic_store_n(&pool_lock, 0, __ATOMIC_RELEASE); }

void *cf_scratch_acquire(size_t bytes, size_t *capacity) {
    void *got = NULL, *too_small = NULL;
    lock();
    int best = -1;
    for (int s = 0; s < POOL_SLOTS; ++s)
        if (pool[s].block && pool[s].bytes >= bytes && (best < 0 || pool[s].bytes < pool[best].bytes))
            best = s;
    if (best >= 0) {
        got = pool[best].block;
        *capacity = pool[best].bytes;
        pool[best].block = NULL;
    } else {
        for (int s = 0; s < POOL_SLOTS; ++s) /* a cached block too small for this size: drop it */
            if (pool[s].block) {
                too_small = pool[s].block;
                pool[s].block = NULL;
                break;
            }
    }
    unlock();
    cf_free(too_small);
    if (!got) {
        got = cf_malloc(bytes);
        *capacity = bytes;
    }
    return got;
}

void cf_scratch_release(void *block, size_t capacity) {
    lock();
    for (int s = 0; s < POOL_SLOTS; ++s)
        if (!pool[s].block) {
            pool[s].block = block;
            pool[s].bytes = capacity;
            block = NULL;
            break;
        }
    unlock();
    cf_free(block);
}

/* ---- skinny products: dot products straight from the operands --------------------------------- */
/* For m <= 4 with A and B both contiguous along k (a dense layer at batch 1..4: x rows times weight
 * rows) packing would copy all of B to use a few rows of each tile: instead each 4-column block of C
 * is m x 4 dot products read straight from A and B (B streamed once), split over threads by column
 * blocks and finished (alpha, beta, bias) like a tile. */
static int skinny(const cf_gemm_problem *pb) {
    const cf_gemm_matrix *a = (const cf_gemm_matrix *)pb->a.ctx, *b = (const cf_gemm_matrix *)pb->b.ctx;
    return pb->m > 0 && pb->m <= 4 && pb->n > 0 && pb->k > 0 && a->s_k == 1 && b->s_k == 1;
}

static void gemm_skinny(const cf_gemm_problem *pb, int nthreads) {
    const cf_gemm_matrix *a = (const cf_gemm_matrix *)pb->a.ctx, *b = (const cf_gemm_matrix *)pb->b.ctx;
    const cf_gemm_kernels *kt = CF_SELECT(cf_gemm, cf_isa_current());
    const cf_gemm_dot_fn dot = pb->dtype == CF_F32 ? kt->dot_f32 : kt->dot_f64;
    const size_t es = pb->dtype == CF_F32 ? sizeof(float) : sizeof(double);
    const cf_int blocks = (pb->n + 3) / 4;
    const int nt =
        (int)CF_MIN((cf_int)cf_threads_for(pb->m * pb->n * pb->k, (cf_int)1 << 15, nthreads), blocks);
#ifdef CF_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
#endif
    for (cf_int jb = 0; jb < blocks; ++jb) {
        double t[16]; /* 4 x 4 results of the dtype */
        const cf_int j0 = 4 * jb;
        const int nn = (int)CF_MIN((cf_int)4, pb->n - j0);
        dot(pb->k, (int)pb->m, nn, a->data, a->s_mn, (const char *)b->data + (size_t)(j0 * b->s_mn) * es,
            b->s_mn, t);
        for (cf_int i = 0; i < 4 * pb->m; ++i) { /* the dot kernel leaves alpha to us */
            if (pb->dtype == CF_F32)
                ((float *)t)[i] *= *(const float *)pb->alpha;
            else
                t[i] *= *(const double *)pb->alpha;
        }
        finish(pb, t, 4, 0, j0, pb->m, nn, 1, 1);
    }
    (void)nt;
}

/* ---- a few row panels: B read in place ------------------------------------------------------- */
/* For m <= B_IN_PLACE_PANELS * MR each packed B panel would serve a few row panels only, and packing
 * B (read, write, read again) would cost more than the product: when B's rows are contiguous (unit
 * stride along n) the microkernel reads them in place (ldb = B's row stride) over the whole depth k
 * (a dense layer's dx = dy w at small batch). A is packed once, whole (m x k). The first row panel
 * brings each B column block from memory, the others find it in L2. Only the last, narrower column
 * block is packed (reading NR columns in place would run past the row). Column blocks split over
 * threads. Returns CF_ERR_NOMEM, or CF_OK. */
#define B_IN_PLACE_PANELS 4
static int gemm_b_in_place(const cf_gemm_problem *pb, const cf_gemm_ukernel *uk, int nthreads) {
    const cf_gemm_matrix *b = (const cf_gemm_matrix *)pb->b.ctx;
    const size_t es = pb->dtype == CF_F32 ? sizeof(float) : sizeof(double);
    const cf_int MR = uk->mr, NR = uk->nr, full = pb->n / NR, edge = pb->n - full * NR;
    const cf_int blocks = full + (edge > 0), panels = (pb->m + MR - 1) / MR;
    const size_t abytes = ((size_t)(panels * MR * pb->k) * es + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    size_t cap = 0;
    char *ws = (char *)cf_scratch_acquire(abytes + (edge ? (size_t)(NR * pb->k) * es : 0), &cap);
    if (!ws) return CF_ERR_NOMEM;
    pb->a.pack(pb->a.ctx, 0, pb->m, 0, pb->k, (int)MR, ws);
    if (edge) pb->b.pack(pb->b.ctx, full * NR, edge, 0, pb->k, (int)NR, ws + abytes);
    cf_int macs = pb->m * pb->n;
    macs = macs > ((cf_int)1 << 62) / pb->k ? ((cf_int)1 << 62) : macs * pb->k;
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(macs, (cf_int)1 << 17, nthreads), blocks);
#ifdef CF_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
#endif
    for (cf_int jb = 0; jb < blocks; ++jb) {
        const char *bp = jb < full ? (const char *)b->data + (size_t)(jb * NR * b->s_mn) * es : ws + abytes;
        const cf_int ldb = jb < full ? b->s_k : NR;
        for (cf_int ir = 0; ir < pb->m; ir += MR)
            tile(pb, uk, pb->k, ws + (size_t)(ir * pb->k) * es, bp, ldb, ir, jb * NR, CF_MIN(MR, pb->m - ir),
                 jb < full ? NR : edge, 1, 1, NULL);
    }
    (void)nt;
    cf_scratch_release(ws, cap);
    return CF_OK;
}

/* ---- one row block: B streamed panel by panel ------------------------------------------------ */
/* For m <= MC (a dense layer's batch) the five loops sweep all of C (in L3) once per KC slice, and
 * pack B (the weight, read once from memory) in blocks whose misses stall every thread. Instead A
 * is packed once, whole (m x k), and each NR-wide column block of C is finished before the next:
 * its B panel packed one KC slice at a time, the row panels of A passing it, the column block of C
 * (m x NR) staying in L1/L2. While those tiles run, the microkernel prefetches the source of the
 * next panel (the same columns one slice deeper, or the next columns' first slice), one line every
 * few steps, so packing finds it in cache. The k order within each element is the five loops'.
 * Column blocks are split over threads in contiguous ranges, each thread with its own panel.
 * cf_gemm_strided takes this path for m <= MC, a B with unit stride along k or n (a
 * cf_gemm_matrix: where the next panel's lines are is known), at least 8 column blocks per thread
 * (balance) and a packed A within STREAM_A_BYTES (it is read once per column block, from L3). */
#define STREAM_A_BYTES ((size_t)8 << 20)

/* Point pf at the source lines of the panel packed after (column block j0, slice pc) -- nothing
 * after the last -- as runs along B's unit-stride direction, one line per 2^s of `steps` k steps
 * (the tiles' total), as sparse as still fetches it all. */
static void next_panel_stream(const cf_gemm_problem *pb, const cf_gemm_ukernel *uk, size_t es, cf_int j0,
                              cf_int pc, cf_int steps, cf_gemm_prefetch *pf) {
    const cf_gemm_matrix *x = (const cf_gemm_matrix *)pb->b.ctx;
    const cf_int KC = uk->kc, NR = uk->nr;
    if (pc + KC >= pb->k) { /* the next column block, from depth 0 */
        j0 += NR;
        pc = 0;
    } else {
        pc += KC;
    }
    pf->runs = 0;
    if (j0 >= pb->n) return;
    const cf_int nr = CF_MIN(NR, pb->n - j0), kc = CF_MIN(KC, pb->k - pc);
    /* runs along the contiguous direction of X(j, p) = data[j*s_mn + p*s_k] */
    const int along_k = x->s_k == 1;
    const cf_int runs = along_k ? nr : kc, len = (along_k ? kc : nr) * (cf_int)es;
    const cf_int ld = (along_k ? x->s_mn : x->s_k) * (cf_int)es;
    const char *first = (const char *)x->data + (j0 * x->s_mn + pc * x->s_k) * (cf_int)es;
    const cf_int skew = (cf_int)((uintptr_t)first & 63);
    pf->run = (const char *)((uintptr_t)first - (uintptr_t)skew);
    pf->off = 0;
    pf->bytes = len + skew;
    pf->ld = ld;
    pf->runs = runs;
    const cf_int lines = runs * ((len + skew + 63) / 64);
    pf->step_mask = 0;
    while (2 * (pf->step_mask + 1) * lines <= steps) pf->step_mask = 2 * pf->step_mask + 1;
}

/* Returns CF_ERR_NOMEM (nothing written), or CF_OK. */
static int gemm_b_streamed(const cf_gemm_problem *pb, const cf_gemm_ukernel *uk, int nthreads) {
    const size_t es = pb->dtype == CF_F32 ? sizeof(float) : sizeof(double);
    const cf_int MR = uk->mr, NR = uk->nr, KC = uk->kc;
    const cf_int blocks = (pb->n + NR - 1) / NR, panels = (pb->m + MR - 1) / MR;
    const size_t abytes = ((size_t)(panels * MR * pb->k) * es + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    const size_t bbytes = ((size_t)(NR * CF_MIN(KC, pb->k)) * es + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    cf_int macs = pb->m * pb->n;
    macs = macs > ((cf_int)1 << 62) / pb->k ? ((cf_int)1 << 62) : macs * pb->k;
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(macs, (cf_int)1 << 17, nthreads), blocks);
    size_t cap = 0;
    char *ws = (char *)cf_scratch_acquire(abytes + bbytes * (size_t)nt, &cap);
    if (!ws) return CF_ERR_NOMEM;
    pb->a.pack(pb->a.ctx, 0, pb->m, 0, pb->k, (int)MR, ws);
#ifdef CF_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    for (int t = CF_THREAD_ID(); t < nt; t += CF_NUM_THREADS_IN_TEAM()) {
        char *bbuf = ws + abytes + bbytes * (size_t)t;
        cf_int lo, hi;
        cf_partition(blocks, nt, t, 1, &lo, &hi);
        for (cf_int jb = lo; jb < hi; ++jb) {
            const cf_int j0 = jb * NR, nr = CF_MIN(NR, pb->n - j0);
            for (cf_int pc = 0; pc < pb->k; pc += KC) {
                const cf_int kc = CF_MIN(KC, pb->k - pc);
                cf_gemm_prefetch pf;
                pb->b.pack(pb->b.ctx, j0, nr, pc, kc, (int)NR, bbuf);
                next_panel_stream(pb, uk, es, j0, pc, panels * kc, &pf);
                if (jb + 1 == hi && pc + kc == pb->k) pf.runs = 0; /* the next block is another thread's */
                for (cf_int ir = 0; ir < pb->m; ir += MR)
                    tile(pb, uk, kc, ws + (size_t)(ir * pb->k + pc * MR) * es, bbuf, NR, ir, j0,
                         CF_MIN(MR, pb->m - ir), nr, pc == 0, pc + kc == pb->k, &pf);
            }
        }
    }
    cf_scratch_release(ws, cap);
    return CF_OK;
}

/* ---- the strided entry point (cnnfast.h) -------------------------------------------------------- */
/* Work of the tiles that cover C, idle edge columns included (edge rows cost only their rows). */
static double tile_cost(const cf_gemm_problem *pb, const cf_gemm_ukernel *uk) {
    const double rows = (double)pb->m;
    const double cols = (double)((pb->n + uk->nr - 1) / uk->nr * uk->nr);
    return rows * cols * (pb->cs_c == 1 ? 1.0 : 1.125);
}

int cf_gemm_strided(cf_dtype dtype, cf_int m, cf_int n, cf_int k, double alpha, const void *a,
                    cf_int rs_a, cf_int cs_a, const void *b, cf_int rs_b, cf_int cs_b, double beta,
                    void *c, cf_int rs_c, cf_int cs_c, const void *bias_m, const void *bias_n, int relu,
                    int nthreads) {
    const float alpha_f32 = (float)alpha, beta_f32 = (float)beta;
    const int f32 = dtype == CF_F32;
    const cf_gemm_pack_fn pack = f32 ? cf_f32_gemm_pack_strided : cf_f64_gemm_pack_strided;
    const cf_gemm_matrix sa = {a, rs_a, cs_a}, sb = {b, cs_b, rs_b};
    cf_gemm_problem pb = {dtype, m, n, k, f32 ? (const void *)&alpha_f32 : (const void *)&alpha,
                          f32 ? (const void *)&beta_f32 : (const void *)&beta, {pack, &sa}, {pack, &sb},
                          c, rs_c, cs_c, bias_m, bias_n, relu};
    /* The same product transposed: C^T = B^T A^T, m and n swapped. */
    cf_gemm_problem pt = pb;
    pt.m = n;
    pt.n = m;
    pt.a.ctx = &sb;
    pt.b.ctx = &sa;
    pt.rs_c = cs_c;
    pt.cs_c = rs_c;
    pt.bias_m = bias_n;
    pt.bias_n = bias_m;
    /* Skinny products that can be read without packing go to the dot kernels, in either orientation;
     * the rest take the orientation whose tiles waste least on idle edge columns (m = 300, n = 5 is
     * better as n = 300, m = 5), counting a C without unit column stride (stored through the scratch
     * tile) as 1/8 more work: ties keep rows of C contiguous. */
    if (skinny(&pb) || skinny(&pt)) {
        gemm_skinny(skinny(&pb) ? &pb : &pt, nthreads);
        return CF_OK;
    }
    const cf_gemm_kernels *kt = CF_SELECT(cf_gemm, cf_isa_current());
    const cf_gemm_ukernel *uk = f32 ? &kt->f32 : &kt->f64;
    const cf_gemm_problem *best = tile_cost(&pt, uk) < tile_cost(&pb, uk) ? &pt : &pb;
    const cf_gemm_matrix *bm = (const cf_gemm_matrix *)best->b.ctx;
    if (best->m > 0 && best->m <= B_IN_PLACE_PANELS * uk->mr && best->n > 0 && best->k > 0 &&
        best->k <= ((cf_int)1 << 16) && bm->s_mn == 1)
        return gemm_b_in_place(best, uk, nthreads);
    const size_t es = f32 ? sizeof(float) : sizeof(double);
    if (best->m > 0 && best->m <= uk->mc && best->k > 0 && (bm->s_k == 1 || bm->s_mn == 1) &&
        (best->n + uk->nr - 1) / uk->nr >= 8 * (cf_int)nthreads &&
        best->k <= (cf_int)(STREAM_A_BYTES / es) / ((best->m + uk->mr - 1) / uk->mr * uk->mr))
        return gemm_b_streamed(best, uk, nthreads);
    return cf_gemm(best, nthreads);
}

const char *cf_gemm_kernel_info(cf_dtype dtype, cf_int out[5]) {
    const cf_gemm_kernels *t = CF_SELECT(cf_gemm, cf_isa_current());
    const cf_gemm_ukernel *uk = dtype == CF_F32 ? &t->f32 : &t->f64;
    out[0] = uk->mr;
    out[1] = uk->nr;
    out[2] = uk->mc;
    out[3] = uk->kc;
    out[4] = uk->nc;
    return uk->name;
}
