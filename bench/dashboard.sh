#!/usr/bin/env bash
# The dashboard in Chromium (DevTools protocol, through playwright-core): first paint of the
# batches page and of a 1,000,000-call batch's detail page, a calls page, the JS heap while the
# page watches a batch dialling 1,000 calls/s for 2 minutes, and the server's status p99 with 50
# dashboards open against none. One run; stops by itself. bench/README.md ("dashboard.sh")
# explains each step. Needs `bash deps/install.sh --test` (chromium, playwright-core).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=dashboard
tmp=$(mktemp -d /tmp/bench-dashboard.XXXXXX)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require node
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || die "chromium not found at $chromium (run bash deps/install.sh --test)"
[ -d "$root/test/browser/node_modules/playwright-core" ] ||
  die "playwright-core not installed in test/browser (run bash deps/install.sh --test)"
bench_binary "$root"

server_pid=""
cleanup() {
  stop_pids "$server_pid"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

port=$(free_port)

"$bin" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" --log-level warn --provider sim \
  --sim-speed "${BENCH_SIM_SPEED:-100}" --provider-cps 0 --max-connections 4096 \
  --max-streams-per-workspace 256 >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$tmp/server.err" >&2; die "server did not start"; }
"$bin" admin workspace create --data-dir "$tmp/data" --name bench --calls-per-second 1000 \
  --max-concurrent-calls 100000 --requests-per-minute 1000000000 --max-records 2000000 \
  >"$tmp/ws.json"
ws=$(json_field "$tmp/ws.json" workspaceId)
key=$(json_field "$tmp/ws.json" apiKey)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
BASE="http://127.0.0.1:$port" WS="$ws" KEY="$key" SERVER_PID="$server_pid" TMP="$tmp" \
  CHROMIUM="$chromium" PYTHON="$python" PRIO_PROBE="${prio_probe[*]}" \
  node "$root/bench/dashboard.mjs"
