/* outbuf.c -- a small cache of large output blocks.
 *
 * Every op returns a fresh output array. For arrays of many MiB, the first write to each page of
 * a freshly mapped block is a page fault (the kernel maps and zeroes the page): on this class of
 * machine that costs as much as the op itself (relu on 64 MiB: ~3.5 ms of work, 3-7 ms of faults).
 * Blocks of at least CF_OUTBUF_MIN bytes freed by NumPy are therefore kept here (up to
 * CF_OUTBUF_SLOTS blocks and a byte limit, cf_outbuf_set_limit) and handed out again to the next
 * output of a fitting size, whose pages are then already mapped. New blocks of at least
 * CF_OUTBUF_HUGE_MIN bytes are aligned to 2 MiB and advised as transparent huge pages, so a first
 * use faults once per 2 MiB.
 * CF_OUTBUF_MIN is a quarter MiB: blocks of a few hundred KiB (a training step's 64x64x7x7
 * activations and their gradients) left to malloc come back as fresh pages whenever glibc trims
 * its heap between steps, which depends on what else the process holds (measured: 0.1 or 184
 * faults per step of the demo model, from one change in an unrelated allocation).
 *
 * Layout of a block: a header holding its capacity, then the data, 2048 + 64 bytes into the block.
 *
 *   base (2 MiB aligned)                base + CF_OUTBUF_HEADER (= 2112)
 *   | capacity | (padding)              | data ..................... capacity bytes |
 *
 * Why 2112: NumPy's large arrays start 16 bytes into a page, and an output whose address in its
 * page is a little above its input's (0 < (y - x) mod 4096 < 64) makes every load of x look like it
 * depends on the store to y just before it ("4K aliasing"), which serialises the exp-based kernels
 * (tanh 3x slower). Half a page away from NumPy's offset, or at the same offset as another block
 * of this cache, loads and stores never alias.
 *
 * Thread safety: one spin lock around the slot table (held for a few instructions). */
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "common.h"

#define CF_OUTBUF_MIN ((size_t)1 << 18)
#define CF_OUTBUF_HUGE_MIN ((size_t)1 << 20)
#define CF_OUTBUF_SLOTS 16
#define CF_OUTBUF_HEADER ((size_t)2048 + CF_ALIGN)
#define CF_HUGE ((size_t)2 << 20)

static struct {
    void *base[CF_OUTBUF_SLOTS]; /* cached blocks, oldest first */
    int n;                       /* slots in use: base[0 .. n) */
    size_t cached;               /* bytes held in the slots */
    size_t limit;                /* most bytes to hold */
    int lock;
} cache = {.limit = (size_t)256 << 20};

static void lock(void) {
    while (__atomic_exchange_n(&cache.lock, 1, __ATOMIC_ACQUIRE)) {
    }
}
static void unlock(void) { __atomic_store_n(&cache.lock, 0, __ATOMIC_RELEASE); }

static size_t capacity_of(void *base) { return *(size_t *)base; }

/* a new block of `capacity` data bytes; NULL on failure */
static void *new_block(size_t capacity) {
    const size_t total = capacity + CF_OUTBUF_HEADER;
    if (total < capacity) return NULL;
    void *base = NULL;
    /* cached blocks start on a page (2 MiB from CF_OUTBUF_HUGE_MIN): their data 2112 bytes in */
    const size_t align = capacity >= CF_OUTBUF_HUGE_MIN ? CF_HUGE
                         : capacity >= CF_OUTBUF_MIN    ? (size_t)4096
                                                        : (size_t)CF_ALIGN;
    if (posix_memalign(&base, align, total) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == CF_HUGE) madvise(base, total / CF_HUGE * CF_HUGE, MADV_HUGEPAGE);
#endif
    *(size_t *)base = capacity;
    return base;
}

/* slot i leaves the table; the caller holds the lock */
static void *take_slot(int i) {
    void *b = cache.base[i];
    cache.cached -= capacity_of(b);
    memmove(cache.base + i, cache.base + i + 1, (size_t)(cache.n - i - 1) * sizeof(void *));
    cache.n--;
    return b;
}

/* A block with room for `size` bytes, from the cache when one fits (capacity within +1/8). */
void *cf_outbuf_malloc(size_t size) {
    if (size == 0) size = 1;
    void *base = NULL;
    if (size >= CF_OUTBUF_MIN) {
        lock();
        int best = -1;
        for (int i = 0; i < cache.n; i++) {
            const size_t c = capacity_of(cache.base[i]);
            if (c >= size && c - size <= size / 8 && (best < 0 || c < capacity_of(cache.base[best]))) best = i;
        }
        if (best >= 0) base = take_slot(best);
        unlock();
    }
    if (!base) base = new_block(size);
    return base ? (char *)base + CF_OUTBUF_HEADER : NULL;
}

void *cf_outbuf_calloc(size_t nelem, size_t elsize) {
    size_t size;
    if (__builtin_mul_overflow(nelem, elsize, &size)) return NULL;
    void *p = cf_outbuf_malloc(size);
    if (p) memset(p, 0, size);
    return p;
}

/* Return a block: kept in the cache if large and within the limit (evicting the oldest blocks
 * to make room), else released. */
void cf_outbuf_free(void *p) {
    if (!p) return;
    void *base = (char *)p - CF_OUTBUF_HEADER;
    const size_t cap = capacity_of(base);
    void *evicted[CF_OUTBUF_SLOTS];
    int n_evicted = 0;
    if (cap >= CF_OUTBUF_MIN) {
        lock();
        if (cap <= cache.limit) {
            while (cache.n == CF_OUTBUF_SLOTS || cache.cached + cap > cache.limit)
                evicted[n_evicted++] = take_slot(0);
            cache.base[cache.n++] = base;
            cache.cached += cap;
            base = NULL;
        }
        unlock();
    }
    for (int i = 0; i < n_evicted; i++) free(evicted[i]);
    free(base);
}

void *cf_outbuf_realloc(void *p, size_t size) {
    if (!p) return cf_outbuf_malloc(size);
    const size_t cap = capacity_of((char *)p - CF_OUTBUF_HEADER);
    if (size <= cap && size >= cap / 2) return p;
    void *q = cf_outbuf_malloc(size);
    if (!q) return NULL;
    memcpy(q, p, CF_MIN(cap, size));
    cf_outbuf_free(p);
    return q;
}

/* Set the most bytes the cache may hold (0 disables it and releases what it holds); returns the
 * previous limit. */
size_t cf_outbuf_set_limit(size_t bytes) {
    void *evicted[CF_OUTBUF_SLOTS];
    int n = 0;
    lock();
    const size_t old = cache.limit;
    cache.limit = bytes;
    while (cache.n > 0 && cache.cached > bytes) evicted[n++] = take_slot(0);
    unlock();
    for (int i = 0; i < n; i++) free(evicted[i]);
    return old;
}

size_t cf_outbuf_cached(void) {
    lock();
    const size_t c = cache.cached;
    unlock();
    return c;
}
