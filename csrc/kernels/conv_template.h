/* kernels/conv_template.h -- the direct plane kernels of kernels/conv.h, in plain C. Included by
 * kernels/<isa>/conv.c once per dtype with T (float / double), KN(op) (the kernel's name) and CB
 * (outputs kept in registers at a time: four vectors of the ISA). The inner loops run over
 * contiguous pixels with independent lanes, so the compiler vectorises them with the folder's
 * flags without reassociating any sum. */

/* Span of j in [0, cnt) with 0 <= x0 + j*sw < W: [*lo, *hi). */
static inline void KN(span)(cf_int x0, cf_int sw, cf_int cnt, cf_int W, cf_int *lo, cf_int *hi) {
    cf_int l, h;
    if (sw == 1) {
        l = x0 >= 0 ? 0 : -x0;
        h = W - x0;
    } else {
        l = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
        h = x0 > W - 1 ? 0 : (W - 1 - x0) / sw + 1;
    }
    l = CF_MIN(l, cnt);
    h = CF_MAX(CF_MIN(h, cnt), l);
    *lo = l;
    *hi = h;
}

/* Output columns [jl, jh) whose taps all read inside the row, for every b. */
static void KN(interior)(const cf_conv_geom *g, cf_int *jl, cf_int *jh) {
    cf_int l = 0, h = g->q;
    for (cf_int b = 0; b < g->s; ++b) {
        cf_int lo, hi;
        KN(span)(b * g->dilation_w - g->pad_left, g->stride_w, g->q, g->w, &lo, &hi);
        l = CF_MAX(l, lo);
        h = CF_MIN(h, hi);
    }
    *jl = l;
    *jh = CF_MAX(h, l);
}


/* Small planes at stride 1 (the whole padded plane fits SMALL elements): x is copied once into a
 * zero-bordered plane xp of Hp x Wp, so that every tap is one long contiguous product over the
 * flattened rows (output (i, j) at u = i*Wp + j; the columns j >= q in between are computed and
 * dropped) instead of p*r short row pieces. */
enum { KN(SMALL) = 4096 };

static int KN(small)(const cf_conv_geom *g) {
    const cf_int hp = g->p + g->dilation_h * (g->r - 1), wp = g->q + g->dilation_w * (g->s - 1);
    return g->stride_h == 1 && g->stride_w == 1 && hp * wp <= KN(SMALL);
}

/* xp (Hp x Wp) = x with its padding, rows -pad_top.. and columns -pad_left.. of the image. */
static void KN(pad)(const cf_conv_geom *g, const T *restrict x, T *restrict xp, cf_int hp, cf_int wp) {
    for (cf_int r = 0; r < hp; ++r) {
        const cf_int yy = r - g->pad_top;
        T *restrict d = xp + r * wp;
        if (yy < 0 || yy >= g->h) {
            for (cf_int c = 0; c < wp; ++c) d[c] = 0;
            continue;
        }
        for (cf_int c = 0; c < wp; ++c) {
            const cf_int xx = c - g->pad_left;
            d[c] = xx >= 0 && xx < g->w ? x[yy * g->w + xx] : (T)0;
        }
    }
}

void KN(fwd)(const cf_conv_geom *g, const T *restrict x, const T *restrict wt, T *restrict y) {
    const cf_int Q = g->q, W = g->w, S = g->s, sw = g->stride_w, dw = g->dilation_w, pl = g->pad_left;
    enum { VB = CB / 4 };
    if (KN(small)(g)) {
        const cf_int hp = g->p + g->dilation_h * (g->r - 1), wp = Q + dw * (S - 1), len = (g->p - 1) * wp + Q;
        T xp[KN(SMALL)], acc[KN(SMALL)];
        KN(pad)(g, x, xp, hp, wp);
        for (cf_int u = 0; u < len; ++u) acc[u] = 0;
        for (cf_int a = 0; a < g->r; ++a)
            for (cf_int b = 0; b < S; ++b) {
                const T wv = wt[a * S + b];
                const T *restrict xs = xp + a * g->dilation_h * wp + b * dw;
                for (cf_int u = 0; u < len; ++u) acc[u] += wv * xs[u];
            }
        for (cf_int i = 0; i < g->p; ++i)
            for (cf_int j = 0; j < Q; ++j) y[i * Q + j] += acc[i * wp + j];
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
        KN(span)(x0, sw, Q, W, &lo, &hi);
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

void KN(adj)(const cf_conv_geom *g, T *restrict x, const T *restrict wt, const T *restrict y) {
    const cf_int Q = g->q, W = g->w, S = g->s, sw = g->stride_w;
    for (cf_int b = 0; b < S; ++b) {
        const cf_int x0 = b * g->dilation_w - g->pad_left;
        cf_int lo, hi;
        KN(span)(x0, sw, Q, W, &lo, &hi);
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
    if (KN(small)(g)) { /* each tap: one dot of y (rows spread to the padded width) and xp */
        const cf_int hp = g->p + g->dilation_h * (g->r - 1), wp = Q + g->dilation_w * (S - 1);
        const cf_int len = (g->p - 1) * wp + Q;
        T xp[KN(SMALL)], yp[KN(SMALL)];
        KN(pad)(g, x, xp, hp, wp);
        for (cf_int u = 0; u < len; ++u) yp[u] = 0;
        for (cf_int i = 0; i < g->p; ++i)
            for (cf_int j = 0; j < Q; ++j) yp[i * wp + j] = y[i * Q + j];
        for (cf_int a = 0; a < g->r; ++a)
            for (cf_int b = 0; b < S; ++b) {
                const T *restrict xs = xp + a * g->dilation_h * wp + b * g->dilation_w;
                T acc[VB];
                for (int u = 0; u < VB; ++u) acc[u] = 0;
                cf_int u0 = 0;
                for (; u0 + VB <= len; u0 += VB)
                    for (int u = 0; u < VB; ++u) acc[u] += yp[u0 + u] * xs[u0 + u];
                T rest = 0;
                for (; u0 < len; ++u0) rest += yp[u0] * xs[u0];
                for (int u = 0; u < VB; ++u) rest += acc[u];
                dwt[a * S + b] += rest;
            }
        return;
    }
    for (cf_int a = 0; a < g->r; ++a)
        for (cf_int b = 0; b < S; ++b) {
            const cf_int x0 = b * g->dilation_w - g->pad_left;
            cf_int lo, hi;
            KN(span)(x0, sw, Q, W, &lo, &hi);
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
