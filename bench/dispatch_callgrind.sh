#!/usr/bin/env bash
# The server's instructions per completed call, counted by callgrind: a figure that does not move
# with the load of the machine, unlike the CPU time bench/dispatch.sh reports.
#
# Runs bench/dispatch.sh's first measurement (an unlimited batch of answered contacts, against
# the carrier simulator in its own process, which runs natively and is not counted) twice, with
# the server under `valgrind --tool=callgrind --dump-instr=no`: once with SMALL contacts and once
# with LARGE. The instructions per call are (total(LARGE) - total(SMALL)) / (LARGE - SMALL), which
# leaves out the start, the upload's fixed part and the shutdown. The profiles stay in the output
# directory for callgrind_annotate (`--inclusive=yes`).
#
# Environment:
#   BATCHCALLD_BIN  the binary to count (default: the Release build bench/dispatch.sh makes)
#   BENCH_SMALL     contacts of the first run (default 300)
#   BENCH_LARGE     contacts of the second run (default 3000)
#   BENCH_OUT       where the profiles and logs go (default bench/out/callgrind)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
small=${BENCH_SMALL:-300}
large=${BENCH_LARGE:-3000}
out=${BENCH_OUT:-$root/bench/out/callgrind}
bench_name="dispatch_callgrind"
tmp=$(mktemp -d /tmp/batchcalld-bench-callgrind.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require valgrind
for v in small large; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
((large > small)) || die "BENCH_LARGE ($large) must be more than BENCH_SMALL ($small)"
bench_binary "$root"
mkdir -p "$out"

# dispatch.sh runs this in place of the binary: `serve` under callgrind, everything else as is.
cat >"$tmp/wrap.sh" <<'EOF'
#!/usr/bin/env bash
if [ "$1" = serve ]; then
  exec valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$CG_OUT" "$REAL_BIN" "$@"
fi
exec "$REAL_BIN" "$@"
EOF
chmod +x "$tmp/wrap.sh"

# count N: the server's instructions over a run with N contacts.
count() {
  local n=$1 file="$out/callgrind.$1.out"
  rm -f "$file"
  REAL_BIN=$bin CG_OUT=$file BATCHCALLD_BIN=$tmp/wrap.sh BENCH_ROWS=$n BENCH_UNLIMITED_ONLY=1 \
    BENCH_TIMEOUT=${BENCH_TIMEOUT:-600} bash "$root/bench/dispatch.sh" >"$out/dispatch.$n.log" 2>&1 ||
    { tail -n 20 "$out/dispatch.$n.log" >&2; die "bench/dispatch.sh failed with $n contacts"; }
  # The server writes its profile as it exits, after dispatch.sh has stopped it.
  for _ in $(seq 50); do
    grep -q '^summary:' "$file" 2>/dev/null && break
    sleep 0.2
  done
  awk '/^summary:/ { print $2 }' "$file"
}

echo "counting $bin with $small and $large contacts (a few minutes) ..."
a=$(count "$small")
b=$(count "$large")
if [ -z "$a" ] || [ -z "$b" ]; then die "no callgrind summary in $out"; fi
echo "instructions: $a with $small contacts, $b with $large"
echo "instructions per completed call: $(((b - a) / (large - small)))"
echo "profiles: $out/callgrind.$small.out, $out/callgrind.$large.out"
