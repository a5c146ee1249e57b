/* frame/conv2d_template.h -- the convolution of frame/conv2d.c for one dtype. Included by conv2d.c
 * once per dtype with T (the element type), SUF(name) (name_f32 / name_f64), DT (CF_F32 / CF_F64)
 * and PACK_STRIDED (the engine's strided packer of that dtype).
 *
 * Notation (cnnfast.h, cf_conv_geom): G groups, cpg = c/G and kpg = k/G channels per group,
 * crs = cpg*r*s the depth of one output value, PQ = p*q the feature plane, HW = h*w the image
 * plane. The feature side is read as one long "folded" pixel axis t = n*PQ + i*q + j, so a
 * product over pixels can span images (weight gradient) and a window of it can be any range.
 * The im2col matrix of group gi has rows (cc, a, b) (crs of them) and the folded pixels as
 * columns: im2col[(cc, a, b)][t] = image[n, gi*cpg + cc, i*stride_h - pad_top + a*dilation_h,
 * j*stride_w - pad_left + b*dilation_w], 0 outside the image. It is never stored whole: the
 * packers below read it straight from the image (implicit im2col), and col2im scatters a slice
 * of it back. */

/* ---- one row of the im2col matrix, one output row at a time ---------------------------------- */
/* A folded pixel t as (image n, row i, column j). */
typedef struct {
    cf_int n, i, j;
} SUF(pixel);

static inline SUF(pixel) SUF(decode)(const cf_conv_geom *g, cf_int t) {
    const cf_int PQ = g->p * g->q, n = t / PQ, pix = t - n * PQ, i = pix / g->q;
    return (SUF(pixel)){n, i, pix - i * g->q};
}

/* dst[u*ds] = im2col[(cc, a, b)][t0 + u] for u < len, t0 given decoded. IN base: the image at
 * channel gi*cpg. */
static void SUF(gather)(const cf_conv_geom *g, const T *base, cf_int cc, cf_int a, cf_int b, SUF(pixel) t0,
                        cf_int len, T *dst, cf_int ds) {
    const cf_int Q = g->q, sw = g->stride_w;
    cf_int n = t0.n, i = t0.i, j = t0.j;
    const cf_int ya = a * g->dilation_h - g->pad_top, xb = b * g->dilation_w - g->pad_left;
    for (cf_int done = 0; done < len;) {
        const cf_int cnt = CF_MIN(Q - j, len - done), y = i * g->stride_h + ya, x0 = j * sw + xb;
        T *d = dst + done * ds;
        cf_int lo = 0, hi = 0;
        if (y >= 0 && y < g->h) cf_conv_span(x0, sw, cnt, g->w, &lo, &hi);
        const T *row = base + ((n * g->c + cc) * g->h + y) * g->w + x0;
        for (cf_int u = 0; u < lo; ++u) d[u * ds] = 0;
        if (ds == 1 && sw == 1)
            for (cf_int u = lo; u < hi; ++u) d[u] = row[u];
        else
            for (cf_int u = lo; u < hi; ++u) d[u * ds] = row[u * sw];
        for (cf_int u = hi; u < cnt; ++u) d[u * ds] = 0;
        done += cnt;
        j = 0;
        if (++i == g->p) i = 0, ++n;
    }
}

/* The adjoint of gather (ds = 1): im2col[(cc, a, b)][t0 + u] += src[u] into the image. */
static void SUF(scatter)(const cf_conv_geom *g, T *base, cf_int cc, cf_int a, cf_int b, cf_int t0,
                         cf_int len, const T *src) {
    const cf_int Q = g->q, PQ = g->p * Q, sw = g->stride_w;
    cf_int n = t0 / PQ, pix = t0 - n * PQ, i = pix / Q, j = pix - i * Q;
    const cf_int ya = a * g->dilation_h - g->pad_top, xb = b * g->dilation_w - g->pad_left;
    for (cf_int done = 0; done < len;) {
        const cf_int cnt = CF_MIN(Q - j, len - done), y = i * g->stride_h + ya, x0 = j * sw + xb;
        if (y >= 0 && y < g->h) {
            cf_int lo, hi;
            cf_conv_span(x0, sw, cnt, g->w, &lo, &hi);
            T *row = base + ((n * g->c + cc) * g->h + y) * g->w + x0;
            const T *s = src + done;
            if (sw == 1)
                for (cf_int u = lo; u < hi; ++u) row[u] += s[u];
            else
                for (cf_int u = lo; u < hi; ++u) row[u * sw] += s[u];
        }
        done += cnt;
        j = 0;
        if (++i == g->p) i = 0, ++n;
    }
}

/* dst[u*ds] = feature[n, kk (of the group at base), pixel] for the folded t = t0 + u, u < len. */
static void SUF(frow)(const cf_conv_geom *g, const T *base, cf_int kk, cf_int t0, cf_int len, T *dst,
                      cf_int ds) {
    const cf_int PQ = g->p * g->q;
    cf_int n = t0 / PQ, pix = t0 - n * PQ;
    for (cf_int done = 0; done < len; pix = 0, ++n) {
        const cf_int cnt = CF_MIN(PQ - pix, len - done);
        const T *s = base + (n * g->k + kk) * PQ + pix;
        T *d = dst + done * ds;
        if (ds == 1)
            memcpy(d, s, sizeof(T) * (size_t)cnt);
        else
            for (cf_int u = 0; u < cnt; ++u) d[u * ds] = s[u];
        done += cnt;
    }
}

/* ---- the engine's operands (packing contract: frame/gemm.h) ----------------------------------- */
typedef struct {
    const cf_conv_geom *g;
    const T *base; /* the image at channel gi*cpg, or the feature side at channel gi*kpg */
    cf_int t0;     /* folded pixel of the operand's column / depth 0 */
} SUF(conv_operand);

/* The runs (kernels/conv.h) of one micro-panel: `rows` folded pixels from t, in segments along
 * output rows; for each tap (a, b) and segment, the lanes whose tap reads inside the image. With
 * `holes` (panels of at most 32 lanes, unit stride), a segment that reads the plane at the same
 * offset as the tap's run before (the next output row of a conv that keeps the row width) joins
 * that run, the lanes between them (the tap's padding columns) its holes: one masked copy per
 * vector instead of one per output row of a small plane. OUT runs[tap*maxrun + ...], nrun[tap]. */
static void SUF(panel_runs)(const cf_conv_geom *g, SUF(pixel) t, int rows, cf_conv_run *runs, int *nrun,
                            int maxrun, int holes) {
    const cf_int rs = g->r * g->s, sw = g->stride_w;
    for (cf_int tap = 0; tap < rs; ++tap) nrun[tap] = 0;
    cf_int n = t.n, i = t.i, j = t.j;
    for (int d0 = 0; d0 < rows;) {
        const int cnt = (int)CF_MIN(g->q - j, (cf_int)(rows - d0));
        for (cf_int a = 0; a < g->r; ++a) {
            const cf_int y = i * g->stride_h + a * g->dilation_h - g->pad_top;
            if (y < 0 || y >= g->h) continue;
            for (cf_int b = 0; b < g->s; ++b) {
                const cf_int x0 = j * sw + b * g->dilation_w - g->pad_left;
                cf_int lo, hi;
                cf_conv_span(x0, sw, cnt, g->w, &lo, &hi);
                if (lo >= hi) continue;
                const cf_int tap = a * g->s + b, off = (n * g->c * g->h + y) * g->w + x0 - d0 * sw;
                cf_conv_run *last = nrun[tap] ? &runs[tap * maxrun + nrun[tap] - 1] : NULL;
                if (last && last->off == off && last->hi == d0 + (int)lo) { /* continues the row before */
                    last->hi = d0 + (int)hi;
                } else if (last && last->off == off && holes && sw == 1) { /* the same offset after a gap */
                    last->holes |= (uint32_t)(((uint64_t)1 << (d0 + lo)) - ((uint64_t)1 << last->hi));
                    last->hi = d0 + (int)hi;
                } else {
                    runs[tap * maxrun + nrun[tap]++] = (cf_conv_run){off, d0 + (int)lo, d0 + (int)hi, 0};
                }
            }
        }
        d0 += cnt;
        j = 0;
        if (++i == g->p) i = 0, ++n;
    }
}

/* Runs kept on the stack per micro-panel: more taps x segments than this take the gather path. */
enum { SUF(RUNS_MAX) = 1024 };

/* B = im2col (crs x pixels), for the forward: X(j, p) = im2col[p][t0 + j]. Each micro-panel's
 * runs are computed once, then the ISA's im2col kernel copies its kc rows. */
static void SUF(pack_im2col)(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w, void *dst_) {
    const SUF(conv_operand) *x = (const SUF(conv_operand) *)ctx;
    const cf_conv_geom *g = x->g;
    const cf_int rs = g->r * g->s, maxrun = (w + g->q - 1) / g->q + 1;
    T *dst = (T *)dst_;
    if (rs * maxrun <= SUF(RUNS_MAX) && rs <= SUF(RUNS_MAX)) {
        cf_conv_run runs[SUF(RUNS_MAX)];
        int nrun[SUF(RUNS_MAX)];
        for (cf_int r0 = 0; r0 < mn; r0 += w, dst += (cf_int)w * kc) {
            const int rows = (int)CF_MIN((cf_int)w, mn - r0);
            SUF(panel_runs)(g, SUF(decode)(g, x->t0 + i0 + r0), rows, runs, nrun, (int)maxrun, w <= 32);
            KT(im2col)(x->base, g->h * g->w, rs, p0, kc, g->stride_w, runs, nrun, (int)maxrun, w, dst);
        }
        return;
    }
    for (cf_int r0 = 0; r0 < mn; r0 += w, dst += (cf_int)w * kc) {
        const int rows = (int)CF_MIN((cf_int)w, mn - r0);
        const SUF(pixel) t = SUF(decode)(g, x->t0 + i0 + r0);
        cf_int cc = p0 / rs, a = (p0 - cc * rs) / g->s, b = p0 - cc * rs - a * g->s;
        for (cf_int p = 0; p < kc; ++p) {
            SUF(gather)(g, x->base, cc, a, b, t, rows, dst + p * w, 1);
            for (int i = rows; i < w; ++i) dst[p * w + i] = 0;
            if (++b == g->s) {
                b = 0;
                if (++a == g->r) a = 0, ++cc;
            }
        }
    }
}

/* B = im2col^T (pixels x crs), for the weight gradient: X(j, p) = im2col[j][t0 + p]. The rows of
 * a micro-panel are gathered (contiguous along the pixels) CF_CONV_T_CHUNK pixels at a time, then
 * transposed into the panel by the GEMM's SIMD row packer. The gather takes the ISA's im2col
 * kernel on runs computed once per chunk (as pack_im2col's panels), or, with more taps x segments
 * than the runs' stack buffer holds, the row gather. */
static void SUF(pack_im2col_t)(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w, void *dst_) {
    const SUF(conv_operand) *x = (const SUF(conv_operand) *)ctx;
    const cf_conv_geom *g = x->g;
    const cf_int rs = g->r * g->s, maxrun = (CF_CONV_T_CHUNK + g->q - 1) / g->q + 1;
    const int by_runs = rs * maxrun <= SUF(RUNS_MAX);
    _Alignas(CF_ALIGN) T tmp[CF_GEMM_NR_MAX * CF_CONV_T_CHUNK];
    cf_conv_run runs[SUF(RUNS_MAX)];
    int nrun[SUF(RUNS_MAX)];
    T *dst = (T *)dst_;
    for (cf_int q0 = 0; q0 < kc; q0 += CF_CONV_T_CHUNK) {
        const cf_int len = CF_MIN((cf_int)CF_CONV_T_CHUNK, kc - q0);
        const SUF(pixel) t = SUF(decode)(g, x->t0 + p0 + q0);
        if (by_runs) SUF(panel_runs)(g, t, (int)len, runs, nrun, (int)maxrun, 0);
        for (cf_int r0 = 0; r0 < mn; r0 += w) {
            const int rows = (int)CF_MIN((cf_int)w, mn - r0);
            if (by_runs) /* tmp row i = im2col row i0 + r0 + i, zero past len */
                KT(im2col)(x->base, g->h * g->w, rs, i0 + r0, rows, g->stride_w, runs, nrun, (int)maxrun,
                           CF_CONV_T_CHUNK, tmp);
            else
                for (int i = 0; i < rows; ++i) {
                    const cf_int row = i0 + r0 + i, cc = row / rs, a = (row - cc * rs) / g->s;
                    SUF(gather)(g, x->base, cc, a, row - cc * rs - a * g->s, t, len, tmp + i * CF_CONV_T_CHUNK, 1);
                }
            PACK_ROWS(tmp, CF_CONV_T_CHUNK, rows, len, w, dst + r0 * kc + q0 * w);
        }
    }
}

/* A = the feature side's gradient (kpg x pixels), for the weight gradient: X(i, p) = F[i][t0 + p].
 * A depth range inside one image is transposed straight from the planes by the GEMM's row packer;
 * one that crosses images is first copied row by row. */
