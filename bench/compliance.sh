#!/usr/bin/env bash
# Compliance benchmark, first part: calling-window decisions (src/policy/). Builds
# bench/policybench.c against the policy sources and runs it on BENCH_NUMBERS generated numbers
# (default 1,000,000: every US area code, split prefixes included, and a few countries): the
# zone + window decisions per second (target >= 5,000,000/s), and our TZif reader against glibc's
# localtime_r with setenv("TZ")/tzset per number (both must agree on every number).
#
# Rates are per second of the benchmark thread's CPU time (other work on a shared machine would
# otherwise count), the decision rate by the wall clock too.
# Second part, the do-not-call lists (src/policy/suppress.c, registry.c), with bench/suppressbench.c
# linked against the Release build's library (BATCHCALLD_BUILD: an existing build directory,
# else bench/out/build is built): BENCH_REGISTRY_NUMBERS (default 10,000,000) distinct random
# +1 numbers, sorted as the FTC's files are, imported into a fresh store as `batchcalld admin
# registry import` does (target: at most 3 times the LMDB append floor for the same numbers, one
# key per number appended in one transaction; RSS growth at most 32 MB), then suppression lookups
# against it with a workspace list of 1,000 numbers and 10 area codes (target >= 5,000,000/s):
# suppress_check as the dispatcher calls it, and suppress_cache_check as an upload's rows are.
# BENCH_SKIP_REGISTRY=1 skips the second part.
# No server, no network; stops by itself, exits non-zero when anything fails. A missed target
# is reported as MISS and is not a failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
numbers=${BENCH_NUMBERS:-1000000}
target=5000000

bench_name="compliance"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require gcc
[[ $numbers =~ ^[1-9][0-9]*$ ]] || die "BENCH_NUMBERS must be a positive integer, got '$numbers'"

