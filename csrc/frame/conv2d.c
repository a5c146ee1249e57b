/* frame/conv2d.c -- conv2d and conv_transpose2d, forward and backward, on the GEMM engine.
 *
 * Both ops are one cross-correlation seen from its two sides (cf_conv_geom, cnnfast.h), so three
 * products cover all four functions:
 *   correlate  feature = W_g * im2col(image)          conv2d forward, conv_transpose2d's dx
 *   adjoint    image   = col2im(W_g^T * feature)      conv2d's dx, conv_transpose2d forward
 *   weight     dW_g    = feature * im2col(image)^T    both ops' dweight (the roles of x and dy swap)
 * plus the bias gradient (a sum of dy per channel). The im2col matrix is never built: the engine's
 * packers read the image (implicit im2col, frame/conv2d_template.h: micro-panels copied by the
 * ISA's im2col kernel from runs computed once per panel); a pointwise conv (1x1, stride 1, no
 * padding) is a plain GEMM on the image. At stride 1, where the pixel grid wastes less than packing
 * costs (cf_conv_grid_fwd), the forward skips the im2col panels altogether: its microkernel reads
 * the rows of B from a padded copy of the image through a table of tap offsets (correlate_grid).
 * Feature planes under CF_CONV_FOLD_PIX pixels fold several
 * images into the columns of one GEMM (from CF_CONV_FOLD_MIN_PIX up only when threads outnumber the
 * images). At stride 1 the adjoint is a correlation of its own (flipped
 * kernel, swapped channels), so it needs no col2im -- except for images of one or two channels,
 * where that correlation would be a row or two thin. At a larger stride each phase of the image
 * (pixels u % sh, v % sw) is such a correlation with every stride-th tap (float32, on the rows
 * kernel: adjoint_rows); elsewhere col2im. The weight gradient at stride 1 runs as dot
 * products on a padded pixel grid (no packing) where that grid wastes less than packing costs
 * (cf_conv_grid_wgrad); otherwise it takes whichever of dW = F * im2col^T and its transpose wastes
 * fewer tile columns. Depthwise and other thin groups,
 * and correlations with a single output channel, skip the GEMM for the direct kernels of
 * kernels/conv.h (depthwise on small planes: 16 channels interleaved per vector).
 * Threads: whole products per thread when there are enough of them (images x groups), else the
 * engine splits each product; the weight gradient of a small dW splits the pixels over threads
 * into per-thread partials, added after the region. Scratch (column blocks, flipped kernels,
 * partials) comes from the engine's pool, so repeated calls reuse it. */
#include <string.h>

#include "frame/gemm.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"

/* Bytes of one column block of the adjoint (col2im) product: kept near L2's size. */
#define CF_CONV_COL_BYTES ((cf_int)1 << 20)
/* Feature planes smaller than this many pixels are folded: several images form the columns of one
 * GEMM (a 7x7 plane alone would fill two 32-wide tiles with 49 columns and repack the whole
 * weight for each image), written to a scratch block of at most CF_CONV_FOLD_BYTES first. */
#define CF_CONV_FOLD_PIX 1024
#define CF_CONV_FOLD_BYTES ((cf_int)4 << 20)
/* ... except planes of at least this many pixels when every thread gets whole images: one image
 * already fills its tiles (784 px = 24.5 columns of 32), and its product lands in place instead of
 * through the scratch block, without splitting each GEMM between threads (N8 28x28, 2 threads:
 * pointwise C128 K512 -15% time, C512 K128 -12%; 3x3 C128 K128 unchanged within the noise). */
#define CF_CONV_FOLD_MIN_PIX 512
/* Largest (c/groups)*(k/groups) of a grouped conv that takes the direct kernels. */
#define CF_CONV_DIRECT_MAX 4
/* Largest k/groups of a correlation that takes the direct kernels whatever its depth: one or two
 * GEMM rows would run the microkernel at a fraction of its tile, after packing every pixel. */
#define CF_CONV_THIN_ROWS 1

/* The weight gradient on a padded pixel grid (conv2d_template.h, weight_grad_grid): bytes of one
 * band of image and gradient rows, and the most bytes of one thread's partial sums (k x c/groups x
 * r x s lanes) it takes on; larger weights stay with the GEMM, whose packing costs them less. */
#define CF_CONV_GRID_BAND_BYTES ((cf_int)512 << 10)
#define CF_CONV_GRID_ACC_BYTES ((cf_int)8 << 20)
#define CF_CONV_GRID_CHUNK 1024
/* Most c/groups + k/groups of a weight gradient on the grid. A band holds fewer cells the more
 * channels it carries, and each band moves all k*c*r*s partial sums through the cache: past this
 * the GEMM wins (2 threads, dW only: C16 K32 32x32 1.4x faster on the grid, C64 K64 56x56 and the
 * pointwise C128 K512 28x28 1.3x and 2.1x slower). */