static void SUF(pack_feature)(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w, void *dst_) {
    const SUF(conv_operand) *x = (const SUF(conv_operand) *)ctx;
    const cf_conv_geom *g = x->g;
    const cf_int PQ = g->p * g->q, t = x->t0 + p0, n = t / PQ, pix = t - n * PQ;
    T *dst = (T *)dst_;
    for (cf_int r0 = 0; r0 < mn; r0 += w, dst += (cf_int)w * kc) {
        const int rows = (int)CF_MIN((cf_int)w, mn - r0);
        if (pix + kc <= PQ) {
            PACK_ROWS(x->base + (n * g->k + i0 + r0) * PQ + pix, PQ, rows, kc, w, dst);
            continue;
        }
        _Alignas(CF_ALIGN) T tmp[CF_GEMM_NR_MAX * CF_CONV_T_CHUNK];
        for (cf_int q0 = 0; q0 < kc; q0 += CF_CONV_T_CHUNK) {
            const cf_int len = CF_MIN((cf_int)CF_CONV_T_CHUNK, kc - q0);
            for (int i = 0; i < rows; ++i)
                SUF(frow)(g, x->base, i0 + r0 + i, t + q0, len, tmp + i * CF_CONV_T_CHUNK, 1);
            PACK_ROWS(tmp, CF_CONV_T_CHUNK, rows, len, w, dst + q0 * w);
        }
    }
}

/* B = the feature side (kpg x pixels), for the adjoint: X(j, p) = F[p][t0 + j]. */
static void SUF(pack_feature_t)(const void *ctx, cf_int i0, cf_int mn, cf_int p0, cf_int kc, int w, void *dst_) {
    const SUF(conv_operand) *x = (const SUF(conv_operand) *)ctx;
    T *dst = (T *)dst_;
    for (cf_int r0 = 0; r0 < mn; r0 += w, dst += (cf_int)w * kc) {
        const int rows = (int)CF_MIN((cf_int)w, mn - r0);
        for (cf_int p = 0; p < kc; ++p) {
            SUF(frow)(x->g, x->base, p0 + p, x->t0 + i0 + r0, rows, dst + p * w, 1);
            for (int i = rows; i < w; ++i) dst[p * w + i] = 0;
        }
    }
}

/* ---- direct path: depthwise and small groups (cf_conv_is_direct), plane by plane ------------- */
static void SUF(direct_fwd)(const cf_conv_geom *g, const T *img, const T *wt, const T *bias, int relu, T *feat,
                            int nthreads) {
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, RS = g->r * g->s, HW = g->h * g->w;
    const cf_int PQ = g->p * g->q, planes = g->n * g->k;
    const int nt = cf_threads_for(cf_conv_sat_mul(planes, PQ * RS * cpg), (cf_int)1 << 15, nthreads);
    if (cpg == 1 && kpg == 1) { /* depthwise: CF_CONV_LANES channels at a time where the planes allow */
        const cf_int blocks = (g->k + CF_CONV_LANES - 1) / CF_CONV_LANES, tasks = g->n * blocks;
        int fits = 1;
        CF_OMP_FOR_REDUCE_FITS(nt)
        for (cf_int t = 0; t < tasks; ++t) {
            const cf_int n = t / blocks, k0 = t % blocks * CF_CONV_LANES;
            const int nch = (int)CF_MIN((cf_int)CF_CONV_LANES, g->k - k0);
            fits &= KT(fwd_lanes)(g, nch, img + (n * g->c + k0) * HW, HW, wt + k0 * RS, bias ? bias + k0 : NULL,
                                  relu, feat + (n * g->k + k0) * PQ, PQ);
        }
        if (fits) return;
    }
    CF_OMP_FOR(nt)
    for (cf_int pl = 0; pl < planes; ++pl) {
        const cf_int n = pl / g->k, kk = pl % g->k, gi = kk / kpg;
        T *y = feat + pl * PQ;
        const T v = bias ? bias[kk] : (T)0;
        for (cf_int u = 0; u < PQ; ++u) y[u] = v;
        for (cf_int cc = 0; cc < cpg; ++cc)
            KT(fwd)(g, img + (n * g->c + gi * cpg + cc) * HW, wt + (kk * cpg + cc) * RS, y);
        if (relu)
            for (cf_int u = 0; u < PQ; ++u) y[u] = y[u] < (T)0 ? (T)0 : y[u];
    }
}

static void SUF(direct_adj)(const cf_conv_geom *g, const T *feat, const T *wt, T *img, int nthreads) {
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, RS = g->r * g->s, HW = g->h * g->w;
    const cf_int PQ = g->p * g->q, tasks = g->n * G;
    const int nt = cf_threads_for(cf_conv_sat_mul(g->n * g->k, PQ * RS * cpg), (cf_int)1 << 15, nthreads);
    if (cpg == 1 && kpg == 1) { /* depthwise: CF_CONV_LANES channels at a time where the planes allow */
        const cf_int blocks = (G + CF_CONV_LANES - 1) / CF_CONV_LANES, lane_tasks = g->n * blocks;
        int fits = 1;
        CF_OMP_FOR_REDUCE_FITS(nt)
        for (cf_int t = 0; t < lane_tasks; ++t) {
            const cf_int n = t / blocks, k0 = t % blocks * CF_CONV_LANES;
            const int nch = (int)CF_MIN((cf_int)CF_CONV_LANES, G - k0);
            fits &= KT(adj_lanes)(g, nch, feat + (n * g->k + k0) * PQ, PQ, wt + k0 * RS, img + (n * g->c + k0) * HW, HW);
        }
        if (fits) return;
    }
    CF_OMP_FOR(nt)
    for (cf_int t = 0; t < tasks; ++t) {
        const cf_int n = t / G, gi = t % G;
        T *x = img + (n * g->c + gi * cpg) * HW;
        memset(x, 0, sizeof(T) * (size_t)(cpg * HW));
        for (cf_int kk = gi * kpg; kk < (gi + 1) * kpg; ++kk)
            for (cf_int cc = 0; cc < cpg; ++cc)
                KT(adj)(g, x + cc * HW, wt + (kk * cpg + cc) * RS, feat + (n * g->k + kk) * PQ);
    }
}

static void SUF(direct_wgrad)(const cf_conv_geom *g, const T *img, const T *fg, T *dw, int nthreads) {
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, RS = g->r * g->s, HW = g->h * g->w;
    const cf_int PQ = g->p * g->q;
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(g->n * g->k, PQ * RS * cpg),
                                                      (cf_int)1 << 15, nthreads), G);
    if (cpg == 1 && kpg == 1) { /* depthwise: CF_CONV_LANES channels at a time where the planes allow */
        const cf_int blocks = (G + CF_CONV_LANES - 1) / CF_CONV_LANES;
        const int ntb = (int)CF_MIN((cf_int)nt, blocks);
        int fits = 1;
        CF_OMP_FOR_REDUCE_FITS(ntb)
        for (cf_int bl = 0; bl < blocks; ++bl) {
            const cf_int k0 = bl * CF_CONV_LANES;
            const int nch = (int)CF_MIN((cf_int)CF_CONV_LANES, G - k0);
            memset(dw + k0 * RS, 0, sizeof(T) * (size_t)(nch * RS));
            for (cf_int n = 0; n < g->n && fits; ++n)
                fits &= KT(wgrad_lanes)(g, nch, img + (n * g->c + k0) * HW, HW, fg + (n * g->k + k0) * PQ, PQ,
                                        dw + k0 * RS);
        }
        if (fits) return;
    }
    CF_OMP_FOR(nt)
    for (cf_int gi = 0; gi < G; ++gi) {
        T *d = dw + gi * kpg * cpg * RS;
        memset(d, 0, sizeof(T) * (size_t)(kpg * cpg * RS));
        for (cf_int n = 0; n < g->n; ++n)
            for (cf_int kk = 0; kk < kpg; ++kk)
                for (cf_int cc = 0; cc < cpg; ++cc)
                    KT(wgrad)(g, img + (n * g->c + gi * cpg + cc) * HW, fg + (n * g->k + gi * kpg + kk) * PQ,
                              d + (kk * cpg + cc) * RS);
    }
}

/* ---- forward: feature = W_g (kpg x crs) * im2col (crs x PQ), per image and group -------------- */
static int SUF(correlate_one)(const cf_conv_geom *g, const T *img, const T *wt, const T *bias, int relu,
                             T *feat, cf_int n, cf_int gi, int nt) {
    static const T one = 1, zero = 0;
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, crs = cpg * g->r * g->s;
    const cf_int PQ = g->p * g->q, HW = g->h * g->w;
    const cf_gemm_matrix wa = {wt + gi * kpg * crs, crs, 1};
    const cf_gemm_matrix xb = {img + (n * g->c + gi * cpg) * HW, 1, HW};
    const SUF(conv_operand) xo = {g, img + gi * cpg * HW, n * PQ};
    cf_gemm_problem pb = {DT, kpg, PQ, crs, &one, &zero, {PACK_STRIDED, &wa}, {SUF(pack_im2col), &xo},
                          feat + (n * g->k + gi * kpg) * PQ, PQ, 1, bias ? bias + gi * kpg : NULL, NULL, relu};
    if (cf_conv_is_pointwise(g)) pb.b = (cf_gemm_operand){PACK_STRIDED, &xb};
    return cf_gemm(&pb, nt);
}

/* Images n0 .. n0+nb-1 of group gi as one GEMM whose columns are their nb*PQ folded pixels, into
 * the scratch block cbuf (kpg x nb*PQ), then copied to their planes. */
static int SUF(correlate_folded)(const cf_conv_geom *g, const T *img, const T *wt, const T *bias, int relu,
                                 T *feat, cf_int gi, cf_int n0, cf_int nb, T *cbuf, int nt) {
    static const T one = 1, zero = 0;
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, crs = cpg * g->r * g->s;
    const cf_int PQ = g->p * g->q, HW = g->h * g->w, cols = nb * PQ;
    const cf_gemm_matrix wa = {wt + gi * kpg * crs, crs, 1};
    const SUF(conv_operand) xo = {g, img + gi * cpg * HW, n0 * PQ};
    const cf_gemm_problem pb = {DT, kpg, cols, crs, &one, &zero, {PACK_STRIDED, &wa}, {SUF(pack_im2col), &xo},
                                cbuf, cols, 1, bias ? bias + gi * kpg : NULL, NULL, relu};
    if (cf_gemm(&pb, nt) != CF_OK) return CF_ERR_NOMEM;
    for (cf_int b = 0; b < nb; ++b)
        for (cf_int i = 0; i < kpg; ++i)
            memcpy(feat + ((n0 + b) * g->k + gi * kpg + i) * PQ, cbuf + i * cols + b * PQ, sizeof(T) * (size_t)PQ);
    return CF_OK;
}

/* The padded rows of the images of one band (cf_conv_grid_task) into xp, channel c at xp + c*cs;
 * zero outside the image and past the band. Returns nonzero when an image value is not finite
 * (checked only with `check`). */
static int SUF(grid_fill)(const cf_conv_geom *g, const cf_conv_grid *b, const T *img, cf_int n0, cf_int ni,
                          cf_int i0, cf_int nr, int check, T *xp) {
    const cf_int Wp = b->wp, H = g->h, W = g->w, x0 = CF_MIN(g->pad_left, Wp);
    const cf_int cnt = CF_MAX((cf_int)0, CF_MIN(W, Wp - x0));
    int bad = 0;
    for (cf_int c = 0; c < g->c; ++c)
        for (cf_int m = 0; m < ni; ++m) {
            T *d = xp + c * b->cs + m * b->blk;
            for (cf_int u = (nr + b->halo) * Wp; u < b->blk; ++u) d[u] = 0;
            for (cf_int yy = 0; yy < nr + b->halo; ++yy, d += Wp) { /* loops, not calls: rows are short */
                const cf_int y = i0 + yy - g->pad_top;
                if (y < 0 || y >= H || cnt == 0) {
                    for (cf_int u = 0; u < Wp; ++u) d[u] = 0;
                    continue;
                }
                const T *src = img + (((n0 + m) * g->c + c) * H + y) * W;
                for (cf_int u = 0; u < x0; ++u) d[u] = 0;
                if (check)
                    for (cf_int u = 0; u < cnt; ++u) {
                        d[x0 + u] = src[u];
                        bad |= src[u] - src[u] != (T)0;
                    }
                else
                    for (cf_int u = 0; u < cnt; ++u) d[x0 + u] = src[u];
                for (cf_int u = x0 + cnt; u < Wp; ++u) d[u] = 0;
            }
        }
    for (cf_int c = 0; c < g->c; ++c)
        for (cf_int u = ni * b->blk; u < b->cs; ++u) xp[c * b->cs + u] = 0;
    return bad;
}

