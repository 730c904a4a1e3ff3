#!/usr/bin/env bash
# The dial rate with compliance on against off, side by side in one run: bench/dispatch.sh's
# unlimited batch (BENCH_UNLIMITED_ONLY=1) alternately with BENCH_COMPLIANCE=off and on,
# BENCH_RUNS times each (default 3), BENCH_ROWS contacts each (default 20000). "on" checks every
# call against the calling window, the state rules, the frequency cap (recording each attempt)
# and the do-not-call lists, with the server's clock at noon in the contacts' zone so that every
# call is allowed; "off" opts the workspace out. Target: on >= 0.95 x off (steady dials/s).
# Loopback only, stops by itself; a missed target is reported as MISS, not a failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${BENCH_RUNS:-3}
export BENCH_ROWS=${BENCH_ROWS:-20000} BENCH_UNLIMITED_ONLY=1
bench_name="compliance_dial"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got '$runs'"

tmp=$(mktemp -d /tmp/batchcalld-bench-compliance-dial.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for i in $(seq "$runs"); do
  for mode in off on; do
    BENCH_COMPLIANCE=$mode bash "$root/bench/dispatch.sh" >"$tmp/$mode-$i.out" 2>&1 ||
      { cat "$tmp/$mode-$i.out" >&2; die "bench/dispatch.sh ($mode) failed"; }
    rate=$(sed -n 's/.*steady \([0-9.]*\)\/s.*/\1/p' "$tmp/$mode-$i.out" | head -1)
    cpu=$(sed -n 's/.*CPU per call, 201 to complete: server \([0-9.]*\) us.*/\1/p' "$tmp/$mode-$i.out" | head -1)
    [ -n "$rate" ] || { cat "$tmp/$mode-$i.out" >&2; die "no dial rate in the $mode run"; }
    echo "$rate" >>"$tmp/$mode.rates"
    echo "${cpu:-0}" >>"$tmp/$mode.cpu"
    echo "  run $i, compliance $mode: $rate dials/s, server ${cpu:-?} us CPU per call"
  done
done
off=$(median <"$tmp/off.rates")
on=$(median <"$tmp/on.rates")
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.95) ? "ok" : "MISS" }')
echo "bench/compliance_dial: $BENCH_ROWS contacts, $runs runs each, medians"
printf '  %-34s %10s dials/s, server %s us CPU per call\n' "compliance off" "$off" "$(median <"$tmp/off.cpu")"
printf '  %-34s %10s dials/s, server %s us CPU per call\n' "compliance on" "$on" "$(median <"$tmp/on.cpu")"
printf '  %-34s %10s  target >= 0.95  %s\n' "on / off" "$ratio" "$verdict"
