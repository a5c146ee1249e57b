"""The floating-point environment: every op leaves the caller's control settings as it found them:
MXCSR's rounding mode, exception masks, flush-to-zero (FTZ) and denormals-are-zero (DAZ), and the
x87 control word; also when the caller had set FTZ/DAZ or another rounding mode itself.

The exception (status) flags are not compared: NumPy clears and sets them around its own ufunc
loops (in the argument checks and output allocation), so they carry no promise of cnnfast's.
Read and written with glibc's fegetenv/fesetenv through ctypes (x86-64 fenv_t: the x87 control
word at byte 0, MXCSR at byte 28)."""
import ctypes
import ctypes.util
import platform

import numpy as np
import pytest

from optable import build, c_ops, call

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or platform.libc_ver()[0] != "glibc",
    reason="reads the x86-64 glibc fenv_t")

FENV_T_SIZE = 32
MXCSR_OFFSET = 28
MXCSR_FLAGS = 0x3F  # IE DE ZE OE UE PE: sticky status flags
DAZ, FTZ = 1 << 6, 1 << 15
ROUND_UP = 2 << 13
X87_CONTROL_MASK = 0x1F3F  # masks, precision and rounding control

_libm = ctypes.CDLL(ctypes.util.find_library("m"))


def get_env():
    buf = ctypes.create_string_buffer(FENV_T_SIZE)
    assert _libm.fegetenv(buf) == 0
    return buf


def set_env(buf):
    assert _libm.fesetenv(buf) == 0


def controls(buf):
    """(x87 control word, MXCSR without its status flags)."""
    x87 = int.from_bytes(buf.raw[0:2], "little") & X87_CONTROL_MASK
    mxcsr = int.from_bytes(buf.raw[MXCSR_OFFSET:MXCSR_OFFSET + 4], "little") & ~MXCSR_FLAGS
    return x87, mxcsr


def with_mxcsr_bits(buf, bits):
    raw = bytearray(buf.raw)
    mxcsr = int.from_bytes(raw[MXCSR_OFFSET:MXCSR_OFFSET + 4], "little") | bits
    raw[MXCSR_OFFSET:MXCSR_OFFSET + 4] = mxcsr.to_bytes(4, "little")
    return ctypes.create_string_buffer(bytes(raw), FENV_T_SIZE)


@pytest.fixture
def restore_env():
    saved = get_env()
    yield saved
    set_env(saved)


def test_the_helpers_read_what_they_write(restore_env):
    before = controls(get_env())
    set_env(with_mxcsr_bits(restore_env, FTZ | DAZ))
    assert controls(get_env())[1] == before[1] | FTZ | DAZ
    # and the hardware obeys: DAZ reads a float32 subnormal as zero
    tiny = np.array([1e-40], np.float32)
    assert (tiny * np.float32(1.0))[0] == 0.0


@pytest.mark.parametrize("big", [False, True], ids=["small", "big"])
@pytest.mark.parametrize("caller", ["default", "ftz+daz", "round-up"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", c_ops())
def test_op_leaves_the_callers_fp_controls(restore_env, name, dtype, caller, big):
    args, kwargs = build(name, dtype, big)
    env = {"default": restore_env, "ftz+daz": with_mxcsr_bits(restore_env, FTZ | DAZ),
           "round-up": with_mxcsr_bits(restore_env, ROUND_UP)}[caller]
    set_env(env)
    want = controls(get_env())
    call(name, args, kwargs)
    got = controls(get_env())
    set_env(restore_env)
    assert got == want, f"{name}: (x87 control, MXCSR controls) {tuple(map(hex, want))} -> {tuple(map(hex, got))}"


@pytest.mark.parametrize("name", c_ops())
def test_raising_call_leaves_the_fp_controls(restore_env, name):
    args, kwargs = build(name)
    set_env(with_mxcsr_bits(restore_env, FTZ | DAZ))
    want = controls(get_env())
    with pytest.raises(TypeError):
        call(name, (args[0].astype(np.float16),) + args[1:], kwargs)
    got = controls(get_env())
    set_env(restore_env)
    assert got == want