/* The forward at stride 1 on a padded pixel grid (cf_conv_grid_plan, as the weight gradient's): the
 * im2col row of tap (a, b) is the band's padded copy shifted by a*dh*Wp + b*dw, so the microkernel
 * reads B in place through a table of row offsets (ukernel_off) instead of from packed panels. The
 * weight is packed once; each band's products land on the grid (k x glen, in the thread's scratch)
 * and are copied to the feature planes without the grid's extra columns, bias and ReLU applied. */
static int SUF(correlate_grid)(const cf_conv_geom *g, const T *img, const T *wt, const T *bias, int relu, T *feat,
                               int nthreads) {
    static const T one = 1, zero = 0;
    const cf_gemm_ukernel *uk = DT == CF_F32 ? &CF_SELECT(cf_gemm, cf_isa_current())->f32
                                             : &CF_SELECT(cf_gemm, cf_isa_current())->f64;
    const cf_int MR = uk->mr, NR = uk->nr;
    const cf_int G = g->groups, C = g->c, K = g->k, cpg = C / G, kpg = K / G, R = g->r, S = g->s, RS = R * S;
    const cf_int P = g->p, Q = g->q, crs = cpg * RS, panels = (kpg + MR - 1) / MR;
    const cf_conv_grid pl = cf_conv_grid_plan(g, K, (cf_int)sizeof(T), NR, nthreads);
    const cf_int Wp = pl.wp, blk = pl.blk, glen = pl.glen, cs = pl.cs;
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(K * crs, g->n * P * Q), (cf_int)1 << 17, nthreads),
                               pl.tasks);
    const size_t per = ((size_t)(C * cs + K * glen) * sizeof(T) + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    const size_t abytes = ((size_t)(G * panels * MR * crs) * sizeof(T) + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    const size_t obytes = sizeof(cf_int) * (size_t)(crs + CF_GEMM_BOFF_AHEAD);
    size_t cap = 0;
    char *ws = (char *)cf_scratch_acquire(abytes + obytes + per * (size_t)nt, &cap);
    if (!ws) return CF_ERR_NOMEM;
    T *apack = (T *)ws;
    cf_int *boff = (cf_int *)(ws + abytes);
    char *mine0 = ws + abytes + (obytes + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    for (cf_int gi = 0; gi < G; ++gi) {
        const cf_gemm_matrix wa = {wt + gi * kpg * crs, crs, 1};
        PACK_STRIDED(&wa, 0, kpg, 0, crs, (int)MR, apack + gi * panels * MR * crs);
    }
    for (cf_int j = 0; j < crs + CF_GEMM_BOFF_AHEAD; ++j) { /* the rows past crs are only prefetched */
        const cf_int jj = CF_MIN(j, crs - 1), cc = jj / RS, a = jj % RS / S, b = jj % S;
        boff[j] = cc * cs + a * g->dilation_h * Wp + b * g->dilation_w;
    }
    CF_OMP_PARALLEL(nt)
    for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
        T *xp = (T *)(mine0 + per * (size_t)th), *og = xp + C * cs;
        cf_int lo, hi;
        cf_partition(pl.tasks, nt, th, 1, &lo, &hi);
        for (cf_int task = lo; task < hi; ++task) {
            cf_int n0, ni, i0, nr;
            cf_conv_grid_task(g, &pl, task, &n0, &ni, &i0, &nr);
            SUF(grid_fill)(g, &pl, img, n0, ni, i0, nr, 0, xp);
            for (cf_int gi = 0; gi < G; ++gi)
                for (cf_int m = 0; m < ni; ++m) /* each image's output rows, not the halo rows between */
                    for (cf_int jr = m * blk; jr < m * blk + nr * Wp; jr += NR) /* B panel for every row panel */
                        for (cf_int ir = 0; ir < kpg; ir += MR)
                            uk->ukernel_off(crs, (int)CF_MIN(MR, kpg - ir), apack + (gi * panels + ir / MR) * MR * crs,
                                            xp + gi * cpg * cs + jr, boff, og + (gi * kpg + ir) * glen + jr, glen,
                                            &one, &zero);
            for (cf_int k = 0; k < K; ++k) {
                const T v = bias ? bias[k] : (T)0;
                for (cf_int m = 0; m < ni; ++m)
                    for (cf_int i = 0; i < nr; ++i) {
                        const T *src = og + k * glen + m * blk + i * Wp;
                        T *dst = feat + (((n0 + m) * K + k) * P + i0 + i) * Q;
                        if (relu)
                            for (cf_int u = 0; u < Q; ++u) {
                                const T y = src[u] + v;
                                dst[u] = y < (T)0 ? (T)0 : y;
                            }
                        else
                            for (cf_int u = 0; u < Q; ++u) dst[u] = src[u] + v;
                    }
            }
        }
    }
    cf_scratch_release(ws, cap);
    return CF_OK;
}

static int SUF(correlate)(const cf_conv_geom *g, const T *img, const T *wt, const T *bias, int relu, T *feat,
                          int nthreads);

#if F32_TILES
/* One image row with its left and right padding: dst[t] = src[t - pl] for t in [lo, hi) (the
 * columns that fall inside the row), 0 for the other t < wp. */
static void SUF(pad_row)(T *dst, const T *src, cf_int pl, cf_int lo, cf_int hi, cf_int wp) {
    for (cf_int t = 0; t < lo; ++t) dst[t] = 0;
    if (hi > lo) memcpy(dst + lo, src + lo - pl, sizeof(T) * (size_t)(hi - lo));
    for (cf_int t = hi; t < wp; ++t) dst[t] = 0;
}

/* The tile paths' weight (stem, rows): panels of nr output channels (zeros past k), each
 * c*r*s deep with its taps ordered tap row first, p = (a*c + cc)*s + b, so that the taps of an
 * output row that fall on padding rows are a prefix or a suffix of the depth:
 *   wpack[(panel*crs + p)*nr + j] = weight of channel panel*nr + j at tap p.
 * With fl set, wt is the weight (c, k, fl->r, fl->s) of the conv whose adjoint this correlation
 * is (cf_conv_flip): channel kk's tap (a, b) on input channel cc is
 * wt[cc][kk][fl->a_top - fl->sh*a][fl->b_top - fl->sw*b]; and g, fl are nph parts of that
 * adjoint (the phases of adjoint_rows, which share c and k), packed one after the other.
 * Both read the weight in order. Flipped, the row wt[cc] holds every panel's taps on input
 * channel cc, copied a panel at a time as runs of nr values (for all parts in one pass: a pass
 * per phase read the weight from memory four times, 19% of res5a's data gradient); else a panel's
 * nr rows are copied in blocks of CF_CONV_PACK_CHANNELS input channels, whose destination lines
 * stay in L1 across them (8x512x7x7 K512, 2 threads: blocks 5% faster than the flipped loop's
 * order for the forward, that order 3% faster than blocks for the flip). */
#define CF_CONV_PACK_CHANNELS 8
/* Panel pn of one part (g, fl) of pack_tap_rows into dst (its crs*nr values), the taps of input
 * channels [c0, c1); the channels of the panel past k are left alone. */
static void SUF(pack_tap_panel)(const cf_conv_geom *g, const T *wt, const cf_conv_flip *fl, cf_int nr, cf_int pn,
                                cf_int c0, cf_int c1, T *dst) {
    const cf_int C = g->c, K = g->k, R = g->r, S = g->s, RS = R * S, k0 = pn * nr, nk = CF_MIN(nr, K - k0);
    if (fl) {
        const cf_int frs = fl->r * fl->s;
        for (cf_int cc = c0; cc < c1; ++cc) {
            const T *row = wt + (cc * K + k0) * frs;
            for (cf_int a = 0; a < R; ++a)
                for (cf_int b = 0; b < S; ++b) {
                    const T *src = row + (fl->a_top - fl->sh * a) * fl->s + fl->b_top - fl->sw * b;
                    T *d = dst + ((a * C + cc) * S + b) * nr;
                    for (cf_int j = 0; j < nk; ++j) d[j] = src[j * frs];
                }
        }
        return;
    }
    for (cf_int cb = c0; cb < c1; cb += CF_CONV_PACK_CHANNELS)
        for (cf_int j = 0; j < nk; ++j)
            for (cf_int cc = cb; cc < CF_MIN(c1, cb + CF_CONV_PACK_CHANNELS); ++cc) {
                const T *src = wt + ((k0 + j) * C + cc) * RS;
                for (cf_int a = 0; a < R; ++a)
                    for (cf_int b = 0; b < S; ++b) dst[((a * C + cc) * S + b) * nr + j] = src[a * S + b];
            }
}

static void SUF(pack_tap_rows)(const cf_conv_geom *g, cf_int nph, const T *wt, const cf_conv_flip *fl, cf_int nr,
                               T *wpack, int nthreads) {
    const cf_int C = g->c, K = g->k, panels = (K + nr - 1) / nr;
    const int nt = cf_threads_for(K * C * g->r * g->s * nph, (cf_int)1 << 15, nthreads);
    if (K % nr) /* channels past k */
        for (cf_int ph = 0, off = 0; ph < nph; off += panels * nr * C * g[ph].r * g[ph].s, ++ph)
            memset(wpack + off + (panels - 1) * nr * C * g[ph].r * g[ph].s, 0,
                   sizeof(T) * (size_t)(nr * C * g[ph].r * g[ph].s));
    if (fl) {
        CF_OMP_FOR(nt)
        for (cf_int e = 0; e < C * panels; ++e) {
            const cf_int cc = e / panels, pn = e % panels;
            T *part = wpack;
            for (cf_int ph = 0; ph < nph; part += panels * nr * C * g[ph].r * g[ph].s, ++ph)
                SUF(pack_tap_panel)(&g[ph], wt, &fl[ph], nr, pn, cc, cc + 1, part + pn * nr * C * g[ph].r * g[ph].s);
        }
        return;
    }
    CF_OMP_FOR(nt)
    for (cf_int pn = 0; pn < panels; ++pn) SUF(pack_tap_panel)(g, wt, NULL, nr, pn, 0, C, wpack + pn * nr * C * g->r * g->s);
}

/* The scratch of the tile paths (stem, rows, adjoint_rows; weight_grad_stem keeps its partials in
 * the weight's part): the packed weight (wvals values), the taps' offsets (crs), then one padded
 * image (ivals values) per thread, each part CF_ALIGN aligned. */
typedef struct {
    char *ws;
    size_t cap, wbytes, obytes, per;
} SUF(tile_ws);

static int SUF(tile_ws_acquire)(SUF(tile_ws) *t, cf_int wvals, cf_int crs, cf_int ivals, int nt) {
    t->wbytes = ((size_t)wvals * sizeof(T) + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    t->obytes = (sizeof(cf_int) * (size_t)crs + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    t->per = ((size_t)ivals * sizeof(T) + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    t->cap = 0;
    t->ws = (char *)cf_scratch_acquire(t->wbytes + t->obytes + t->per * (size_t)nt, &t->cap);
    return t->ws ? CF_OK : CF_ERR_NOMEM;
}

static inline T *SUF(tile_ws_image)(const SUF(tile_ws) *t, int th) {
    return (T *)(t->ws + t->wbytes + t->obytes + t->per * (size_t)th);
}

/* The scratch of a correlation on the tile paths, parts g[0..nph) of it (one, or the phases of
 * adjoint_rows), with their weight packed in panels of nr channels (pack_tap_rows) at *wpack and
 * room for their taps' offsets at *xoff (one per packed depth step). */
static int SUF(tile_ws_packed)(SUF(tile_ws) *t, const cf_conv_geom *g, cf_int nph, const T *wt,
                               const cf_conv_flip *fl, cf_int nr, cf_int ivals, int nt, int nthreads, T **wpack,
                               cf_int **xoff) {
    cf_int crs = 0;
    for (cf_int ph = 0; ph < nph; ++ph) crs += g->c * g[ph].r * g[ph].s;
    if (SUF(tile_ws_acquire)(t, (g->k + nr - 1) / nr * nr * crs, crs, ivals, nt) != CF_OK) return CF_ERR_NOMEM;
    *wpack = (T *)t->ws;
    *xoff = (cf_int *)(t->ws + t->wbytes);
    SUF(pack_tap_rows)(g, nph, wt, fl, nr, *wpack, nthreads);
    return CF_OK;
}

/* Stem forwards (cf_conv_stem_fwd): per output row, 64-pixel segments x 4 output channels (or
 * one, stem1), each tap a vector of pixels times a broadcast weight. A task is a band of one
 * image's output rows: it copies the input rows under them with their column padding (tap rows
 * outside the image are skipped, not padded, as on the rows path). */
static int SUF(correlate_stem)(const cf_conv_geom *g, const T *img, const T *wt, const cf_conv_flip *flip,
                               const T *bias, int relu, T *feat,
                               int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    enum { LEN = 64 };
    const cf_int NR = g->k == 1 ? 1 : 4; /* stem1 or stem */
    const cf_f32_conv_stem_fn stem = NR == 1 ? kt->stem1_f32 : kt->stem_f32;
    const cf_int C = g->c, K = g->k, R = g->r, S = g->s, H = g->h, W = g->w, P = g->p, Q = g->q;
    const cf_int pt = g->pad_top, pl = g->pad_left, CS = C * S, crs = C * R * S, groups = (K + NR - 1) / NR;
    const cf_int Wp = Q + S - 1;
    /* bands of output rows whose input rows (rows + R - 1 of them) stay near L2, and at least as
     * many as cf_conv_bands makes for the threads */
    cf_int rows, bands;
    cf_conv_bands(g, nthreads, &rows, &bands);
    rows = CF_MIN(rows, CF_MAX((cf_int)1, CF_CONV_STEM_BAND_BYTES / (cf_int)sizeof(T) / (C * Wp) - (R - 1)));
    bands = (P + rows - 1) / rows;
    const cf_int tasks = g->n * bands, cs = (rows + R - 1) * Wp; /* a channel of the band's copy */
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(K * crs, g->n * P * Q), (cf_int)1 << 17, nthreads),
                               tasks);
    /* outputs past the caches, at CF_CONV_STEM_STREAM_TAPS taps or more a value, skip reading
     * their lines first (non-temporal stores where the kernel has them; at 9 taps, 1-channel
     * images, the stores come too often for that: 4x1x256x256 K16 14% slower) */
    const int stream = crs >= CF_CONV_STEM_STREAM_TAPS && kt->store_fence &&
                       cf_conv_sat_mul(g->n * K, P * Q * (cf_int)sizeof(T)) >= CF_CONV_STEM_STREAM_BYTES;
    SUF(tile_ws) tw;
    T *wpack;
    cf_int *xoff;
    if (SUF(tile_ws_packed)(&tw, g, 1, wt, flip, NR, C * cs, nt, nthreads, &wpack, &xoff) != CF_OK) return CF_ERR_NOMEM;
    for (cf_int a = 0; a < R; ++a)
        for (cf_int cc = 0; cc < C; ++cc)
            for (cf_int b = 0; b < S; ++b) xoff[(a * C + cc) * S + b] = cc * cs + a * Wp + b;
    const cf_int lo_col = CF_MIN(pl, Wp), hi_col = CF_MAX(lo_col, CF_MIN(Wp, W + pl)); /* copied columns */
    CF_OMP_PARALLEL(nt)
    for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
        T *xp = SUF(tile_ws_image)(&tw, th);
        cf_int lo, hi;
        cf_partition(tasks, nt, th, 1, &lo, &hi);
        for (cf_int task = lo; task < hi; ++task) {
            const cf_int n = task / bands, i0 = task % bands * rows, i1 = CF_MIN(P, i0 + rows);
            /* the band's input rows [y0, y1), copied with their column padding */
            const cf_int y0 = CF_MAX((cf_int)0, i0 - pt), y1 = CF_MIN(H, i1 - 1 - pt + R);
            for (cf_int cc = 0; cc < C; ++cc)
                for (cf_int y = y0; y < y1; ++y)
                    SUF(pad_row)(xp + cc * cs + (y - y0) * Wp, img + ((n * C + cc) * H + y) * W, pl, lo_col, hi_col, Wp);
            for (cf_int i = i0; i < i1; ++i) {
                cf_int a_lo, a_hi;
                cf_conv_tap_rows(g, i, &a_lo, &a_hi);
                for (cf_int j0 = 0; j0 < Q; j0 += LEN)
                    for (cf_int kg = 0; kg < groups; ++kg)
                        stem((a_hi - a_lo) * CS, xp, (i - pt - y0) * Wp + j0, xoff + a_lo * CS, (int)CF_MIN(LEN, Q - j0),
                             wpack + (kg * crs + a_lo * CS) * NR, (int)CF_MIN(NR, K - kg * NR),
                             feat + ((n * K + kg * NR) * P + i) * Q + j0, P * Q, bias ? bias + kg * NR : NULL, relu,
                             stream);
            }
        }
        if (stream) kt->store_fence();
    }
    cf_scratch_release(tw.ws, tw.cap);
    return CF_OK;
}

/* pad_row split into sw column phases ps apart: padded column t at dst[t % sw * ps + t / sw]
 * (src[t - pl] for lo <= t < hi, else 0). At stride 2 the columns inside the row go in pairs,
 * which the compiler vectorises (one element at a time, with its test, the copy was 8.7% of
 * 8x128x56x56 K128 stride 2's forward in perf, 5.9% since: the image's reads from memory). */
static void SUF(split_row)(T *dst, cf_int ps, const T *src, cf_int pl, cf_int lo, cf_int hi, cf_int wp, cf_int sw) {
    for (cf_int t = 0; t < lo; ++t) dst[t % sw * ps + t / sw] = 0;
    for (cf_int t = CF_MAX(lo, hi); t < wp; ++t) dst[t % sw * ps + t / sw] = 0;
    cf_int t = lo;
    if (sw == 2) {
        if (t < hi && t % 2) dst[ps + t / 2] = src[t - pl], ++t;
        T *d0 = dst + t / 2, *d1 = dst + ps + t / 2;
        const T *s = src + t - pl;
        const cf_int pairs = (hi - t) / 2;
        for (cf_int v = 0; v < pairs; ++v) {
            d0[v] = s[2 * v];
            d1[v] = s[2 * v + 1];
        }
        t += 2 * pairs;
    }
    for (; t < hi; ++t) dst[t % sw * ps + t / sw] = src[t - pl];
}

/* One image's c channels (h x w) into the rows path's copy xp, padded on all sides: channel cc's
 * padded row y < hp at xp + cc*cs + y*ldx holds image row y - pt (zeros outside the image), its
 * padded column t < wp at (t % sw)*(ldx/sw) + t / sw holding image column t - pl (pt and pl may
 * be negative: a copy that starts inside the image). */
static void SUF(rows_copy)(const T *img, cf_int c, cf_int h, cf_int w, cf_int hp, cf_int wp, cf_int pt, cf_int pl,
                           cf_int sw, cf_int ldx, cf_int cs, T *xp) {
    const cf_int lo_col = CF_MIN(CF_MAX(pl, (cf_int)0), wp), hi_col = CF_MAX(lo_col, CF_MIN(wp, w + pl));
    for (cf_int cc = 0; cc < c; ++cc)
        for (cf_int y = 0; y < hp; ++y) {
            T *dst = xp + cc * cs + y * ldx;
            if (y < pt || y - pt >= h) {
                memset(dst, 0, sizeof(T) * (size_t)ldx);
                continue;
            }
            const T *src = img + (cc * h + y - pt) * w; /* padded column t: src[t - pl] */
            if (sw == 1)
                SUF(pad_row)(dst, src, pl, lo_col, hi_col, wp);
            else
                SUF(split_row)(dst, ldx / sw, src, pl, lo_col, hi_col, wp, sw);
        }
}

/* Output rows [i0, i1) of one image for one panel of nk <= rows_nr channels (correlate_rows):
 * xp holds the image rows from y0 on, L apart; w the panel's packed taps, y its first channel's
 * output plane (bias at the panel's channels or NULL). Rows of at most rows_mr/2 pixels go two to
 * a tile where the next row has the same taps. */
static void SUF(rows_tiles)(const cf_conv_kernels *kt, const cf_conv_geom *g, const T *xp, cf_int y0, cf_int L,
                            const cf_int *xoff, const T *w, int nk, cf_int i0, cf_int i1, T *y, const T *bias,
                            int relu) {
    const cf_int MR = kt->rows_mr, NR = kt->rows_nr, CS = g->c * g->s, P = g->p, Q = g->q;
    const cf_int sh = g->stride_h, pt = g->pad_top;
    for (cf_int i = i0; i < i1;) {
        /* tap rows a with 0 <= i*sh - pt + a*dh < H */
        cf_int a_lo, a_hi, b_lo, b_hi;
        cf_conv_tap_rows(g, i, &a_lo, &a_hi);
        if (i + 1 < i1) cf_conv_tap_rows(g, i + 1, &b_lo, &b_hi);
        const int pair = 2 * Q <= MR && i + 1 < i1 && a_lo == b_lo && a_hi == b_hi;
        for (cf_int j0 = 0; j0 < Q; j0 += MR)
            kt->rows_f32((a_hi - a_lo) * CS, (int)(pair ? 2 * Q : CF_MIN(MR, Q - j0)), nk, xp, (i * sh - pt - y0) * L + j0,
                         pair ? sh * L : 0, xoff + a_lo * CS, w + a_lo * CS * NR, y + i * Q + j0, P * Q, 1, Q, bias,
                         relu);
        i += 1 + pair;
    }
}

/* The forward on small planes as tiles of one output row's pixels x rows_nr output channels
 * (kernels/conv.h, rows). The weight is packed in panels of rows_nr channels, tap row first
 * (pack_tap_rows), so that the taps of an output row that fall on padding rows, a prefix or a
 * suffix of the depth, are skipped. The image rows are copied into scratch with their left and
 * right padding, Wp = (q-1)*sw + (s-1)*dw + 1 columns, split into sw phases of Wq columns (padded
 * column t at (t % sw)*Wq + t / sw), so that the pixels of an output row under one tap are
 * consecutive at any stride; the copy's channels start a whole cache line apart (58 rows of 58
 * columns, not a multiple of 16 floats, made 8x64x56x56 K64 2-3% slower than 56 rows of 58).
 * Where the weight outweighs the images' copies (cf_conv_rows_by_panel: 512 channels on 7-14 px)
 * every image is copied once, shared, and a task is a panel: its thread packs it into its own
 * scratch, where it stays in L2 for every image, instead of the whole weight being packed to
 * memory and read back per image (pack_tap_rows was 15% of 8x512x14x14 K512 stride 2 on 2
 * threads, at the memory's bandwidth; 8x512x7x7 K512 and that shape 4-5% faster this way,
 * 8x256x14x14 K256 and 2x512x28x28 K512 within 1%). Flipped weights (the stride-1 data gradient) are
 * not packed this way: 1-3% slower on those shapes. Else a task is a band of an image's output rows
 * (cf_conv_rows_band: whole images where there are at least as many as threads and their copy
 * fits), each copying the image rows under it, with the weight packed whole first. (Pairing any
 * two rows, the copy padded with zero rows for the taps of the other row, made 8x512x7x7 K512 5%
 * slower forward and backward, though it computes 15% less; 8x64x56x56 K64 took 4-8% longer with
 * those rows alone: perhaps the misaligned channels.) */
static int SUF(correlate_rows)(const cf_conv_geom *g, const T *img, const T *wt, const cf_conv_flip *flip,
                               const T *bias, int relu, T *feat,
                               int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int NR = kt->rows_nr;
    const cf_int C = g->c, K = g->k, R = g->r, S = g->s, H = g->h, W = g->w, P = g->p, Q = g->q;
    const cf_int sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const cf_int pt = g->pad_top, pl = g->pad_left, crs = C * R * S, panels = (K + NR - 1) / NR;
    const int by_panel = !flip && cf_conv_rows_by_panel(g, nthreads);
    cf_int rows, bands;
    const cf_int tasks = by_panel ? panels : cf_conv_rows_band(g, nthreads, &rows, &bands);
    const cf_int hb = CF_MIN(H, cf_conv_rows_reach(g, by_panel ? P : rows));
    const cf_int Wp = (Q - 1) * sw + (S - 1) * dw + 1, Wq = (Wp + sw - 1) / sw, L = sw * Wq, line = CF_ALIGN / sizeof(T);
    const cf_int cs = (hb * L + line - 1) / line * line; /* a channel's copy */
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(K * crs, g->n * P * Q), (cf_int)1 << 17, nthreads),
                               tasks);
    SUF(tile_ws) tw;
    T *wpack;
    cf_int *xoff;
    if (by_panel) { /* the shared copies in the weight's part, a panel per thread */
        if (SUF(tile_ws_acquire)(&tw, g->n * C * cs, crs, crs * NR, nt) != CF_OK) return CF_ERR_NOMEM;
        wpack = (T *)tw.ws;
        xoff = (cf_int *)(tw.ws + tw.wbytes);
    } else if (SUF(tile_ws_packed)(&tw, g, 1, wt, flip, NR, C * cs, nt, nthreads, &wpack, &xoff) != CF_OK) {
        return CF_ERR_NOMEM;
    }
    for (cf_int a = 0; a < R; ++a)
        for (cf_int cc = 0; cc < C; ++cc)
            for (cf_int b = 0; b < S; ++b)
                xoff[(a * C + cc) * S + b] = cc * cs + a * dh * L + b * dw % sw * Wq + b * dw / sw;
    if (by_panel) {
        const cf_int y0 = CF_MAX((cf_int)0, -pt), y1 = CF_MIN(H, (P - 1) * sh - pt + (R - 1) * dh + 1);
        const int ntn = (int)CF_MIN((cf_int)nt, g->n);
        CF_OMP_FOR(ntn)
        for (cf_int n = 0; n < g->n; ++n)
            SUF(rows_copy)(img + n * C * H * W, C, H, W, CF_MAX((cf_int)0, y1 - y0), Wp, -y0, pl, sw, L, cs,
                           wpack + n * C * cs);
        CF_OMP_FOR(nt)
        for (cf_int pn = 0; pn < panels; ++pn) {
            T *wp = SUF(tile_ws_image)(&tw, CF_THREAD_ID());
            const int nk = (int)CF_MIN(NR, K - pn * NR);
            if (nk < NR) memset(wp, 0, sizeof(T) * (size_t)(crs * NR));
            SUF(pack_tap_panel)(g, wt, flip, NR, pn, 0, C, wp);
            for (cf_int n = 0; n < g->n; ++n)
                SUF(rows_tiles)(kt, g, wpack + n * C * cs, y0, L, xoff, wp, nk, 0, P, feat + (n * K + pn * NR) * P * Q,
                                bias ? bias + pn * NR : NULL, relu);
        }
    } else {
        CF_OMP_PARALLEL(nt)
        for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
            T *xp = SUF(tile_ws_image)(&tw, th);
            cf_int lo, hi;
            cf_partition(tasks, nt, th, 1, &lo, &hi);
            for (cf_int task = lo; task < hi; ++task) {
                const cf_int n = task / bands, i0 = task % bands * rows, i1 = CF_MIN(P, i0 + rows);
                const cf_int y0 = CF_MAX((cf_int)0, i0 * sh - pt), y1 = CF_MIN(H, (i1 - 1) * sh - pt + (R - 1) * dh + 1);
                SUF(rows_copy)(img + n * C * H * W, C, H, W, CF_MAX((cf_int)0, y1 - y0), Wp, -y0, pl, sw, L, cs, xp);
                for (cf_int pn = 0; pn < panels; ++pn)
                    SUF(rows_tiles)(kt, g, xp, y0, L, xoff, wpack + pn * crs * NR, (int)CF_MIN(NR, K - pn * NR), i0, i1,
                                    feat + (n * K + pn * NR) * P * Q, bias ? bias + pn * NR : NULL, relu);
            }
        }
    }
    cf_scratch_release(tw.ws, tw.cap);
    return CF_OK;
}

