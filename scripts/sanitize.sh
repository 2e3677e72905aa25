#!/usr/bin/env bash
# Build the native engine with AddressSanitizer + UndefinedBehaviorSanitizer and
# run the C++ unit tests and the differential test (native vs reference) under it.
# Usage: scripts/sanitize.sh [extra pytest args]     (needs `make test` to have run once)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BUILD=build/sanitize
FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
NB_DIR=$("$PY" -c "import nanobind; print(nanobind.cmake_dir())")

cmake -S . -B "$BUILD" -DSKBUILD=ON -DMAKERKIT_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -Dnanobind_DIR="$NB_DIR" -DPython_EXECUTABLE="$("$PY" -c 'import sys; print(sys.executable)')" >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
echo "== C++ unit tests under ASan/UBSan"
"$BUILD/makerkit_cpp_tests"

# libstdc++ is preloaded too: ASan intercepts __cxa_throw and needs the real one resolvable
# a private copy of the package with the sanitized extension; python -S keeps the
# editable install's import hook out, so this copy is what gets imported
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp -r src/makerkit "$STAGE/makerkit"
cp "$BUILD"/_native*.so "$STAGE/makerkit/"
SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "== differential test under ASan/UBSan"
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
PYTHONPATH="$STAGE:$SITE:$PWD" "$PY" -S -c '
import makerkit._native as n, sys
assert n.__file__.startswith(sys.argv[1]), n.__file__
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "tests/property/test_differential.py",
                      "tests/unit/book", *sys.argv[2:]]))
' "$STAGE" "$@"
echo "sanitizer run clean"
