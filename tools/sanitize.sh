#!/usr/bin/env bash
# Build the whole extension with AddressSanitizer + UndefinedBehaviorSanitizer and run the test
# suite against that build, in one command:
#
#     tools/sanitize.sh                 # the CI subset (every test file but the slow PyTorch checks)
#     tools/sanitize.sh tests/test_x.py -k foo   # any pytest arguments instead of the default
#
# The build happens in a copy of the source tree (the files git knows, committed or not) under
# $CNNFAST_SANITIZE_DIR (default build/sanitize), so the normal in-place build is never touched.
# It uses the `python` on PATH (or $PYTHON) and needs numpy, Cython, setuptools, pytest and
# hypothesis there; Cython and setuptools are installed with pip if missing (CI's venv builds
# cnnfast in an isolated environment and lacks them).
#
# Run-time settings:
#   LD_PRELOAD=libasan        Python itself is not instrumented, so the ASan runtime must load first
#   ASAN_OPTIONS=detect_leaks=0   CPython keeps objects alive at exit; leak reports would be noise
#     allocator_may_return_null=1  an impossible allocation (the fuzz test's 2^44-element outputs)
#                                  is a MemoryError, as without ASan, not an abort
#   UBSAN_OPTIONS=halt_on_error=1 (and the build's -fno-sanitize-recover=undefined): UB is fatal
# PyTorch is hidden from the run (tests skip its comparisons): those tests check the NumPy reference,
# not the C code, and PyTorch under ASan is slow.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python}"
WORK="${CNNFAST_SANITIZE_DIR:-$ROOT/build/sanitize}"
SRC="$WORK/src"

LIBASAN="$(gcc -print-file-name=libasan.so)"
if [ ! -e "$LIBASAN" ]; then
    echo "sanitize.sh: gcc has no libasan.so ($LIBASAN); install gcc's libasan" >&2
    exit 2
fi

"$PYTHON" -c "import Cython, setuptools" 2>/dev/null \
    || "$PYTHON" -m pip install --quiet "Cython>=3" "setuptools>=77"

# A fresh copy of the sources: tracked files and untracked ones that git does not ignore.
rm -rf "$SRC"
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | tar --null -T - --ignore-failed-read -cf -) | tar -C "$SRC" -xf -
else
    (cd "$ROOT" && tar --exclude=./build --exclude='*.so' --exclude=./cnnfast/_core.c -cf - .) \
        | tar -C "$SRC" -xf -
fi

echo "sanitize.sh: building with CNNFAST_SANITIZE=1 in $SRC"
(cd "$SRC" && CNNFAST_SANITIZE=1 "$PYTHON" setup.py -q build_ext --inplace >build.log 2>&1) || {
    cat "$SRC/build.log" >&2
    exit 1
}

# A stand-in `torch` that fails to import: pytest.importorskip("torch") then skips cleanly.
mkdir -p "$WORK/no_torch"
echo 'raise ModuleNotFoundError("torch is hidden in the sanitizer run (tools/sanitize.sh)")' >"$WORK/no_torch/torch.py"

if [ "$#" -eq 0 ]; then
    set -- -q -p no:cacheprovider tests
fi

cd "$SRC"
export LD_PRELOAD="$LIBASAN${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export PYTHONPATH="$WORK/no_torch"
# The sanitized build must be the one under test, not an installed cnnfast.
"$PYTHON" -c "import cnnfast, sys; f = cnnfast._core.__file__; print('sanitize.sh: testing', f); \
sys.exit(0 if f.startswith('$SRC/') else 'sanitize.sh: imported ' + f + ', not the sanitized build')"
exec "$PYTHON" -m pytest "$@"