/* dst[v] = src[v % sw * ps + v / sw] for v < w: a line of an image from its sw column phases,
 * ps apart (stride 2 in pairs, which the compiler turns into vector unpacks). */
static void SUF(interleave_row)(T *dst, const T *src, cf_int ps, cf_int sw, cf_int w) {
    if (sw == 1) {
        memcpy(dst, src, sizeof(T) * (size_t)w);
    } else if (sw == 2) {
        const T *s1 = src + ps;
        for (cf_int v = 0; v < w / 2; ++v) {
            dst[2 * v] = src[v];
            dst[2 * v + 1] = s1[v];
        }
        if (w % 2) dst[w - 1] = src[w / 2];
    } else {
        for (cf_int c = 0; c < sw; ++c)
            for (cf_int v = c, t = 0; v < w; v += sw, ++t) dst[v] = src[c * ps + t];
    }
}

/* The adjoint at a stride above 1 on the rows path (cf_conv_rows_adjoint): the image pixels of
 * one phase (u % sh, v % sw) take every sh-th tap row and sw-th tap column, so each phase is a
 * stride-1 correlation of the feature side with a flipped sub-kernel (cf_conv_phase), its
 * output pixels sh rows and sw columns apart in the image (the kernel's stores ypix apart).
 * The phases together write every image pixel once (none is zeroed first) and pack the weight
 * once. A task is one image (or a band of its phases' rows): the feature side is copied once,
 * padded for every phase, and each phase reads it from its own origin; its channels a whole
 * cache line apart, as on correlate_rows (8x128x56x56 K128 stride 2, 30x30 per channel: 1-5%
 * faster). The phases of a panel store into the thread's scratch, each phase's plane apart and
 * its pixels consecutive (when that fits CF_CONV_ROWS_STAGE_BYTES), and the image's lines are
 * then written whole, their phases interleaved (interleave_row). Stored ypix apart straight to
 * the image, each of its lines was a partial write (8x128x56x56 K128 stride 2: 6% slower; 28x28
 * K256 2%); stored ypix apart into scratch, the kernel's permuted stores (two per channel of a
 * 14-pixel tile at stride 2) and a copy-out after them made 8x128x56x56 K128 7-9% slower and
 * 8x256x28x28 K256 3.5%. Else the phases store in place. Measured against col2im
 * (the GEMM's product scattered back) on the Zen 4 machine, 2 threads: see README. */