#define CF_CONV_GRID_WGRAD_CHANNELS 64
#define CF_CONV_GRID_FWD_DEPTH 1152
/* The rows path (cf_conv_rows_fwd): output rows narrow enough for it at any channel count, the
 * least and most depth c*r*s, the fewest pixels, the most bytes of a thread's padded copy (a band
 * of an image's rows, or adjoint_rows' whole feature side). */
#define CF_CONV_ROWS_NARROW 16
#define CF_CONV_ROWS_MIN_DEPTH 32
#define CF_CONV_ROWS_MAX_DEPTH 4608
#define CF_CONV_ROWS_MIN_PIXELS 256
#define CF_CONV_ROWS_BYTES ((cf_int)8 << 20)
/* Most bytes of adjoint_rows' staged image rows per thread (a panel's channels): near half of L2. */
#define CF_CONV_ROWS_STAGE_BYTES ((cf_int)1 << 19)
/* Most phases (stride_h * stride_w) of an adjoint on the rows path (so strides of at most 16,
 * what the rows kernels store). */
#define CF_CONV_ROWS_PHASES 16
/* Bytes of the stem path's copy of one band of input rows (all channels, one per thread): half
 * of L2, and at most CF_CONV_STEM_BYTES for the input rows of a single output row. */
#define CF_CONV_STEM_BAND_BYTES ((cf_int)1 << 20)
#define CF_CONV_STEM_BYTES ((cf_int)8 << 20)
/* The stem's outputs written with non-temporal stores (correlate_stem): at least this many
 * bytes, at least this many taps per value. */
#define CF_CONV_STEM_STREAM_BYTES ((cf_int)4 << 20)
#define CF_CONV_STEM_STREAM_TAPS 18
/* The taps paths of the weight gradient (cf_conv_taps_wgrad): most bytes of one thread's partial
 * dW, and of all its scratch; most bytes of the whole batch padded and channels-last (tiles). */
#define CF_CONV_TAPS_ACC_BYTES ((cf_int)1 << 20)
#define CF_CONV_TAPS_BYTES ((cf_int)4 << 20)
#define CF_CONV_TAPS_BATCH_BYTES ((cf_int)64 << 20)

#ifdef CF_HAVE_OPENMP
#define CF_CONV_PRAGMA(x) _Pragma(#x)
#define CF_OMP_FOR(nt) CF_CONV_PRAGMA(omp parallel for num_threads(nt) if (nt > 1) schedule(static))
#define CF_OMP_FOR_REDUCE_FAILED(nt) \
    CF_CONV_PRAGMA(omp parallel for num_threads(nt) if (nt > 1) schedule(static) reduction(| : failed))
#define CF_OMP_PARALLEL_REDUCE_FAILED(nt) CF_CONV_PRAGMA(omp parallel num_threads(nt) if (nt > 1) reduction(| : failed))
#define CF_OMP_PARALLEL(nt) CF_CONV_PRAGMA(omp parallel num_threads(nt) if (nt > 1))
#define CF_OMP_FOR_REDUCE_FITS(nt) \
    CF_CONV_PRAGMA(omp parallel for num_threads(nt) if (nt > 1) schedule(static) reduction(& : fits))
#else /* serial: the thread count is only read */
#define CF_OMP_FOR(nt) (void)(nt);
#define CF_OMP_FOR_REDUCE_FAILED(nt) (void)(nt);
#define CF_OMP_PARALLEL_REDUCE_FAILED(nt) (void)(nt);
#define CF_OMP_PARALLEL(nt) (void)(nt);
#define CF_OMP_FOR_REDUCE_FITS(nt) (void)(nt);
#endif

/* 1x1, stride 1, no padding, same plane on both sides: im2col is the image itself. */
static int cf_conv_is_pointwise(const cf_conv_geom *g) {
    return g->r == 1 && g->s == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
           g->pad_left == 0 && g->p == g->h && g->q == g->w;
}

/* Groups so thin (c/groups and k/groups channels) that the GEMM of one group would be a sliver:
 * the direct plane kernels (kernels/conv.h) instead. */
static int cf_conv_is_direct(const cf_conv_geom *g) {
    return g->groups > 1 && g->c / g->groups * (g->k / g->groups) <= CF_CONV_DIRECT_MAX;
}

/* A 1x1 conv at a stride above 1 without padding (ResNet's downsampling shortcuts): the pointwise
 * conv of every stride-th pixel (correlate_subsampled). */
static int cf_conv_is_subsampled(const cf_conv_geom *g) {
    return g->r == 1 && g->s == 1 && (g->stride_h > 1 || g->stride_w > 1) && g->pad_top == 0 &&
           g->pad_left == 0 && (g->p - 1) * g->stride_h < g->h && (g->q - 1) * g->stride_w < g->w &&
           !cf_conv_is_direct(g);
}

