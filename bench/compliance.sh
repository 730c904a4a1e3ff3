#!/usr/bin/env bash
# Compliance benchmark, first part: calling-window decisions (src/policy/). Builds
# bench/policybench.c against the policy sources and runs it on BENCH_NUMBERS generated numbers
# (default 1,000,000: every US area code, split prefixes included, and a few countries): the
# zone + window decisions per second (target >= 5,000,000/s), and our TZif reader against glibc's
# localtime_r with setenv("TZ")/tzset per number (both must agree on every number).
#
# Rates are per second of the benchmark thread's CPU time (other work on a shared machine would
# otherwise count), the decision rate by the wall clock too.
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
  "$root"/src/policy/{tz,zones,zones_data,window,decide}.c "$root/src/util/err.c" -lcjson -lpthread \
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