static int SUF(adjoint_rows)(const cf_conv_geom *g, const T *feat, const T *wt, const T *bias, T *img, int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int MR = kt->rows_mr, NR = kt->rows_nr;
    const cf_int C = g->c, K = g->k, H = g->h, W = g->w, P = g->p, Q = g->q, sh = g->stride_h, sw = g->stride_w;
    const cf_int nph = sh * sw, panels = (C + NR - 1) / NR;
    cf_conv_geom f[CF_CONV_ROWS_PHASES];
    cf_conv_flip fl[CF_CONV_ROWS_PHASES];
    cf_int wofs[CF_CONV_ROWS_PHASES], xofs[CF_CONV_ROWS_PHASES], pt = INT64_MIN, pl = INT64_MIN, hp = 0, wp = 0;
    for (cf_int ph = 0; ph < nph; ++ph) { /* the copy's padding: the most any phase has */
        cf_conv_phase(g, ph / sw, ph % sw, &f[ph], &fl[ph]);
        pt = CF_MAX(pt, f[ph].pad_top);
        pl = CF_MAX(pl, f[ph].pad_left);
    }
    for (cf_int ph = 0, wv = 0, xv = 0; ph < nph; ++ph) { /* its size: every phase's reach from its origin */
        hp = CF_MAX(hp, pt - f[ph].pad_top + f[ph].p + f[ph].r - 1);
        wp = CF_MAX(wp, pl - f[ph].pad_left + f[ph].q + f[ph].s - 1);
        wofs[ph] = wv;
        xofs[ph] = xv;
        wv += panels * NR * K * f[ph].r * f[ph].s;
        xv += K * f[ph].r * f[ph].s;
    }
    const cf_int crs = K * g->r * g->s, line = CF_ALIGN / sizeof(T), cs = (hp * wp + line - 1) / line * line;
    cf_int rows, bands;
    const cf_int tasks = cf_conv_bands(&f[0], nthreads, &rows, &bands); /* phase 0 has the most rows */
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(C * crs, g->n * P * Q), (cf_int)1 << 17, nthreads),
                               tasks);
    /* a band's phase rows [i0, i0 + rows) of a panel's channels, staged when they fit: phase ph of
     * channel j at (j*nph + ph)*rows*QQ, its rows QQ apart */
    const cf_int QQ = f[0].q, SH = rows * sh, pstage = nph * rows * QQ;
    const cf_int staged = cf_conv_sat_mul(NR * pstage, (cf_int)sizeof(T)) <= CF_CONV_ROWS_STAGE_BYTES;
    SUF(tile_ws) tw;
    T *wpack;
    cf_int *xoff;
    if (SUF(tile_ws_packed)(&tw, f, nph, wt, fl, NR, K * cs + (staged ? NR * pstage : 0), nt, nthreads, &wpack,
                            &xoff) != CF_OK)
        return CF_ERR_NOMEM;
    for (cf_int ph = 0; ph < nph; ++ph) {
        const cf_int R = f[ph].r, S = f[ph].s, y0 = pt - f[ph].pad_top, x0 = pl - f[ph].pad_left;
        for (cf_int a = 0; a < R; ++a)
            for (cf_int cc = 0; cc < K; ++cc)
                for (cf_int b = 0; b < S; ++b) xoff[xofs[ph] + (a * K + cc) * S + b] = cc * cs + (y0 + a) * wp + x0 + b;
    }
    CF_OMP_PARALLEL(nt)
    for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
        T *xp = SUF(tile_ws_image)(&tw, th);
        cf_int lo, hi, filled = -1;
        cf_partition(tasks, nt, th, 1, &lo, &hi);
        for (cf_int task = lo; task < hi; ++task) {
            const cf_int n = task / bands, i0 = task % bands * rows;
            if (n != filled) {
                SUF(rows_copy)(feat + n * K * P * Q, K, P, Q, hp, wp, pt, pl, 1, wp, cs, xp);
                filled = n;
            }
            for (cf_int pn = 0; pn < panels; ++pn) { /* a panel's phases fill its image lines while in L2 */
                const int nk = (int)CF_MIN(NR, C - pn * NR);
                T *const o = xp + K * cs;
                for (cf_int ph = 0; ph < nph; ++ph) {
                    const cf_conv_geom *fp = &f[ph];
                    const cf_int q = fp->q, CS = K * fp->s, i1 = CF_MIN(fp->p, i0 + rows);
                    /* pixel (i, j) of the phase: staged at out + (i - i0)*QQ + j, else image row
                     * i*sh + ph/sw, column j*sw + ph%sw */
                    T *const out = staged ? o + ph * rows * QQ - i0 * QQ
                                          : img + (n * C + pn * NR) * H * W + ph / sw * W + ph % sw;
                    const cf_int ys = staged ? pstage : H * W, ypix = staged ? 1 : sw, ld = staged ? QQ : sh * W;
                    for (cf_int i = i0; i < i1;) { /* rows paired as on correlate_rows */
                        cf_int a_lo, a_hi, b_lo, b_hi;
                        cf_conv_tap_rows(fp, i, &a_lo, &a_hi);
                        if (i + 1 < i1) cf_conv_tap_rows(fp, i + 1, &b_lo, &b_hi);
                        const int pair = 2 * q <= MR && i + 1 < i1 && a_lo == b_lo && a_hi == b_hi;
                        for (cf_int j0 = 0; j0 < q; j0 += MR)
                            kt->rows_f32((a_hi - a_lo) * CS, (int)(pair ? 2 * q : CF_MIN(MR, q - j0)), nk, xp,
                                         i * wp + j0, pair ? wp : 0, xoff + xofs[ph] + a_lo * CS,
                                         wpack + wofs[ph] + (pn * CS * fp->r + a_lo * CS) * NR,
                                         out + i * ld + j0 * ypix, ys, ypix, ld,
                                         bias ? bias + pn * NR : NULL, 0);
                        i += 1 + pair;
                    }
                }
                if (staged) /* image row u: its phase rows interleaved */
                    for (cf_int j = 0; j < nk; ++j)
                        for (cf_int u = i0 * sh; u < CF_MIN(H, i0 * sh + SH); ++u)
                            SUF(interleave_row)(img + ((n * C + pn * NR + j) * H + u) * W,
                                                o + (j * nph + u % sh * sw) * rows * QQ + (u / sh - i0) * QQ,
                                                rows * QQ, sw, W);
            }
        }
    }
    cf_scratch_release(tw.ws, tw.cap);
    return CF_OK;
}
#endif

/* A strided 1x1 conv without padding is the pointwise conv of the image's subsampled pixels:
 * they are copied to scratch first (a pass over a quarter of the image at stride 2), so that the
 * GEMM packs B from contiguous rows instead of gathering each panel's pixels from c planes. */
static int SUF(correlate_subsampled)(const cf_conv_geom *g, const T *img, const T *wt, const T *bias, int relu,
                                     T *feat, int nthreads) {
    const cf_int P = g->p, Q = g->q, rows = g->n * g->c * P, sh = g->stride_h, sw = g->stride_w;
    cf_conv_geom sub = *g;
    sub.h = P;
    sub.w = Q;
    sub.stride_h = sub.stride_w = 1;
    size_t cap = 0;
    T *xs = (T *)cf_scratch_acquire(sizeof(T) * (size_t)(rows * Q), &cap);
    if (!xs) return CF_ERR_NOMEM;
    const int nt = cf_threads_for(rows * Q, (cf_int)1 << 15, nthreads);
    CF_OMP_FOR(nt)
    for (cf_int r = 0; r < rows; ++r) {
        const T *src = img + (r / P * g->h + r % P * sh) * g->w;
        T *dst = xs + r * Q;
        for (cf_int j = 0; j < Q; ++j) dst[j] = src[j * sw];
    }
    const int st = SUF(correlate)(&sub, xs, wt, bias, relu, feat, nthreads);
    cf_scratch_release(xs, cap);
    return st;
}

