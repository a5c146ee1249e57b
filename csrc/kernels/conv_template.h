/* kernels/conv_template.h -- the direct plane kernels of kernels/conv.h, in plain C. Included by
 * kernels/<isa>/conv.c once per dtype with T (float / double), KN(op) (the kernel's name) and CB
 * (outputs kept in registers at a time: four vectors of the ISA). The inner loops run over
 * contiguous pixels with independent lanes, so the compiler vectorises them with the folder's
 * flags without reassociating any sum. */

/* Output columns [jl, jh) whose taps all read inside the row, for every b. */
static void KN(interior)(const cf_conv_geom *g, cf_int *jl, cf_int *jh) {
    cf_int l = 0, h = g->q;
    for (cf_int b = 0; b < g->s; ++b) {
        cf_int lo, hi;
        cf_conv_span(b * g->dilation_w - g->pad_left, g->stride_w, g->q, g->w, &lo, &hi);
        l = CF_MAX(l, lo);
        h = CF_MIN(h, hi);
    }
    *jl = l;
    *jh = CF_MAX(h, l);
}


/* Small planes (their padded copy fits SMALL elements): x is copied once into zero-bordered phase
 * planes, one per (row, column) residue modulo the stride: phase (pr, pc) holds, at (rr, cc), the
 * padded image's (rr*stride_h + pr, cc*stride_w + pc). Tap (a, b) then reads one phase plane at a
 * fixed offset for every output, so with the outputs flattened over rows of the phase width
 * (output (i, j) at u = i*wph + j; the columns j >= q in between are computed and dropped) each tap
 * is a single long contiguous product instead of p*r short row pieces. */
enum { KN(SMALL) = 4096 };

typedef struct {
    cf_int hph, wph, plane, len; /* phase plane rows, columns, size; flattened output length */
} KN(phases);

static int KN(small)(const cf_conv_geom *g, KN(phases) *f) {
    f->hph = g->p + (g->r - 1) * g->dilation_h / g->stride_h;
    f->wph = g->q + (g->s - 1) * g->dilation_w / g->stride_w;
    if (f->hph > KN(SMALL) || f->wph > KN(SMALL)) return 0; /* huge dilations: no overflow below */
    f->plane = f->hph * f->wph;
    f->len = (g->p - 1) * f->wph + g->q;
    return f->plane * g->stride_h * g->stride_w <= KN(SMALL);
}

/* Planes too large for the small path are cut into bands of output rows, each a geometry of its
 * own over the image rows it reads (so each band takes the small path): band_rows is the rows per
 * band for which that holds, 0 when fewer than 8 would; band sets *b to rows [i0, i0+rows) and
 * gives the offsets of the band's image and output planes. */
static cf_int KN(band_rows)(const cf_conv_geom *g) {
    const cf_int wph = g->q + (g->s - 1) * g->dilation_w / g->stride_w, extra = (g->r - 1) * g->dilation_h / g->stride_h;
    if (wph > KN(SMALL) || extra > KN(SMALL)) return 0;
    const cf_int rows = KN(SMALL) / (wph * g->stride_h * g->stride_w) - extra;
    return rows >= 8 ? rows : 0;
}

static void KN(band)(const cf_conv_geom *g, cf_int i0, cf_int rows, cf_conv_geom *b, cf_int *xoff, cf_int *yoff) {
    const cf_int y0 = i0 * g->stride_h - g->pad_top;
    *b = *g;
    b->p = rows;
    *xoff = 0;
    if (y0 >= 0) {
        b->pad_top = 0;
        b->h = CF_MAX((cf_int)0, g->h - y0);
        if (y0 < g->h) *xoff = y0 * g->w;
    } else {
        b->pad_top = -y0;
    }
    *yoff = i0 * g->q;
}

/* Offset of tap (a, b) in the phase planes. */
static inline cf_int KN(tap)(const cf_conv_geom *g, const KN(phases) *f, cf_int a, cf_int b) {
    const cf_int ra = a * g->dilation_h, cb = b * g->dilation_w;
    return ((ra % g->stride_h) * g->stride_w + cb % g->stride_w) * f->plane + ra / g->stride_h * f->wph +
           cb / g->stride_w;
}

/* Phase (pr, pc)'s columns cc whose pixel lies inside the row: [*lo, *hi); pixel column of cc is
 * cc*stride_w + pc - pad_left. */
static inline void KN(phase_cols)(const cf_conv_geom *g, const KN(phases) *f, cf_int pc, cf_int *lo, cf_int *hi) {
    cf_conv_span(pc - g->pad_left, g->stride_w, f->wph, g->w, lo, hi);
}

/* xp (the phase planes) = the padded image, row by row: the image row behind phase row rr is
 * rr*stride_h + pr - pad_top, read at stride_w from the phase's first column inside it. */
