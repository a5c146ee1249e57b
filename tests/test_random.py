"""The random stream of rrelu, gaussian_noise, noisy_relu and dropout (cnnfast/reference/_random.py,
csrc/kernels/random_template.h): Philox4x32-10 known answers, the C stream equal to the reference
one bit for bit on every ISA, distributions (moments and Kolmogorov-Smirnov on large samples), and
reproducibility: same seed -> same result whatever the thread count and ISA, successive calls
differ, one small draw from the user's Generator per call."""
import math

import numpy as np
import pytest

import cnnfast as cf
from cnnfast import _core, _random
from cnnfast import reference as R
from cnnfast.reference import _random as stream

DTYPES = [np.float32, np.float64]
SEED = (0x0123456789ABCDEF, 0xFEDCBA9876543210)

# Random123's tests/kat_vectors, the three philox4x32 10 lines: counter, key -> output
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,want", KAT)
def test_reference_philox_known_answers(counter, key, want):
    got = stream.philox4x32(np.array([counter], np.uint32), key)[0]
    assert [int(v) for v in got] == list(want)


@pytest.mark.parametrize("counter,key,want", KAT)
def test_c_philox_known_answers(isa, counter, key, want):
    """The C kernels' block for the KAT counter: block index = counter words 0, 1 (a group starts at
    a multiple of 16 blocks, so take the group holding it), counter words 2, 3 and the key from
    the seed words."""
    block = counter[0] | counter[1] << 32
    seed = (key[0] | key[1] << 32, counter[2] | counter[3] << 32)
    w = _core.philox_words(1, block // 16, seed).reshape(4, 16)
    assert [int(v) for v in w[:, block % 16]] == list(want)


@pytest.mark.parametrize("groups,first", [(0, 0), (1, 0), (3, 5), (2, 2**28 - 1), (2, 2**58)])
def test_c_stream_equals_reference_stream(isa, groups, first):
    """Including groups whose block index passes 2^32 (the counter's second word)."""
    np.testing.assert_array_equal(_core.philox_words(groups, first, SEED),
                                  stream.words(SEED, groups, first).reshape(-1))


# ---- distributions ------------------------------------------------------------------------------

def ks_statistic(samples, cdf):
    """Kolmogorov-Smirnov D of the samples against a continuous cdf (a NumPy function)."""
    s = np.sort(samples)
    f = cdf(s)
    n = len(s)
    return max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))


# D beyond 1.95 / sqrt(n) has probability 0.001 for a correct sampler; the seeds are fixed, so a
# pass stays a pass
KS_LIMIT = 1.95
_erf = np.vectorize(math.erf)


