"""The output-buffer cache (csrc/frame/outbuf.c) behind the functional ops' large outputs."""
import gc

import numpy as np

import cnnfast as cf
from cnnfast import _core

MIB = 1 << 20


def test_large_outputs_are_cached_and_reused():
    x = np.ones(3 * MIB // 4, np.float32)  # 3 MiB
    old = _core.outbuf_set_limit(0)
    try:
        _core.outbuf_set_limit(64 * MIB)
        y = cf.relu(x)
        ptr = y.ctypes.data
        del y
        gc.collect()
        assert _core.outbuf_cached() >= 3 * MIB
        y = cf.relu(x)  # same size: the cached block comes back
        assert y.ctypes.data == ptr and _core.outbuf_cached() == 0
        np.testing.assert_array_equal(y, x)
        small = cf.relu(np.ones(10, np.float32))  # small outputs bypass the cache
        assert small.flags.owndata
    finally:
        _core.outbuf_set_limit(old)


def test_quarter_mib_outputs_are_cached_page_aligned_like_large_ones():
    """Blocks of a few hundred KiB (a small training step's activations) are cached too, and
    their data lies at the same offset in its page as a large block's (no 4K aliasing)."""
    old = _core.outbuf_set_limit(0)
    try:
        _core.outbuf_set_limit(64 * MIB)
        offsets = []
        for nbytes in (MIB // 4, 3 * MIB):
            y = cf.relu(np.ones(nbytes // 4, np.float32))
            ptr = y.ctypes.data
            offsets.append(ptr % 4096)
            del y
            gc.collect()
            assert _core.outbuf_cached() >= nbytes
            assert cf.relu(np.ones(nbytes // 4, np.float32)).ctypes.data == ptr
        assert offsets[0] == offsets[1]
        _core.outbuf_set_limit(0)
        _core.outbuf_set_limit(64 * MIB)
        y = cf.relu(np.ones(MIB // 4 // 4 - 16, np.float32))   # just below: NumPy's allocator
        del y
        gc.collect()
        assert _core.outbuf_cached() == 0
    finally:
        _core.outbuf_set_limit(old)


def test_limit_bounds_what_is_held():
    old = _core.outbuf_set_limit(4 * MIB)
    try:
        arrays = [cf.relu(np.ones(MIB // 2 * k, np.float32)) for k in (2, 3, 4)]  # 4, 6, 8 MiB
        del arrays
        gc.collect()
        assert _core.outbuf_cached() <= 4 * MIB
        _core.outbuf_set_limit(0)
        assert _core.outbuf_cached() == 0
        y = cf.sigmoid(np.zeros(MIB, np.float32))
        np.testing.assert_array_equal(y, 0.5)
    finally:
        _core.outbuf_set_limit(old)


def test_cached_arrays_behave_like_numpy_arrays():
    y = cf.tanh(np.zeros((512, 1024), np.float64))
    v = y[::2]
    del y
    gc.collect()
    assert v.shape == (256, 1024) and not v.any()  # a view keeps its block alive
    v2 = cf.relu(np.ones((256, 1024), np.float64))
    v2.resize((128, 1024), refcheck=False)  # realloc through the cache
    assert (v2 == 1).all()