static void KN(to_phases)(const cf_conv_geom *g, const KN(phases) *f, const T *restrict x, T *restrict xp) {
    const cf_int sw = g->stride_w;
    if (sw == 2) { /* both column phases of a row in one pass, in pairs */
        const cf_int W = g->w, pl = g->pad_left, wph = f->wph, tl = CF_MIN(pl, 2 * wph), th = CF_MIN(pl + W, 2 * wph);
        for (cf_int pr = 0; pr < g->stride_h; ++pr)
            for (cf_int rr = 0; rr < f->hph; ++rr) {
                const cf_int yy = rr * g->stride_h + pr - g->pad_top;
                T *restrict d0 = xp + 2 * pr * f->plane + rr * wph, *restrict d1 = d0 + f->plane;
                for (cf_int cc = 0; cc < wph; ++cc) d0[cc] = d1[cc] = 0;
                if (yy < 0 || yy >= g->h) continue;
                const T *restrict s = x + yy * W - pl; /* padded column t at s[t] */
                cf_int t = tl;
                if (t < th && t % 2) d1[t / 2] = s[t], ++t;
                const cf_int pairs = (th - t) / 2, c0 = t / 2;
                for (cf_int v = 0; v < pairs; ++v) {
                    d0[c0 + v] = s[t + 2 * v];
                    d1[c0 + v] = s[t + 2 * v + 1];
                }
                t += 2 * pairs;
                if (t < th) d0[t / 2] = s[t];
            }
        return;
    }
    for (cf_int pr = 0; pr < g->stride_h; ++pr)
        for (cf_int pc = 0; pc < sw; ++pc, xp += f->plane) {
            cf_int lo, hi;
            KN(phase_cols)(g, f, pc, &lo, &hi);
            for (cf_int rr = 0; rr < f->hph; ++rr) {
                const cf_int yy = rr * g->stride_h + pr - g->pad_top;
                T *restrict d = xp + rr * f->wph;
                if (yy < 0 || yy >= g->h) {
                    for (cf_int cc = 0; cc < f->wph; ++cc) d[cc] = 0;
                    continue;
                }
                const T *restrict s = x + yy * g->w + pc - g->pad_left;
                for (cf_int cc = 0; cc < lo; ++cc) d[cc] = 0;
                if (sw == 1)
                    for (cf_int cc = lo; cc < hi; ++cc) d[cc] = s[cc];
                else
                    for (cf_int cc = lo; cc < hi; ++cc) d[cc] = s[cc * sw];
                for (cf_int cc = hi; cc < f->wph; ++cc) d[cc] = 0;
            }
        }
}

/* The adjoint of to_phases: x += each phase cell at its pixel (padding cells dropped). */
static void KN(from_phases)(const cf_conv_geom *g, const KN(phases) *f, const T *restrict xp, T *restrict x) {
    const cf_int sw = g->stride_w;
    for (cf_int pr = 0; pr < g->stride_h; ++pr)
        for (cf_int pc = 0; pc < sw; ++pc, xp += f->plane) {
            cf_int lo, hi;
            KN(phase_cols)(g, f, pc, &lo, &hi);
            for (cf_int rr = 0; rr < f->hph; ++rr) {
                const cf_int yy = rr * g->stride_h + pr - g->pad_top;
                if (yy < 0 || yy >= g->h) continue;
                const T *restrict d = xp + rr * f->wph;
                T *restrict s = x + yy * g->w + pc - g->pad_left;
                if (sw == 1)
                    for (cf_int cc = lo; cc < hi; ++cc) s[cc] += d[cc];
                else
                    for (cf_int cc = lo; cc < hi; ++cc) s[cc * sw] += d[cc];
            }
        }
}

/* yp (flattened at the phase width, zeros between rows) = y (p x q). */
static void KN(spread)(const cf_conv_geom *g, const KN(phases) *f, const T *restrict y, T *restrict yp) {
    for (cf_int u = 0; u < f->len; ++u) yp[u] = 0;
    for (cf_int i = 0; i < g->p; ++i)
        for (cf_int j = 0; j < g->q; ++j) yp[i * f->wph + j] = y[i * g->q + j];
}

/* acc[u] = sum over the taps of wt[tap] * xp[tap's offset + u], u < f->len (the small path's
 * products, three taps of a kernel row per pass over acc). */
