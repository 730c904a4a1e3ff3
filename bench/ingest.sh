#!/usr/bin/env bash
# Ingest benchmark: upload of a ~20 MB contact list (POST /v1/api/batch-calls) and its validation
# (POST /v1/api/batch-calls/validate), against two baselines on the same file:
#   - the floor, bench/mdb_floor.c: split the file on newlines and append every line to LMDB in one
#     durable transaction. No parsing, no validation: no upload of this file can be much faster.
#   - the usual script, Python's csv module inserting every row into SQLite in one transaction.
# Also measured during one upload: the server's peak memory growth, and the latency of a client
# polling another batch's status meanwhile (the event loop must stay responsive). And our CSV
# parser against libcsv (bench/csvbench.c).
#
# Loopback only, stops by itself, exits non-zero when anything fails. A missed target is reported
# as MISS and is not a failure.
# Environment:
#   BATCHCALLD_BIN   use this binary instead of building bench/out/build/batchcalld (Release)
#   BENCH_ROUNDS     repetitions of each timed measurement, the median is reported (default 3)
#   BENCH_ROWS       data rows of the generated file (default 260000, about 19.7 MB)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${BENCH_ROUNDS:-3}
rows=${BENCH_ROWS:-260000}
max_file_bytes=20000000 # the upload limit of file data (src/ingest/ingest.h)