/* A correlation so few output channels deep (per group) that the direct kernels beat the GEMM:
 * the adjoint of a 1-channel input's conv is the common case. Pointwise convs stay a GEMM (their
 * B operand is the image itself, read without gathering). */
static int cf_conv_is_thin(const cf_conv_geom *g) {
    return g->k / g->groups <= CF_CONV_THIN_ROWS && !cf_conv_is_pointwise(g);
}

/* a*b for work estimates (a, b >= 0), saturating instead of overflowing. */
static cf_int cf_conv_sat_mul(cf_int a, cf_int b) {
    cf_int r;
    return cf_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

/* Weight gradients for the grid: stride 1, some pixels, few channels (CF_CONV_GRID_WGRAD_CHANNELS),
 * partials of at most CF_CONV_GRID_ACC_BYTES per thread (lane_bytes: one weight's partial sums),
 * and a grid that does not waste more than the
 * GEMM's packing would cost. The grid computes (p + halo)*Wp cells per image of p*q pixels (whole
 * images stacked; a plane in bands of rows: about Wp/q); its kernel runs near the FMA peak, so
 * it does about 0.85/waste of the useful work per cycle. The GEMM path packs both operands, which
 * costs it about 24 rows' worth of product: min(k, c*r*s)/(min + 24) of the peak (measured on the
 * Zen 4 machine, one thread: 57% at k = 32, c = 16; 60-72% at k = 64, c = 32; 15% at c = 1). */
/* A grid whose band of one output row (its halo rows of Wp cells, for the image's and the other
 * operand's channels, in doubles) fits in 8 bands' bytes: huge dilations and paddings do not. */
static int cf_conv_grid_fits(const cf_conv_geom *g) {
    const cf_int wp = g->q + cf_conv_sat_mul(g->dilation_w, g->s - 1);
    const cf_int cells = cf_conv_sat_mul(cf_conv_sat_mul(g->dilation_h, g->r - 1) + 1, wp);
    return cf_conv_sat_mul(cells, cf_conv_sat_mul(g->c + g->k, 8)) <= 8 * CF_CONV_GRID_BAND_BYTES;
}

static int cf_conv_grid_wgrad(const cf_conv_geom *g, cf_int lane_bytes) {
    const cf_int cpg = g->c / g->groups, crs = cpg * g->r * g->s, kpg = g->k / g->groups;
    if (g->stride_h != 1 || g->stride_w != 1 || g->n == 0 || g->p == 0 || g->q == 0 || g->c == 0 ||
        cpg + kpg > CF_CONV_GRID_WGRAD_CHANNELS ||
        !cf_conv_grid_fits(g) || cf_conv_sat_mul(g->k, cf_conv_sat_mul(crs, lane_bytes)) > CF_CONV_GRID_ACC_BYTES)
        return 0;
    const double wp = (double)(g->q + g->dilation_w * (g->s - 1)), halo = (double)(g->dilation_h * (g->r - 1));
    const double rows = (double)g->p, depth = (double)CF_MIN(kpg, crs);
    const double waste = (rows + halo) * wp / (rows * (double)g->q);
    return 0.85 / waste > depth / (depth + 24);
}

/* The bands of a padded pixel grid (weight_grad_grid, correlate_grid): `rows` output rows of one
 * image, or nimg whole images stacked, each in a block of blk cells: its (rows + halo) padded rows
 * of Wp (the taps read `halo` rows past the last output row), rounded up to `align`, so that the
 * products of one image, rows * Wp cells rounded up to whole vectors or tiles, stay in its block.
 * Sized so that a band of the image's c channels and `other` channels of the grid's other operand
 * fits CF_CONV_GRID_BAND_BYTES, in a count of bands that the threads share evenly where the batch
 * allows. glen: the cells of one band; cs: one channel's stride in the padded copy (its cells plus
 * the taps' reach past them and `align` more, so that whole vectors read past the last cell stay
 * inside). */
typedef struct {
    cf_int wp, halo, rows, nimg, blk, bands, tasks, glen, cs;
} cf_conv_grid;

static cf_conv_grid cf_conv_grid_plan(const cf_conv_geom *g, cf_int other, cf_int elem_bytes, cf_int align,
                                      int nthreads) {
    cf_conv_grid b;
    b.wp = g->q + g->dilation_w * (g->s - 1);
    b.halo = g->dilation_h * (g->r - 1);
    const cf_int row_bytes = (g->c + other) * b.wp * elem_bytes;
    b.rows = g->p;
    b.nimg = CF_CONV_GRID_BAND_BYTES / (row_bytes * (g->p + b.halo));
    if (b.nimg < 1) {
        b.nimg = 1;
        b.rows = CF_MIN(g->p, CF_MAX((cf_int)1, CF_CONV_GRID_BAND_BYTES / row_bytes - b.halo));
    } else { /* as few bands as fit, rounded up to a multiple of the threads, images spread evenly */
        const cf_int bands = ((g->n + b.nimg - 1) / b.nimg + nthreads - 1) / nthreads * nthreads;
        b.nimg = (g->n + bands - 1) / bands;
    }
    if (g->n < nthreads && b.rows == g->p) /* one image a thread at most: split its rows instead */
        b.rows = CF_MAX((cf_int)1, (g->p * g->n + nthreads - 1) / nthreads);
    b.blk = ((b.rows + b.halo) * b.wp + align - 1) / align * align;
    b.bands = (g->p + b.rows - 1) / b.rows;
    b.tasks = b.rows == g->p ? (g->n + b.nimg - 1) / b.nimg : g->n * b.bands;
    b.glen = b.nimg * b.blk;
    b.cs = (b.glen + g->dilation_w * (g->s - 1) + align + 15) / 16 * 16;
    return b;
}

/* Task t of a plan: images n0 .. n0+ni-1, output rows i0 .. i0+nr-1 of each. */
static void cf_conv_grid_task(const cf_conv_geom *g, const cf_conv_grid *b, cf_int t, cf_int *n0, cf_int *ni,
                              cf_int *i0, cf_int *nr) {
    const int whole = b->rows == g->p;
    *n0 = whole ? t * b->nimg : t / b->bands;
    *i0 = whole ? 0 : t % b->bands * b->rows;
    *ni = whole ? CF_MIN(b->nimg, g->n - *n0) : 1;
    *nr = CF_MIN(b->rows, g->p - *i0);
}

/* Forwards for the grid: stride 1, not pointwise (whose B is the image itself, read in place by
 * the plain GEMM), a depth whose packed weight panel stays near L1 (CF_CONV_GRID_FWD_DEPTH), and a
 * grid that wastes less than packing im2col costs. The offset microkernel computes each image's
 * p*Wp cells in whole 32-wide tiles and does about 0.87/waste of the useful work per cycle; the
 * packed path about kpg/(kpg + 20) (its im2col panel serves kpg rows). Measured on the Zen 4
 * machine, one thread, forward: the packed path at 58-70% of the peak at kpg = 32, 67-78% at 64,
 * 81% at 128; the grid at 85-95% of the peak per cell. */
static int cf_conv_grid_fwd(const cf_conv_geom *g) {
    const cf_int crs = g->c / g->groups * g->r * g->s, kpg = g->k / g->groups;
    if (g->stride_h != 1 || g->stride_w != 1 || cf_conv_is_pointwise(g) || g->n == 0 || g->p == 0 ||
        g->q == 0 || g->c == 0 || crs > CF_CONV_GRID_FWD_DEPTH || !cf_conv_grid_fits(g))
        return 0;
    const double cells = (double)((cf_conv_sat_mul(g->p, g->q + g->dilation_w * (g->s - 1)) + 31) / 32 * 32);
    const double waste = cells / ((double)g->p * (double)g->q);
    return 0.87 / waste > (double)kpg / (double)(kpg + 20);
}

/* The input rows under `rows` output rows, and the bytes of the rows path's padded copy of hp
 * input rows. */
static cf_int cf_conv_rows_reach(const cf_conv_geom *g, cf_int rows) {
    return cf_conv_sat_mul(rows - 1, g->stride_h) + cf_conv_sat_mul(g->dilation_h, g->r - 1) + 1;
}

static cf_int cf_conv_rows_bytes(const cf_conv_geom *g, cf_int hp) {
    const cf_int wp = cf_conv_sat_mul(g->q - 1, g->stride_w) + cf_conv_sat_mul(g->dilation_w, g->s - 1) + 1;
    const cf_int row = cf_conv_sat_mul((wp + g->stride_w - 1) / g->stride_w, g->stride_w);
    return cf_conv_sat_mul(cf_conv_sat_mul(g->c, hp), cf_conv_sat_mul(row, (cf_int)sizeof(float)));
}

/* float32 correlations for the rows path (correlate_rows): any stride, one group, at least a full
 * tile of output channels, a depth c*r*s whose weight panel stays near L2, enough pixels to pay
 * for packing the weight, and the padded copy of one output row's input rows within
 * CF_CONV_ROWS_BYTES (larger images go in bands: 2x64x224 px K64 6% faster than on the grid).
 * Output rows of at most CF_CONV_ROWS_NARROW pixels take it whatever their channels: there the
 * grid's and im2col's 32-wide vectors run across several rows and compute the padding between
 * them. Wider rows take it at strides above 1 (where the alternative is im2col, not the grid)
 * and adjoint_rows' phases, else from 64 channels in and out. Measured on the Zen 4 machine, 2
 * threads, forward, against the grid or im2col: 14x14 and 7x7 planes with 16-32 channels in,
 * 32-64 out, batch 64: 17% faster; 28-112 px with 64-256 channels 8-15% faster (stride 1: 93-98%
 * of the FMA peak), stride 2 20-35%; 28 px with 32 channels in or out 5-20% slower at stride 1;
 * a tile half empty (16 or 8 channels out) 20-50% slower. Wide rows at stride 2 with 1-48
 * channels in, 32-128 out, batch 8: 7-50% faster forward (ResNet's 7x7 stem 14.4 -> 9.8 ms), and
 * the data gradient's phases with 32-64 channels 8-17% faster than col2im. Forwards take it when
 * they are not pointwise (cf_conv_rows_fwd):
 * the plain GEMM reads those images in place. whole: the copy is of the whole feature side, and
 * the taps' reach from its top (adjoint_rows' phases); else of a band of output rows, one at least
 * (correlate_rows). */
static int cf_conv_rows_fits(const cf_conv_geom *g, int whole) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int crs = cf_conv_sat_mul(g->c * g->r, g->s);
    if (!kt->rows_f32 || g->groups != 1 ||
        g->n == 0 || g->p == 0 || g->q == 0 || g->k < kt->rows_nr || crs < CF_CONV_ROWS_MIN_DEPTH ||
        crs > CF_CONV_ROWS_MAX_DEPTH || cf_conv_sat_mul(g->n, g->p * g->q) < CF_CONV_ROWS_MIN_PIXELS ||
        (g->q > CF_CONV_ROWS_NARROW && (g->k < 64 || g->c < 64) && g->stride_h == 1 && g->stride_w == 1 &&
         !whole))
        return 0;
    const cf_int hp = whole ? CF_MAX(g->h, cf_conv_rows_reach(g, g->p)) : cf_conv_rows_reach(g, 1);
    return cf_conv_rows_bytes(g, hp) <= CF_CONV_ROWS_BYTES;
}

