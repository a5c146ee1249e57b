/* softmax_template.h -- the softmax kernels of kernels/softmax.h, written once over the vector
 * layer (see vec_names.h). Included by kernels/<isa>/softmax.c once per dtype (VT = F32, F64).
 * Sums run in W lanes of T, then across the lanes. */

/* ---- row kernels: one contiguous row of L elements; with streaming they leave the store fence
 * to the caller (store_fence, once after its rows) ---- */

/* max of the row; masked-off tail lanes read -inf */
static inline T FN(row_max)(cf_int L, const T *x) {
    const V ninf = SET1(-INFINITY);
    V mx = ninf;
    cf_int i = 0;
    for (; i + W <= L; i += W) mx = MAX(mx, LOAD(x + i));
    if (i < L) mx = MAX(mx, MLOADF(x + i, TMASK(L - i), ninf));
    return HMAX(mx);
}

/* Rows are read from memory in their first pass and then worked on in cache. To overlap the next
 * row's memory traffic with this row's exps, the compute passes prefetch the row that follows
 * (one prefetch per 64-byte line; a prefetch past the end of the array is harmless). */
static inline void FN(prefetch_line)(const T *p, cf_int i) {
    if ((i * (cf_int)sizeof(T)) % 64 == 0) __builtin_prefetch(p + i);
}

