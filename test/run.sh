#!/usr/bin/env bash
# Builds batchcalld twice -- optimised, and with AddressSanitizer + UndefinedBehaviorSanitizer --
# and runs the whole CTest suite (C unit tests and Python integration tests) against each; then
# builds the libFuzzer harnesses (clang-14) and runs each for 20 s on its corpus (test/fuzz).
# Usage: bash test/run.sh   (after bash deps/install.sh; the README's test command runs both)
# It installs the test-only packages itself (bash deps/install.sh --test).
# BATCHCALLD_FUZZ_SECONDS: seconds per harness (default 20; 0 skips fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${BATCHCALLD_FUZZ_SECONDS:-20}

bash deps/install.sh --test

run_suite() {
  local dir=$1; shift
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs"
}

echo "== format check"
if command -v clang-format >/dev/null; then
  unformatted=$(find src test -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run -Werror 2>&1 | grep -c 'error:' || true)
  if [ "$unformatted" != "0" ]; then
    find src test -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run -Werror
    echo "clang-format: fix the files above (clang-format -i FILE)" >&2
    exit 1
  fi
fi

run_suite build/release -DCMAKE_BUILD_TYPE=Release
# detect_leaks: the integration harness checks the server's exit code, so a leak fails a test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build/sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATCHCALLD_SANITIZE=ON
if [ "$fuzz_seconds" != "0" ]; then
  echo "== fuzz build/fuzz (clang-14, ${fuzz_seconds}s per harness)"
  bash test/fuzz/build.sh build/fuzz
  FUZZ_BUILD=build/fuzz bash test/fuzz/run.sh "$fuzz_seconds"
fi
echo "== all suites passed"
