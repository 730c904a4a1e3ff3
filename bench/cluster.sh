#!/usr/bin/env bash
# Fleet benchmark: three batchcalld instances behind real nginx and HAProxy on loopback (the
# test/cluster fleet: deploy/fleetconf.py configurations, one carrier-sim as the provider).
# One run, stops by itself, measures:
#   1. authenticated GET (an agent) and status reads (A3) through nginx and HAProxy against the
#      instance directly: requests/s, p50/p99, and the overhead ratio (wrk, alternating rounds);
#   2. dials per second through nginx with 1 and with 3 instances (callbacks through nginx too);
#   3. the time deploy/move-workspace.sh takes to move a workspace with 100,000 calls;
#   4. seconds each instance's workspaces are unavailable in a rolling restart under load.
# Environment:
#   BATCHCALLD_BIN    use this binary instead of building bench/out/build/batchcalld (Release)
#   BENCH_ROUNDS      wrk rounds per path and target, the median is reported (default 3)
#   BENCH_WRK_TIME    duration of one wrk round (default 5s)
#   BENCH_DIALS       calls dialled for the dial rate, split across the instances (default 6000)
#   BENCH_MOVE_CALLS  calls of the moved workspace (default 100000)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=cluster
tmp=$(mktemp -d /tmp/batchcalld-bench-cluster.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require cmake wrk nginx haproxy
bench_binary "$root"
BATCHCALLD_BIN=$bin PYTHONDONTWRITEBYTECODE=1 "$python" "$root/bench/cluster.py"
