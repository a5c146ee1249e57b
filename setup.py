"""Build cnnfast's C core and its Cython wrapper.

Layout of the C code (see csrc/):
  csrc/dispatch/          ISA detection and the CNNFAST_ISA override
  csrc/frame/             ISA-free algorithms (loops, blocking, OpenMP); compiled with -O3 only
  csrc/kernels/generic/   plain-C kernels; compiled with -O3 only; the fallback on every CPU
  csrc/kernels/avx2/      the same kernels for AVX2+FMA;    compiled with -mavx2 -mfma
  csrc/kernels/avx512/    the same kernels for AVX-512;    compiled with -mavx512f/bw/dq/vl -mfma

Only the kernels/<isa>/ folders get ISA flags, and -march=native is never used, so the built
extension runs on any x86-64 CPU and picks its kernels at run time. On other CPUs (aarch64 ...)
only the generic kernels are built.

Environment knobs for developers:
  CNNFAST_DEBUG=1     -O1 -g and the C-side precondition asserts (CF_ASSERT)
  CNNFAST_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer (implies CNNFAST_DEBUG)
  CNNFAST_OPENMP=0    build without OpenMP (serial kernels), as on a compiler that lacks it
"""
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
ISA_FLAGS = {
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma"],
}
DEBUG = os.environ.get("CNNFAST_DEBUG") == "1" or os.environ.get("CNNFAST_SANITIZE") == "1"
SANITIZE = os.environ.get("CNNFAST_SANITIZE") == "1"
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                  "-fno-sanitize-recover=undefined"]


def rel(pattern):
    return sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, pattern), recursive=True))


def base_flags():
    flags = ["-std=gnu11", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function"]
    if DEBUG:
        flags += ["-O1", "-g", "-UNDEBUG", "-DCF_DEBUG=1"]
    else:
        flags += ["-O3", "-DNDEBUG"]
    if SANITIZE:
        flags += SANITIZE_FLAGS
    return flags


def openmp_flag(compiler):
    """Test-compile and link a tiny OpenMP program; return the flag that works, or None."""
    if os.environ.get("CNNFAST_OPENMP") == "0":
        return None
    src = "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel reduction(+:n)\nn+=1;\nreturn n>0?0:1;}\n"
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "omp_test.c")
        with open(path, "w") as f:
            f.write(src)
        for flag in ("-fopenmp",):
            try:
                objs = compiler.compile([path], output_dir=tmp, extra_postargs=[flag])
                compiler.link_executable(objs, "omp_test", output_dir=tmp, extra_postargs=[flag])
                subprocess.check_call([os.path.join(tmp, "omp_test")])
                return flag
            except Exception:
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """Compile each csrc/kernels/<isa>/ folder with its own flags and link everything into _core."""

    def build_extensions(self):
        omp = openmp_flag(self.compiler)
        if omp is None:
            bar = "*" * 78
            sys.stderr.write(f"\n{bar}\n* cnnfast: OpenMP was NOT found: building a SERIAL library.\n"
                             f"* Install a compiler with OpenMP (gcc with libgomp) for multi-core speed.\n{bar}\n\n")
        for ext in self.extensions:
            flags = base_flags()
            link = list(SANITIZE_FLAGS) if SANITIZE else []
            if omp:
                flags.append(omp)
                link.append(omp)
                ext.define_macros.append(("CF_HAVE_OPENMP", "1"))
            if X86:
                ext.define_macros.append(("CF_X86", "1"))
                for isa, isa_flags in ISA_FLAGS.items():
                    srcs = rel(f"csrc/kernels/{isa}/*.c")
                    if not srcs:
                        continue
                    objs = self.compiler.compile(
                        srcs, output_dir=os.path.join(self.build_temp, isa),
                        macros=ext.define_macros, include_dirs=ext.include_dirs,
                        extra_postargs=flags + isa_flags, depends=rel("csrc/**/*.h"))
                    ext.extra_objects.extend(objs)
            ext.extra_compile_args = flags
            ext.extra_link_args = link
        super().build_extensions()


core = Extension(
    "cnnfast._core",
    sources=["cnnfast/_core.pyx"] + rel("csrc/dispatch/*.c") + rel("csrc/frame/*.c")
    + rel("csrc/kernels/generic/*.c"),
    include_dirs=["csrc/include", "csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    depends=rel("csrc/**/*.h") + rel("csrc/kernels/*/*.c") + rel("cnnfast/*.pxi") + rel("cnnfast/*.pxd"),
)

setup(
    ext_modules=cythonize(
        [core],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "initializedcheck": False, "cdivision": True},
    ),
    cmdclass={"build_ext": BuildExt},
)
