#!/usr/bin/env bash
# Fuzzing benchmark: runs every libFuzzer harness of test/fuzz for BENCH_FUZZ_RUNS executions
# (default 10,000,000) or BENCH_FUZZ_TIME seconds (default 900), whichever comes first, one
# harness after the other, and reports per harness: executions, executions per second, coverage
# (libFuzzer's cov: edges and ft: features), corpus size, and crashes. A crash does not stop the
# others; the script exits non-zero when any harness crashed. The corpus grows in
# bench/out/fuzz/corpus/NAME (kept between runs: a second run starts where the first ended), crash
# inputs go to bench/out/fuzz/artifacts/NAME/.
# Environment:
#   BENCH_FUZZ_RUNS   executions per harness (default 10000000)
#   BENCH_FUZZ_TIME   seconds per harness at most (default 900)
#   BENCH_FUZZ_JOBS   parallel libFuzzer workers per harness (default 1; -fork mode when above 1)
#   BENCH_FUZZ_ONLY   space-separated harness names (default: all of test/fuzz/fuzz_*.c)
# Needs clang-14 and libclang-rt-14-dev (bash deps/install.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name=fuzz
runs=${BENCH_FUZZ_RUNS:-10000000}
secs=${BENCH_FUZZ_TIME:-900}
jobs=${BENCH_FUZZ_JOBS:-1}
out=bench/out/fuzz
bash test/fuzz/build.sh "$out/build" >/dev/null
names=()
if [ -n "${BENCH_FUZZ_ONLY:-}" ]; then
  read -r -a names <<<"$BENCH_FUZZ_ONLY"
else
  for f in test/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "bench/fuzz: ${#names[@]} harnesses, up to $runs executions or ${secs}s each, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %12s %9s %8s %8s %7s %8s %s\n' harness executions exec/s cov ft corpus seconds crashes
crashed=0
for name in "${names[@]}"; do
  short=${name#fuzz_}
  work=$out/corpus/$short
  art=$out/artifacts/$name
  log=$out/$name.log
  mkdir -p "$work" "$art"
  extra=()
  [ "$jobs" -gt 1 ] && extra=(-fork="$jobs" -ignore_crashes=1)
  start=$(date +%s)
  rc=0
  "$out/build/test/fuzz/$name" -runs="$runs" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 -artifact_prefix="$art/" \
    "${extra[@]}" "$work" "test/fuzz/corpus/$short" >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  rate=$(grep -oE '^stat::average_exec_per_sec: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  [ -z "$execs" ] && execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  [ -z "$rate" ] && rate=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$last")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corpus=$(find "$work" -type f | wc -l)
  crashes=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    crashed=1
    crashes="$crashes (exit $rc; see $log)"
  fi
  printf '%-16s %12s %9s %8s %8s %7s %8s %s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
    "${ft:-?}" "$corpus" "$elapsed" "$crashes"
done
[ "$crashed" -eq 0 ] || { echo "bench/fuzz: crashes found (inputs in $out/artifacts/)" >&2; exit 1; }