static int cf_conv_rows_fwd(const cf_conv_geom *g) {
    return !cf_conv_is_pointwise(g) && cf_conv_rows_fits(g, 0);
}

/* A correlation's weight read from the weight (c, k, r, s) of the conv whose adjoint it is, its
 * channel axes swapped and its taps flipped: the correlation's tap (a, b) is the conv's tap
 * (a_top - sh*a, b_top - sw*b). At stride 1 that is every tap (a_top = r - 1, sh = 1); at stride
 * s each phase of the image takes every s-th (cf_conv_phase). */
typedef struct {
    cf_int r, s, a_top, b_top, sh, sw;
} cf_conv_flip;

/* Phase (ph, pw) of the adjoint of a conv g at dilation 1: the image pixels (u, v) with
 * u % sh == ph and v % sw == pw, at (u / sh, v / sw) of the phase's plane, receive the taps
 * a = a0 + sh*t (a0 = (ph + pt) % sh) from the feature rows (u + pt - a) / sh, and likewise the
 * columns: the stride-1 correlation *f of the feature side with the flipped sub-kernel *fl. */
static void cf_conv_phase(const cf_conv_geom *g, cf_int ph, cf_int pw, cf_conv_geom *f, cf_conv_flip *fl) {
    const cf_int sh = g->stride_h, sw = g->stride_w;
    const cf_int a0 = (ph + g->pad_top) % sh, b0 = (pw + g->pad_left) % sw;
    const cf_int tr = (g->r - a0 + sh - 1) / sh, ts = (g->s - b0 + sw - 1) / sw; /* its taps */
    const cf_int e = (ph + g->pad_top - a0) / sh, e2 = (pw + g->pad_left - b0) / sw; /* feature row of tap a0 */
    *f = (cf_conv_geom){g->n, g->k, g->p, g->q, g->c, (g->h - ph + sh - 1) / sh, (g->w - pw + sw - 1) / sw, tr, ts,
                        1, 1, 1, 1, 1, tr - 1 - e, ts - 1 - e2};
    *fl = (cf_conv_flip){g->r, g->s, a0 + sh * (tr - 1), b0 + sw * (ts - 1), sh, sw};
}

