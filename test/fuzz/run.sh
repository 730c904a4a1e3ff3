#!/usr/bin/env bash
# Runs every harness of test/fuzz (built by build.sh) on its seed corpus for SECONDS each, and
# fails on the first crash (a sanitizer report, a broken property, a leak or a timeout).
# Usage: bash test/fuzz/run.sh [SECONDS=20] [HARNESS...]   (after bash test/fuzz/build.sh)
# New inputs found go to build/fuzz/corpus/NAME (the committed seeds are only read); a crash is
# saved as build/fuzz/artifacts/NAME/crash-* and replays with: build/fuzz/test/fuzz/NAME FILE.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
shift || true
dir=${FUZZ_BUILD:-build/fuzz}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in test/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for name in "${names[@]}"; do
  bin=$dir/test/fuzz/$name
  seeds=test/fuzz/corpus/${name#fuzz_}
  work=$dir/corpus/${name#fuzz_}
  art=$dir/artifacts/$name
  mkdir -p "$work" "$art"
  echo "== fuzz $name ${secs}s"
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" >"$art/log" 2>&1; then
    tail -n 60 "$art/log"
    failed+=("$name")
    continue
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' "$art/log" | tr '\n' ' '
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in $dir/artifacts/)" >&2
  exit 1
fi
echo "== fuzz: ${#names[@]} harnesses, no crash"
