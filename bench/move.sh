#!/usr/bin/env bash
# Moving a workspace (docs/fleet.md): export, import and drop of a workspace of MOVE_CALLS calls
# (default 100,000), all dialled and ended (answered by the simulator, so every call has its
# provider call id, usage and final-sequence entries), against LMDB's own dump and load of the
# same data directory (mdb_dump -a / mdb_load: every key, no application logic).
#
# Usage: bench/move.sh            (MOVE_CALLS=100000 MOVE_ROUNDS=3)
set -euo pipefail
bench_name=move
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/batchcalld-bench-move.XXXXXX)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require mdb_dump mdb_load curl
calls=${MOVE_CALLS:-100000}
rounds=${MOVE_ROUNDS:-3}
server_pid=
cleanup() {
  stop_pids "$server_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
bench_binary "$root"

port=$(free_port)
src="$tmp/src"
mkdir -p "$src"
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$src" --log-level warn --sim-speed 1000 \
  --provider-cps 0 --max-in-flight 1024 >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
"$bin" admin workspace create --data-dir "$src" --name bench --calls-per-second 100000 \
  --max-concurrent-calls 5000 --requests-per-minute 1000000 --max-records 1000000 >"$tmp/ws.json"
ws=$(json_field "$tmp/ws.json" workspaceId)
key=$(json_field "$tmp/ws.json" apiKey)
auth=(-H "x-api-key: $key" -H "x-workspace-id: $ws")
curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"name":"bench","prompt":"Hello {first_name}","fromNumber":"+14155552671"}' \
  "http://127.0.0.1:$port/v1/api/agents" >"$tmp/agent.json"
agent=$(json_field "$tmp/agent.json" id)
# Answered numbers only (the simulator answers lines ending 10..99): every call ends completed.
"$python" - "$calls" >"$tmp/contacts.csv" <<'EOF'
import sys
n, line = int(sys.argv[1]), 0
print("phone_number,first_name")
while n:
    if line % 100 >= 10:
        print(f"+1{2125550000 + line},N{line}")
        n -= 1
    line += 1
EOF
curl -sf "${auth[@]}" -F "agentId=$agent" -F "file=@$tmp/contacts.csv" \
  "http://127.0.0.1:$port/v1/api/batch-calls" >"$tmp/batch.json"
batch=$(json_field "$tmp/batch.json" batchId)
echo "dialling $calls calls through the simulator ..."
t0=$(now_ns)
while :; do
  curl -sf "${auth[@]}" "http://127.0.0.1:$port/v1/api/batch-calls/$batch/status" >"$tmp/st.json"
  [ "$(json_field "$tmp/st.json" status)" = completed ] && break
  [ $(( ($(now_ns) - t0) / 1000000000 )) -lt 900 ] || die "the batch did not complete in 900 s"
  sleep 1
done
stop_pids "$server_pid"
server_pid=
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

secs() { "$python" -c "print(f'{($2 - $1) / 1e9:.2f}')" "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
exp=() imp=() drp=() dmp=() lod=()
for r in $(seq "$rounds"); do
  rm -rf "$tmp/dst" "$tmp/load" "$tmp/ws.bcx" "$tmp/dump.txt"
  mkdir -p "$tmp/dst" "$tmp/load"
  a=$(now_ns); "$bin" admin workspace export --data-dir "$src" --workspace "$ws" \
    --out "$tmp/ws.bcx" >"$tmp/export.json"; b=$(now_ns); exp+=("$(secs "$a" "$b")")
  a=$(now_ns); "$bin" admin workspace import --data-dir "$tmp/dst" --in "$tmp/ws.bcx" \
    >"$tmp/import.json"; b=$(now_ns); imp+=("$(secs "$a" "$b")")
  "$bin" admin workspace freeze --data-dir "$tmp/dst" --workspace "$ws" >/dev/null
  a=$(now_ns); "$bin" admin workspace drop --data-dir "$tmp/dst" --workspace "$ws" \
    >"$tmp/drop.json"; b=$(now_ns); drp+=("$(secs "$a" "$b")")
  a=$(now_ns); mdb_dump -a -f "$tmp/dump.txt" "$src"; b=$(now_ns); dmp+=("$(secs "$a" "$b")")
  a=$(now_ns); mdb_load -f "$tmp/dump.txt" "$tmp/load" 2>"$tmp/load.log"; b=$(now_ns); lod+=("$(secs "$a" "$b")")
  echo "round $r: export ${exp[-1]} s, import ${imp[-1]} s, drop ${drp[-1]} s;" \
    "mdb_dump ${dmp[-1]} s, mdb_load ${lod[-1]} s"
done
records=$(json_field "$tmp/export.json" records)
size=$(stat -c %s "$tmp/ws.bcx")
dsize=$(stat -c %s "$tmp/dump.txt")
echo "workspace of $calls calls: $records records, export file $size bytes" \
  "($(( size / calls )) bytes per call); mdb_dump text $dsize bytes"
echo "median of $rounds: export $(median "${exp[@]}") s, import $(median "${imp[@]}") s," \
  "drop $(median "${drp[@]}") s | mdb_dump $(median "${dmp[@]}") s, mdb_load $(median "${lod[@]}") s"