tmp=$(mktemp -d /tmp/batchcalld-bench-compliance.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$root/src" "$root/bench/policybench.c" \
  "$root"/src/policy/{tz,zones,zones_data,zones_trie,window,decide}.c "$root/src/util/err.c" \
  -lcjson -lpthread \
  -o "$tmp/policybench" ||
  die "cannot build bench/policybench.c (is libcjson-dev installed?)"

"$tmp/policybench" "$numbers" >"$tmp/out" 2>/dev/null || {
  cat "$tmp/out" >&2
  die "policybench failed (TZif and localtime_r disagree?)"
}
val() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/out"; }

rate=$(val decisions_per_s)
verdict=MISS
[ "$rate" -ge "$target" ] && verdict=ok
echo "bench/compliance: calling windows (src/policy/), $(val numbers) numbers, $(val zones) zones in $(val zone_sets) sets"
printf '  %-44s %14s/s  target >= %s/s  %s\n' "zone + window decisions (CPU time)" "$rate" "$target" "$verdict"
printf '  %-44s %14s/s  (the machine is shared: see bench/README.md)\n' "zone + window decisions (wall clock)" "$(val decisions_per_wall_s)"
printf '  %-44s %14s/s\n' "dispatcher decision (decide_open_at), now" "$(val decide_per_s)"
printf '  %-44s %14s/s\n' "dispatcher decision, 09:00 UTC (most shut)" "$(val decide_night_per_s)"
printf '  %-44s %14s/s\n' "window_next_open (federal, random hours)" "$(val next_open_per_s)"
printf '  %-44s %14s/s\n' "offset, TZif reader (cached period)" "$(val tzif_offsets_per_s)"
printf '  %-44s %14s/s\n' "offset, TZif reader (a random hour each time)" "$(val tzif_uncached_offsets_per_s)"
printf '  %-44s %14s/s\n' "offset, localtime_r + setenv(TZ)/tzset" "$(val localtime_r_offsets_per_s)"
printf '  %-44s %14s\n' "TZif vs localtime_r: numbers compared" "$(val localtime_r_compared)"
printf '  %-44s %14s\n' "TZif vs localtime_r: mismatches" "$(val localtime_r_mismatches)"
printf '  %-44s %14s\n' "allowed at the time of the run" "$(val allowed_now)"
printf '  %-44s %14s\n' "numbers without zone" "$(val no_zone)"

[ "${BENCH_SKIP_REGISTRY:-0}" = 1 ] && exit 0

# ---- the do-not-call lists ----
reg_numbers=${BENCH_REGISTRY_NUMBERS:-10000000}
[[ $reg_numbers =~ ^[1-9][0-9]*$ ]] ||
  die "BENCH_REGISTRY_NUMBERS must be a positive integer, got '$reg_numbers'"
build=${BATCHCALLD_BUILD:-}
if [ -z "$build" ]; then
  build="$root/bench/out/build"
  echo "building the Release library in $build ..."
  if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 ||
    ! cmake --build "$build" --target bc_core llhttp -j"$(nproc)" >>"$tmp/cmake.log" 2>&1; then
    tail -n 30 "$tmp/cmake.log" >&2
    die "build failed"
  fi
fi
[ -f "$build/libbc_core.a" ] || die "no libbc_core.a in $build"
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$root/src" "$root/bench/suppressbench.c" \
  "$build/libbc_core.a" "$build/libllhttp.a" -luv -lcurl -lcjson -llmdb -lcrypto -lm \
  -o "$tmp/suppressbench" || die "cannot build bench/suppressbench.c"
sb="$tmp/suppressbench"
"$sb" gen "$tmp/registry.txt" "$reg_numbers" || die "cannot write the registry file"
mkdir -p "$tmp/import" "$tmp/floor"
"$sb" import "$tmp/import" "$tmp/registry.txt" >"$tmp/sb.out" || die "the registry import failed"
"$sb" floor "$tmp/floor" "$tmp/registry.txt" >>"$tmp/sb.out" || die "the append floor failed"
"$sb" lookup "$tmp/import" "$tmp/registry.txt" 5000000 >>"$tmp/sb.out" || die "lookups failed"
sval() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/sb.out"; }
import_s=$(sval import_s)
floor_s=$(sval floor_s)
ratio=$(awk -v a="$import_s" -v b="$floor_s" 'BEGIN { printf "%.2f", a / b }')
rss_mb=$(awk -v k="$(sval import_rss_growth_kb)" 'BEGIN { printf "%.1f", k / 1024 }')
verdict() { awk -v v="$1" -v t="$2" -v le="$3" 'BEGIN { ok = le ? v <= t : v >= t; print ok ? "ok" : "MISS" }'; }
echo "bench/compliance: do-not-call lists, $(sval import_numbers) registry numbers"
printf '  %-44s %14s s   (%s numbers, store %s bytes)\n' "registry import (wall clock)" "$import_s" \
  "$(sval import_numbers)" "$(sval import_store_bytes)"
printf '  %-44s %14s s\n' "LMDB append floor, one key per number" "$floor_s"
printf '  %-44s %14s x   target <= 3x  %s\n' "import / floor" "$ratio" "$(verdict "$ratio" 3 1)"
printf '  %-44s %14s MB  target <= 32 MB  %s\n' "import RSS growth" "$rss_mb" "$(verdict "$rss_mb" 32 1)"
plain=$(sval lookups_per_s)
cached=$(sval cached_lookups_per_s)
printf '  %-44s %14s s   (%s slices, whole: %s)\n' "registry copied into memory (wall clock)" \
  "$(sval index_copy_s)" "$(sval index_slices)" "$(sval index_whole)"
printf '  %-44s %14s/s  target >= 5000000/s  %s\n' "suppress_check (CPU time)" "$plain" \
  "$(verdict "$plain" 5000000 0)"
printf '  %-44s %14s/s\n' "suppress_check (wall clock)" "$(sval lookups_per_wall_s)"
printf '  %-44s %14s/s  target >= 5000000/s  %s\n' "suppress_cache_check (CPU time)" "$cached" \
  "$(verdict "$cached" 5000000 0)"
printf '  %-44s %14s/s\n' "suppress_cache_check (wall clock)" "$(sval cached_lookups_per_wall_s)"
printf '  %-44s %14s / %s / %s\n' "hits: registry / workspace / none" \
  "$(sval lookup_registry_hits)" "$(sval lookup_workspace_hits)" "$(sval lookup_misses)"