/* float32 adjoints at a stride above 1 for the rows path (adjoint_rows): one group, no dilation,
 * at most CF_CONV_ROWS_PHASES phases, a kernel at least the stride each way (every phase has
 * taps), and every phase's correlation one the rows path takes (cf_conv_rows_fits; a phase of one
 * tap is pointwise, and takes it too). */
static int cf_conv_rows_adjoint(const cf_conv_geom *g) {
    if (g->groups != 1 || g->dilation_h != 1 || g->dilation_w != 1 || (g->stride_h == 1 && g->stride_w == 1) ||
        g->stride_h > g->r || g->stride_w > g->s || g->stride_h * g->stride_w > CF_CONV_ROWS_PHASES)
        return 0;
    for (cf_int ph = 0; ph < g->stride_h; ++ph)
        for (cf_int pw = 0; pw < g->stride_w; ++pw) {
            cf_conv_geom f;
            cf_conv_flip fl;
            cf_conv_phase(g, ph, pw, &f, &fl);
            if (!cf_conv_rows_fits(&f, 1)) return 0;
        }
    return 1;
}

/* One output channel, any depth: the stem path's one-channel kernel (stem1), which beats the
 * direct plane kernels and col2im (the data gradient of a one-channel image: 35-47 GFLOP/s). */