static int SUF(correlate)(const cf_conv_geom *g, const T *img, const T *wt, const T *bias, int relu, T *feat,
                          int nthreads) {
    if (cf_conv_is_subsampled(g)) return SUF(correlate_subsampled)(g, img, wt, bias, relu, feat, nthreads);
#if F32_TILES
    if (cf_conv_stem_fwd(g)) return SUF(correlate_stem)(g, img, wt, NULL, bias, relu, feat, nthreads);
#endif
    if (cf_conv_is_direct(g) || cf_conv_is_thin(g)) {
        SUF(direct_fwd)(g, img, wt, bias, relu, feat, nthreads);
        return CF_OK;
    }
#if F32_TILES
    if (cf_conv_rows_fwd(g)) return SUF(correlate_rows)(g, img, wt, NULL, bias, relu, feat, nthreads);
#endif
    if (cf_conv_grid_fwd(g)) return SUF(correlate_grid)(g, img, wt, bias, relu, feat, nthreads);
    const cf_int G = g->groups, PQ = g->p * g->q;
    /* small planes: several images per GEMM, threads inside */
    if (g->n > 1 && PQ < CF_CONV_FOLD_PIX && !(PQ >= CF_CONV_FOLD_MIN_PIX && g->n * G >= nthreads)) {
        const cf_int kpg = g->k / G, fit = CF_CONV_FOLD_BYTES / (cf_int)sizeof(T) / (kpg * PQ);
        const cf_int nb = CF_MAX((cf_int)1, CF_MIN(g->n, fit));
        size_t cap = 0;
        T *cbuf = (T *)cf_scratch_acquire(sizeof(T) * (size_t)(kpg * nb * PQ), &cap);
        if (!cbuf) return CF_ERR_NOMEM;
        int failed = 0;
        for (cf_int gi = 0; gi < G && !failed; ++gi)
            for (cf_int n0 = 0; n0 < g->n && !failed; n0 += nb)
                failed = SUF(correlate_folded)(g, img, wt, bias, relu, feat, gi, n0, CF_MIN(nb, g->n - n0), cbuf,
                                               nthreads) != CF_OK;
        cf_scratch_release(cbuf, cap);
        return failed ? CF_ERR_NOMEM : CF_OK;
    }
    const cf_int tasks = g->n * G;
    const cf_int macs = cf_conv_sat_mul((g->k / G) * (g->c / G) * g->r * g->s, g->p * g->q);
    const int nt = cf_threads_for(cf_conv_sat_mul(macs, tasks), (cf_int)1 << 17, nthreads);
    int failed = 0;
    if (nt > 1 && tasks >= nt) { /* whole products per thread: no thin GEMMs split further */
        CF_OMP_FOR_REDUCE_FAILED(nt)
        for (cf_int t = 0; t < tasks; ++t)
            failed |= SUF(correlate_one)(g, img, wt, bias, relu, feat, t / G, t % G, 1) != CF_OK;
    } else {
        for (cf_int t = 0; t < tasks && !failed; ++t)
            failed = SUF(correlate_one)(g, img, wt, bias, relu, feat, t / G, t % G, nt) != CF_OK;
    }
    return failed ? CF_ERR_NOMEM : CF_OK;
}

/* ---- adjoint: image = col2im(W_g^T (crs x kpg) * F (kpg x pixels)) ---------------------------- */
/* Folded pixels [t_lo, t_hi) (whole images: multiples of P*Q) of group gi into an image that is zero there (or a pointwise conv,
 * which writes its images whole: [t_lo, t_hi) covers whole images then). The column block lives in
 * the scratch pool, CHUNK pixels at a time; col2im splits channels over nt threads. */
static int SUF(adjoint_range)(const cf_conv_geom *g, const T *feat, const T *wt, T *img, cf_int gi, cf_int t_lo,
                              cf_int t_hi, int nt) {
    static const T one = 1, zero = 0;
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, rs = g->r * g->s, crs = cpg * rs;
    const cf_int PQ = g->p * g->q, HW = g->h * g->w;
    const cf_gemm_matrix wa = {wt + gi * kpg * crs, 1, crs};
    if (cf_conv_is_pointwise(g) && PQ < CF_CONV_FOLD_PIX && t_hi - t_lo > PQ) {
        /* small planes: several images' pixels as the columns of one GEMM (as in correlate) */
        const cf_int images = (t_hi - t_lo) / PQ, fit = CF_CONV_FOLD_BYTES / (cf_int)sizeof(T) / (cpg * PQ);
        const cf_int nb = CF_MAX((cf_int)1, CF_MIN(images, fit));
        size_t cap = 0;
        T *cbuf = (T *)cf_scratch_acquire(sizeof(T) * (size_t)(cpg * nb * PQ), &cap);
        if (!cbuf) return CF_ERR_NOMEM;
        int failed = 0;
        for (cf_int n0 = t_lo / PQ; n0 < t_hi / PQ && !failed; n0 += nb) {
            const cf_int b_n = CF_MIN(nb, t_hi / PQ - n0), cols = b_n * PQ;
            const SUF(conv_operand) fo = {g, feat + gi * kpg * PQ, n0 * PQ};
            const cf_gemm_problem pb = {DT, cpg, cols, kpg, &one, &zero, {PACK_STRIDED, &wa},
                                        {SUF(pack_feature_t), &fo}, cbuf, cols, 1, NULL, NULL, 0};
            failed = cf_gemm(&pb, nt) != CF_OK;
            for (cf_int b = 0; b < b_n && !failed; ++b)
                for (cf_int i = 0; i < cpg; ++i)
                    memcpy(img + ((n0 + b) * g->c + gi * cpg + i) * HW, cbuf + i * cols + b * PQ,
                           sizeof(T) * (size_t)PQ);
        }
        cf_scratch_release(cbuf, cap);
        return failed ? CF_ERR_NOMEM : CF_OK;
    }
    if (cf_conv_is_pointwise(g)) {
        for (cf_int n = t_lo / PQ; n < t_hi / PQ; ++n) {
            const cf_gemm_matrix fb = {feat + (n * g->k + gi * kpg) * PQ, 1, PQ};
            const cf_gemm_problem pb = {DT, cpg, PQ, kpg, &one, &zero, {PACK_STRIDED, &wa}, {PACK_STRIDED, &fb},
                                        img + (n * g->c + gi * cpg) * HW, HW, 1, NULL, NULL, 0};
            if (cf_gemm(&pb, nt) != CF_OK) return CF_ERR_NOMEM;
        }
        return CF_OK;
    }
    /* Chunks hold whole images, or split one image into equal pieces from its first pixel: the
     * order in which col2im adds the taps into a pixel then depends on the image alone, not on how
     * the caller split the batch over threads, so the result is the same on any thread count. */
    cf_int chunk = CF_MAX((cf_int)128, CF_CONV_COL_BYTES / (crs * (cf_int)sizeof(T)));
    if (chunk >= PQ) chunk = chunk / PQ * PQ;
    chunk = CF_MIN(chunk, t_hi - t_lo);
    size_t cap = 0;
    T *col = (T *)cf_scratch_acquire(sizeof(T) * (size_t)(crs * chunk), &cap);
    if (!col) return CF_ERR_NOMEM;
    T *base = img + gi * cpg * HW;
    int failed = 0;
    cf_int len;
    for (cf_int t0 = t_lo; t0 < t_hi && !failed; t0 += len) {
        len = CF_MIN(chunk, t_hi - t0);
        if (chunk < PQ) len = CF_MIN(len, (t0 / PQ + 1) * PQ - t0);
        const SUF(conv_operand) fo = {g, feat + gi * kpg * PQ, t0};
        const cf_gemm_problem pb = {DT, crs, len, kpg, &one, &zero, {PACK_STRIDED, &wa}, {SUF(pack_feature_t), &fo},
                                    col, len, 1, NULL, NULL, 0};
        failed = cf_gemm(&pb, nt) != CF_OK;
        const int ntc = (int)CF_MIN((cf_int)nt, cpg);
        CF_OMP_FOR(ntc)
        for (cf_int cc = 0; cc < cpg; ++cc)
            for (cf_int ab = 0; ab < rs; ++ab)
                SUF(scatter)(g, base, cc, ab / g->s, ab % g->s, t0, len, col + (cc * rs + ab) * len);
    }
    cf_scratch_release(col, cap);
    return failed ? CF_ERR_NOMEM : CF_OK;
}

static void SUF(add_bias)(const cf_conv_geom *g, const T *bias, T *img, int nthreads) {
    const cf_int planes = g->n * g->c, HW = g->h * g->w;
    const int nt = cf_threads_for(planes * HW, (cf_int)1 << 15, nthreads);
    CF_OMP_FOR(nt)
    for (cf_int pl = 0; pl < planes; ++pl) {
        const T v = bias[pl % g->c];
        T *x = img + pl * HW;
        for (cf_int u = 0; u < HW; ++u) x[u] += v;
    }
}

/* With stride 1 the adjoint is itself a correlation: of the feature side, padded by
 * dilation*(kernel - 1) - padding (so only where that is not negative), with the kernel flipped
 * and its channel axes swapped. That
 * product is kpg*r*s deep instead of kpg, and writes the image once instead of scattering into it.
 * The tile paths pack the flipped kernel from the weight itself; the others read a flipped copy. */
static int SUF(adjoint_as_correlation)(const cf_conv_geom *g, const T *feat, const T *wt, const T *bias, T *img,
                                       int nthreads) {
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, R = g->r, S = g->s, RS = R * S;
    const cf_conv_geom f = {g->n, g->k, g->p, g->q, g->c, g->h, g->w, R, S, G, 1, 1, g->dilation_h, g->dilation_w,
                            g->dilation_h * (R - 1) - g->pad_top, g->dilation_w * (S - 1) - g->pad_left};
#if F32_TILES /* the order of correlate's rules: f is never subsampled (stride 1, r*s > 1 or padded) */
    const cf_conv_flip fl = {R, S, R - 1, S - 1, 1, 1};
    if (cf_conv_stem_fwd(&f)) return SUF(correlate_stem)(&f, feat, wt, &fl, bias, 0, img, nthreads);
    if (cf_conv_rows_fwd(&f)) return SUF(correlate_rows)(&f, feat, wt, &fl, bias, 0, img, nthreads);
#endif
    size_t cap = 0;
    T *flip = (T *)cf_scratch_acquire(sizeof(T) * (size_t)(g->k * cpg * RS), &cap);
    if (!flip) return CF_ERR_NOMEM;
    const int nt = cf_threads_for(g->k * cpg * RS, (cf_int)1 << 15, nthreads);
    CF_OMP_FOR(nt)
    for (cf_int gc = 0; gc < g->c; ++gc) { /* flip[gi*cpg + cc][kk][a][b] = wt[gi*kpg + kk][cc][R-1-a][S-1-b] */
        const cf_int gi = gc / cpg, cc = gc % cpg;
        for (cf_int kk = 0; kk < kpg; ++kk)
            for (cf_int ab = 0; ab < RS; ++ab)
                flip[(gc * kpg + kk) * RS + ab] = wt[((gi * kpg + kk) * cpg + cc) * RS + RS - 1 - ab];
    }
    const int st = SUF(correlate)(&f, feat, flip, bias, 0, img, nthreads);
    cf_scratch_release(flip, cap);
    return st;
}

static int SUF(adjoint)(const cf_conv_geom *g, const T *feat, const T *wt, const T *bias, T *img, int nthreads) {
    /* (not when the image has a channel or two per group: that correlation would be one or two
     * rows thin, and the GEMM of col2im, crs rows deep in kpg, does better -- except for one
     * channel in float32 without dilation, which the stem path's one-channel kernel does best) */
    int thin_stem = 0;
#if F32_TILES
    thin_stem = CF_SELECT(cf_conv, cf_isa_current())->stem1_f32 && g->c == 1 && g->groups == 1 &&
                g->dilation_h == 1 && g->dilation_w == 1;
#endif
#if F32_TILES
    if (cf_conv_rows_adjoint(g)) return SUF(adjoint_rows)(g, feat, wt, bias, img, nthreads);
#endif
    if (g->stride_h == 1 && g->stride_w == 1 && !cf_conv_is_pointwise(g) &&
        (cf_conv_is_direct(g) || g->c / g->groups > CF_CONV_THIN_ROWS || thin_stem) &&
        g->pad_top <= g->dilation_h * (g->r - 1) && g->pad_left <= g->dilation_w * (g->s - 1))
        return SUF(adjoint_as_correlation)(g, feat, wt, bias, img, nthreads);
    if (cf_conv_is_direct(g)) {
        SUF(direct_adj)(g, feat, wt, img, nthreads);
        if (bias) SUF(add_bias)(g, bias, img, nthreads);
        return CF_OK;
    }
    const cf_int G = g->groups, tasks = g->n * G, PQ = g->p * g->q, HW = g->h * g->w, cpg = g->c / G;
    const cf_int macs = cf_conv_sat_mul((g->k / G) * cpg * g->r * g->s, PQ);
    const int nt = cf_threads_for(cf_conv_sat_mul(macs, tasks), (cf_int)1 << 17, nthreads);
    const int pointwise = cf_conv_is_pointwise(g);
    int failed = 0;
    if (nt > 1 && tasks >= nt && !(pointwise && PQ < CF_CONV_FOLD_MIN_PIX)) {
        CF_OMP_FOR_REDUCE_FAILED(nt)
        for (cf_int t = 0; t < tasks; ++t) {
            const cf_int n = t / G, gi = t % G;
            if (!pointwise) memset(img + (n * g->c + gi * cpg) * HW, 0, sizeof(T) * (size_t)(cpg * HW));
            failed |= SUF(adjoint_range)(g, feat, wt, img, gi, n * PQ, (n + 1) * PQ, 1) != CF_OK;
        }
    } else {
        if (!pointwise) cf_conv_zero(img, sizeof(T) * (size_t)(g->n * g->c * HW), nthreads);
        for (cf_int gi = 0; gi < G && !failed; ++gi)
            failed = SUF(adjoint_range)(g, feat, wt, img, gi, 0, g->n * PQ, nt) != CF_OK;
    }
    if (!failed && bias) SUF(add_bias)(g, bias, img, nthreads);
    return failed ? CF_ERR_NOMEM : CF_OK;
}