/* sum of exp(x - mx) over the row; y != NULL also stores each exp(x - mx) there */
static inline T FN(row_sum_exp)(cf_int L, const T *x, T mx, T *y) {
    const V m = SET1(mx), ninf = SET1(-INFINITY);
    V s = SET1(0);
    cf_int i = 0;
    for (; i + W <= L; i += W) {
        FN(prefetch_line)(x + L, i);
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

/* The exps are stored in the sum pass and scaled in a third pass. Streaming (large outputs): they
 * are stored in `work` (L elements, stays in cache) and y is written once, with non-temporal
 * stores; otherwise they are stored in y and scaled in place. */
#define CF_SOFTMAX_EXPR(op, i, load) MUL(load(work + (i)), inv)
double KN(softmax_fwd_row)(cf_int L, const T *x, T *y, T *work) {
    const T mx = FN(row_max)(L, x);
    const T sum = FN(row_sum_exp)(L, x, mx, work ? work : y);
    const V inv = SET1((T)1 / sum);
    if (work) {
        CF_VEC_LOOP(L, y, 1, CF_SOFTMAX_EXPR, _);
    } else {
        cf_int i = 0;
        for (; i + W <= L; i += W) STORE(y + i, MUL(LOAD(y + i), inv));
        if (i < L) {
            const TMT t = TMASK(L - i);
            MSTORE(y + i, t, MUL(MLOAD(y + i, t), inv));
        }
    }
    return (double)mx + log((double)sum);
}

#define CF_LOG_SOFTMAX_EXPR(op, i, load) SUB(SUB(load(x + (i)), vmx), ls)
void KN(log_softmax_fwd_row)(cf_int L, const T *x, T *y, int stream) {
    const T mx = FN(row_max)(L, x);
    const V vmx = SET1(mx), ls = SET1((T)log((double)FN(row_sum_exp)(L, x, mx, NULL)));
    CF_VEC_LOOP(L, y, stream, CF_LOG_SOFTMAX_EXPR, _);
}

#define CF_SOFTMAX_BWD_EXPR(op, i, load) MUL(load(y + (i)), SUB(load(dy + (i)), s))
void KN(softmax_bwd_row)(cf_int L, const T *dy, const T *y, T *dx, int stream) {
    V acc = SET1(0);
    cf_int i = 0;
    for (; i + W <= L; i += W) acc = FMA(LOAD(dy + i), LOAD(y + i), acc);
    if (i < L) {
        const TMT t = TMASK(L - i);
        acc = FMA(MLOAD(dy + i, t), MLOAD(y + i, t), acc);
    }
    const V s = SET1(HSUM(acc));
    for (i = 0; i < L; i += W) {
        FN(prefetch_line)(dy + L, i);
        FN(prefetch_line)(y + L, i);
    }
    CF_VEC_LOOP(L, dx, stream, CF_SOFTMAX_BWD_EXPR, _);
}

#define CF_LOG_SOFTMAX_BWD_EXPR(op, i, load) SUB(load(dy + (i)), MUL(EXP(load(y + (i))), s))
void KN(log_softmax_bwd_row)(cf_int L, const T *dy, const T *y, T *dx, int stream) {
    V acc = SET1(0);
    cf_int i = 0;
    for (; i + W <= L; i += W) acc = ADD(acc, LOAD(dy + i));
    if (i < L) acc = ADD(acc, MLOAD(dy + i, TMASK(L - i)));
    const V s = SET1(HSUM(acc));
    CF_VEC_LOOP(L, dx, stream, CF_LOG_SOFTMAX_BWD_EXPR, _);
}

/* ---- column kernels: m <= CF_SOFTMAX_COLS_MAX neighbouring columns of an (L, stride) block. Rows
 * are walked one at a time and each row's m contiguous elements are read as ceil(m / W) vectors
 * (the last one masked), with the per-column state (max, sum) in small arrays: every pass
 * streams through memory row by row instead of striding down one column at a time. The compute
 * passes prefetch the same rows of the next block of columns, which the frame hands out next. ---- */
#define CF_COLS_V (CF_SOFTMAX_COLS_MAX / W)

static inline V FN(col_load)(const T *p, int last, TMT t, V fill) { return last ? MLOADF(p, t, fill) : LOAD(p); }
static inline void FN(col_store)(T *p, int last, TMT t, V v) {
    if (last)
        MSTORE(p, t, v);
    else
        STORE(p, v);
}
/* the final store of an output vector: non-temporal when streaming and p is aligned for it */
static inline void FN(col_out)(T *p, int last, TMT t, V v, int stream) {
    if (!last && stream && (uintptr_t)p % CF_VEC_ALIGN == 0)
        STREAM(p, v);
    else
        FN(col_store)(p, last, t, v);
}

/* per-column max and sum of exp(x - max); stores the exps in e (row stride es) if e != NULL */
static inline void FN(cols_max_sum)(cf_int L, cf_int m, cf_int stride, const T *x, T *e, cf_int es, V *mx,
                                    V *sum) {
    const cf_int nv = (m + W - 1) / W, full = m / W;
    const TMT t = TMASK(m - full * W);
    const V ninf = SET1(-INFINITY);
    for (cf_int v = 0; v < nv; v++) {
        mx[v] = ninf;
        sum[v] = SET1(0);
    }
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) mx[v] = MAX(mx[v], FN(col_load)(x + r * stride + v * W, v == full, t, ninf));
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) {
            const cf_int o = r * stride + v * W;
            FN(prefetch_line)(x + o + CF_SOFTMAX_COLS_MAX, 0);
            const V ex = EXP(SUB(FN(col_load)(x + o, v == full, t, ninf), mx[v]));
            if (e) FN(col_store)(e + r * es + v * W, v == full, t, ex);
            sum[v] = ADD(sum[v], ex);
        }
}

/* work: NULL (the exps are stored in y and scaled in place), or L * CF_SOFTMAX_COLS_MAX elements
 * of scratch for the exps, and y is written once, with non-temporal stores. */
void KN(softmax_fwd_cols)(cf_int L, cf_int m, cf_int stride, const T *x, T *y, T *work) {
    const cf_int nv = (m + W - 1) / W, full = m / W, ws = work ? CF_SOFTMAX_COLS_MAX : stride;
    const TMT t = TMASK(m - full * W);
    T *e = work ? work : y;
    V mx[CF_COLS_V], s[CF_COLS_V];
    FN(cols_max_sum)(L, m, stride, x, e, ws, mx, s);
    for (cf_int v = 0; v < nv; v++) s[v] = DIV(SET1(1), s[v]);
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) {
            const V out = MUL(FN(col_load)(e + r * ws + v * W, v == full, t, SET1(0)), s[v]);
            FN(col_out)(y + r * stride + v * W, v == full, t, out, work != NULL);
        }
}