static int cf_conv_stem_thin(const cf_conv_geom *g) {
    return CF_SELECT(cf_conv, cf_isa_current())->stem1_f32 && g->k == 1;
}

/* float32 forwards for the stem path (correlate_stem): one group, stride and dilation 1, a depth
 * c*r*s of at most CF_CONV_STEM_TAPS (one- to three-channel images) or one output channel
 * (cf_conv_stem_thin), not pointwise, and the padded input rows of one output row within
 * CF_CONV_STEM_BYTES. There the GEMM's tiles and the grid's have a depth of
 * 9 to 27 per stored tile and the rows' a half-empty tile at 16 channels: 1-channel 3x3 convs at
 * 81 GFLOP/s on the grid on the Zen 4 machine (16 channels, 128 px, 2 threads). */
static int cf_conv_stem_fwd(const cf_conv_geom *g) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int crs = cf_conv_sat_mul(g->c * g->r, g->s);
    if (!kt->stem_f32 || g->groups != 1 || cf_conv_is_pointwise(g) || g->stride_h != 1 || g->stride_w != 1 ||
        g->dilation_h != 1 || g->dilation_w != 1 || g->n == 0 || g->p == 0 || g->q == 0 ||
        (crs > CF_CONV_STEM_TAPS && !cf_conv_stem_thin(g)))
        return 0;
    const cf_int wp = cf_conv_sat_mul(g->q + g->s - 1, (cf_int)sizeof(float));
    return cf_conv_sat_mul(cf_conv_sat_mul(g->c, g->r), wp) <= CF_CONV_STEM_BYTES;
}

/* float32 weight gradients for the stem path (weight_grad_stem): the forward's conditions
 * (cf_conv_stem_fwd), the image copy padded on all sides. */
static int cf_conv_stem_wgrad(const cf_conv_geom *g) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    if (!kt->stem_wgrad_f32 || !cf_conv_stem_fwd(g) || g->c * g->r * g->s > CF_CONV_STEM_TAPS) return 0;
    const cf_int wp = cf_conv_sat_mul(g->q + g->s - 1, (cf_int)sizeof(float));
    return cf_conv_sat_mul(cf_conv_sat_mul(g->c, g->p + g->r - 1), wp) <= CF_CONV_ROWS_BYTES;
}

/* The tasks of the tile paths (correlate_rows, weight_grad_taps): whole images when there are at
 * least as many as threads, else each image's output rows in bands enough for every thread. OUT
 * *rows (output rows of a band), *bands (of an image); returns images x bands. */
static cf_int cf_conv_bands(const cf_conv_geom *g, int nthreads, cf_int *rows, cf_int *bands) {
    const cf_int per_img = g->n >= nthreads ? 1 : CF_MIN(g->p, (nthreads + g->n - 1) / g->n);
    *rows = (g->p + per_img - 1) / per_img;
    *bands = (g->p + *rows - 1) / *rows;
    return g->n * *bands;
}

/* float32 weight gradients for the taps paths: a 3x3 kernel, one group, at least a full tile of
 * output channels, enough pixels. Returns 1 for weight_grad_taps, each thread summing bands of
 * images into a partial dW of its own, when that partial stays in L2 (CF_CONV_TAPS_ACC_BYTES: each
 * band passes over all of it) and the thread's scratch (partial, and a band of one output row:
 * its padded input rows and channels-last gradient) fits CF_CONV_TAPS_BYTES; 2 for
 * weight_grad_taps_tiles, each thread summing whole tiles of dW over all images, where the padded
 * batch and channels-last gradient fit CF_CONV_TAPS_BATCH_BYTES; else 0. Measured on the Zen 4
 * machine, 2 threads, dW alone, against the grid and the GEMM: partials, 14-32 px with 16-128
 * channels 1.3-2.4x as fast, 3x3 stride 2 on 56 px 1.35-1.5x, 7-8 px and 112 px within 5%;
 * tiles, C256-512 on 28-56 px 8-10% faster, on 7-14 px outputs at batch 4-8 4-12% (one product
 * per tile over all images), at batch 1 within 5%. Images past 4 MB go in bands (before, to the
 * GEMM or the grid): 2x64x224 px K64 and 2x64-128x112 px K128 17-25% faster, 4-16x32-64x128 px
 * K32 25-45% faster. */
