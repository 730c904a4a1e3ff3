#!/usr/bin/env bash
# Storage benchmark: what a contact costs in LMDB, against the CSV's own bytes. Uploads two files,
# each to a fresh server (scheduled for 2099, so that no call changes a job while it is measured),
# and reads the pages every table holds with mdb_stat (lmdb-utils):
#   1. the ingest benchmark's file: bench/gen_contacts.py --rows 260000 --seed 1 (19.7 MB, six
#      columns, about 10% quoted fields);
#   2. BENCH_PHONES (default 1,000,000) distinct valid North American numbers, one column, 13 bytes
#      a row.
# Bytes per contact = (pages used - free pages) x page size / contacts, from mdb_stat -ef: every
# page a tree holds (meta pages, the freelist and the sub-databases of duplicate keys included;
# mdb_stat -a leaves those last out); the target is at most the CSV's bytes per row plus 64.
#
# Loopback only, stops by itself, exits non-zero when anything fails. A missed target is reported
# as MISS and is not a failure.
# Environment:
#   BATCHCALLD_BIN   use this binary instead of building bench/out/build/batchcalld (Release)
#   BENCH_ROWS       rows of the first file (default 260000)
#   BENCH_PHONES     rows of the second file (default 1000000)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=${BENCH_ROWS:-260000}
phones=${BENCH_PHONES:-1000000}

bench_name="storage"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require curl mdb_stat
[[ $rows =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROWS must be a positive integer, got '$rows'"
[[ $phones =~ ^[1-9][0-9]*$ ]] || die "BENCH_PHONES must be a positive integer, got '$phones'"

tmp=$(mktemp -d /tmp/batchcalld-bench-storage.XXXXXX)
server_pid=

cleanup() {
  stop_pids "$server_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_binary "$root"

"$python" "$root/bench/gen_contacts.py" --rows "$rows" --seed 1 >"$tmp/contacts.csv" ||
  die "gen_contacts.py failed"
"$python" - "$phones" >"$tmp/phones.csv" <<'EOF'
import random, sys
n = int(sys.argv[1])
random.seed(7)
seen = set()
out = ["phone_number"]
while len(seen) < n:
    x = "+1415%d%06d" % (random.randint(2, 9), random.randint(0, 999999))
    if x not in seen:
        seen.add(x)
        out.append(x)
sys.stdout.write("\n".join(out) + "\n")
EOF

# Uploads $1 to a fresh server and prints "contacts pages page_size" once the 201 is in; stops
# the server.
measure() {
  local file=$1 data
  data="$tmp/data-$(basename "$1" .csv)"
  mkdir "$data"
  local port
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" --log-level warn \
    >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break
    sleep 0.1
  done
  "$bin" admin workspace create --name bench --requests-per-minute 100000000 \
    --max-records 100000000 --data-dir "$data" >"$tmp/ws.json" || die "admin workspace create failed"
  local auth=(-H "x-api-key: $(json_field "$tmp/ws.json" apiKey)"
    -H "x-workspace-id: $(json_field "$tmp/ws.json" workspaceId)")
  curl -fsS -o "$tmp/agent.json" "${auth[@]}" -H 'content-type: application/json' \
    -X POST "http://127.0.0.1:$port/v1/api/agents" \
    -d '{"name":"Bench agent","prompt":"Hello {first_name}.","fromNumber":"+14155550100"}' ||
    die "POST /v1/api/agents failed"
  local status
  status=$(curl -sS -o "$tmp/upload.json" -w '%{http_code}' "${auth[@]}" -H 'Expect:' \
    -F "agentId=$(json_field "$tmp/agent.json" id)" -F scheduledAt=2099-01-01T00:00:00Z \
    -F "file=@$file;type=text/csv" "http://127.0.0.1:$port/v1/api/batch-calls")
  [ "$status" = 201 ] || { cat "$tmp/upload.json" >&2; die "upload answered $status, want 201"; }
  local contacts
  contacts=$(json_field "$tmp/upload.json" totalCalls)
  mdb_stat -ef "$data" | awk -v c="$contacts" '
    /Page size:/ { ps = $3 }
    /Number of pages used:/ { used = $5 }
    /Free pages:/ { free = $3 }
    END { print c, used - free, (ps ? ps : 4096) }'
  stop_pids "$server_pid"
  server_pid=
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-40s | %10s | %10s | %13s | %13s | %-7s |\n' file contacts "CSV B/row" "stored B/row" \
  "target B/row" verdict
printf '|%s|%s|%s|%s|%s|%s|\n' ------------------------------------------ ------------ \
  ------------ --------------- --------------- ---------
for f in contacts phones; do
  file="$tmp/$f.csv"
  measure "$file" >"$tmp/measured" # not in a subshell: cleanup must know the server's pid
  read -r contacts pages page_size <"$tmp/measured"
  bytes=$(stat -c %s "$file")
  header=$(head -n 1 "$file" | wc -c)
  awk -v f="$(basename "$file") ($bytes bytes)" -v c="$contacts" -v p="$pages" -v ps="$page_size" \
    -v b="$bytes" -v h="$header" 'BEGIN {
      csv = (b - h) / c; stored = p * ps / c; target = csv + 64
      printf "| %-40s | %10d | %10.1f | %13.1f | %13.1f | %-7s |\n", f, c, csv, stored, target,
        stored <= target ? "PASS" : "MISS"
    }'
done