void KN(log_softmax_fwd_cols)(cf_int L, cf_int m, cf_int stride, const T *x, T *y, int stream) {
    const cf_int nv = (m + W - 1) / W, full = m / W;
    const TMT t = TMASK(m - full * W);
    V mx[CF_COLS_V], s[CF_COLS_V];
    FN(cols_max_sum)(L, m, stride, x, NULL, 0, mx, s);
    for (cf_int v = 0; v < nv; v++) {
        T lanes[W];
        TO_LANES(s[v], lanes);
        for (cf_int l = 0; l < W; l++) lanes[l] = (T)log((double)lanes[l]);
        s[v] = FROM_LANES(lanes);
    }
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) {
            const cf_int o = r * stride + v * W;
            FN(col_out)(y + o, v == full, t, SUB(SUB(FN(col_load)(x + o, v == full, t, SET1(0)), mx[v]), s[v]), stream);
        }
}

void KN(softmax_bwd_cols)(cf_int L, cf_int m, cf_int stride, const T *dy, const T *y, T *dx, int stream) {
    const cf_int nv = (m + W - 1) / W, full = m / W;
    const TMT t = TMASK(m - full * W);
    const V zero = SET1(0);
    V s[CF_COLS_V];
    for (cf_int v = 0; v < nv; v++) s[v] = zero;
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) {
            const cf_int o = r * stride + v * W;
            s[v] = FMA(FN(col_load)(dy + o, v == full, t, zero), FN(col_load)(y + o, v == full, t, zero), s[v]);
        }
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) {
            const cf_int o = r * stride + v * W;
            FN(prefetch_line)(dy + o + CF_SOFTMAX_COLS_MAX, 0);
            FN(prefetch_line)(y + o + CF_SOFTMAX_COLS_MAX, 0);
            const V g = FN(col_load)(dy + o, v == full, t, zero);
            FN(col_out)(dx + o, v == full, t, MUL(FN(col_load)(y + o, v == full, t, zero), SUB(g, s[v])), stream);
        }
}

void KN(log_softmax_bwd_cols)(cf_int L, cf_int m, cf_int stride, const T *dy, const T *y, T *dx, int stream) {
    const cf_int nv = (m + W - 1) / W, full = m / W;
    const TMT t = TMASK(m - full * W);
    const V zero = SET1(0);
    V s[CF_COLS_V];
    for (cf_int v = 0; v < nv; v++) s[v] = zero;
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) s[v] = ADD(s[v], FN(col_load)(dy + r * stride + v * W, v == full, t, zero));
    for (cf_int r = 0; r < L; r++)
        for (cf_int v = 0; v < nv; v++) {
            const cf_int o = r * stride + v * W;
            FN(prefetch_line)(dy + o + CF_SOFTMAX_COLS_MAX, 0);
            FN(prefetch_line)(y + o + CF_SOFTMAX_COLS_MAX, 0);
            const V e = EXP(FN(col_load)(y + o, v == full, t, zero));
            FN(col_out)(dx + o, v == full, t, SUB(FN(col_load)(dy + o, v == full, t, zero), MUL(e, s[v])), stream);
        }
}

