/* eltwise_template.h -- the elementwise kernels of kernels/eltwise.h, written once over the vector
 * layer (see vec_names.h). Included by kernels/<isa>/eltwise.c once per dtype (VT = F32, F64).
 *
 * Each op is a small inline function on vectors, FN(op); the kernel macros below turn it into an
 * exported kernel KN(op) over n elements with CF_VEC_LOOP (vec_names.h). */

/* ---- the ops, one vector at a time; `a` is the op's scalar broadcast ---- */
static inline V FN(relu)(V x, V a) { (void)a; const V z = SET1(0); return SEL(LE(x, z), z, x); }
static inline V FN(leaky_relu)(V x, V a) { return SEL(GT(x, SET1(0)), x, MUL(x, a)); }
static inline V FN(elu)(V x, V a) { return SEL(GT(x, SET1(0)), x, MUL(a, EXPM1(x))); }
/* e = exp(-|x|) never overflows: sigmoid = 1/(1+e) for x >= 0 and e/(1+e) below, which keeps the
 * subnormal results of x < -87 (float) instead of flushing them to 0. */
static inline V FN(sigmoid)(V x, V a) {
    (void)a;
    const V one = SET1(1), e = EXP(SUB(SET1(0), ABS(x))), s = DIV(one, ADD(one, e));
    return SEL(LE(SET1(0), x), s, MUL(e, s));
}
/* tanh|x| = -t / (t + 2) with t = expm1(-2|x|) in [-1, 0]: no overflow, no cancellation near 0. */
static inline V FN(tanh)(V x, V a) {
    (void)a;
    const V t = EXPM1(MUL(SET1(-2), ABS(x)));
    return COPYSIGN(DIV(SUB(SET1(0), t), ADD(t, SET1(2))), x);
}
static inline V FN(scale)(V x, V a) { return MUL(x, a); }

static inline V FN(relu_bwd)(V dy, V x, V a) { (void)a; const V z = SET1(0); return SEL(LE(x, z), z, dy); }
static inline V FN(leaky_relu_bwd)(V dy, V x, V a) { return SEL(GT(x, SET1(0)), dy, MUL(dy, a)); }
static inline V FN(elu_bwd)(V dy, V x, V a) { return SEL(LE(x, SET1(0)), MUL(dy, MUL(a, EXP(x))), dy); }
static inline V FN(sigmoid_bwd)(V dy, V y, V a) { (void)a; return MUL(MUL(dy, y), SUB(SET1(1), y)); }
static inline V FN(tanh_bwd)(V dy, V y, V a) { (void)a; return MUL(dy, SUB(SET1(1), MUL(y, y))); }
static inline V FN(rrelu)(V x, V s, V a) { (void)a; return SEL(GT(x, SET1(0)), x, MUL(x, s)); }

static inline V FN(noisy_relu_bwd)(V dy, V x, V noise) { return FN(relu_bwd)(dy, ADD(x, noise), dy); }
static inline V FN(rrelu_bwd)(V dy, V x, V s) { return SEL(GT(x, SET1(0)), dy, MUL(dy, s)); }

#define CF_UNARY_KERNEL(op)                                                                   \
    void KN(op)(cf_int n, const T *x, T *y, const PARAMS *p) {                                \
        const V a = SET1(p->alpha);                                                           \
        CF_VEC_LOOP(n, y, p->stream, CF_UNARY_EXPR, op);                                      \
        if (p->stream) CF_VEC_FENCE();                                                        \
    }
#define CF_UNARY_EXPR(op, i, load) FN(op)(load(x + (i)), a)

#define CF_BINARY_KERNEL(op)                                                                  \
    void KN(op)(cf_int n, const T *u, const T *v, T *y, const PARAMS *p) {                    \
        const V a = SET1(p->alpha);                                                           \
        CF_VEC_LOOP(n, y, p->stream, CF_BINARY_EXPR, op);                                     \
        if (p->stream) CF_VEC_FENCE();                                                        \
    }
#define CF_BINARY_EXPR(op, i, load) FN(op)(load(u + (i)), load(v + (i)), a)

#define CF_TERNARY_KERNEL(op)                                                                 \
    void KN(op)(cf_int n, const T *u, const T *v, const T *w, T *y, const PARAMS *p) {        \
        CF_VEC_LOOP(n, y, p->stream, CF_TERNARY_EXPR, op);                                    \
        if (p->stream) CF_VEC_FENCE();                                                        \
    }
#define CF_TERNARY_EXPR(op, i, load) FN(op)(load(u + (i)), load(v + (i)), load(w + (i)))

CF_UNARY_KERNEL(relu)
CF_UNARY_KERNEL(leaky_relu)
CF_UNARY_KERNEL(elu)
CF_UNARY_KERNEL(sigmoid)
CF_UNARY_KERNEL(tanh)
CF_UNARY_KERNEL(scale)
CF_BINARY_KERNEL(relu_bwd)
CF_BINARY_KERNEL(leaky_relu_bwd)
CF_BINARY_KERNEL(elu_bwd)
CF_BINARY_KERNEL(sigmoid_bwd)
CF_BINARY_KERNEL(tanh_bwd)
CF_BINARY_KERNEL(rrelu)
CF_TERNARY_KERNEL(noisy_relu_bwd)
CF_TERNARY_KERNEL(rrelu_bwd)