bench_name="ingest"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require cmake curl gcc
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, got '$rounds'"
[[ $rows =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROWS must be a positive integer, got '$rows'"

tmp=$(mktemp -d /tmp/batchcalld-bench-ingest.XXXXXX)
server_pid=
observer_pids=

# Every process this script starts is stopped here, whatever way the script ends.
cleanup() {
  # shellcheck disable=SC2086 # observer_pids is a list
  stop_pids $observer_pids "$server_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# The server, the floor and the Python baseline each get CPU 0; the clients (curl, the status
# poller) CPU 1, so a client never steals the CPU of what it measures.
if [ "$(nproc)" -ge 2 ]; then
  pin_work=(taskset -c 0)
  pin_client=(taskset -c 1)
  pinning="server, floor and Python baseline pinned to CPU 0, clients to CPU 1"
else
  pin_work=()
  pin_client=()
  pinning="not pinned (only one CPU)"
fi



# Median of the numbers in a file, one per line (mean of the middle two for an even count).
median() {
  sort -g "$1" | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# 1. The binaries: the server, the floor and the parser benchmark.
bench_binary "$root"

gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra "$root/bench/mdb_floor.c" -llmdb -o "$tmp/mdb_floor" ||
  die "cannot build bench/mdb_floor.c (is liblmdb-dev installed?)"
gcc -O2 -std=c11 -D_GNU_SOURCE -I"$root/src" "$root/bench/csvbench.c" "$root/src/ingest/csv.c" "$root/src/ingest/csv_scan.c" \
  -lcsv -o "$tmp/csvbench" || die "cannot build bench/csvbench.c (is libcsv-dev installed?)"

# 2. The contact list, and a small one for the batch whose status is polled.
csv="$tmp/contacts.csv"
"$python" "$root/bench/gen_contacts.py" --rows "$rows" --seed 1 >"$csv" || die "gen_contacts.py failed"
csv_bytes=$(stat -c %s "$csv")
((csv_bytes <= max_file_bytes)) ||
  die "contacts.csv is $csv_bytes bytes, over the $max_file_bytes-byte upload limit: lower BENCH_ROWS"
csv_lines=$(($(wc -l <"$csv") - 1))
"$python" "$root/bench/gen_contacts.py" --rows 100 --seed 2 >"$tmp/small.csv"

# 3. The server, a workspace whose rate limit never refuses, an agent, and the other batch.
port=$(free_port)
url="http://127.0.0.1:$port"
mkdir "$tmp/data"
"${pin_work[@]}" "$bin" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" \
  --log-level warn >"$tmp/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 100); do
  curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld exited at start"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$url/readyz" || die "batchcalld not ready after 10 s"


bench_no_compliance
"$bin" admin workspace create --name bench "${no_compliance[@]}" --requests-per-minute 100000000 \
  --data-dir "$tmp/data" >"$tmp/workspace.json" || die "admin workspace create failed"
workspace=$(json_field "$tmp/workspace.json" workspaceId)
api_key=$(json_field "$tmp/workspace.json" apiKey)
auth=(-H "x-api-key: $api_key" -H "x-workspace-id: $workspace")

status=$(curl -sS -o "$tmp/agent.json" -w '%{http_code}' "${auth[@]}" \
  -H 'content-type: application/json' -X POST "$url/v1/api/agents" \
  -d '{"name":"Bench agent","prompt":"Hello {first_name}, this is {company} calling.","fromNumber":"+14155550100"}')
[ "$status" = 201 ] || { cat "$tmp/agent.json" >&2; die "POST /v1/api/agents answered $status, want 201"; }
agent=$(json_field "$tmp/agent.json" id)

# Posts a file as multipart (agentId first, as a client that wants an early 404 would) and leaves
# "HTTP_STATUS SECONDS" on stdout and the body in $3.
post_file() {
  "${pin_client[@]}" curl -sS -o "$3" -w '%{http_code} %{time_total}\n' "${auth[@]}" \
    -H 'Expect:' -F "agentId=$agent" -F "file=@$2;type=text/csv" "$url$1"
}

read -r status _ < <(post_file /v1/api/batch-calls "$tmp/small.csv" "$tmp/small.json")
[ "$status" = 201 ] || { cat "$tmp/small.json" >&2; die "small upload answered $status, want 201"; }
other_batch=$(json_field "$tmp/small.json" batchId)
status_path="/v1/api/batch-calls/$other_batch"
status=$(curl -sS -o "$tmp/other.json" -w '%{http_code}' "${auth[@]}" "$url$status_path")
[ "$status" = 200 ] || { cat "$tmp/other.json" >&2; die "GET $status_path answered $status, want 200"; }

# Checks one big upload's answer: 201 and every row counted. Prints the seconds.
check_upload() {
  local status=$1 secs=$2 body=$3
  [ "$status" = 201 ] || { cat "$body" >&2; die "upload answered $status, want 201"; }
  [ "$(json_field "$body" totalCalls)" = "$rows" ] ||
    { cat "$body" >&2; die "upload counted $(json_field "$body" totalCalls) rows, want $rows"; }
  echo "$secs"
}

echo "file: $csv_bytes bytes, $rows rows ($csv_lines physical lines after the header), 6 columns"
echo "$pinning"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# 4. One upload observed from outside: memory and the responsiveness of the loop. It comes first,
# so that its memory growth is the first big upload's, not one that reuses freed memory.
#
# The sampler reads /proc/PID/status every 10 ms until told to stop. The peak is the largest VmRSS
# seen, or VmHWM when that grew during the upload (it catches a peak between two samples). The
# growth is split into anonymous memory (the heap: what the server allocates) and file pages (the
# part of the LMDB map the server touched, which the kernel can drop at any time).
cat >"$tmp/sampler.py" <<'EOF'
import os, sys, time
pid, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
NAMES = ("VmHWM", "VmRSS", "RssAnon", "RssFile")

def status():
    kb = {}
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in NAMES:
                kb[name] = int(rest.split()[0])
    return kb

first = status()
peak = dict(first)
open(out + ".ready", "w").close()
while True:
    done = os.path.exists(stop)
    for k, v in status().items():
        peak[k] = max(peak[k], v)
    if done:
        break
    time.sleep(0.01)
if peak["VmHWM"] > first["VmHWM"]:
    peak["VmRSS"] = max(peak["VmRSS"], peak["VmHWM"])
with open(out, "w") as f:
    for k in ("VmRSS", "RssAnon", "RssFile"):
        print(k, first[k], peak[k], file=f)
EOF


stop="$tmp/observe.stop"
"${pin_client[@]}" "$python" "$tmp/sampler.py" "$server_pid" "$stop" "$tmp/rss.txt" &
sampler_pid=$!
"${pin_client[@]}" "${prio_probe[@]}" "$python" "$root/bench/poller.py" "$port" "$status_path" "$api_key" "$workspace" "$stop" \
  "$tmp/poll.txt" &
poller_pid=$!
observer_pids="$sampler_pid $poller_pid"
for _ in $(seq 100); do
  [ -e "$tmp/rss.txt.ready" ] && [ -e "$tmp/poll.txt.ready" ] && break
  sleep 0.05
done
if [ ! -e "$tmp/rss.txt.ready" ] || [ ! -e "$tmp/poll.txt.ready" ]; then die "the observers did not start"; fi

upload_start=$(now_ns)
read -r status secs < <(post_file /v1/api/batch-calls "$csv" "$tmp/observed.json")
upload_end=$(now_ns)
touch "$stop"
wait "$sampler_pid" || die "the memory sampler failed"
wait "$poller_pid" || die "the status poller failed"
observer_pids=
observed_secs=$(check_upload "$status" "$secs" "$tmp/observed.json")

# Growth of one line of rss.txt (peak minus before, both in KiB) in MiB.
rss_growth_mb() {
  awk -v k="$1" '$1 == k { printf "%.1f", ($3 - $2) / 1024 }' "$tmp/rss.txt"
}
rss_growth=$(rss_growth_mb VmRSS)
anon_growth=$(rss_growth_mb RssAnon)
file_growth=$(rss_growth_mb RssFile)

# Only the requests that started while the upload was in flight count.
read -r polls p50 p99 pmax < <(awk -v a="$upload_start" -v b="$upload_end" \
  '$1 >= a && $1 <= b { print $2 }' "$tmp/poll.txt" | sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print 0, 0, 0, 0; exit }
      i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
      print NR, v[i50], v[i99], v[NR]
    }')
((polls > 0)) || die "no status request completed during the upload"
printf 'observed upload: %.3f s; peak RSS +%s MB (anon +%s MB, file +%s MB); %d status polls: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n' \
  "$observed_secs" "$rss_growth" "$anon_growth" "$file_growth" "$polls" "$p50" "$p99" "$pmax"

# 5. The timed rounds, interleaved so that noise on the machine hits every contender alike.
cat >"$tmp/sqlite_baseline.py" <<'EOF'
import csv, sqlite3, sys
path, db = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("CREATE TABLE contacts (phone_number TEXT, first_name TEXT, last_name TEXT,"
             " email TEXT, company TEXT, notes TEXT)")
with open(path, newline="", encoding="utf-8") as f:
    reader = csv.reader(f)
    next(reader)
    with conn:
        cur = conn.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?)", reader)
print(cur.rowcount)
conn.close()
EOF

for round in $(seq "$rounds"); do
  read -r status secs < <(post_file /v1/api/batch-calls "$csv" "$tmp/upload.json")
  check_upload "$status" "$secs" "$tmp/upload.json" >>"$tmp/upload.times"

  read -r status secs < <(post_file /v1/api/batch-calls/validate "$csv" "$tmp/validate.json")
  [ "$status" = 200 ] || { cat "$tmp/validate.json" >&2; die "validate answered $status, want 200"; }
  [ "$(json_field "$tmp/validate.json" totalRows)" = "$rows" ] ||
    { cat "$tmp/validate.json" >&2; die "validate counted the wrong number of rows"; }
  echo "$secs" >>"$tmp/validate.times"

  rm -rf "$tmp/floor"
  t0=$(now_ns)
  "${pin_work[@]}" "$tmp/mdb_floor" "$csv" "$tmp/floor" >"$tmp/floor.out" || die "mdb_floor failed"
  t1=$(now_ns)
  read -r _ floor_lines _ < <(cat "$tmp/floor.out")
  [ "$floor_lines" = "$csv_lines" ] || die "mdb_floor stored $floor_lines lines, want $csv_lines"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }' >>"$tmp/floor.times"

  rm -f "$tmp/baseline.db" "$tmp/baseline.db-wal" "$tmp/baseline.db-shm"
  t0=$(now_ns)
  inserted=$("${pin_work[@]}" "$python" "$tmp/sqlite_baseline.py" "$csv" "$tmp/baseline.db") ||
    die "the Python baseline failed"
  t1=$(now_ns)
  [ "$inserted" = "$rows" ] || die "the Python baseline inserted $inserted rows, want $rows"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }' >>"$tmp/python.times"

  printf '  round %d  upload %.3f s  validate %.3f s  floor %.3f s  python+sqlite %.3f s\n' "$round" \
    "$(tail -n1 "$tmp/upload.times")" "$(tail -n1 "$tmp/validate.times")" \
    "$(tail -n1 "$tmp/floor.times")" "$(tail -n1 "$tmp/python.times")"