def normal_cdf(z):
    return 0.5 * (1 + _erf(z / math.sqrt(2)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniforms_are_uniform(dtype):
    n = 400_000
    u = stream.uniforms(SEED, n, dtype)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / n)
    assert ks_statistic(u, lambda v: v) < KS_LIMIT / math.sqrt(n)
    # neighbours in the stream are uncorrelated (lanes, words, groups)
    for lag in (1, 16, 32, 64):
        assert abs(np.corrcoef(u[:-lag], u[lag:])[0, 1]) < 5 / math.sqrt(n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_normals_are_standard_normal(dtype):
    n = 400_000
    z = stream.normals(SEED, n, dtype)
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(z**3)) < 5 * math.sqrt(15 / n)                   # skewness 0
    assert abs(np.mean(z**4) - 3) < 5 * math.sqrt(96 / n)               # kurtosis 3
    tail = np.mean(np.abs(z) > 3)                                       # 2 (1 - Phi(3)) = 0.0027
    assert abs(tail - 0.0026998) < 5 * math.sqrt(0.0027 / n)
    assert ks_statistic(z[:100_000], normal_cdf) < KS_LIMIT / math.sqrt(100_000)
    # the cosine and sine halves of each Box-Muller pair are uncorrelated
    pairs = z[: n // 32 * 32].reshape(-1, 2, 16)
    assert abs(np.corrcoef(pairs[:, 0].ravel(), pairs[:, 1].ravel())[0, 1]) < 5 / math.sqrt(n / 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_c_ops_draw_the_right_distributions(dtype):
    """Through the public ops: noise / stddev, rrelu's slopes and dropout's keep rate."""
    n = 300_000
    x = np.zeros(n, dtype)
    _, noise = cf.gaussian_noise(x, 2.0, True, np.random.default_rng(11))
    z = noise.astype(np.float64) / 2
    assert abs(z.mean()) < 5 / math.sqrt(n) and abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert ks_statistic(z[:100_000], normal_cdf) < KS_LIMIT / math.sqrt(100_000)
    _, slopes = cf.rrelu(x, 0.25, 0.75, True, np.random.default_rng(12))
    s = slopes.astype(np.float64)
    assert s.min() >= 0.25 and s.max() <= 0.75
    assert ks_statistic(s, lambda v: (v - 0.25) / 0.5) < KS_LIMIT / math.sqrt(n)
    for p in (0.1, 0.5, 0.9):
        _, mask = cf.dropout(x, p, True, np.random.default_rng(13))
        assert abs(mask.mean() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)


# ---- reproducibility ----------------------------------------------------------------------------

CALLS = {
    "rrelu": lambda m, x, g: m.rrelu(x, 0.1, 0.3, True, g),
    "gaussian_noise": lambda m, x, g: m.gaussian_noise(x, 0.5, True, g),
    "noisy_relu": lambda m, x, g: m.noisy_relu(x, 0.5, True, g),
    "dropout": lambda m, x, g: m.dropout(x, 0.5, True, g),
}


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_same_bits_for_every_thread_count_and_isa(name, dtype):
    """Every ISA the CPU has and 1, 2, 3 and 7 threads give the bits of generic C on one thread,
    on sizes that end in partial groups of every kind."""
    call = CALLS[name]
    for n in (1, 63, 65, 1000, 100_003):
        x = np.random.default_rng(n).standard_normal(n).astype(dtype)
        before = _core.isa_current()
        try:
            _core.isa_set("generic")
            with cf.threads(1):
                want = call(cf, x, np.random.default_rng(4))
            for isa in ("generic", "avx2", "avx512"):
                _core.isa_set(isa)
                for threads in (1, 2, 3, 7):
                    with cf.threads(threads):
                        got = call(cf, x, np.random.default_rng(4))
                    np.testing.assert_array_equal(got[0], want[0], err_msg=f"{_core.isa_current()} {threads}")
                    np.testing.assert_array_equal(got[1], want[1], err_msg=f"{_core.isa_current()} {threads}")
        finally:
            _core.isa_set(before)


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("module", [cf, R], ids=["c", "reference"])
def test_a_call_draws_one_seed_and_successive_calls_differ(name, module):
    x = np.random.default_rng(0).standard_normal((3, 5, 7)).astype(np.float32)
    g = np.random.default_rng(21)
    first, second = CALLS[name](module, x, g), CALLS[name](module, x, g)
    assert not np.array_equal(first[1], second[1])
    twin = np.random.default_rng(21)
    twin.integers(0, 2**64, size=2, dtype=np.uint64)
    twin.integers(0, 2**64, size=2, dtype=np.uint64)
    assert g.bit_generator.state == twin.bit_generator.state  # one small draw per call
    again = CALLS[name](module, x, np.random.default_rng(21))
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])


@pytest.mark.parametrize("name", CALLS)
def test_every_tail_length_matches_the_reference(name):
    """Sizes 1..130 cross both group sizes (32 and 64) with every remainder."""
    for dtype in DTYPES:
        for n in range(1, 131):
            x = np.random.default_rng(n).standard_normal(n).astype(dtype)
            got, want = CALLS[name](cf, x, np.random.default_rng(n)), CALLS[name](R, x, np.random.default_rng(n))
            if name in ("gaussian_noise", "noisy_relu"):
                np.testing.assert_allclose(got[1], want[1], rtol=8 * np.finfo(dtype).eps, atol=0)
            else:
                np.testing.assert_array_equal(got[1], want[1])


def test_seed_is_two_64_bit_words():
    g = np.random.default_rng(5)
    s = _random.seed(g)
    assert len(s) == 2 and all(isinstance(v, int) and 0 <= v < 2**64 for v in s)
    assert stream.seed_words(s) == ((s[0] & 0xFFFFFFFF, s[0] >> 32), (s[1] & 0xFFFFFFFF, s[1] >> 32))
