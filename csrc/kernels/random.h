/* random.h -- the random-activation kernel family: rrelu, gaussian_noise, noisy_relu and dropout in
 * training, each drawing its random numbers with Philox4x32-10 in the same pass that reads x and
 * writes the outputs (memory is touched once).
 *
 * The stream is the one cnnfast/reference/_random.py specifies (read its docstring first):
 *   block b = philox4x32_10(counter (b lo, b hi, ctr[0], ctr[1]), key (key[0], key[1]));
 *   a group is 16 consecutive blocks starting at a multiple of 16, its 64 words stored word-major:
 *   w[16 j + l] = word j of block l of the group.
 * A group holds CF_<DT>_RGROUP elements of rrelu / noise data (64 float, 32 double: one or two
 * words per uniform) and 64 elements of dropout data (one word per element, any dtype); element e
 * of a group takes its uniform from w + CF_<DT>_UPOS(e) (float64: and from 16 words further).
 * Kernels work on whole groups; the frame (frame/random.c) splits the groups of an array over
 * threads and runs a last partial group on a padded copy, so the numbers depend neither on the
 * thread count nor on the ISA.
 *
 * Same bits on every ISA: the kernels are written once (kernels/random_template.h) over the vector
 * layer; every multiply-add that should be fused says so (RFMA: the FMA instruction, fmaf/fma in
 * generic C), and including this header first turns off the compiler's own contraction of a * b + c
 * for the rest of the file, so the other products and sums round exactly as written. */
#ifndef CF_KERNELS_RANDOM_H
#define CF_KERNELS_RANDOM_H

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "common.h"

#define CF_PHILOX_LANES 16 /* blocks per group */
#define CF_PHILOX_M0 0xD2511F53u
#define CF_PHILOX_M1 0xCD9E8D57u
#define CF_PHILOX_W0 0x9E3779B9u
#define CF_PHILOX_W1 0xBB67AE85u

/* elements per group and the word offset of element e's uniform */
#define CF_F32_RGROUP 64
#define CF_F64_RGROUP 32
#define CF_DROPOUT_GROUP 64
#define CF_F32_UPOS(e) (e)
#define CF_F64_UPOS(e) ((e) / 16 * 32 + (e) % 16)

typedef struct {
    uint32_t ctr[2];       /* counter words 2 and 3                                           */
    uint32_t round[10][2]; /* the key of each round: key + r * (W0, W1), computed once per call */
} cf_philox_seed;

/* IN key (the Philox key), ctr (counter words 2 and 3) -> the seed with its key schedule */
static inline cf_philox_seed cf_philox_seed_of(const uint32_t key[2], const uint32_t ctr[2]) {
    cf_philox_seed s = {{ctr[0], ctr[1]}, {{0}}};
    for (int r = 0; r < 10; r++) {
        s.round[r][0] = key[0] + (uint32_t)r * CF_PHILOX_W0;
        s.round[r][1] = key[1] + (uint32_t)r * CF_PHILOX_W1;
    }
    return s;
}

/* The op's scalars (each op reads its own) and the store policy. */
typedef struct {
    double lower, width;  /* rrelu: slope = lower + width * U, both rounded to the dtype first   */
    double stddev;        /* gaussian_noise, noisy_relu: noise = stddev * Z                       */
    double scale;         /* dropout: y = x * (kept ? scale : 0)                                  */
    uint32_t threshold;   /* dropout: kept iff (word >> 8) >= threshold, i.e. U >= p              */
    int stream;           /* 1: whole vectors are written with non-temporal stores (outputs       */
                          /* 64-byte aligned); the kernel ends with a store fence                 */
} cf_random_params;

/* One random op on `groups` whole groups, the first being group number group0 of the stream.
 * IN x (groups * G elements of the dtype); OUT y (same), drawn: rrelu's slopes or the noise
 * (same), or dropout's keep-mask (groups * 64 bytes, 0 or 1). */
typedef void (*cf_random_ukernel)(cf_int groups, uint64_t group0, const cf_philox_seed *s, const void *x,
                                  void *y, void *drawn, const cf_random_params *p);
/* OUT w (groups * 64 words): the raw stream of groups group0 .. group0 + groups - 1 (tests). */
typedef void (*cf_philox_words_ukernel)(cf_int groups, uint64_t group0, const cf_philox_seed *s, uint32_t *w);

typedef struct {
    cf_philox_words_ukernel words;
    cf_random_ukernel f32[CF_RANDOM_COUNT];
    cf_random_ukernel f64[CF_RANDOM_COUNT];
} cf_random_kernels;

extern const cf_random_kernels cf_random__generic, cf_random__avx2, cf_random__avx512;

/* Philox4x32-10 of one counter, in plain C (the generic kernels use it; the SIMD ones run the same
 * rounds in their lanes). IN/OUT c: the counter in, the 4 random words out. */
static inline void cf_philox4x32_10(uint32_t c[4], const uint32_t round[10][2]) {
    for (int r = 0; r < 10; r++) {
        const uint64_t p0 = (uint64_t)c[0] * CF_PHILOX_M0, p1 = (uint64_t)c[2] * CF_PHILOX_M1;
        const uint32_t c0 = (uint32_t)(p1 >> 32) ^ c[1] ^ round[r][0];
        const uint32_t c2 = (uint32_t)(p0 >> 32) ^ c[3] ^ round[r][1];
        c[1] = (uint32_t)p1;
        c[3] = (uint32_t)p0;
        c[0] = c0;
        c[2] = c2;
    }
}

#endif /* CF_KERNELS_RANDOM_H */