/* ---- weight gradient: dW_g (kpg x crs) = F_g (kpg x pixels) * im2col^T (pixels x crs) ---------- */
static int SUF(weight_grad_range)(const cf_conv_geom *g, const T *img, const T *fg, T *dw, cf_int gi, cf_int t_lo,
                                  cf_int t_hi, int nt) {
    static const T one = 1, zero = 0;
    const cf_int G = g->groups, cpg = g->c / G, kpg = g->k / G, crs = cpg * g->r * g->s;
    const SUF(conv_operand) fo = {g, fg + gi * kpg * g->p * g->q, t_lo};
    const SUF(conv_operand) xo = {g, img + gi * cpg * g->h * g->w, t_lo};
    const cf_gemm_problem pb = {DT, kpg, crs, t_hi - t_lo, &one, &zero, {SUF(pack_feature), &fo},
                                {SUF(pack_im2col_t), &xo}, dw + gi * kpg * crs, crs, 1, NULL, NULL, 0};
    /* The same product transposed, dW^T = im2col * F^T (crs rows, kpg columns), when its tiles
     * waste less on idle columns: a 1-channel 3x3 conv's crs = 9 would fill 9 of the 32 columns. */
    const cf_gemm_problem pt = {DT, crs, kpg, t_hi - t_lo, &one, &zero, {SUF(pack_im2col_t), &xo},
                                {SUF(pack_feature), &fo}, dw + gi * kpg * crs, 1, crs, NULL, NULL, 0};
    const cf_gemm_kernels *kt = CF_SELECT(cf_gemm, cf_isa_current());
    const cf_int nr = DT == CF_F32 ? kt->f32.nr : kt->f64.nr;
    const cf_int waste = kpg * ((crs + nr - 1) / nr * nr), waste_t = crs * ((kpg + nr - 1) / nr * nr);
    return cf_gemm(waste_t < waste ? &pt : &pb, nt);
}

/* ---- weight gradient at stride 1: dot products on a padded pixel grid ---------------------------- */
/* Both operands of dW = F * im2col^T run along the pixels, so the GEMM must transpose both into its
 * panels. At stride 1 the im2col row of tap (a, b) is the padded image shifted by a*dh*Wp + b*dw on
 * a grid of rows Wp = q + dw*(s-1) wide, and the kernel wgrad_dot reads both operands in place: per
 * band of output rows, the band's padded image rows and the output gradient (zero in the grid's
 * extra columns) are copied into the thread's scratch once, and each (k, c, a, b) is a dot product
 * over the band, kept as lanes of partial sums. A band is `rows` rows of one image, or several whole
 * images stacked, each in a block of its padded rows (the gradient zero in the rows past p).
 * Threads take ranges of bands into partials of their own, added in thread order after the region.
 * An image with a non-finite value is left to the GEMM path (returns 1): the grid's extra columns
 * multiply image values by zero, which an inf would turn into a NaN the convolution never makes. */
static int SUF(weight_grad_grid)(const cf_conv_geom *g, const T *img, const T *fg, T *dw, int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int L = kt->SUF(dot_lanes), MI = kt->dot_mi, NJ = kt->dot_nj;
    const cf_int G = g->groups, C = g->c, K = g->k, cpg = C / G, kpg = K / G, R = g->r, S = g->s, RS = R * S;
    const cf_int dh = g->dilation_h, dwd = g->dilation_w, P = g->p, Q = g->q, N = g->n;
    const cf_conv_grid pl = cf_conv_grid_plan(g, K, (cf_int)sizeof(T), L, nthreads);
    const cf_int crs = cpg * RS, Wp = pl.wp, blk = pl.blk, tasks = pl.tasks, glen = pl.glen, cs = pl.cs;
    const cf_int accn = K * crs * L;
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(K * crs, N * P * Q), (cf_int)1 << 17, nthreads),
                               tasks);
    const size_t per = ((size_t)(C * cs + K * glen + accn) * sizeof(T) + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    size_t cap = 0;
    char *ws = (char *)cf_scratch_acquire(per * (size_t)nt + sizeof(cf_int) * (size_t)crs, &cap);
    if (!ws) return CF_ERR_NOMEM;
    cf_int *boff = (cf_int *)(ws + per * (size_t)nt); /* after the threads' blocks */
    for (cf_int j = 0; j < crs; ++j) {
        const cf_int cc = j / RS, a = j % RS / S, b = j % S;
        boff[j] = cc * cs + a * dh * Wp + b * dwd;
    }
    int failed = 0; /* here: a non-finite image value seen */
    CF_OMP_PARALLEL_REDUCE_FAILED(nt)
    for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
        T *xp = (T *)(ws + per * (size_t)th), *fp = xp + C * cs, *acc = fp + K * glen;
        memset(acc, 0, sizeof(T) * (size_t)accn);
        cf_int lo, hi;
        cf_partition(tasks, nt, th, 1, &lo, &hi);
        for (cf_int task = lo; task < hi && !failed; ++task) {
            cf_int n0, ni, i0, nr;
            cf_conv_grid_task(g, &pl, task, &n0, &ni, &i0, &nr);
            const cf_int len = (ni - 1) * blk + (nr * Wp + L - 1) / L * L;
            if (SUF(grid_fill)(g, &pl, img, n0, ni, i0, nr, 1, xp)) {
                failed = 1;
                break;
            }
            for (cf_int k = 0; k < K; ++k) { /* the gradient rows, zero past q and past p */
                T *d = fp + k * glen;
                for (cf_int m = 0; m < ni; ++m) {
                    T *e = d + m * blk;
                    const T *src = fg + (((n0 + m) * K + k) * P + i0) * Q;
                    for (cf_int i = 0; i < nr; ++i, e += Wp, src += Q) { /* loops, not calls: rows are short */
                        for (cf_int u = 0; u < Q; ++u) e[u] = src[u];
                        for (cf_int u = Q; u < Wp; ++u) e[u] = 0;
                    }
                    for (cf_int u = m * blk + nr * Wp; u < CF_MIN(len, (m + 1) * blk); ++u) d[u] = 0;
                }
            }
            /* all the band's cells as one range (the zero gradient between images costs less than
             * short products would), CF_CONV_GRID_CHUNK cells at a time, so that the image rows of a
             * block of taps stay in L1 while the gradient rows pass */
            const cf_int pieces = (len + CF_CONV_GRID_CHUNK - 1) / CF_CONV_GRID_CHUNK;
            const cf_int chunk = (len / L + pieces - 1) / pieces * L; /* equal pieces, whole lanes */
            for (cf_int u0 = 0; u0 < len; u0 += chunk)
                for (cf_int gi = 0; gi < G; ++gi)
                    for (cf_int j0 = 0; j0 < crs; j0 += NJ)
                        for (cf_int k0 = 0; k0 < kpg; k0 += MI)
                            KT(wgrad_dot)(CF_MIN(chunk, len - u0), (int)CF_MIN(MI, kpg - k0),
                                          (int)CF_MIN(NJ, crs - j0), fp + (gi * kpg + k0) * glen + u0, glen,
                                          xp + gi * cpg * cs + u0, boff + j0, acc + ((gi * kpg + k0) * crs + j0) * L,
                                          crs);
        }
    }
    if (!failed) {
        const int ntr = cf_threads_for(accn * nt, (cf_int)1 << 16, nthreads);
        CF_OMP_FOR(ntr)
        for (cf_int e = 0; e < K * crs; ++e) {
            double s = 0;
            for (int th = 0; th < nt; ++th) {
                const T *acc = (const T *)(ws + per * (size_t)th) + C * cs + K * glen + e * L;
                for (cf_int l = 0; l < L; ++l) s += acc[l];
            }
            dw[e] = (T)s;
        }
    }
    cf_scratch_release(ws, cap);
    return failed;
}

#if F32_TILES
/* ---- weight gradient of a 3x3 kernel: taps x channels tiles over pixels (kernels/conv.h) -------- */
/* Output rows [i0, i1) of image n for wgrad_taps: the c planes' padded rows under them into xp
 * (channel cc at cc*cs, Hp rows of Wp from padded row i0*sh: the padding's zeros where they fall
 * outside the image), and their output gradient channels-last into dyt, panel pn at
 * pn*NR*(i1 - i0)*q (NR channels per pixel, zero past k). */
static void SUF(taps_prepare)(const cf_conv_geom *g, const T *img, const T *fg, cf_int n, cf_int i0, cf_int i1,
                              cf_int Hp, cf_int Wp, cf_int cs, cf_int NR, T *xp, T *dyt) {
    const cf_int C = g->c, K = g->k, H = g->h, W = g->w, PQ = g->p * g->q, pl = g->pad_left;
    const cf_int lo_col = CF_MIN(pl, Wp), hi_col = CF_MAX(lo_col, CF_MIN(Wp, W + pl)); /* copied columns */
    const cf_int y0 = i0 * g->stride_h - g->pad_top, bpix = (i1 - i0) * g->q;
    for (cf_int r = 0; r < C * Hp; ++r) {
        const cf_int cc = r / Hp, u = y0 + r % Hp;
        T *dst = xp + cc * cs + r % Hp * Wp;
        if (u < 0 || u >= H)
            memset(dst, 0, sizeof(T) * (size_t)Wp);
        else
            SUF(pad_row)(dst, img + ((n * C + cc) * H + u) * W, pl, lo_col, hi_col, Wp);
    }
    for (cf_int pn = 0; pn < (K + NR - 1) / NR; ++pn)
        PACK_ROWS(fg + (n * K + pn * NR) * PQ + i0 * g->q, PQ, (int)CF_MIN(NR, K - pn * NR), bpix, (int)NR,
                  dyt + pn * NR * bpix);
}

/* One tile of wgrad_taps' sums (tap t, lane j at acc[t*NR + j]: input channel cc, output channels
 * pn*NR + j) into dw (k, c, 3, 3). */
static void SUF(taps_tile_out)(const T *acc, cf_int pn, cf_int cc, cf_int NR, cf_int K, cf_int C, T *dw) {
    for (cf_int k = pn * NR; k < CF_MIN(K, pn * NR + NR); ++k)
        for (cf_int t = 0; t < 9; ++t) dw[(k * C + cc) * 9 + t] = acc[t * NR + k - pn * NR];
}

/* Each task is a band of an image's output rows: whole images when the thread's scratch holds one
 * and there are at least as many as threads, else bands enough for every thread and small enough
 * for CF_CONV_TAPS_BYTES (cf_conv_taps_band). The band's input rows are copied into the thread's
 * scratch with their padding, (rows-1)*sh + 2*dh + 1 rows of (q-1)*sw + 2*dw + 1, and its output
 * gradient turned channels-last in panels of taps_nr channels (the GEMM's transposing packer);
 * then for each panel and input channel wgrad_taps adds the band's pixels into the thread's
 * partial dW, kept in panel x channel x tap x lane order. The partials are added in thread order
 * after the region. Every pixel of the band is an output pixel: nothing is computed for a grid's
 * extra columns. */