static cf_int cf_conv_taps_bytes(const cf_conv_geom *g, cf_int rows) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int kp = (g->k + kt->taps_nr - 1) / kt->taps_nr * kt->taps_nr;
    const cf_int hp = cf_conv_sat_mul(rows - 1, g->stride_h) + cf_conv_sat_mul(2, g->dilation_h) + 1;
    const cf_int wp = cf_conv_sat_mul(g->q - 1, g->stride_w) + cf_conv_sat_mul(2, g->dilation_w) + 1;
    const cf_int band = cf_conv_sat_mul(g->c, cf_conv_sat_mul(hp, wp)) + cf_conv_sat_mul(kp, rows * g->q);
    return cf_conv_sat_mul(band + cf_conv_sat_mul(kp, g->c * 9), (cf_int)sizeof(float));
}

static int cf_conv_taps_wgrad(const cf_conv_geom *g) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    if (!kt->wgrad_taps_f32 || g->r != 3 || g->s != 3 || g->groups != 1 || g->k < kt->taps_nr || g->c == 0 ||
        g->n == 0 || g->p == 0 || g->q == 0 || cf_conv_sat_mul(g->n, g->p * g->q) < CF_CONV_ROWS_MIN_PIXELS)
        return 0;
    const cf_int kp = (g->k + kt->taps_nr - 1) / kt->taps_nr * kt->taps_nr;
    if (cf_conv_sat_mul(cf_conv_sat_mul(kp, g->c * 9), (cf_int)sizeof(float)) <= CF_CONV_TAPS_ACC_BYTES)
        return cf_conv_taps_bytes(g, 1) <= CF_CONV_TAPS_BYTES;
    const cf_int hp = cf_conv_sat_mul(g->p - 1, g->stride_h) + cf_conv_sat_mul(2, g->dilation_h) + 1;
    const cf_int wp = cf_conv_sat_mul(g->q - 1, g->stride_w) + cf_conv_sat_mul(2, g->dilation_w) + 1;
    const cf_int img = cf_conv_sat_mul(g->c, cf_conv_sat_mul(hp, wp)) + cf_conv_sat_mul(kp, g->p * g->q);
    return cf_conv_sat_mul(cf_conv_sat_mul(img, g->n), (cf_int)sizeof(float)) <= CF_CONV_TAPS_BATCH_BYTES ? 2 : 0;
}

/* cf_conv_bands' bands cut further where a band's scratch, one + per_row*(rows - 1) bytes, would
 * pass limit (down to bands of one row). Returns images x bands. */
static cf_int cf_conv_cut_bands(const cf_conv_geom *g, cf_int one, cf_int per_row, cf_int limit, cf_int *rows,
                                cf_int *bands) {
    if (cf_conv_sat_mul(per_row, *rows - 1) > limit - one) {
        const cf_int fit = CF_MAX((cf_int)1, 1 + (limit - one) / CF_MAX((cf_int)1, per_row));
        *bands = (g->p + fit - 1) / fit;
        *rows = (g->p + *bands - 1) / *bands;
        *bands = (g->p + *rows - 1) / *rows;
    }
    return g->n * *bands;
}

/* The tasks of weight_grad_taps: bands whose scratch fits CF_CONV_TAPS_BYTES (cf_conv_taps_wgrad
 * ensures a band of one row does). */
static cf_int cf_conv_taps_band(const cf_conv_geom *g, int nthreads, cf_int *rows, cf_int *bands) {
    cf_conv_bands(g, nthreads, rows, bands);
    const cf_int one = cf_conv_taps_bytes(g, 1);
    return cf_conv_cut_bands(g, one, cf_conv_taps_bytes(g, 2) - one, CF_CONV_TAPS_BYTES, rows, bands);
}

/* The tasks of correlate_rows: bands whose copy fits CF_CONV_ROWS_BYTES (cf_conv_rows_fwd ensures a
 * band of one row does). */
static cf_int cf_conv_rows_band(const cf_conv_geom *g, int nthreads, cf_int *rows, cf_int *bands) {
    cf_conv_bands(g, nthreads, rows, bands);
    const cf_int one = cf_conv_rows_bytes(g, cf_conv_rows_reach(g, 1));
    return cf_conv_cut_bands(g, one, cf_conv_rows_bytes(g, g->stride_h), CF_CONV_ROWS_BYTES, rows, bands);
}

/* correlate_rows a panel of output channels per task, over every image's copy, shared (else a
 * band of an image per task): where the weight's bytes are at least the images' copies', those
 * fit CF_CONV_ROWS_BYTES, and the panels split evenly over the threads (or are 4 per thread). */