/* ---- short rows: n rows of L <= CF_SOFTMAX_SHORT_L contiguous elements (class scores), in
 * blocks of W rows. Each row's max, sum of exps and log-sum-exp are worked out transposed, one
 * lane per row: the L columns of a block are read into the (L, W) scratch block `c` by this
 * ISA's LOAD_COLS (defined by kernels/<isa>/softmax.c: gather_cols below, one GATHER per column,
 * or an in-register transpose). Softmax leaves its exps in `c` and the ISA's STORE_SCALED writes
 * them back in the rows' own layout times each row's 1 / sum (gather_rows_scaled below: one
 * GATHER per output vector, the lanes' 1 / sum moved into place by PERMUTE; or an in-register
 * transpose). Log-softmax computes its outputs in the rows' layout, L contiguous vectors per
 * block, with each lane's row statistics moved into place by PERMUTE (an index pattern that
 * depends only on L). A last block of fewer than W rows goes through the zero-padded `pad`.
 * Cross-entropy's row losses are worked out in the same lanes, each row's labelled score fetched
 * by PICK (one gather with 64-bit indices, the labels as they are plus each row's start). ---- */
#ifndef GATHER
#define GATHER CF_VJOIN(VT, GATHER)
#define PERMUTE CF_VJOIN(VT, PERMUTE)
#define LOAD_COLS CF_VJOIN(VT, LOAD_COLS)
#define PICK CF_VJOIN(VT, PICK)
#define STORE_SCALED CF_VJOIN(VT, STORE_SCALED)
#endif

/* IN xs: W rows of L; OUT c: its L columns, W apart; in_idx[l] = l * L */
static inline void FN(gather_cols)(const T *xs, cf_int L, T *c, const int32_t *in_idx) {
    for (cf_int j = 0; j < L; j++) STORE(c + j * W, GATHER(xs + j, in_idx));
}

/* IN c: the L columns of W rows, W apart, inv: a factor per row (lane); OUT ys: the W rows of L,
 * each times its factor. out_idx[k], row_idx[k]: the places in c and the rows of the elements of
 * ys[k W .. (k + 1) W) */
static inline void FN(gather_rows_scaled)(const T *c, cf_int L, V inv, T *ys, const int32_t (*out_idx)[W],
                                          const int32_t (*row_idx)[W]) {
    for (cf_int k = 0; k < L; k++) STORE(ys + k * W, MUL(GATHER(c, out_idx[k]), PERMUTE(inv, row_idx[k])));
}

/* log(s) for s in [1, CF_SOFTMAX_SHORT_L] (a sum of exps whose largest term is exp(0) = 1):
 * s = 2^e t with t in [2^-0.5, 2^0.5] (three exact halvings by 16, 4, 2 where t is above
 * 2^3.5, 2^1.5, 2^0.5), then log(t) = 2 atanh(u) = 2 (u + u^3/3 + u^5/5 + ...), u = (t - 1) / (t + 1),
 * |u| <= 0.172: the terms left out (u^2 <= 0.0295, to the power 6 for float, 12 for double) are
 * below eps. NaN lanes stay NaN. One lane (generic) takes libm's log instead. */
static inline V FN(log_sum)(V s) {
    if (W == 1) { /* generic: libm's log costs less than the series */
        T t[W];
        TO_LANES(s, t);
        t[0] = (T)log((double)t[0]);
        return FROM_LANES(t);
    }
    const V one = SET1(1);
    V t = s, e = SET1(0);
    static const T limit[3] = {(T)11.313708498984761, (T)2.8284271247461903, (T)1.4142135623730951};
    static const int step[3] = {4, 2, 1};
    for (int i = 0; i < 3; i++) {
        const CMPT c = GT(t, SET1(limit[i]));
        t = SEL(c, MUL(t, SET1((T)1 / (T)(1 << step[i]))), t);
        e = SEL(c, ADD(e, SET1((T)step[i])), e);
    }
    const V u = DIV(SUB(t, one), ADD(t, one)), u2 = MUL(u, u);
    const int terms = sizeof(T) == 4 ? 6 : 12;
    V p = SET1((T)1 / (T)(2 * terms - 1));
    for (int k = terms - 2; k >= 0; k--) p = FMA(p, u2, SET1((T)1 / (T)(2 * k + 1)));
    return FMA(e, SET1((T)0.6931471805599453), MUL(ADD(u, u), p));
}