/* dropout: y = x * (mask ? alpha : 0) -- a product, so a dropped NaN stays NaN (as PyTorch). */
#define CF_PLAIN_BYTES(p) BYTES(p)
#define CF_MASKED_BYTES(p) BYTES_M((p), m)
#define CF_DROPOUT_EXPR(op, i, load) MUL(load(x + (i)), SEL(load##_BYTES(mask + (i)), keep, zero))
void KN(dropout)(cf_int n, const T *x, const uint8_t *mask, T *y, const PARAMS *p) {
    const V keep = SET1(p->alpha), zero = SET1(0);
    CF_VEC_LOOP(n, y, p->stream, CF_DROPOUT_EXPR, _);
    if (p->stream) CF_VEC_FENCE();
}

/* PReLU weight gradient of one plane: sum over x <= 0 of x * dy, summed in vectors of T over
 * blocks of 64 vectors, each block's total then added in double. */
double KN(prelu_bwd_plane)(cf_int n, const T *dy, const T *x, T *dx, const PARAMS *p) {
    const V slope = SET1(p->alpha), zero = SET1(0);
    double total = 0;
    cf_int i = 0;
    while (i + W <= n) {
        V acc = zero;
        const cf_int stop = CF_MIN(n - W + 1, i + 64 * W);
        for (; i < stop; i += W) {
            const V g = LOAD(dy + i), v = LOAD(x + i);
            const CMPT pos = GT(v, zero);
            STORE(dx + i, SEL(pos, g, MUL(g, slope)));
            acc = ADD(acc, SEL(pos, zero, MUL(v, g)));
        }
        total += (double)HSUM(acc);
    }
    if (i < n) {
        const TMT m = TMASK(n - i);
        const V g = MLOAD(dy + i, m), v = MLOAD(x + i, m);
        const CMPT pos = GT(v, zero);
        MSTORE(dx + i, m, SEL(pos, g, MUL(g, slope)));
        total += (double)HSUM(SEL(pos, zero, MUL(v, g)));
    }
    return total;
}

void KN(prelu_bwd_row)(cf_int n, const T *dy, const T *x, const T *w, T *dx, T *contrib) {
    const V zero = SET1(0);
    cf_int i = 0;
    for (; i + W <= n; i += W) {
        const V g = LOAD(dy + i), v = LOAD(x + i);
        const CMPT pos = GT(v, zero);
        STORE(dx + i, SEL(pos, g, MUL(g, LOAD(w + i))));
        STORE(contrib + i, SEL(pos, zero, MUL(v, g)));
    }
    if (i < n) {
        const TMT m = TMASK(n - i);
        const V g = MLOAD(dy + i, m), v = MLOAD(x + i, m);
        const CMPT pos = GT(v, zero);
        MSTORE(dx + i, m, SEL(pos, g, MUL(g, MLOAD(w + i, m))));
        MSTORE(contrib + i, m, SEL(pos, zero, MUL(v, g)));
    }
}

/* The Adam step (kernels/eltwise.h) on one vector of p, g, m, v. Every operation is its own
 * vector instruction, so each value rounds as the reference's NumPy operations do: the compiler
 * must not contract a product and a sum into a fused multiply-add here. */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
static inline void FN(adam)(V *p, V g, V *m, V *v, const ADAM *c) {
    if (c->decoupled)
        *p = MUL(*p, SET1(c->decay));
    else if (c->weight_decay != 0)
        g = ADD(MUL(*p, SET1(c->weight_decay)), g);
    const V t = MUL(SUB(g, *m), SET1(c->lerp));
    *m = c->lerp_small ? ADD(*m, t) : SUB(g, t);
    *v = ADD(MUL(*v, SET1(c->beta2)), MUL(MUL(g, g), SET1(c->one_minus_beta2)));
    const V den = ADD(DIV(SQRT(*v), SET1(c->bias2_sqrt)), SET1(c->eps));
    *p = ADD(*p, MUL(DIV(*m, den), SET1(c->neg_step_size)));
}

void KN(adam)(cf_int n, T *p, const T *g, T *m, T *v, const ADAM *c) {
    cf_int i = 0;
    for (; i + W <= n; i += W) {
        V pv = LOAD(p + i), mv = LOAD(m + i), vv = LOAD(v + i);
        FN(adam)(&pv, LOAD(g + i), &mv, &vv, c);
        STORE(p + i, pv);
        STORE(m + i, mv);
        STORE(v + i, vv);
    }
    if (i < n) {
        const TMT k = TMASK(n - i);
        V pv = MLOAD(p + i, k), mv = MLOAD(m + i, k), vv = MLOAD(v + i, k);
        FN(adam)(&pv, MLOAD(g + i, k), &mv, &vv, c);
        MSTORE(p + i, k, pv);
        MSTORE(m + i, k, mv);
        MSTORE(v + i, k, vv);
    }
}
#pragma GCC pop_options
