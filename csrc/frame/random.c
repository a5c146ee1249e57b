/* random.c -- the frame of the random activations in training (kernels/random.h): split an array's
 * whole Philox groups over OpenMP threads and run the ISA's fused kernel on each thread's run of
 * groups; the last partial group runs on a zero-padded copy of x into local buffers, whose first
 * elements are then copied out.
 *
 *   [ group 0 | group 1 | ... | group k-1 | tail < G )      G = 64 float / 32 double elements
 *   [   thread 0   ][   thread 1   ] ...  [ local copy ]    (dropout: G = 64 for both dtypes)
 *
 * Every element's numbers come from its fixed place in the stream, so the result is the same for
 * any thread count. Outputs of at least CF_STREAM_BYTES whose arrays are 64-byte aligned are
 * written with non-temporal stores (group starts are then aligned too). */
#include <math.h>
#include <string.h>

#include "kernels/random.h"

#include "kernels/eltwise.h" /* CF_STREAM_BYTES */

/* elements per thread below which one thread does the work: a random draw costs a few times a
 * plain elementwise op, so the grain is smaller than the eltwise frame's */
#define CF_RANDOM_GRAIN 8192

static cf_philox_seed seed_of(const uint64_t seed[2]) {
    const uint32_t key[2] = {(uint32_t)seed[0], (uint32_t)(seed[0] >> 32)};
    const uint32_t ctr[2] = {(uint32_t)seed[1], (uint32_t)(seed[1] >> 32)};
    return cf_philox_seed_of(key, ctr);
}

static int aligned(const void *p) { return (uintptr_t)p % CF_ALIGN == 0; }

/* IN x (n); OUT y (n), drawn (n of the dtype; n bytes for dropout). */
int cf_random_activation(cf_random_op op, cf_dtype dt, cf_int n, const void *x, void *y, void *drawn,
                         const uint64_t seed[2], double a, double b, int nthreads) {
    const cf_random_kernels *k = CF_SELECT(cf_random, cf_isa_current());
    const cf_random_ukernel f = (dt == CF_F32 ? k->f32 : k->f64)[op];
    const cf_philox_seed s = seed_of(seed);
    const size_t elem = dt == CF_F32 ? sizeof(float) : sizeof(double);
    const size_t drawn_elem = op == CF_RANDOM_DROPOUT ? 1 : elem;
    const cf_int G = op == CF_RANDOM_DROPOUT ? CF_DROPOUT_GROUP : dt == CF_F32 ? CF_F32_RGROUP : CF_F64_RGROUP;
    const cf_int groups = n / G, tail = n - groups * G;
    cf_random_params p = {0};
    if (op == CF_RANDOM_RRELU) {
        p.lower = a;
        p.width = b;
    } else if (op == CF_RANDOM_DROPOUT) {
        p.threshold = (uint32_t)ceil(a * 0x1p24); /* U >= p  <=>  (word >> 8) >= ceil(p 2^24) */
        p.scale = b;
    } else {
        p.stddev = a;
    }
    p.stream = n * (cf_int)elem >= CF_STREAM_BYTES && aligned(y) && aligned(drawn);
    const char *xs = x;
    char *ys = y, *ds = drawn;
    const int nt = cf_threads_for(n, CF_RANDOM_GRAIN, nthreads);
#ifdef CF_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#else
    (void)nt;
#endif
    {
        cf_int gb, ge;
        cf_partition(groups, CF_NUM_THREADS_IN_TEAM(), CF_THREAD_ID(), 1, &gb, &ge);
        if (gb < ge)
            f(ge - gb, (uint64_t)gb, &s, xs + (size_t)(gb * G) * elem, ys + (size_t)(gb * G) * elem,
              ds + (size_t)(gb * G) * drawn_elem, &p);
    }
    if (tail > 0) {
        _Alignas(CF_ALIGN) double xt[64] = {0}, yt[64], dt_[64];
        const size_t off = (size_t)(groups * G);
        memcpy(xt, xs + off * elem, (size_t)tail * elem);
        p.stream = 0;
        f(1, (uint64_t)groups, &s, xt, yt, dt_, &p);
        memcpy(ys + off * elem, yt, (size_t)tail * elem);
        memcpy(ds + off * drawn_elem, dt_, (size_t)tail * drawn_elem);
    }
    return CF_OK;
}

/* OUT words (groups * 64). */
int cf_philox_words(cf_int groups, uint64_t group0, const uint64_t seed[2], uint32_t *words) {
    const cf_philox_seed s = seed_of(seed);
    CF_SELECT(cf_random, cf_isa_current())->words(groups, group0, &s, words);
    return CF_OK;
}
