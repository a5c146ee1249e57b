/* vec_names.h -- short names for the vector layer of one dtype, used by the kernel templates.
 *
 * An ISA's kernel file includes its vec.h (which defines F32_LOAD, F64_LOAD, ...), then, once per
 * dtype, sets VT to F32 or F64 and includes a template: LOAD, ADD, EXP ... then mean F32_LOAD, ...
 * or F64_LOAD, ... The names below are resolved when used, so redefining VT switches the dtype.
 *
 *   T, V, W      scalar type, vector type, lanes per vector
 *   CMPT, TMT    the type of a comparison result and of a tail mask
 *   KN(op)       the exported kernel name, cf_<dtype>_<op>__<isa>
 *   FN(op)       a file-local helper name for this dtype                                      */
#ifndef CF_KERNELS_VEC_NAMES_H
#define CF_KERNELS_VEC_NAMES_H

#define CF_VJOIN2(a, b) a##_##b
#define CF_VJOIN(a, b) CF_VJOIN2(a, b)

#define T CF_VJOIN(VT, T)
#define V CF_VJOIN(VT, V)
#define W CF_VJOIN(VT, W)
#define CMPT CF_VJOIN(VT, C)
#define TMT CF_VJOIN(VT, TM)
#define KN(op) CF_VJOIN(VT, NAME)(op)
#define FN(op) CF_VJOIN(VT, op)
#define PARAMS CF_VJOIN(VT, PARAMS)
#define LOAD CF_VJOIN(VT, LOAD)
#define STORE CF_VJOIN(VT, STORE)
#define STREAM CF_VJOIN(VT, STREAM)
#define TMASK CF_VJOIN(VT, TMASK)
#define MLOAD CF_VJOIN(VT, MLOAD)
#define MLOADF CF_VJOIN(VT, MLOADF)
#define MSTORE CF_VJOIN(VT, MSTORE)
#define SET1 CF_VJOIN(VT, SET1)
#define ADD CF_VJOIN(VT, ADD)
#define SUB CF_VJOIN(VT, SUB)
#define MUL CF_VJOIN(VT, MUL)
#define DIV CF_VJOIN(VT, DIV)
#define SQRT CF_VJOIN(VT, SQRT)
#define FMA CF_VJOIN(VT, FMA)
#define MAX CF_VJOIN(VT, MAX)
#define GT CF_VJOIN(VT, GT)
#define LE CF_VJOIN(VT, LE)
#define SEL CF_VJOIN(VT, SEL)
#define ABS CF_VJOIN(VT, ABS)
#define COPYSIGN CF_VJOIN(VT, COPYSIGN)
#define HSUM CF_VJOIN(VT, HSUM)
#define HMAX CF_VJOIN(VT, HMAX)
#define EXP CF_VJOIN(VT, EXP)
#define EXPM1 CF_VJOIN(VT, EXPM1)
#define BYTES CF_VJOIN(VT, BYTES)
#define BYTES_M CF_VJOIN(VT, BYTES_M)
#define TO_LANES CF_VJOIN(VT, TO_LANES)
#define FROM_LANES CF_VJOIN(VT, FROM_LANES)

#define F32_PARAMS cf_f32_eltwise_params
#define F64_PARAMS cf_f64_eltwise_params
#define F32_ADAM cf_f32_adam_params
#define F64_ADAM cf_f64_adam_params
#define ADAM CF_VJOIN(VT, ADAM)

/* Elements of type `type` before the first CF_VEC_ALIGN-aligned address at or after p. */
#define CF_VEC_HEAD(p, type) \
    ((cf_int)(((CF_VEC_ALIGN - ((uintptr_t)(p) % CF_VEC_ALIGN)) % CF_VEC_ALIGN) / sizeof(type)))

/* The loop of every kernel that writes n outputs y[0..n): EXPR(op, i, load) computes the output
 * vector at offset i from its inputs, read with load(pointer) (CF_PLAIN, or CF_MASKED in the head
 * and the tail, where the tail mask `m` is in scope); `op` is passed through to EXPR. Whole vectors first, then one masked vector for the
 * tail. With `stream` set (and W > 1) the output is written with non-temporal stores, after one
 * masked vector that brings y to a CF_VEC_ALIGN boundary; the caller then owes a CF_VEC_FENCE()
 * before the data is handed on (once per batch of loops, not per loop: a fence waits for the
 * stores to drain). */
#define CF_PLAIN(p) LOAD(p)
#define CF_MASKED(p) MLOAD((p), m)

#define CF_VEC_LOOP(n, y, stream, EXPR, op)                                              \
    do {                                                                                      \
        cf_int i = 0;                                                                         \
        if ((stream) && W > 1) {                                                              \
            const cf_int head = CF_MIN((n), CF_VEC_HEAD((y), T));                             \
            if (head > 0) {                                                                   \
                const TMT m = TMASK(head);                                                    \
                MSTORE((y), m, EXPR(op, 0, CF_MASKED));                                           \
            }                                                                                 \
            for (i = head; i + W <= (n); i += W) STREAM((y) + i, EXPR(op, i, CF_PLAIN));          \
        } else {                                                                              \
            for (; i + W <= (n); i += W) STORE((y) + i, EXPR(op, i, CF_PLAIN));                   \
        }                                                                                     \
        if (i < (n)) {                                                                        \
            const TMT m = TMASK((n) - i);                                                     \
            MSTORE((y) + i, m, EXPR(op, i, CF_MASKED));                                           \
        }                                                                                     \
    } while (0)

#endif /* CF_KERNELS_VEC_NAMES_H */
