/* softmax_template.h -- the softmax kernels of kernels/softmax.h, written once over the vector
 * layer (see vec_names.h). Included by kernels/<isa>/softmax.c once per dtype (VT = F32, F64).
 * Sums run in W lanes of T, then across the lanes. */

/* ---- row kernels: one contiguous row of L elements ---- */

/* max of the row; masked-off tail lanes read -inf */
static inline T FN(row_max)(cf_int L, const T *x) {
    const V ninf = SET1(-INFINITY);
    V mx = ninf;
    cf_int i = 0;
    for (; i + W <= L; i += W) mx = MAX(mx, LOAD(x + i));
    if (i < L) mx = MAX(mx, MLOADF(x + i, TMASK(L - i), ninf));
    return HMAX(mx);
}

/* sum of exp(x - mx) over the row; y != NULL also stores each exp(x - mx) there */
static inline T FN(row_sum_exp)(cf_int L, const T *x, T mx, T *y) {
    const V m = SET1(mx), ninf = SET1(-INFINITY);
    V s = SET1(0);
    cf_int i = 0;
    for (; i + W <= L; i += W) {
        const V e = EXP(SUB(LOAD(x + i), m));
        if (y) STORE(y + i, e);
        s = ADD(s, e);
    }
    if (i < L) {
        const TMT t = TMASK(L - i);
        const V e = EXP(SUB(MLOADF(x + i, t, ninf), m));
        if (y) MSTORE(y + i, t, e);
        s = ADD(s, e);
    }
    return HSUM(s);
}

double KN(softmax_fwd_row)(cf_int L, const T *x, T *y) {
    const T mx = FN(row_max)(L, x);
    const T sum = FN(row_sum_exp)(L, x, mx, y);
    const V inv = SET1((T)1 / sum);
    cf_int i = 0;
    for (; i + W <= L; i += W) STORE(y + i, MUL(LOAD(y + i), inv));
    if (i < L) {
        const TMT t = TMASK(L - i);
        MSTORE(y + i, t, MUL(MLOAD(y + i, t), inv));
    }
    return (double)mx + log((double)sum);
}

void KN(log_softmax_fwd_row)(cf_int L, const T *x, T *y) {
    const T mx = FN(row_max)(L, x);
    const V m = SET1(mx), ls = SET1((T)log((double)FN(row_sum_exp)(L, x, mx, NULL)));
    cf_int i = 0;
    for (; i + W <= L; i += W) STORE(y + i, SUB(SUB(LOAD(x + i), m), ls));
    if (i < L) {
        const TMT t = TMASK(L - i);
        MSTORE(y + i, t, SUB(SUB(MLOAD(x + i, t), m), ls));
    }
}

void KN(softmax_bwd_row)(cf_int L, const T *dy, const T *y, T *dx) {
    V acc = SET1(0);
    cf_int i = 0;
    for (; i + W <= L; i += W) acc = FMA(LOAD(dy + i), LOAD(y + i), acc);
    if (i < L) {
        const TMT t = TMASK(L - i);
        acc = FMA(MLOAD(dy + i, t), MLOAD(y + i, t), acc);
    }
    const V s = SET1(HSUM(acc));
    for (i = 0; i + W <= L; i += W) STORE(dx + i, MUL(LOAD(y + i), SUB(LOAD(dy + i), s)));
    if (i < L) {
        const TMT t = TMASK(L - i);
        MSTORE(dx + i, t, MUL(MLOAD(y + i, t), SUB(MLOAD(dy + i, t), s)));
    }
}

void KN(log_softmax_bwd_row)(cf_int L, const T *dy, const T *y, T *dx) {
    V acc = SET1(0);
    cf_int i = 0;
    for (; i + W <= L; i += W) acc = ADD(acc, LOAD(dy + i));
    if (i < L) acc = ADD(acc, MLOAD(dy + i, TMASK(L - i)));
    const V s = SET1(HSUM(acc));
    for (i = 0; i + W <= L; i += W) {
        const V g = LOAD(dy + i);
        STORE(dx + i, SUB(g, MUL(EXP(LOAD(y + i)), s)));
    }
    if (i < L) {
        const TMT t = TMASK(L - i);
        MSTORE(dx + i, t, SUB(MLOAD(dy + i, t), MUL(EXP(MLOAD(y + i, t)), s)));
    }
}

