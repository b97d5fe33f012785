#!/usr/bin/env bash
# The C++ core on its own (issue 9), called by .ci/run: configure with plain CMake (no
# Python, no pybind11), build fastinit::core and cpp/examples, run them with CTest, install
# the package, then build the examples again as a separate project that only sees the
# installed headers, library and CMake config (find_package(fastinit)).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
jobs=$(nproc 2>/dev/null || echo 2)
# Build output goes to a log, shown when a step fails (GCC 12's AVX-512 headers trigger
# pages of false -Wmaybe-uninitialized notes under -Wall -Wextra).
quiet() {
  "$@" > "$work/step.log" 2>&1 || { cat "$work/step.log" >&2; echo "failed: $*" >&2; return 1; }
}

echo "== cpp: configure, build, ctest (in-tree fastinit::core)"
quiet cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$work/prefix"
quiet cmake --build "$work/build" --parallel "$jobs"
ctest --test-dir "$work/build" --output-on-failure

echo "== cpp: install, then a consumer project against the installed package"
quiet cmake --install "$work/build"
find "$work/prefix" -type f | sed "s|$work/prefix/|  installed: |" | sort
quiet cmake -S cpp/examples -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix"
quiet cmake --build "$work/consumer" --parallel "$jobs"
ctest --test-dir "$work/consumer" --output-on-failure
echo "C++ core passed in $((SECONDS - start)) s"
