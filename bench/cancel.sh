#!/usr/bin/env bash
# Cancel benchmark: what a large cancel costs everyone else. A batch of BENCH_ROWS calls,
# scheduled for 2099 so nothing dials, is cancelled; the cancel answers at once and its waiting
# calls are then rewritten in the background, 2,000 per step (src/dispatch/sweep.c). Meanwhile a
# status poller (bench/poller.py, 1 ms apart, real-time priority when run as root) reads a
# 1-call batch of the same workspace. Reports the rewrite's duration and the poller's latency
# during it, beside the same poller's latency in the second before the cancel.
#
# Loopback only, stops by itself. Environment:
#   BATCHCALLD_BIN  use this binary instead of building bench/out/build/batchcalld (Release)
#   BENCH_ROWS      calls of the cancelled batch (default 500000)
#   BENCH_ROUNDS    cancels, each of a fresh batch, the median is reported (default 3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=${BENCH_ROWS:-500000}
rounds=${BENCH_ROUNDS:-3}
later=2099-01-01T00:00:00Z
bench_name="cancel"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require cmake curl taskset
for v in rows rounds; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

tmp=$(mktemp -d /tmp/batchcalld-bench-cancel.XXXXXX)
server_pid=
poller_pid=
cleanup() {
  stop_pids "$poller_pid" "$server_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_binary "$root"

port=$(free_port)
url="http://127.0.0.1:$port"
mkdir "$tmp/data"
# The server on CPU 0, the clients on CPU 1, as in read.sh.
taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" --log-level info \
  --provider-cps 0 >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld exited at start"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$url/readyz" || die "batchcalld not ready after 10 s"
bench_no_compliance
"$bin" admin workspace create --name bench "${no_compliance[@]}" --requests-per-minute 1000000000 \
  --max-records 100000000 --data-dir "$tmp/data" >"$tmp/workspace.json" ||
  die "admin workspace create failed"
workspace=$(json_field "$tmp/workspace.json" workspaceId)
api_key=$(json_field "$tmp/workspace.json" apiKey)
auth=(-H "x-api-key: $api_key" -H "x-workspace-id: $workspace")
curl -sS -o "$tmp/agent.json" "${auth[@]}" -H 'content-type: application/json' \
  -X POST "$url/v1/api/agents" \
  -d '{"name":"Bench agent","prompt":"Hello","fromNumber":"+14155550100"}'
agent=$(json_field "$tmp/agent.json" id)

# Distinct valid numbers: +1 NXX 555 LLLL with area codes from 201 upwards.
"$python" - "$rows" "$tmp/big.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("phone_number\n")
    for i in range(rows):
        f.write("+1%03d555%04d\n" % (201 + i // 10000, i % 10000))
PY
printf 'phone_number\n+14155550123\n' >"$tmp/small.csv"

# upload FILE: prints the new batch's id.
upload() {
  taskset -c 1 curl -sS -o "$tmp/upload.json" "${auth[@]}" -H 'Expect:' -F "agentId=$agent" \
    -F "scheduledAt=$later" -F "file=@$1;type=text/csv" "$url/v1/api/batch-calls"
  json_field "$tmp/upload.json" batchId || die "upload of $1 failed: $(cat "$tmp/upload.json")"
}

small=$(upload "$tmp/small.csv")
taskset -c 1 "${prio_probe[@]}" "$python" "$root/bench/poller.py" "$port" \
  "/v1/api/batch-calls/$small" "$api_key" "$workspace" "$tmp/poll.stop" "$tmp/poll" &
poller_pid=$!
for _ in $(seq 100); do
  [ -e "$tmp/poll.ready" ] && break
  sleep 0.05
done
[ -e "$tmp/poll.ready" ] || die "the status poller did not start"

echo "server $url; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/windows"
for round in $(seq "$rounds"); do
  big=$(upload "$tmp/big.csv")
  sleep 1
  start=$(now_ns)
  status=$(taskset -c 1 curl -sS -o /dev/null -w '%{http_code}' "${auth[@]}" -X DELETE \
    "$url/v1/api/batch-calls/$big")
  [ "$status" = 200 ] || die "DELETE answered $status"
  for _ in $(seq 1200); do
    grep -q "work done\" batch=$big kind=cancel" "$tmp/server.log" && break
    kill -0 "$server_pid" 2>/dev/null || die "batchcalld died during the cancel"
    sleep 0.05
  done
  grep -q "work done\" batch=$big kind=cancel" "$tmp/server.log" ||
    die "the cancel's rewrite did not finish within 60 s"
  end=$(now_ns)
  echo "$start $end" >>"$tmp/windows"
  echo "  round $round: rewrite of $rows calls took $(((end - start) / 1000000)) ms"
done
touch "$tmp/poll.stop"
wait "$poller_pid" || die "the status poller failed"
poller_pid=

"$python" - "$tmp/poll" "$tmp/windows" "$rows" <<'PY'
import statistics, sys
polls = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
windows = [tuple(map(int, line.split())) for line in open(sys.argv[2])]
rows = int(sys.argv[3])

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]

during, before, secs = [], [], []
for start, end in windows:
    during += [ms for t, ms in polls if start <= t <= end]
    before += [ms for t, ms in polls if start - 1e9 <= t < start]
    secs.append((end - start) / 1e9)
print()
print("| metric                                   |          value |")
print("|------------------------------------------|----------------|")
print(f"| rewrite of the waiting calls, median     | {statistics.median(secs):>10.2f} s   |")
print(f"| status GET during the rewrite, p50       | {pct(during, .5):>10.2f} ms  |")
print(f"| status GET during the rewrite, p99       | {pct(during, .99):>10.2f} ms  |")
print(f"| status GET during the rewrite, max       | {max(during):>10.2f} ms  |")
print(f"| status GET in the second before, p99     | {pct(before, .99):>10.2f} ms  |")
print(f"{rows} calls per cancel; polls: {len(during)} during the rewrites, {len(before)} before")
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