static void KN(small_taps)(const cf_conv_geom *g, const KN(phases) *f, const T *restrict xp, const T *restrict wt,
                           T *restrict acc) {
    const cf_int S = g->s, len = f->len;
    for (cf_int u = 0; u < len; ++u) acc[u] = 0;
    for (cf_int a = 0; a < g->r; ++a) {
        cf_int b = 0;
        for (; b + 3 <= S; b += 3) {
            const T w0 = wt[a * S + b], w1 = wt[a * S + b + 1], w2 = wt[a * S + b + 2];
            const T *restrict x0 = xp + KN(tap)(g, f, a, b), *restrict x1 = xp + KN(tap)(g, f, a, b + 1),
                    *restrict x2 = xp + KN(tap)(g, f, a, b + 2);
            for (cf_int u = 0; u < len; ++u) acc[u] += w0 * x0[u] + w1 * x1[u] + w2 * x2[u];
        }
        for (; b < S; ++b) {
            const T wv = wt[a * S + b];
            const T *restrict xs = xp + KN(tap)(g, f, a, b);
            for (cf_int u = 0; u < len; ++u) acc[u] += wv * xs[u];
        }
    }
}

void KN(fwd)(const cf_conv_geom *g, const T *restrict x, const T *restrict wt, T *restrict y) {
    const cf_int Q = g->q, W = g->w, S = g->s, sw = g->stride_w, dw = g->dilation_w, pl = g->pad_left;
    enum { VB = CB / 4 };
    KN(phases) f;
    const cf_int band = KN(small)(g, &f) ? 0 : KN(band_rows)(g);
    if (band) {
        for (cf_int i0 = 0; i0 < g->p; i0 += band) {
            cf_conv_geom b;
            cf_int xo, yo;
            KN(band)(g, i0, CF_MIN(band, g->p - i0), &b, &xo, &yo);
            KN(fwd)(&b, x + xo, wt, y + yo);
        }
        return;
    }
    if (KN(small)(g, &f)) {
        T xp[KN(SMALL)], acc[KN(SMALL)];
        KN(to_phases)(g, &f, x, xp);
        KN(small_taps)(g, &f, xp, wt, acc);
        for (cf_int i = 0; i < g->p; ++i)
            for (cf_int j = 0; j < Q; ++j) y[i * Q + j] += acc[i * f.wph + j];
        return;
    }
    cf_int jl, jh;
    KN(interior)(g, &jl, &jh);
    const cf_int jb = jl + (jh - jl) / VB * VB; /* interior columns done in register blocks */
    for (cf_int i = 0; i < g->p; ++i) {
        T *restrict yr = y + i * Q;
        for (cf_int a = 0; a < g->r; ++a) {
            const cf_int yy = i * g->stride_h - g->pad_top + a * g->dilation_h;
            if (yy < 0 || yy >= g->h) continue;
            const T *restrict xr = x + yy * W;
            const T *restrict wa = wt + a * S;
            cf_int j0 = jl;
            for (; j0 + CB <= jb; j0 += CB) {
                T acc[CB];
                for (int u = 0; u < CB; ++u) acc[u] = yr[j0 + u];
                for (cf_int b = 0; b < S; ++b) {
                    const T wv = wa[b];
                    const T *restrict xs = xr + j0 * sw + b * dw - pl;
                    if (sw == 1)
                        for (int u = 0; u < CB; ++u) acc[u] += wv * xs[u];
                    else
                        for (int u = 0; u < CB; ++u) acc[u] += wv * xs[u * sw];
                }
                for (int u = 0; u < CB; ++u) yr[j0 + u] = acc[u];
            }
            for (; j0 < jb; j0 += VB) {
                T acc[VB];
                for (int u = 0; u < VB; ++u) acc[u] = yr[j0 + u];
                for (cf_int b = 0; b < S; ++b) {
                    const T wv = wa[b];
                    const T *restrict xs = xr + j0 * sw + b * dw - pl;
                    if (sw == 1)
                        for (int u = 0; u < VB; ++u) acc[u] += wv * xs[u];
                    else
                        for (int u = 0; u < VB; ++u) acc[u] += wv * xs[u * sw];
                }
                for (int u = 0; u < VB; ++u) yr[j0 + u] = acc[u];
            }
        }
    }
    /* the borders and the interior's tail, one tap at a time (each tap's span computed once) */
    for (cf_int b = 0; b < S; ++b) {
        const cf_int x0 = b * dw - pl;
        cf_int lo, hi;
        cf_conv_span(x0, sw, Q, W, &lo, &hi);
        const cf_int e1 = CF_MIN(hi, jl), s2 = CF_MAX(lo, jb);
        for (cf_int i = 0; i < g->p; ++i)
            for (cf_int a = 0; a < g->r; ++a) {
                const cf_int yy = i * g->stride_h - g->pad_top + a * g->dilation_h;
                if (yy < 0 || yy >= g->h) continue;
                const T wv = wt[a * S + b];
                const T *restrict xs = x + yy * W + x0;
                T *restrict yr = y + i * Q;
                for (cf_int j = lo; j < e1; ++j) yr[j] += wv * xs[j * sw];
                for (cf_int j = s2; j < hi; ++j) yr[j] += wv * xs[j * sw];
            }
    }
}

/* dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols: blocks of TB x TB through the ISA's
 * in-register transpose TBLOCK where the including file defines one (x86_pack.h) and both sides
 * are at least TB (the last block of a row or column overlaps the one before: it writes the same
 * values again), otherwise (and everywhere in the generic build) one element at a time. */
static void KN(transpose)(const T *restrict src, int lds, int rows, int cols, T *restrict dst, int ldd) {
#ifdef TBLOCK
    if (rows >= TB && cols >= TB) {
        for (int r0 = 0; r0 < rows; r0 += TB) {
            const int r = CF_MIN(r0, rows - TB);
            for (int c0 = 0; c0 < cols; c0 += TB) {
                const int c = CF_MIN(c0, cols - TB);
                TBLOCK(src + r * lds + c, lds, dst + c * ldd + r, ldd);
            }
        }
        return;
    }
#endif
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

/* xp (hpad x wpad) = the image with its padding, from the top-left padding corner: cell (rr, cc)
 * holds pixel (rr - pad_top, cc - pad_left), 0 outside the image. */
static void KN(to_padded)(const cf_conv_geom *g, cf_int hpad, cf_int wpad, const T *restrict x, T *restrict xp) {
    const cf_int lo = CF_MIN(g->pad_left, wpad), hi = CF_MAX(lo, CF_MIN(g->pad_left + g->w, wpad));
    for (cf_int rr = 0; rr < hpad; ++rr, xp += wpad) {
        const cf_int yy = rr - g->pad_top;
        if (yy < 0 || yy >= g->h) {
            for (cf_int cc = 0; cc < wpad; ++cc) xp[cc] = 0;
            continue;
        }
        const T *restrict s = x + yy * g->w - g->pad_left;
        for (cf_int cc = 0; cc < lo; ++cc) xp[cc] = 0;
        for (cf_int cc = lo; cc < hi; ++cc) xp[cc] = s[cc];
        for (cf_int cc = hi; cc < wpad; ++cc) xp[cc] = 0;
    }
}

/* The padded plane (hpad x wpad cells) that the lanes kernels below interleave: its cell count when
 * the output, the kernel and the plane fit the caller's stack buffers (at most `cells` cells and
 * `taps` taps), else 0. The bounds come first, so the padded sizes cannot overflow. */
static inline cf_int KN(lanes_plane)(const cf_conv_geom *g, cf_int cells, cf_int taps, cf_int *hpad, cf_int *wpad) {
    if (g->p * g->q == 0 || g->r * g->s > taps || g->p * g->q > cells || g->p > cells || g->q > cells ||
        g->r > cells || g->s > cells || g->dilation_h > cells || g->dilation_w > cells || g->stride_h > cells ||
        g->stride_w > cells)
        return 0;
    *hpad = (g->p - 1) * g->stride_h + (g->r - 1) * g->dilation_h + 1;
    *wpad = (g->q - 1) * g->stride_w + (g->s - 1) * g->dilation_w + 1;
    return *hpad * *wpad <= cells ? *hpad * *wpad : 0;
}

/* Depthwise forward of nch <= CF_CONV_LANES channels at once, on small planes, in the layout oneDNN
 * calls nChw16c built on the fly: the nch image planes are interleaved (pixel-major, one lane per
 * channel) into the zero border of the padded plane -- image rows of 8 pixels or more by block
 * transposes straight into place, narrower planes by block transposes of the flattened planes
 * and one vector copy per pixel; every tap of every output, at any stride, is then one vector FMA
 * across the channels, four outputs at a time (four independent sums), and the interleaved
 * outputs are transposed straight into their planes.
 * x: channel ch's plane at x + ch*xs; wt: its r x s kernel at wt + ch*r*s; bias: NULL or nch
 * values; y: its output plane at y + ch*ys, overwritten (bias, taps, then ReLU if relu). Returns 0
 * without writing when the image, the padded plane or the output is over CELLS pixels, or the
 * kernel over TAPS (the stack buffers, 64 KB each): larger planes take the per-plane kernels. */
int KN(fwd_lanes)(const cf_conv_geom *g, int nch, const T *restrict x, cf_int xs, const T *restrict wt,
                  const T *restrict bias, int relu, T *restrict y, cf_int ys) {
    enum { L = CF_CONV_LANES, CELLS = 65536 / (CF_CONV_LANES * sizeof(T)), TAPS = 64 };
    cf_int hpad, wpad;
    const cf_int cells = g->h > CELLS || g->w > CELLS || g->h * g->w > CELLS
                             ? 0 : KN(lanes_plane)(g, CELLS, TAPS, &hpad, &wpad);
    if (cells == 0) return 0;
    const cf_int RS = g->r * g->s, PQ = g->p * g->q, sh = g->stride_h, sw = g->stride_w;
    const cf_int W = g->w, HW = g->h * W;
    _Alignas(64) T xp[CELLS * L], buf[CELLS * L]; /* buf: the interleaved image, then the outputs */
    T w16[TAPS * L], b16[L];
    const cf_int lo = CF_MIN(g->pad_left, wpad), hi = CF_MAX(lo, CF_MIN(g->pad_left + W, wpad));
    const int direct = W >= 8; /* rows of whole blocks: transposed straight into place */
    if (nch < L)               /* lanes past nch read zeros */
        for (cf_int e = 0; e < (direct ? cells : HW) * L; ++e) (direct ? xp : buf)[e] = 0;
    if (!direct) KN(transpose)(x, (int)xs, nch, (int)HW, buf, L);
    for (cf_int rr = 0; rr < hpad; ++rr) {
        const cf_int yy = rr - g->pad_top;
        T *restrict d = xp + rr * wpad * L;
        if (yy < 0 || yy >= g->h) {
            memset(d, 0, sizeof(T) * (size_t)(wpad * L));
            continue;
        }
        for (cf_int cc = 0; cc < lo; ++cc) memset(d + cc * L, 0, sizeof(T) * L);
        if (direct)
            KN(transpose)(x + yy * W + lo - g->pad_left, (int)xs, nch, (int)(hi - lo), d + lo * L, L);
        else
            for (cf_int cc = lo; cc < hi; ++cc) memcpy(d + cc * L, buf + (yy * W + cc - g->pad_left) * L, sizeof(T) * L);
        for (cf_int cc = hi; cc < wpad; ++cc) memset(d + cc * L, 0, sizeof(T) * L);
    }
    for (cf_int t = 0; t < RS; ++t)
        for (int ch = 0; ch < L; ++ch) w16[t * L + ch] = ch < nch ? wt[ch * RS + t] : (T)0;
    for (int ch = 0; ch < L; ++ch) b16[ch] = bias && ch < nch ? bias[ch] : (T)0;
    cf_int off[TAPS];
    for (cf_int a = 0; a < g->r; ++a)
        for (cf_int b = 0; b < g->s; ++b) off[a * g->s + b] = (a * g->dilation_h * wpad + b * g->dilation_w) * L;
    cf_int pos[CELLS]; /* output u's first cell in xp */
    for (cf_int i = 0; i < g->p; ++i)
        for (cf_int j = 0; j < g->q; ++j) pos[i * g->q + j] = (i * sh * wpad + j * sw) * L;
    /* blocks of four outputs (four sums kept in registers); the last block ends at PQ, overlapping
     * the one before (same values); planes of fewer than four outputs one output at a time */
    for (cf_int u0 = 0; u0 < PQ && PQ >= 4; u0 += 4) {
        const cf_int u = CF_MIN(u0, PQ - 4);
        T a0[L], a1[L], a2[L], a3[L];
        for (int ch = 0; ch < L; ++ch) a0[ch] = a1[ch] = a2[ch] = a3[ch] = b16[ch];
        for (cf_int t = 0; t < RS; ++t) {
            const T *restrict wv = w16 + t * L;
            const T *restrict x0 = xp + pos[u] + off[t], *restrict x1 = xp + pos[u + 1] + off[t];
            const T *restrict x2 = xp + pos[u + 2] + off[t], *restrict x3 = xp + pos[u + 3] + off[t];
            for (int ch = 0; ch < L; ++ch) {
                a0[ch] += wv[ch] * x0[ch];
                a1[ch] += wv[ch] * x1[ch];
                a2[ch] += wv[ch] * x2[ch];
                a3[ch] += wv[ch] * x3[ch];
            }
        }
        T *restrict o = buf + u * L;
        for (int ch = 0; ch < L; ++ch) {
            o[ch] = relu && a0[ch] < (T)0 ? (T)0 : a0[ch];
            o[L + ch] = relu && a1[ch] < (T)0 ? (T)0 : a1[ch];
            o[2 * L + ch] = relu && a2[ch] < (T)0 ? (T)0 : a2[ch];
            o[3 * L + ch] = relu && a3[ch] < (T)0 ? (T)0 : a3[ch];
        }
    }
    for (cf_int u = 0; u < PQ && PQ < 4; ++u) {
        T acc[L];
        for (int ch = 0; ch < L; ++ch) acc[ch] = b16[ch];
        for (cf_int t = 0; t < RS; ++t) {
            const T *restrict xv = xp + pos[u] + off[t], *restrict wv = w16 + t * L;
            for (int ch = 0; ch < L; ++ch) acc[ch] += wv[ch] * xv[ch];
        }
        for (int ch = 0; ch < L; ++ch) buf[u * L + ch] = relu && acc[ch] < (T)0 ? (T)0 : acc[ch];
    }
    KN(transpose)(buf, L, (int)PQ, nch, y, (int)ys);
    return 1;
}

/* Depthwise weight gradient of nch <= CF_CONV_LANES channels at once, on small planes (the
 * interleaved layout of fwd_lanes, for the image and the output gradient alike): every tap of
 * every output adds one vector product across the channels into that tap's accumulator row.
 * x: channel ch's plane at x + ch*xs; y: its output-gradient plane at y + ch*ys; dwt: its r x s
 * kernel gradient at dwt + ch*r*s, added to. Returns 0 without writing when the padded plane
 * or the output is over CELLS = 256 pixels or the kernel over TAPS (the stack buffers). */
int KN(wgrad_lanes)(const cf_conv_geom *g, int nch, const T *restrict x, cf_int xs, const T *restrict y,
                    cf_int ys, T *restrict dwt) {
    enum { L = CF_CONV_LANES, CELLS = 256, TAPS = 64 };
    cf_int hpad, wpad;
    const cf_int cells = KN(lanes_plane)(g, CELLS, TAPS, &hpad, &wpad);
    if (cells == 0) return 0;
    const cf_int RS = g->r * g->s, PQ = g->p * g->q, sh = g->stride_h, sw = g->stride_w;
    _Alignas(64) T planar[L * CELLS], xp[CELLS * L], yo[CELLS * L], acc[TAPS * L];
    for (int ch = 0; ch < L; ++ch) {
        if (ch < nch)
            KN(to_padded)(g, hpad, wpad, x + ch * xs, planar + ch * cells);
        else
            for (cf_int u = 0; u < cells; ++u) planar[ch * cells + u] = 0;
    }
    KN(transpose)(planar, (int)cells, L, (int)cells, xp, L);
    for (int ch = 0; ch < L; ++ch) {
        if (ch < nch)
            memcpy(planar + ch * PQ, y + ch * ys, sizeof(T) * (size_t)PQ);
        else
            for (cf_int u = 0; u < PQ; ++u) planar[ch * PQ + u] = 0;
    }
    KN(transpose)(planar, (int)PQ, L, (int)PQ, yo, L);
    cf_int off[TAPS];
    for (cf_int a = 0; a < g->r; ++a)
        for (cf_int b = 0; b < g->s; ++b) off[a * g->s + b] = a * g->dilation_h * wpad + b * g->dilation_w;
    for (cf_int t = 0; t < RS; ++t) { /* one tap at a time: its L sums stay in a register */
        T at[L];
        for (int ch = 0; ch < L; ++ch) at[ch] = 0;
        for (cf_int i = 0; i < g->p; ++i)
            for (cf_int j = 0; j < g->q; ++j) {
                const T *restrict xv = xp + (i * sh * wpad + j * sw + off[t]) * L;
                const T *restrict yv = yo + (i * g->q + j) * L;
                for (int ch = 0; ch < L; ++ch) at[ch] += yv[ch] * xv[ch];
            }
        for (int ch = 0; ch < L; ++ch) acc[t * L + ch] = at[ch];
    }
    for (int ch = 0; ch < nch; ++ch)
        for (cf_int t = 0; t < RS; ++t) dwt[ch * RS + t] += acc[t * L + ch];
    return 1;
}

/* The adjoint of to_padded: x (h x w) = the cells of xp (hpad x wpad) over the image, 0 for the
 * pixels past the padded window (no output reads them). */
static void KN(from_padded)(const cf_conv_geom *g, cf_int hpad, cf_int wpad, const T *restrict xp, T *restrict x) {
    const cf_int cols = CF_MAX((cf_int)0, CF_MIN(g->w, wpad - g->pad_left));
    for (cf_int yy = 0; yy < g->h; ++yy, x += g->w) {
        const cf_int rr = yy + g->pad_top;
        cf_int xx = 0;
        if (rr < hpad) {
            const T *restrict s = xp + rr * wpad + g->pad_left;
            for (; xx < cols; ++xx) x[xx] = s[xx];
        }
        for (; xx < g->w; ++xx) x[xx] = 0;
    }
}

/* Depthwise data gradient (the adjoint of fwd_lanes without bias) of nch <= CF_CONV_LANES
 * channels at once, on small planes: the output gradients are interleaved, every tap of every
 * output adds one vector product into its cell of the interleaved padded image gradient, which is
 * transposed back and cropped. y: channel ch's output-gradient plane at y + ch*ys; wt: its kernel
 * at wt + ch*r*s; x: its image-gradient plane at x + ch*xs, overwritten. Returns 0 without
 * writing where wgrad_lanes would. */
int KN(adj_lanes)(const cf_conv_geom *g, int nch, const T *restrict y, cf_int ys, const T *restrict wt,
                  T *restrict x, cf_int xs) {
    enum { L = CF_CONV_LANES, CELLS = 256, TAPS = 64 };
    cf_int hpad, wpad;
    const cf_int cells = KN(lanes_plane)(g, CELLS, TAPS, &hpad, &wpad);
    if (cells == 0) return 0;
    const cf_int RS = g->r * g->s, PQ = g->p * g->q, sh = g->stride_h, sw = g->stride_w;
    _Alignas(64) T planar[L * CELLS], xg[CELLS * L], yo[CELLS * L];
    T w16[TAPS * L];
    for (int ch = 0; ch < L; ++ch) {
        if (ch < nch)
            memcpy(planar + ch * PQ, y + ch * ys, sizeof(T) * (size_t)PQ);
        else
            for (cf_int u = 0; u < PQ; ++u) planar[ch * PQ + u] = 0;
    }
    KN(transpose)(planar, (int)PQ, L, (int)PQ, yo, L);
    for (cf_int t = 0; t < RS; ++t)
        for (int ch = 0; ch < L; ++ch) w16[t * L + ch] = ch < nch ? wt[ch * RS + t] : (T)0;
    for (cf_int e = 0; e < cells * L; ++e) xg[e] = 0;
    cf_int off[TAPS];
    for (cf_int a = 0; a < g->r; ++a)
        for (cf_int b = 0; b < g->s; ++b) off[a * g->s + b] = a * g->dilation_h * wpad + b * g->dilation_w;
    for (cf_int i = 0; i < g->p; ++i)
        for (cf_int j = 0; j < g->q; ++j) {
            const cf_int u = i * sh * wpad + j * sw;
            const T *restrict yv = yo + (i * g->q + j) * L;
            for (cf_int t = 0; t < RS; ++t) {
                T *restrict gp = xg + (u + off[t]) * L;
                const T *restrict wv = w16 + t * L;
                T v[L];
                for (int ch = 0; ch < L; ++ch) v[ch] = gp[ch] + wv[ch] * yv[ch];
                for (int ch = 0; ch < L; ++ch) gp[ch] = v[ch];
            }
        }
    KN(transpose)(xg, L, (int)cells, nch, planar, (int)cells);
    for (int ch = 0; ch < nch; ++ch) KN(from_padded)(g, hpad, wpad, planar + ch * cells, x + ch * xs);
    return 1;
}

void KN(adj)(const cf_conv_geom *g, T *restrict x, const T *restrict wt, const T *restrict y) {
    const cf_int Q = g->q, W = g->w, S = g->s, sw = g->stride_w;
    KN(phases) f;
    const cf_int band = KN(small)(g, &f) ? 0 : KN(band_rows)(g);
    if (band) { /* bands add into overlapping image rows: x += is all they do */
        for (cf_int i0 = 0; i0 < g->p; i0 += band) {
            cf_conv_geom b;
            cf_int xo, yo;
            KN(band)(g, i0, CF_MIN(band, g->p - i0), &b, &xo, &yo);
            KN(adj)(&b, x + xo, wt, y + yo);
        }
        return;
    }
    if (KN(small)(g, &f)) { /* the adjoint of fwd's small path: taps scatter into the phase planes */
        T xp[KN(SMALL)], yp[KN(SMALL)];
        const cf_int total = f.plane * g->stride_h * g->stride_w;
        for (cf_int u = 0; u < total; ++u) xp[u] = 0;
        KN(spread)(g, &f, y, yp);
        for (cf_int a = 0; a < g->r; ++a)
            for (cf_int b = 0; b < S; ++b) {
                const T wv = wt[a * S + b];
                T *restrict xs = xp + KN(tap)(g, &f, a, b);
                for (cf_int u = 0; u < f.len; ++u) xs[u] += wv * yp[u];
            }
        KN(from_phases)(g, &f, xp, x);
        return;
    }
    for (cf_int b = 0; b < S; ++b) {
        const cf_int x0 = b * g->dilation_w - g->pad_left;
        cf_int lo, hi;
        cf_conv_span(x0, sw, Q, W, &lo, &hi);
        for (cf_int i = 0; i < g->p; ++i) {
            const T *restrict yr = y + i * Q;
            for (cf_int a = 0; a < g->r; ++a) {
                const cf_int yy = i * g->stride_h - g->pad_top + a * g->dilation_h;
                if (yy < 0 || yy >= g->h) continue;
                const T wv = wt[a * S + b];
                T *restrict xs = x + yy * W + x0;
                if (sw == 1)
                    for (cf_int j = lo; j < hi; ++j) xs[j] += wv * yr[j];
                else
                    for (cf_int j = lo; j < hi; ++j) xs[j * sw] += wv * yr[j];
            }
        }
    }
}

void KN(wgrad)(const cf_conv_geom *g, const T *restrict x, const T *restrict y, T *restrict dwt) {
    const cf_int Q = g->q, W = g->w, S = g->s, sw = g->stride_w;
    enum { VB = CB / 4 };
    KN(phases) f;
    const cf_int band = KN(small)(g, &f) ? 0 : KN(band_rows)(g);
    if (band) {
        for (cf_int i0 = 0; i0 < g->p; i0 += band) {
            cf_conv_geom b;
            cf_int xo, yo;
            KN(band)(g, i0, CF_MIN(band, g->p - i0), &b, &xo, &yo);
            KN(wgrad)(&b, x + xo, y + yo, dwt);
        }
        return;
    }
    if (KN(small)(g, &f)) { /* each tap: one dot of y (spread to the phase width) and its phase plane */
        T xp[KN(SMALL)], yp[KN(SMALL)];
        KN(to_phases)(g, &f, x, xp);
        KN(spread)(g, &f, y, yp);
        for (cf_int a = 0; a < g->r; ++a)
            for (cf_int b = 0; b < S; ++b) {
                const T *restrict xs = xp + KN(tap)(g, &f, a, b);
                T acc[VB];
                for (int u = 0; u < VB; ++u) acc[u] = 0;
                cf_int u0 = 0;
                for (; u0 + VB <= f.len; u0 += VB)
                    for (int u = 0; u < VB; ++u) acc[u] += yp[u0 + u] * xs[u0 + u];
                T rest = 0;
                for (; u0 < f.len; ++u0) rest += yp[u0] * xs[u0];
                for (int u = 0; u < VB; ++u) rest += acc[u];
                dwt[a * S + b] += rest;
            }
        return;
    }
    for (cf_int a = 0; a < g->r; ++a)
        for (cf_int b = 0; b < S; ++b) {
            const cf_int x0 = b * g->dilation_w - g->pad_left;
            cf_int lo, hi;
            cf_conv_span(x0, sw, Q, W, &lo, &hi);
            T acc[CB];
            for (int u = 0; u < CB; ++u) acc[u] = 0;
            T rest = 0;
            for (cf_int i = 0; i < g->p; ++i) {
                const cf_int yy = i * g->stride_h - g->pad_top + a * g->dilation_h;
                if (yy < 0 || yy >= g->h) continue;
                const T *restrict yr = y + i * Q;
                const T *restrict xs = x + yy * W + x0;
                cf_int j = lo;
                for (; j + CB <= hi; j += CB) {
                    if (sw == 1)
                        for (int u = 0; u < CB; ++u) acc[u] += yr[j + u] * xs[j + u];
                    else
                        for (int u = 0; u < CB; ++u) acc[u] += yr[j + u] * xs[(j + u) * sw];
                }
                for (; j < hi; ++j) rest += yr[j] * xs[j * sw];
            }
            for (int u = 0; u < CB; ++u) rest += acc[u];
            dwt[a * S + b] += rest;
        }
}

/* One unit-stride im2col row in plain C: the runs' lanes from the plane, 0 elsewhere (the ISA
 * folders may name a SIMD twin of it as ROW_RUNS). */
static inline void KN(im2col_row)(T *restrict dst, const T *restrict chan, const cf_conv_run *restrict run, int nr,
                                  int w) {
    for (int u = 0; u < w; ++u) dst[u] = 0;
    for (int k = 0; k < nr; ++k)
        for (int u = run[k].lo; u < run[k].hi; ++u)
            if (u >= 32 || !((run[k].holes >> u) & 1)) dst[u] = chan[run[k].off + u];
}

/* One im2col micro-panel (contract: kernels/conv.h). A tap whose single run covers every lane at
 * unit stride (the interior of a plane at least w wide) is one fixed-size copy per row. */
void KN(im2col)(const T *restrict base, cf_int cs, cf_int rs, cf_int p0, cf_int kc, cf_int sw,
                const cf_conv_run *restrict runs, const int *restrict nrun, int maxrun, int w, T *restrict dst) {
    cf_int cc = p0 / rs, t = p0 - cc * rs;
    for (cf_int p = 0; p < kc; ++p, dst += w) {
        const T *restrict chan = base + cc * cs;
        const cf_conv_run *restrict run = runs + t * maxrun;
        const int nr = nrun[t];
        if (nr == 1 && sw == 1 && run->lo == 0 && run->hi == w && !run->holes) {
            const T *restrict src = chan + run->off;
            if (w == 32)
                memcpy(dst, src, 32 * sizeof(T));
            else if (w == 16)
                memcpy(dst, src, 16 * sizeof(T));
            else if (w == 8)
                memcpy(dst, src, 8 * sizeof(T));
            else
                for (int u = 0; u < w; ++u) dst[u] = src[u];
        } else if (sw == 1) {
            ROW_RUNS(dst, chan, run, nr, w);
        } else {
            for (int u = 0; u < w; ++u) dst[u] = 0;
            for (int k = 0; k < nr; ++k)
                for (int u = run[k].lo; u < run[k].hi; ++u) dst[u] = chan[run[k].off + u * sw];
        }
        if (++t == rs) t = 0, ++cc;
    }
}
