#!/usr/bin/env bash
# The sanitizer run (issue 9), called by .ci/run: build the extension with AddressSanitizer +
# UndefinedBehaviorSanitizer (CMake option FASTINIT_SANITIZE), load it into an ordinary Python
# with libasan/libubsan preloaded, run the test suite, and fail on any report: an ASan error,
# a UBSan diagnostic, or a leak that is not one of Python's (suppressions: .ci/lsan.supp).
#
# Usage: bash .ci/sanitize.sh [pytest args...]   (default: the suites named below)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

echo "== sanitize: build with -DFASTINIT_SANITIZE=ON (ASan + UBSan) into its own venv"
# SANITIZE_VENV=dir keeps (and reuses) the venv, for running this again locally.
venv=${SANITIZE_VENV:-$work/venv}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
venv_py="$venv/bin/python"
"$venv_py" -m pip install -q --upgrade pip
# Own build directory, so the ordinary build in build/{wheel_tag} is left alone. No torch,
# jax or keras here: their own libraries are not what this run checks (their tests skip).
"$venv_py" -m pip install -q ".[test]" \
  -Cbuild-dir=build/sanitize \
  -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.CMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -Ccmake.define.FASTINIT_SANITIZE=ON

libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)
for lib in "$libasan" "$libubsan"; do
  [ -e "$lib" ] || { echo "sanitizer runtime not found: $lib" >&2; exit 1; }
done
reports="$work/reports"
mkdir -p "$reports"
# Reports go to files (log_path), so that one from a subprocess (fork tests, -c checks)
# cannot hide inside captured output: any file there fails the run. The runtimes are
# preloaded only into the sanitized Python (and the processes it starts), not into cp or tee.
preload="$libasan $libubsan"
export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0:strict_init_order=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$root/.ci/lsan.supp:print_suppressions=0:malloc_context_size=8"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
# Python's small-object allocator would hide the interpreter's allocations from ASan; plain
# malloc lets ASan see every buffer (numpy's array data is plain malloc either way).
export PYTHONMALLOC=malloc

mkdir -p "$work/run"
cp -r tests "$work/run/tests"
cd "$work/run"
LD_PRELOAD="$preload" "$venv_py" -c "import fastinit._core as c, fastinit; print('sanitized _core:', c.__file__, fastinit.simd_level())"
if [ $# -eq 0 ]; then
  # The whole suite except wall-clock latency checks (Ctrl-C within 2.5 s), which ASan's
  # 2-3x slowdown makes meaningless; the ordinary runs keep them.
  set -- tests -q -p no:cacheprovider -k "not ctrl_c"
fi
status=0
# --capture=sys: pytest captures Python's sys.stdout/stderr only, so a sanitizer report
# (written by the C runtime to fd 2) reaches the log even when it kills the process.
LD_PRELOAD="$preload" "$venv_py" -m pytest --capture=sys "$@" 2>&1 | tee "$work/pytest.log" || status=$?
# UBSan writes to stderr whatever its log_path says (ASan's runtime hosts it): look there too.
if grep -E "runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer" "$work/pytest.log" \
    > "$reports/from-output.txt"; then
  :
else
  rm -f "$reports/from-output.txt"
fi
# LeakSanitizer's exit-time tracer sometimes crashes in a short-lived child process
# ("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error"): a limitation of
# LSan (it stops the world with ptrace), not a finding. Such a file, holding no actual report,
# is shown as a warning; every real report still fails the run.
for f in "$reports"/*; do
  [ -e "$f" ] || continue
  if grep -q "LeakSanitizer has encountered a fatal error" "$f" &&
     ! grep -qE "ERROR: (Address|UndefinedBehavior)Sanitizer|detected memory leaks|runtime error:" "$f"; then
    echo "warning: LeakSanitizer's tracer crashed at exit (no report): $f" >&2
    cat "$f" >&2
    rm -f "$f"
  fi
done
if compgen -G "$reports/*" > /dev/null; then
  echo "sanitizer reports:" >&2
  for f in "$reports"/*; do echo "--- $f" >&2; cat "$f" >&2; done
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "the test suite failed under the sanitizers (exit $status)" >&2
  exit "$status"
fi
echo "sanitizer run clean in $((SECONDS - start)) s"