static int SUF(weight_grad_taps)(const cf_conv_geom *g, const T *img, const T *fg, T *dw, int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int NR = kt->taps_nr, C = g->c, K = g->k, P = g->p, Q = g->q;
    const cf_int sh = g->stride_h, sw = g->stride_w, panels = (K + NR - 1) / NR, accn = panels * C * 9 * NR;
    cf_int rows, bands;
    const cf_int tasks = cf_conv_taps_band(g, nthreads, &rows, &bands);
    const cf_int Hp = (rows - 1) * sh + 2 * g->dilation_h + 1, Wp = (Q - 1) * sw + 2 * g->dilation_w + 1;
    const cf_int cs = Hp * Wp;
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(K * C * 9, g->n * P * Q), (cf_int)1 << 17, nthreads),
                               tasks);
    const size_t per = ((size_t)(accn + panels * NR * rows * Q + C * cs) * sizeof(T) + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    size_t cap = 0;
    char *ws = (char *)cf_scratch_acquire(per * (size_t)nt, &cap);
    if (!ws) return CF_ERR_NOMEM;
    cf_int toff[9];
    for (cf_int t = 0; t < 9; ++t) toff[t] = t / 3 * g->dilation_h * Wp + t % 3 * g->dilation_w;
    CF_OMP_PARALLEL(nt)
    for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
        T *acc = (T *)(ws + per * (size_t)th), *dyt = acc + accn, *xp = dyt + panels * NR * rows * Q;
        memset(acc, 0, sizeof(T) * (size_t)accn);
        cf_int lo, hi;
        cf_partition(tasks, nt, th, 1, &lo, &hi);
        for (cf_int task = lo; task < hi; ++task) {
            const cf_int n = task / bands, i0 = task % bands * rows, i1 = CF_MIN(P, i0 + rows);
            SUF(taps_prepare)(g, img, fg, n, i0, i1, Hp, Wp, cs, NR, xp, dyt);
            for (cf_int pn = 0; pn < panels; ++pn)
                for (cf_int cc = 0; cc < C; ++cc)
                    kt->wgrad_taps_f32(1, 0, 0, (int)(i1 - i0), (int)Q, xp + cc * cs, Wp, sh, sw, toff,
                                       dyt + pn * NR * (i1 - i0) * Q, NR, acc + (pn * C + cc) * 9 * NR);
        }
    }
    /* the partials added a tile (panel pn, channel cc) at a time, read in order, the sums written
     * out as 9 taps per output channel (element by element of dw, three divisions each, this was
     * 4.7% of 8x128x56x56 K128 stride 2's weight gradient; tiles: that dW 4.5% faster) */
    const int ntr = cf_threads_for(accn * nt, (cf_int)1 << 16, nthreads);
    CF_OMP_FOR(ntr)
    for (cf_int tile = 0; tile < panels * C; ++tile) {
        const cf_int pn = tile / C, cc = tile % C;
        T s[9 * 32];
        for (cf_int l = 0; l < 9 * NR; ++l) s[l] = 0;
        for (int th = 0; th < nt; ++th) {
            const T *part = (const T *)(ws + per * (size_t)th) + tile * 9 * NR;
            for (cf_int l = 0; l < 9 * NR; ++l) s[l] += part[l];
        }
        SUF(taps_tile_out)(s, pn, cc, NR, K, C, dw);
    }
    cf_scratch_release(ws, cap);
    return CF_OK;
}

/* The same with dW cut into tiles of one input channel's 9 taps x taps_nr output channels, whole
 * tiles per thread, each summed over every image in image order (no partials): for weights whose
 * per-thread partial would not stay in L2. The batch is first padded and turned channels-last
 * whole, image by image over the threads. */
static int SUF(weight_grad_taps_tiles)(const cf_conv_geom *g, const T *img, const T *fg, T *dw, int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    const cf_int NR = kt->taps_nr, N = g->n, C = g->c, K = g->k, P = g->p, Q = g->q;
    const cf_int PQ = P * Q, sh = g->stride_h, sw = g->stride_w;
    const cf_int panels = (K + NR - 1) / NR, Hp = (P - 1) * sh + 2 * g->dilation_h + 1;
    const cf_int Wp = (Q - 1) * sw + 2 * g->dilation_w + 1, cs = Hp * Wp, tiles = panels * C;
    const size_t dbytes = ((size_t)(N * panels * NR * PQ) * sizeof(T) + CF_ALIGN - 1) / CF_ALIGN * CF_ALIGN;
    size_t cap = 0;
    char *ws = (char *)cf_scratch_acquire(dbytes + (size_t)(N * C * cs) * sizeof(T), &cap);
    if (!ws) return CF_ERR_NOMEM;
    T *dyt = (T *)ws, *xall = (T *)(ws + dbytes); /* dyt: image n, panel pn at (n*panels + pn)*NR*PQ */
    cf_int toff[9];
    for (cf_int t = 0; t < 9; ++t) toff[t] = t / 3 * g->dilation_h * Wp + t % 3 * g->dilation_w;
    const int ntn = (int)CF_MIN((cf_int)nthreads, N);
    CF_OMP_FOR(ntn)
    for (cf_int n = 0; n < N; ++n)
        SUF(taps_prepare)(g, img, fg, n, 0, P, Hp, Wp, cs, NR, xall + n * C * cs, dyt + n * panels * NR * PQ);
    const int nt = cf_threads_for(cf_conv_sat_mul(K * C * 9, N * PQ), (cf_int)1 << 17, nthreads);
    CF_OMP_FOR(nt)
    for (cf_int t = 0; t < tiles; ++t) {
        const cf_int pn = t / C, cc = t % C;
        T acc[9 * 32];
        memset(acc, 0, sizeof acc);
        kt->wgrad_taps_f32((int)N, C * cs, panels * NR * PQ, (int)P, (int)Q, xall + cc * cs, Wp, sh, sw, toff,
                           dyt + pn * NR * PQ, NR, acc);
        SUF(taps_tile_out)(acc, pn, cc, NR, K, C, dw);
    }
    cf_scratch_release(ws, cap);
    return CF_OK;
}
#endif

#if F32_TILES
/* Stem weight gradients (cf_conv_stem_wgrad): each thread sums its tasks (images, or bands of
 * their rows) into a partial dW of its own, 12 taps x 2 channels per kernel call over the band,
 * from the image padded on all sides (so every tap of every output pixel is inside the copy);
 * the partials are added in thread order. */
static int SUF(weight_grad_stem)(const cf_conv_geom *g, const T *img, const T *fg, T *dw, int nthreads) {
    const cf_conv_kernels *kt = CF_SELECT(cf_conv, cf_isa_current());
    enum { TB = 12, NK = 2 };
    const cf_int C = g->c, K = g->k, R = g->r, S = g->s, H = g->h, W = g->w, P = g->p, Q = g->q;
    const cf_int pt = g->pad_top, pl = g->pad_left, crs = C * R * S, size = K * crs;
    const cf_int Wp = Q + S - 1, Hp = P + R - 1, cs = Hp * Wp;
    cf_int rows, bands;
    const cf_int tasks = cf_conv_bands(g, nthreads, &rows, &bands);
    const int nt = (int)CF_MIN((cf_int)cf_threads_for(cf_conv_sat_mul(size, g->n * P * Q), (cf_int)1 << 17, nthreads),
                               tasks);
    SUF(tile_ws) tw; /* the weight part holds the threads' partials */
    if (SUF(tile_ws_acquire)(&tw, size * nt, crs, C * cs, nt) != CF_OK) return CF_ERR_NOMEM;
    T *part = (T *)tw.ws;
    cf_int *xoff = (cf_int *)(tw.ws + tw.wbytes);
    for (cf_int cc = 0; cc < C; ++cc)
        for (cf_int a = 0; a < R; ++a)
            for (cf_int b = 0; b < S; ++b) xoff[(cc * R + a) * S + b] = cc * cs + a * Wp + b;
    const cf_int lo_col = CF_MIN(pl, Wp), hi_col = CF_MAX(lo_col, CF_MIN(Wp, W + pl)); /* copied columns */
    CF_OMP_PARALLEL(nt)
    for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
        T *xp = SUF(tile_ws_image)(&tw, th), *acc = part + size * th;
        cf_int lo, hi, filled = -1;
        memset(acc, 0, sizeof(T) * (size_t)size);
        cf_partition(tasks, nt, th, 1, &lo, &hi);
        for (cf_int task = lo; task < hi; ++task) {
            const cf_int n = task / bands, i0 = task % bands * rows, i1 = CF_MIN(P, i0 + rows);
            if (n != filled) { /* padded row y holds image row y - pt, or zeros */
                for (cf_int cc = 0; cc < C; ++cc)
                    for (cf_int y = 0; y < Hp; ++y) {
                        T *dst = xp + cc * cs + y * Wp;
                        if (y < pt || y - pt >= H)
                            memset(dst, 0, sizeof(T) * (size_t)Wp);
                        else
                            SUF(pad_row)(dst, img + ((n * C + cc) * H + y - pt) * W, pl, lo_col, hi_col, Wp);
                    }
                filled = n;
            }
            for (cf_int kg = 0; kg < K; kg += NK)
                for (cf_int t0 = 0; t0 < crs; t0 += TB)
                    kt->stem_wgrad_f32(CF_MIN(TB, crs - t0), (int)(i1 - i0), Q, xp, i0 * Wp, Wp, xoff + t0,
                                       fg + ((n * K + kg) * P + i0) * Q, P * Q, (int)CF_MIN(NK, K - kg),
                                       acc + kg * crs + t0, crs);
        }
    }
    for (cf_int e = 0; e < size; ++e) {
        T sum = part[e];
        for (int th = 1; th < nt; ++th) sum += part[size * th + e];
        dw[e] = sum;
    }
    cf_scratch_release(tw.ws, tw.cap);
    return CF_OK;
}
#endif

static int SUF(weight_grad)(const cf_conv_geom *g, const T *img, const T *fg, T *dw, int nthreads) {
    if (cf_conv_is_direct(g)) {
        SUF(direct_wgrad)(g, img, fg, dw, nthreads);
        return CF_OK;
    }
#if F32_TILES
    if (cf_conv_stem_wgrad(g)) return SUF(weight_grad_stem)(g, img, fg, dw, nthreads);
    switch (cf_conv_taps_wgrad(g)) {
    case 1: return SUF(weight_grad_taps)(g, img, fg, dw, nthreads);
    case 2: return SUF(weight_grad_taps_tiles)(g, img, fg, dw, nthreads);
    }
#endif
    if (cf_conv_grid_wgrad(g, CF_SELECT(cf_conv, cf_isa_current())->SUF(dot_lanes) * (cf_int)sizeof(T))) {
        const int st = SUF(weight_grad_grid)(g, img, fg, dw, nthreads);
        if (st != 1) return st;
    }
    const cf_int G = g->groups, kpg = g->k / G, crs = (g->c / G) * g->r * g->s, total = g->n * g->p * g->q;
    const cf_int size = g->k * crs;
    const int nt = cf_threads_for(cf_conv_sat_mul(size, total), (cf_int)1 << 17, nthreads);
    const cf_int tiles = ((kpg + 13) / 14) * ((crs + 31) / 32);
    int failed = 0;
    if (nt > 1 && G >= nt) { /* whole groups per thread */
        CF_OMP_FOR_REDUCE_FAILED(nt)
        for (cf_int gi = 0; gi < G; ++gi) failed |= SUF(weight_grad_range)(g, img, fg, dw, gi, 0, total, 1) != CF_OK;
    } else if (nt > 1 && (tiles < 4 * nt || cf_conv_sat_mul(size, nt) < cf_conv_sat_mul(total, CF_MIN(kpg, crs)))) {
        /* too few tiles to split, or a dW small next to the pixels (splitting dW would make each
         * thread pack all pixels of one operand again): each thread sums a range of pixels into
         * its own partial dW, and the partials are added in thread order */
        size_t cap = 0;
        T *part = (T *)cf_scratch_acquire(sizeof(T) * (size_t)(size * nt), &cap);
        if (!part) return CF_ERR_NOMEM;
        CF_OMP_PARALLEL_REDUCE_FAILED(nt)
        for (int th = CF_THREAD_ID(); th < nt; th += CF_NUM_THREADS_IN_TEAM()) {
            cf_int lo, hi;
            cf_partition(total, nt, th, 1, &lo, &hi);
            T *mine = part + (size_t)th * (size_t)size;
            if (lo >= hi) memset(mine, 0, sizeof(T) * (size_t)size);
            for (cf_int gi = 0; gi < G && lo < hi; ++gi)
                failed |= SUF(weight_grad_range)(g, img, fg, mine, gi, lo, hi, 1) != CF_OK;
        }
        if (!failed) {
            CF_OMP_FOR(nt)
            for (cf_int e = 0; e < size; ++e) {
                T s = part[e];
                for (int th = 1; th < nt; ++th) s += part[(size_t)th * (size_t)size + (size_t)e];
                dw[e] = s;
            }
        }
        cf_scratch_release(part, cap);
    } else {
        for (cf_int gi = 0; gi < G && !failed; ++gi)
            failed = SUF(weight_grad_range)(g, img, fg, dw, gi, 0, total, nt) != CF_OK;
    }
    return failed ? CF_ERR_NOMEM : CF_OK;
}

/* ---- bias gradient: per channel, a sum in double over n and the plane ------------------------- */
/* Eight running sums (pixel u into sum u % 8 of its plane, added up at the end), so that the adds
 * are not one chain of dependent latencies; the order depends on the shapes alone. */
static void SUF(bias_grad)(cf_int n, cf_int channels, cf_int plane, const T *t, T *db, int nthreads) {
    const int nt = cf_threads_for(cf_conv_sat_mul(n * plane, channels), (cf_int)1 << 15, nthreads);
    CF_OMP_FOR(nt)
    for (cf_int ch = 0; ch < channels; ++ch) {
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (cf_int b = 0; b < n; ++b) {
            const T *x = t + (b * channels + ch) * plane;
            cf_int u = 0;
            for (; u + 8 <= plane; u += 8)
                for (int k = 0; k < 8; ++k) s[k] += x[u + k];
            for (; u < plane; ++u) s[u % 8] += x[u];
        }
        db[ch] = (T)(((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])));
    }
}