/* 1 if some of labels[0..n) lies outside [0, L), else 0 (one unsigned max: a negative label is huge) */
static inline int FN(labels_outside)(const int64_t *labels, cf_int n, cf_int L) {
    uint64_t most = 0;
    for (cf_int i = 0; i < n; i++) most = CF_MAX(most, (uint64_t)labels[i]);
    return most >= (uint64_t)L;
}

int KN(softmax_fwd_short)(cf_int n, cf_int L, const T *x, T *y, int log_out, const int64_t *labels, T *loss) {
    _Alignas(64) int32_t in_idx[W], row_idx[CF_SOFTMAX_SHORT_L][W], out_idx[CF_SOFTMAX_SHORT_L][W];
    _Alignas(64) int64_t row_at[W], pad_labels[W];
    _Alignas(64) T c[CF_SOFTMAX_SHORT_L * W], pad[CF_SOFTMAX_SHORT_L * W];
    if (labels && FN(labels_outside)(labels, n, L)) return 1; /* before anything is read through them */
    for (cf_int l = 0; l < W; l++) {
        in_idx[l] = (int32_t)(l * L);
        row_at[l] = l * L;
    }
    for (cf_int k = 0, row = 0, col = 0; k < L; k++) /* each element's row */
        for (cf_int l = 0; l < W; l++) {
            row_idx[k][l] = (int32_t)row;
            out_idx[k][l] = (int32_t)(col * W + row);
            if (++col == L) {
                col = 0;
                row++;
            }
        }
    const V ninf = SET1(-INFINITY);
    for (cf_int r0 = 0; r0 < n; r0 += W) {
        const cf_int m = CF_MIN(W, n - r0);
        const T *xs = x + r0 * L;
        T *ys = y + r0 * L;
        if (m < W) {
            memcpy(pad, xs, (size_t)(m * L) * sizeof(T));
            memset(pad + m * L, 0, (size_t)((W - m) * L) * sizeof(T));
            xs = pad;
            ys = pad;
        }
        V mx = ninf, s = SET1(0);
        LOAD_COLS(xs, L, c, in_idx);
        for (cf_int j = 0; j < L; j++) mx = MAX(mx, LOAD(c + j * W));
        for (cf_int j = 0; j < L; j++) {
            const V e = EXP(SUB(LOAD(c + j * W), mx));
            if (!log_out) STORE(c + j * W, e);
            s = ADD(s, e);
        }
        const V ls = log_out || labels ? FN(log_sum)(s) : s;
        if (labels) { /* before the outputs: for a last short block they overwrite pad */
            const int64_t *lab = labels + r0;
            if (m < W) { /* pad rows pick their first score */
                memset(pad_labels, 0, sizeof(pad_labels));
                memcpy(pad_labels, lab, (size_t)m * sizeof(int64_t));
                lab = pad_labels;
            }
            const V row_loss = ADD(SUB(mx, PICK(xs, lab, row_at)), ls);
            if (m == W) {
                STORE(loss + r0, row_loss);
            } else {
                T lanes[W];
                TO_LANES(row_loss, lanes);
                memcpy(loss + r0, lanes, (size_t)m * sizeof(T));
            }
        }
        if (log_out) {
            for (cf_int k = 0; k < L; k++)
                STORE(ys + k * W, SUB(SUB(LOAD(xs + k * W), PERMUTE(mx, row_idx[k])), PERMUTE(ls, row_idx[k])));
        } else {
            STORE_SCALED(c, L, DIV(SET1(1), s), ys, out_idx, row_idx);
        }
        if (m < W) memcpy(y + r0 * L, pad, (size_t)(m * L) * sizeof(T));
    }
    return 0;
}

void KN(store_fence)(void) { CF_VEC_FENCE(); }
