"""The random numbers of rrelu, gaussian_noise, noisy_relu and dropout, in plain NumPy: the
specification that cnnfast's C kernels (csrc/kernels/random_template.h) reproduce.

Every call draws one seed from the user's numpy.random.Generator (cnnfast/_random.py: two 64-bit
words, so the Generator advances and successive calls differ) and expands it with the
counter-based generator Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
3", SC 2011):

    seed words (s0, s1) -> key (s0 & 0xffffffff, s0 >> 32), counter high words (s1 & .., s1 >> 32)
    block b (b = 0, 1, 2, ...) -> philox4x32(counter (b & 0xffffffff, b >> 32, c2, c3), key)
                                   = 4 random 32-bit words

Blocks are taken 16 at a time ("groups", the width of one AVX-512 register of 32-bit lanes), and the
group's 64 words are laid out word-major: word 16 j + l of group g is word j of block 16 g + l.
Every element has a fixed place in this stream, so the C kernels can split an array over threads
and vector lanes freely and still give the same numbers.

Uniforms U in [0, 1), one per element, exact in float64:
  - float32 data: element i takes word i; U = (word >> 8) * 2^-24 (its top 24 bits);
  - float64 data: a group holds 32 elements, element 16 p + l (p = 0, 1) takes words 32 p + l and
    32 p + 16 + l of the group: U = ((first >> 5) * 2^26 + (second >> 6)) * 2^-53 (53 bits).
Normals (Box-Muller): in every run of 32 elements, element l and element l + 16 (l < 16) share
the uniforms u1 = 1 - U[l] (in (0, 1]) and u2 = U[l + 16]:
    r = sqrt(-2 log u1),  Z[l] = r cos(2 pi u2),  Z[l + 16] = r sin(2 pi u2)
with the angle reduced exactly: 4 u2 = q + f (q the nearest integer, |f| <= 1/2), so that
2 pi u2 = q pi/2 + f pi/2 and cos, sin come from those of f pi/2 turned by q quarter turns.
"""
import numpy as np

_M = (0xD2511F53, 0xCD9E8D57)     # Philox4x32 multipliers
_BUMP = (0x9E3779B9, 0xBB67AE85)  # Weyl key increments (golden ratio, sqrt(3) - 1)
_LOW32 = np.uint64(0xFFFFFFFF)
LANES = 16                        # blocks per group


def philox4x32(counter, key, rounds=10):
    """Philox4x32-`rounds` of each row of `counter` (uint32, shape (..., 4)) under key (k0, k1)."""
    c = [np.asarray(counter)[..., i].astype(np.uint64) for i in range(4)]
    k0, k1 = int(key[0]), int(key[1])
    for _ in range(rounds):
        p0 = c[0] * np.uint64(_M[0])  # 32 x 32 -> 64-bit products: (high word, low word)
        p1 = c[2] * np.uint64(_M[1])
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & _LOW32,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & _LOW32]
        k0 = (k0 + _BUMP[0]) & 0xFFFFFFFF
        k1 = (k1 + _BUMP[1]) & 0xFFFFFFFF
    return np.stack(c, axis=-1).astype(np.uint32)


def seed_words(seed):
    """The Philox (key, counter high words) of a seed: two 64-bit integers."""
    s0, s1 = (int(s) for s in seed)
    return (s0 & 0xFFFFFFFF, s0 >> 32), (s1 & 0xFFFFFFFF, s1 >> 32)


def words(seed, groups, first=0):
    """Groups first .. first + groups - 1 of the stream: uint32 array (groups, 64), word-major."""
    key, (c2, c3) = seed_words(seed)
    b = np.arange(first * LANES, (first + groups) * LANES, dtype=np.uint64)
    counter = np.stack([b & _LOW32, b >> np.uint64(32), np.full_like(b, c2), np.full_like(b, c3)], axis=-1)
    blocks = philox4x32(counter, key)                             # (groups * 16, 4)
    return blocks.reshape(groups, LANES, 4).transpose(0, 2, 1).reshape(groups, 4 * LANES)


def uniforms(seed, n, dtype):
    """U[0..n) (float64 values, exact) of the stream for data of `dtype`."""
    if np.dtype(dtype) == np.float32:
        w = words(seed, -(-n // 64)).reshape(-1)[:n]
        return (w >> 8) * 2.0**-24
    w = words(seed, -(-n // 32)).reshape(-1, 2, 2, LANES)         # (group, p, first/second, lane)
    k = (w[:, :, 0, :] >> 5).astype(np.float64) * 2.0**26 + (w[:, :, 1, :] >> 6)
    return (k * 2.0**-53).reshape(-1)[:n]


def normals(seed, n, dtype):
    """Z[0..n) ~ N(0, 1) in float64, by Box-Muller on the uniforms of `dtype`."""
    u = uniforms(seed, -(-n // 32) * 32, dtype).reshape(-1, 2, LANES)
    r = np.sqrt(-2.0 * np.log(1.0 - u[:, 0]))
    t = 4.0 * u[:, 1]
    q = np.rint(t)
    c, s = np.cos((t - q) * (np.pi / 2)), np.sin((t - q) * (np.pi / 2))
    turn = q.astype(np.int64) % 4                                  # quarter turns
    cos_t = np.choose(turn, [c, -s, -c, s])
    sin_t = np.choose(turn, [s, c, -s, -c])
    return np.stack([r * cos_t, r * sin_t], axis=1).reshape(-1)[:n]