/* ---- column kernels: m columns of an (L, stride) block, W columns at a time; a partial group
 * of k < W columns uses masked loads (filled with `fill`) and stores ---- */
static inline V FN(col_load)(const T *p, cf_int k, TMT t, V fill) {
    return k == W ? LOAD(p) : MLOADF(p, t, fill);
}
static inline void FN(col_store)(T *p, cf_int k, TMT t, V v) {
    if (k == W)
        STORE(p, v);
    else
        MSTORE(p, t, v);
}

/* per-column max and sum of exp(x - max) of the k columns at x; stores the exps in y if y != NULL */
static inline void FN(cols_max_sum)(cf_int L, cf_int stride, const T *x, T *y, cf_int k, TMT t, V *mx,
                                    V *sum) {
    const V ninf = SET1(-INFINITY);
    V m = ninf, s = SET1(0);
    for (cf_int r = 0; r < L; r++) m = MAX(m, FN(col_load)(x + r * stride, k, t, ninf));
    for (cf_int r = 0; r < L; r++) {
        const V e = EXP(SUB(FN(col_load)(x + r * stride, k, t, ninf), m));
        if (y) FN(col_store)(y + r * stride, k, t, e);
        s = ADD(s, e);
    }
    *mx = m;
    *sum = s;
}

void KN(softmax_fwd_cols)(cf_int L, cf_int m, cf_int stride, const T *x, T *y) {
    const V zero = SET1(0);
    for (cf_int j = 0; j < m; j += W) {
        const cf_int k = CF_MIN(W, m - j);
        const TMT t = TMASK(k);
        V mx, s;
        FN(cols_max_sum)(L, stride, x + j, y + j, k, t, &mx, &s);
        const V inv = DIV(SET1(1), s);
        for (cf_int r = 0; r < L; r++) {
            T *p = y + r * stride + j;
            FN(col_store)(p, k, t, MUL(FN(col_load)(p, k, t, zero), inv));
        }
    }
}

void KN(log_softmax_fwd_cols)(cf_int L, cf_int m, cf_int stride, const T *x, T *y) {
    const V zero = SET1(0);
    for (cf_int j = 0; j < m; j += W) {
        const cf_int k = CF_MIN(W, m - j);
        const TMT t = TMASK(k);
        V mx, s;
        FN(cols_max_sum)(L, stride, x + j, NULL, k, t, &mx, &s);
        T lanes[W];
        TO_LANES(s, lanes);
        for (cf_int l = 0; l < W; l++) lanes[l] = (T)log((double)lanes[l]);
        const V ls = FROM_LANES(lanes);
        for (cf_int r = 0; r < L; r++) {
            const cf_int o = r * stride + j;
            FN(col_store)(y + o, k, t, SUB(SUB(FN(col_load)(x + o, k, t, zero), mx), ls));
        }
    }
}

void KN(softmax_bwd_cols)(cf_int L, cf_int m, cf_int stride, const T *dy, const T *y, T *dx) {
    const V zero = SET1(0);
    for (cf_int j = 0; j < m; j += W) {
        const cf_int k = CF_MIN(W, m - j);
        const TMT t = TMASK(k);
        V s = zero;
        for (cf_int r = 0; r < L; r++) {
            const cf_int o = r * stride + j;
            s = FMA(FN(col_load)(dy + o, k, t, zero), FN(col_load)(y + o, k, t, zero), s);
        }
        for (cf_int r = 0; r < L; r++) {
            const cf_int o = r * stride + j;
            const V g = FN(col_load)(dy + o, k, t, zero);
            FN(col_store)(dx + o, k, t, MUL(FN(col_load)(y + o, k, t, zero), SUB(g, s)));
        }
    }
}

void KN(log_softmax_bwd_cols)(cf_int L, cf_int m, cf_int stride, const T *dy, const T *y, T *dx) {
    const V zero = SET1(0);
    for (cf_int j = 0; j < m; j += W) {
        const cf_int k = CF_MIN(W, m - j);
        const TMT t = TMASK(k);
        V s = zero;
        for (cf_int r = 0; r < L; r++) s = ADD(s, FN(col_load)(dy + r * stride + j, k, t, zero));
        for (cf_int r = 0; r < L; r++) {
            const cf_int o = r * stride + j;
            const V e = EXP(FN(col_load)(y + o, k, t, zero));
            FN(col_store)(dx + o, k, t, SUB(FN(col_load)(dy + o, k, t, zero), MUL(e, s)));
        }
    }
}