static int cf_conv_rows_by_panel(const cf_conv_geom *g, int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int panels = (g->k + kt->rows_nr - 1) / kt->rows_nr;
    const cf_int copies = cf_conv_sat_mul(g->n, cf_conv_rows_bytes(g, CF_MIN(g->h, cf_conv_rows_reach(g, g->p))));
    const cf_int weight = cf_conv_sat_mul(panels * kt->rows_nr, cf_conv_sat_mul(g->c * g->r * g->s, (cf_int)sizeof(float)));
    return (panels % nthreads == 0 || panels >= 4 * (cf_int)nthreads) && copies <= CF_CONV_ROWS_BYTES && weight >= copies;
}

/* The tap rows [*lo, *hi) of output row i that fall inside the image: 0 <= i*sh - pt + a*dh < h. */
static void cf_conv_tap_rows(const cf_conv_geom *g, cf_int i, cf_int *lo, cf_int *hi) {
    const cf_int top = g->pad_top - i * g->stride_h, bottom = g->h - 1 - i * g->stride_h + g->pad_top;
    *lo = top > 0 ? (top + g->dilation_h - 1) / g->dilation_h : 0;
    *hi = CF_MAX(*lo, bottom < 0 ? 0 : CF_MIN(g->r, bottom / g->dilation_h + 1));
}

/* memset(p, 0, bytes) on up to nthreads threads. */
static void cf_conv_zero(void *p, size_t bytes, int nthreads) {
    const int nt = cf_threads_for((cf_int)(bytes >> 16), 4, nthreads);
    CF_OMP_FOR(nt)
    for (int t = 0; t < nt; ++t) {
        cf_int lo, hi;
        cf_partition((cf_int)bytes, nt, t, CF_ALIGN, &lo, &hi);
        if (lo < hi) memset((char *)p + lo, 0, (size_t)(hi - lo));
    }
}

/* The direct plane kernel `op` of the ISA in force, for the dtype of the including template. */
#define KT(op) (CF_SELECT(cf_conv, cf_isa_current())->SUF(op))
/* The GEMM's transposing micro-panel packer (kernels/gemm.h) of that dtype. */
#define PACK_ROWS (CF_SELECT(cf_gemm, cf_isa_current())->SUF(pack_rows))
/* Pixels of the weight gradient's operands gathered into rows per transposing pass. */
#define CF_CONV_T_CHUNK 256

#define T float
#define SUF(name) name##_f32
#define DT CF_F32
#define PACK_STRIDED cf_f32_gemm_pack_strided
#define F32_TILES 1 /* the float32-only paths: correlate_rows, correlate_stem, weight_grad_taps, weight_grad_stem */
#include "frame/conv2d_template.h"
#undef T
#undef SUF
#undef DT
#undef PACK_STRIDED
#undef F32_TILES

#define T double
#define SUF(name) name##_f64
#define DT CF_F64
#define PACK_STRIDED cf_f64_gemm_pack_strided
#define F32_TILES 0
#include "frame/conv2d_template.h"
#undef F32_TILES
#undef T
#undef SUF
#undef DT
#undef PACK_STRIDED

/* ---- the entry points (cnnfast.h) ------------------------------------------------------------- */
/* image (n, c, h, w), weight (k, c/groups, r, s), bias (k) or NULL: IN. feature (n, k, p, q): OUT. */
int cf_conv_correlate(cf_dtype dtype, const cf_conv_geom *g, const void *image, const void *weight,
                      const void *bias, int relu, void *feature, int nthreads) {
    return dtype == CF_F32 ? correlate_f32(g, image, weight, bias, relu, feature, nthreads)
                           : correlate_f64(g, image, weight, bias, relu, feature, nthreads);
}

/* feature (n, k, p, q), weight (k, c/groups, r, s), bias (c) or NULL: IN. image (n, c, h, w): OUT. */
int cf_conv_correlate_adjoint(cf_dtype dtype, const cf_conv_geom *g, const void *feature, const void *weight,
                              const void *bias, void *image, int nthreads) {
    return dtype == CF_F32 ? adjoint_f32(g, feature, weight, bias, image, nthreads)
                           : adjoint_f64(g, feature, weight, bias, image, nthreads);
}

/* image (n, c, h, w), feature_grad (n, k, p, q): IN. dweight (k, c/groups, r, s): OUT. */
int cf_conv_weight_grad(cf_dtype dtype, const cf_conv_geom *g, const void *image, const void *feature_grad,
                        void *dweight, int nthreads) {
    return dtype == CF_F32 ? weight_grad_f32(g, image, feature_grad, dweight, nthreads)
                           : weight_grad_f64(g, image, feature_grad, dweight, nthreads);
}

/* t (n, channels, plane): IN. db (channels): OUT. */
int cf_conv_bias_grad(cf_dtype dtype, cf_int n, cf_int channels, cf_int plane, const void *t, void *db,
                      int nthreads) {
    if (dtype == CF_F32)
        bias_grad_f32(n, channels, plane, t, db, nthreads);
    else
        bias_grad_f64(n, channels, plane, t, db, nthreads);
    return CF_OK;
}