done

kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld died during the run"; }

# 6. Our CSV parser against libcsv, on the same file.
"${pin_work[@]}" "$tmp/csvbench" "$csv" 5 >"$tmp/csvbench.out" || { cat "$tmp/csvbench.out" >&2; die "csvbench failed"; }
sed 's/^/  /' "$tmp/csvbench.out"
parser_ratio=$(awk '$1 == "ratio" { sub(/x$/, "", $2); print $2 }' "$tmp/csvbench.out")
[ -n "$parser_ratio" ] || die "cannot read the ratio from csvbench's output"

# 7. The table.
upload=$(median "$tmp/upload.times")
validate=$(median "$tmp/validate.times")
floor=$(median "$tmp/floor.times")
python_s=$(median "$tmp/python.times")

# verdict VALUE OP TARGET: PASS when VALUE OP TARGET holds.
verdict() {
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
    ok = (op == "<=") ? v <= t : v >= t
    print ok ? "PASS" : "MISS"
  }'
}
row() {
  printf '| %-34s | %16s | %17s | %11s | %-7s |\n' "$@"
}
fmt() {
  awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'
}

upload_rate=$(awk -v r="$rows" -v s="$upload" 'BEGIN { printf "%.0f", r / s }')
validate_rate=$(awk -v r="$rows" -v s="$validate" 'BEGIN { printf "%.0f", r / s }')
vs_floor=$(awk -v a="$upload" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
python_vs=$(awk -v a="$upload" -v b="$python_s" 'BEGIN { printf "%.2f", b / a }')

echo
echo "median of $rounds rounds; $rows rows, $csv_bytes bytes"
row metric value target "vs baseline" verdict
printf '|%s|%s|%s|%s|%s|\n' ------------------------------------ ------------------ \
  ------------------- ------------- ---------
row "upload to 201 (curl wall time)" "$(fmt "$upload" '%.3f s')" "" "" ""
row "upload throughput" "$(fmt "$upload_rate" '%.0f rows/s')" "" "" ""
row "floor: bench/mdb_floor.c" "$(fmt "$floor" '%.3f s')" "" "" ""
row "upload vs floor" "" "<= 2x" "${vs_floor}x" "$(verdict "$vs_floor" "<=" 2)"
row "baseline: Python csv + SQLite" "$(fmt "$python_s" '%.3f s')" "" "" ""
row "Python csv + SQLite vs upload" "" ">= 5x" "${python_vs}x" "$(verdict "$python_vs" ">=" 5)"
row "validate (curl wall time)" "$(fmt "$validate" '%.3f s')" "" "" ""
row "validate throughput" "$(fmt "$validate_rate" '%.0f rows/s')" ">= 3000000 rows/s" "" \
  "$(verdict "$validate_rate" ">=" 3000000)"
row "peak RSS growth during one upload" "$(fmt "$rss_growth" '%.1f MB')" "<= 16 MB" "" \
  "$(verdict "$rss_growth" "<=" 16)"
row "  of it anonymous (heap)" "$(fmt "$anon_growth" '%.1f MB')" "" "" ""
row "  of it file pages (LMDB map)" "$(fmt "$file_growth" '%.1f MB')" "" "" ""
row "status poll during upload, p50" "$(fmt "$p50" '%.2f ms')" "" "" ""
row "status poll during upload, p99" "$(fmt "$p99" '%.2f ms')" "<= 10 ms" "" "$(verdict "$p99" "<=" 10)"
row "status poll during upload, max" "$(fmt "$pmax" '%.2f ms')" "" "" ""
row "CSV parser speed vs libcsv" "$(fmt "$parser_ratio" '%.2fx')" ">= 3x" "" \
  "$(verdict "$parser_ratio" ">=" 3)"
printf 'vs baseline: upload time / floor time; Python time / upload time. Status polls: %d during the observed upload (%.3f s).\n' \
  "$polls" "$observed_secs"
