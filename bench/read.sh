#!/usr/bin/env bash
# Read benchmark: the read paths of the API when a workspace holds a batch of a million calls.
#
# Four measurements, in one run, against one server:
#   1. the status read (A2) of a 1,000,000-call batch against that of a 10-call batch (wrk): a
#      status read must not cost more because the batch is big;
#   2. a deep page of a status filter (A4, status=failed, page 5000) against its first page;
#   3. the CSV export (B5) of the 1,000,000 calls: rows per second, and the server's memory
#      growth while it streams;
#   4. live events (B6): 1,000 SSE watchers of a batch that dials at 1,000 calls/s, the events
#      each received, and meanwhile the latency of the small batch's status read; beside the same
#      batch dialled with nobody watching, to tell the cost of the watchers from that of dialling.
# The big and the small batch are scheduled for 2099, so nothing dials while 1-3 are measured.
#
# Loopback only, stops by itself, exits non-zero only when something broke. A missed target is
# reported as MISS and is not a failure.
# Environment:
#   BATCHCALLD_BIN  use this binary instead of building bench/out/build/batchcalld (Release)
#   BENCH_ROWS      calls of the big batch (default 1000000; every 5th number is invalid)
#   BENCH_ROUNDS    wrk rounds per batch and export rounds, the median is reported (default 3)
#   BENCH_WRK_TIME  duration of one wrk round (default 5s)
#   BENCH_WATCHERS  SSE connections to the dialling batch (default 1000)
#   BENCH_SSE_CALLS answered contacts of the dialling batch (default 20000)
#   BENCH_SSE_DELAY the dialling batch is scheduled this many seconds (plus up to one) after its
#                   upload, so the watchers are connected before the first dial (default 3); 0:
#                   it dials at once and the watchers join meanwhile, first replaying what they
#                   missed (Last-Event-ID: 0), as after a mass reconnect
#   BENCH_TIMEOUT   seconds the dialling batch may take to complete before the run fails (300)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=${BENCH_ROWS:-1000000}
rounds=${BENCH_ROUNDS:-3}
wrk_time=${BENCH_WRK_TIME:-5s}
watchers=${BENCH_WATCHERS:-1000}
sse_calls=${BENCH_SSE_CALLS:-20000}
timeout=${BENCH_TIMEOUT:-300}
sse_delay=${BENCH_SSE_DELAY:-3}
max_file_bytes=20000000 # the upload limit of file data (src/ingest/ingest.h)
invalid_every=5         # every 5th row of the big batch has a number too short to dial
page_limit=20
deep_page=5000
page_requests=200 # requests of each page, alternating
dial_rate=1000    # calls per second of the dialling batch (the workspace's limit)
sim_speed=200     # the built-in simulator's time factor: talk times of 25-295 ms
later=2099-01-01T00:00:00Z

bench_name="read"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require cmake curl wrk
for v in rows rounds watchers sse_calls timeout; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ $sse_delay =~ ^[0-9]+$ ]] || die "BENCH_SSE_DELAY must be a whole number of seconds, got '$sse_delay'"
[[ $wrk_time =~ ^[1-9][0-9]*[smh]?$ ]] || die "BENCH_WRK_TIME must be a wrk duration such as 5s"
failed_rows=$((rows / invalid_every))
((failed_rows >= deep_page * page_limit)) ||
  die "BENCH_ROWS=$rows gives $failed_rows failed calls, too few for page $deep_page" \
    "(needs $((deep_page * page_limit * invalid_every)) rows)"

# Each watcher is a socket in the client and one in the server, and the built-in simulator adds
# up to 256 connections each way (the dialer's requests and its status callbacks): make sure both
# processes have room.
need_fds=$((watchers + 2048))
if [ "$(ulimit -n)" != unlimited ] && (($(ulimit -n) < need_fds)); then
  ulimit -n "$need_fds" 2>/dev/null ||
    die "cannot raise the open-file limit to $need_fds (ulimit -Hn is $(ulimit -Hn))"
fi

tmp=$(mktemp -d /tmp/batchcalld-bench-read.XXXXXX)
server_pid=
helper_pids=

# Every process this script starts is stopped here, whatever way the script ends.
cleanup() {
  # shellcheck disable=SC2086 # helper_pids is a list
  stop_pids $helper_pids "$server_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# The server gets CPU 0 and every client (wrk, curl, the Python helpers) CPU 1, so a client never
# steals the CPU of what it measures.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_server=(taskset -c 0)
  pin_client=(taskset -c 1)
  pinning="server pinned to CPU 0, clients to CPU 1"
else
  pin_server=()
  pin_client=()
  pinning="not pinned (one CPU, or no taskset)"
fi




# Reads a value from a JSON file by a path of keys: json_path FILE progress completedTime.
json_path() {
  "$python" -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[k]
print(v)' "$@"
}

# CPU time (user + system, in clock ticks) a process has used so far. The fields are counted after
# the ")" that ends the command name, which could itself contain spaces.
cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
clock_hz=$(getconf CLK_TCK)

# Nanoseconds a process has spent on a CPU and waiting in a run queue for one, "run wait"
# (/proc/PID/schedstat). Waiting means other work on the machine held the CPU.
sched_ns() {
  awk '{ print $1, $2 }' "/proc/$1/schedstat"
}

# Waits until FILE exists, at most SECONDS; fails otherwise.
wait_file() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    [ -e "$1" ] && return 0
    sleep 0.05
  done
  [ -e "$1" ]
}

# Median of the numbers in a file, one per line (mean of the middle two for an even count).
median() {
  sort -g "$1" | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# "count p50 p99 max" of the numbers on stdin.
percentiles() {
  sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print 0, 0, 0, 0; exit }
      i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
      print NR, v[i50], v[i99], v[NR]
    }'
}

# 1. The binary.
bench_binary "$root"

# 2. The helpers, in Python's standard library.
#
# contacts.py ROWS EVERY: a phone_number-only CSV of ROWS rows, LF line ends. Every EVERY-th row
# (0: none) is "+1415000", too short to dial, so it becomes a failed call at upload. The others
# are distinct valid NANP numbers "+1415NXXXXXX" (13 bytes a row with the line end) whose last two
# digits are 10-99, so the simulator answers every one of them.
cat >"$tmp/contacts.py" <<'EOF'
import sys
rows, every = int(sys.argv[1]), int(sys.argv[2])
out = ["phone_number"]
valid = 0
for i in range(1, rows + 1):
    if every and i % every == 0:
        out.append("+1415000")
        continue
    exchange = 200 + valid // 9000
    out.append("+1415%03d%02d%02d" % (exchange, (valid // 90) % 100, 10 + valid % 90))
    valid += 1
sys.stdout.write("\n".join(out) + "\n")
EOF


# pages.py PORT KEY WS N LIMIT OUT PATH_A PATH_B: asks for PATH_A and PATH_B in turn, N times
# each, on one keep-alive connection. Every answer must be 200 with LIMIT failed calls. Each line
# of OUT is "a|b latency_ms".
cat >"$tmp/pages.py" <<'EOF'
import http.client, json, sys, time
port, key, ws, n, limit, out = sys.argv[1:7]
paths = {"a": sys.argv[7], "b": sys.argv[8]}
headers = {"x-api-key": key, "x-workspace-id": ws}
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
with open(out, "w") as f:
    for _ in range(int(n)):
        for name, path in paths.items():
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            ms = (time.perf_counter() - t0) * 1000
            if resp.status != 200:
                sys.exit("pages: GET %s answered %d: %s" % (path, resp.status, body[:200]))
            calls = json.loads(body)["calls"]
            if len(calls) != int(limit) or any(c["status"] != "failed" for c in calls):
                sys.exit("pages: GET %s did not answer %s failed calls" % (path, limit))
            print(name, "%.4f" % ms, file=f)
EOF

# sampler.py PID STOP OUT: reads /proc/PID/status every 10 ms until the file STOP exists. OUT gets
# one "name before peak" line (KiB) for VmRSS, RssAnon and RssFile; the VmRSS peak is VmHWM when
# that grew meanwhile (it catches a peak between two samples). It also gets "smaps NAME before
# after" lines from /proc/PID/smaps_rollup, read once at each end: walking the page tables every
# 10 ms would slow the server it observes.
cat >"$tmp/sampler.py" <<'EOF'
import os, sys, time
pid, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
NAMES = ("VmHWM", "VmRSS", "RssAnon", "RssFile")
ROLLUP = ("Rss", "Anonymous", "Private_Clean", "Shared_Clean", "Private_Dirty")

def read(path, names):
    kb = {}
    with open(path) as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in names:
                kb[name] = int(rest.split()[0])
    return kb

def rollup():
    try:
        return read("/proc/%s/smaps_rollup" % pid, ROLLUP)
    except OSError:
        return {}

first_rollup = rollup()
first = read("/proc/%s/status" % pid, NAMES)
peak = dict(first)
open(out + ".ready", "w").close()
while True:
    done = os.path.exists(stop)
    for k, v in read("/proc/%s/status" % pid, NAMES).items():
        peak[k] = max(peak[k], v)
    if done:
        break
    time.sleep(0.01)
last_rollup = rollup()
if peak["VmHWM"] > first["VmHWM"]:
    peak["VmRSS"] = max(peak["VmRSS"], peak["VmHWM"])
with open(out, "w") as f:
    for k in ("VmRSS", "RssAnon", "RssFile"):
        print(k, first[k], peak[k], file=f)
    for k in ROLLUP:
        if k in first_rollup and k in last_rollup:
            print("smaps", k, first_rollup[k], last_rollup[k], file=f)
EOF

# watchers.py PORT PATH KEY WS N TIMEOUT OUT: opens N connections to the SSE stream at PATH, each
# with Last-Event-ID: 0 so that it is first sent every call that ended before it connected, then
# the live events: every watcher should see each call of the batch exactly once. Reads and
# discards with non-blocking sockets and selectors, counting "event: NAME" lines across reads,
# until each stream has had its done event or ended. Writes a JSON summary to OUT.
cat >"$tmp/watchers.py" <<'EOF'
import json, selectors, socket, sys, time
port, path, key, ws, n, timeout, out = sys.argv[1:8]
n, timeout = int(n), float(timeout)
request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: %s\r\nx-workspace-id: %s\r\n"
           "Accept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n" % (path, key, ws)).encode()
NAMES = (b"call", b"progress", b"done")
END = b"\r\n0\r\n\r\n"  # the last chunk: the server ended the stream
PATTERNS = [b"event: " + name + b"\n" for name in NAMES] + [END]

class Watcher:
    def __init__(self):
        self.counts = dict.fromkeys(NAMES + (END,), 0)
        self.bytes = 0
        # A pattern may span two reads: each keeps the last len - 1 bytes it has seen, which can
        # hold the start of a match but never a whole one, so no match is counted twice.
        self.tails = dict.fromkeys(PATTERNS, b"")
        self.head = b""
        self.status = None
        self.first_progress = None
        self.ended = None  # "done", "end" (stream ended without done) or "eof"

sel = selectors.DefaultSelector()
watchers = []
t_start = time.time()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(request)
    s.setblocking(False)
    w = Watcher()
    watchers.append(w)
    sel.register(s, selectors.EVENT_READ, w)
t_connected = time.time()
open(out + ".ready", "w").close()

def finish(s, w, how):
    w.ended = how
    sel.unregister(s)
    s.close()

open_count = n
deadline = time.monotonic() + timeout
while open_count and time.monotonic() < deadline:
    for key_, _ in sel.select(timeout=1.0):
        s, w = key_.fileobj, key_.data
        try:
            data = s.recv(262144)
        except BlockingIOError:
            continue
        except ConnectionError:
            data = b""
        if not data:
            finish(s, w, "eof")
            open_count -= 1
            continue
        w.bytes += len(data)
        if w.status is None:
            w.head += data
            if b"\r\n" not in w.head:
                continue
            w.status = int(w.head.split(b" ", 2)[1])
            data, w.head = w.head, b""
            if w.status != 200:
                finish(s, w, "eof")
                open_count -= 1
                continue
        for name, pattern in zip(NAMES + (END,), PATTERNS):
            # Matches within this read, then the ones that began in the previous read.
            keep = len(pattern) - 1
            tail = w.tails[pattern]
            w.counts[name] += data.count(pattern) + (tail + data[:keep]).count(pattern)
            w.tails[pattern] = data[-keep:] if len(data) >= keep else (tail + data)[-keep:]
        if w.first_progress is None and w.counts[b"progress"]:
            w.first_progress = time.time()
        if w.counts[b"done"]:
            finish(s, w, "done")
            open_count -= 1
        elif w.counts[END]:
            finish(s, w, "end")
            open_count -= 1

def spread(values):
    return {"min": min(values), "max": max(values), "distinct": len(set(values))}

caught_up = [w.first_progress for w in watchers if w.first_progress]
summary = {
    "watchers": n,
    "connectSeconds": t_connected - t_start,
    "connectedAtMs": int(t_connected * 1000),
    "caughtUpAtMs": int(max(caught_up) * 1000) if len(caught_up) == n else None,
    "non200": sum(1 for w in watchers if w.status != 200),
    "done": sum(1 for w in watchers if w.ended == "done"),
    "endedWithoutDone": sum(1 for w in watchers if w.ended == "end"),
    "closedByServer": sum(1 for w in watchers if w.ended == "eof"),
    "stillOpen": sum(1 for w in watchers if w.ended is None),
    "calls": spread([w.counts[b"call"] for w in watchers]),
    "progress": spread([w.counts[b"progress"] for w in watchers]),
    "bytes": sum(w.bytes for w in watchers),
    "seconds": time.time() - t_start,
}
json.dump(summary, open(out, "w"))
EOF


# 3. The contact lists.
"$python" "$tmp/contacts.py" "$rows" "$invalid_every" >"$tmp/big.csv"
"$python" "$tmp/contacts.py" 10 "$invalid_every" >"$tmp/small.csv"
"$python" "$tmp/contacts.py" "$sse_calls" 0 >"$tmp/dial.csv"
big_bytes=$(stat -c %s "$tmp/big.csv")
((big_bytes <= max_file_bytes)) ||
  die "big.csv is $big_bytes bytes, over the $max_file_bytes-byte upload limit: lower BENCH_ROWS"

# 4. The server (the built-in simulator as provider, unlimited provider rate, short calls), a
# workspace whose request rate never refuses and that dials at most dial_rate calls a second, and
# an agent. The connection cap leaves room beside the watchers for the simulator's status
# callbacks, which arrive over up to 256 connections of the server's own listener.
port=$(free_port)
url="http://127.0.0.1:$port"
mkdir "$tmp/data"
"${pin_server[@]}" "$bin" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" --log-level warn \
  --provider-cps 0 --sim-speed "$sim_speed" --max-connections $((watchers + 1024)) \
  >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld exited at start"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$url/readyz" || die "batchcalld not ready after 10 s"

bench_no_compliance
"$bin" admin workspace create --name bench "${no_compliance[@]}" --requests-per-minute 1000000000 \
  --max-records 2000000 --calls-per-second "$dial_rate" --max-concurrent-calls 100000 \
  --data-dir "$tmp/data" >"$tmp/workspace.json" || die "admin workspace create failed"
workspace=$(json_field "$tmp/workspace.json" workspaceId)
api_key=$(json_field "$tmp/workspace.json" apiKey)
auth=(-H "x-api-key: $api_key" -H "x-workspace-id: $workspace")

status=$(curl -sS -o "$tmp/agent.json" -w '%{http_code}' "${auth[@]}" \
  -H 'content-type: application/json' -X POST "$url/v1/api/agents" \
  -d '{"name":"Bench agent","prompt":"Hello, this is Acme calling.","fromNumber":"+14155550100"}')
[ "$status" = 201 ] || { cat "$tmp/agent.json" >&2; die "POST /v1/api/agents answered $status, want 201"; }
agent=$(json_field "$tmp/agent.json" id)

# Uploads FILE with extra form fields ("name=value" arguments); leaves the answer in OUT and
# prints curl's wall time. The answer must be 201 and count every row.
upload() {
  local file=$1 out=$2 n
  shift 2
  local fields=(-F "agentId=$agent") f status secs
  for f in "$@"; do
    fields+=(-F "$f")
  done
  read -r status secs < <("${pin_client[@]}" curl -sS -o "$out" -w '%{http_code} %{time_total}\n' \
    "${auth[@]}" -H 'Expect:' "${fields[@]}" -F "file=@$file;type=text/csv" \
    "$url/v1/api/batch-calls")
  if [ "$status" != 201 ]; then
    cat "$out" >&2 2>/dev/null || true
    kill -0 "$server_pid" 2>/dev/null ||
      { tail -n 20 "$tmp/server.log" >&2; die "batchcalld died during an upload"; }
    die "upload of $file answered $status, want 201"
  fi
  n=$(($(wc -l <"$file") - 1))
  [ "$(json_field "$out" totalCalls)" = "$n" ] ||
    { cat "$out" >&2; die "upload of $file counted $(json_field "$out" totalCalls) calls, want $n"; }
  echo "$secs"
}

echo "server $url; $pinning; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "uploading $rows calls ($big_bytes bytes) and 10 calls, both scheduled for $later ..."
big_upload_s=$(upload "$tmp/big.csv" "$tmp/big.json" "scheduledAt=$later")
upload "$tmp/small.csv" "$tmp/small.json" "scheduledAt=$later" >/dev/null
big=$(json_field "$tmp/big.json" batchId)
small=$(json_field "$tmp/small.json" batchId)
[ "$(json_field "$tmp/big.json" invalidRows)" = "$failed_rows" ] ||
  { cat "$tmp/big.json" >&2; die "the big batch does not have $failed_rows invalid rows"; }
echo "  big batch $big: upload $big_upload_s s; small batch $small"

# 5. Status reads, big batch against small, alternating rounds of wrk.
status_path() {
  echo "/v1/api/batch-calls/$1"
}
for b in big small; do
  status=$(curl -sS -o "$tmp/$b.status.json" -w '%{http_code}' "${auth[@]}" "$url$(status_path "${!b}")")
  [ "$status" = 200 ] || { cat "$tmp/$b.status.json" >&2; die "GET status of the $b batch answered $status"; }
done
[ "$(json_path "$tmp/big.status.json" progress failed)" = "$failed_rows" ] ||
  die "the big batch's status does not count $failed_rows failed calls"

# One wrk round against a batch's status; appends "req/s p99_ms cpu_us_per_request" to
# $tmp/wrk-NAME.results. The server's CPU time per request barely moves when other work on the
# machine takes turns on the same core, unlike the request rate.
wrk_round() {
  local name=$1 round=$2 out="$tmp/wrk-$1-$2.txt" run0 run1
  read -r run0 _ < <(sched_ns "$server_pid")
  "${pin_client[@]}" wrk -t1 -c16 -d"$wrk_time" --latency "${auth[@]}" "$url$(status_path "${!name}")" \
    >"$out" 2>&1 || { cat "$out" >&2; die "wrk against the $name batch failed"; }
  if grep -q -e 'Non-2xx or 3xx responses' -e 'Socket errors' "$out"; then
    cat "$out" >&2
    die "$name batch round $round: not every response was a 2xx (see wrk output above)"
  fi
  read -r run1 _ < <(sched_ns "$server_pid")
  local rate p99 requests cpu
  rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  requests=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
  p99=$(awk '$1 == "99%" { v = $2
      if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
      else if (v ~ /ms$/) sub(/ms$/, "", v)
      else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
      printf "%.3f", v }' "$out")
  if [ -z "$rate" ] || [ -z "$p99" ] || [ "${requests:-0}" -eq 0 ]; then
    cat "$out" >&2
    die "cannot parse wrk output"
  fi
  cpu=$(awk -v r=$((run1 - run0)) -v n="$requests" 'BEGIN { printf "%.2f", r / 1000 / n }')
  echo "$rate $p99 $cpu" >>"$tmp/wrk-$name.results"
  printf '  round %d %-5s batch %9.0f req/s  p99 %7.3f ms  server CPU %6.2f us/req\n' "$round" \
    "$name" "$rate" "$p99" "$cpu"
}
echo "status reads: wrk -t1 -c16 -d$wrk_time, $rounds rounds per batch, alternating ..."
for round in $(seq "$rounds"); do
  wrk_round big "$round"
  wrk_round small "$round"
done
for b in big small; do
  awk '{ print $1 }' "$tmp/wrk-$b.results" >"$tmp/wrk-$b.rates"
  awk '{ print $3 }' "$tmp/wrk-$b.results" >"$tmp/wrk-$b.cpu"
done
rate_big=$(median "$tmp/wrk-big.rates")
rate_small=$(median "$tmp/wrk-small.rates")
cpu_big=$(median "$tmp/wrk-big.cpu")
cpu_small=$(median "$tmp/wrk-small.cpu")
rate_ratio=$(awk -v a="$rate_big" -v b="$rate_small" 'BEGIN { printf "%.3f", a / b }')
body_big=$(stat -c %s "$tmp/big.status.json")
body_small=$(stat -c %s "$tmp/small.status.json")

# 6. The first page of the failed calls against page 5000, alternating on one connection.
calls_path="/v1/api/batch-calls/$big/calls?status=failed&limit=$page_limit"
status=$(curl -sS -o "$tmp/page1.json" -w '%{http_code}' "${auth[@]}" "$url$calls_path&page=1")
[ "$status" = 200 ] || { cat "$tmp/page1.json" >&2; die "GET $calls_path&page=1 answered $status"; }
total_pages=$(json_path "$tmp/page1.json" pagination totalPages)
((total_pages >= deep_page)) || die "status=failed has $total_pages pages, fewer than $deep_page"
echo "pages: status=failed&limit=$page_limit, page 1 against page $deep_page (of $total_pages)," \
  "$page_requests requests each ..."
"${pin_client[@]}" "$python" "$tmp/pages.py" "$port" "$api_key" "$workspace" "$page_requests" \
  "$page_limit" "$tmp/pages.txt" "$calls_path&page=1" "$calls_path&page=$deep_page" ||
  die "the page client failed"
awk '$1 == "a" { print $2 }' "$tmp/pages.txt" >"$tmp/page-first.ms"
awk '$1 == "b" { print $2 }' "$tmp/pages.txt" >"$tmp/page-deep.ms"
page_first=$(median "$tmp/page-first.ms")
page_deep=$(median "$tmp/page-deep.ms")
page_ratio=$(awk -v a="$page_deep" -v b="$page_first" 'BEGIN { printf "%.2f", a / b }')
printf '  median page 1 %.3f ms, page %d %.3f ms\n' "$page_first" "$deep_page" "$page_deep"

# 7. The export of the big batch. The first round is observed by the memory sampler, so that its
# growth is that of the first export, which is the one that brings the batch's pages into memory.
export_path="/v1/api/batch-calls/$big/export"
export_round() {
  local round=$1 status bytes secs ticks
  ticks=$(cpu_ticks "$server_pid")
  read -r status bytes secs < <("${pin_client[@]}" curl -sS -o /dev/null \
    -w '%{http_code} %{size_download} %{time_total}\n' "${auth[@]}" "$url$export_path")
  ticks=$(($(cpu_ticks "$server_pid") - ticks))
  [ "$status" = 200 ] || die "GET $export_path answered $status"
  echo "$secs" >>"$tmp/export.times"
  echo "$ticks" >>"$tmp/export.ticks"
  printf '  round %d: %d bytes in %.3f s, %.0f rows/s, server CPU %.2f s\n' "$round" "$bytes" \
    "$secs" "$(awk -v r="$rows" -v s="$secs" 'BEGIN { print r / s }')" \
    "$(awk -v t="$ticks" -v hz="$clock_hz" 'BEGIN { print t / hz }')"
}
echo "export of the $rows calls to /dev/null, $rounds rounds ..."
stop="$tmp/export.stop"
"${pin_client[@]}" "$python" "$tmp/sampler.py" "$server_pid" "$stop" "$tmp/rss.txt" &
sampler_pid=$!
helper_pids="$sampler_pid"
wait_file "$tmp/rss.txt.ready" 5 || die "the memory sampler did not start"
export_round 1
touch "$stop"
wait "$sampler_pid" || die "the memory sampler failed"
helper_pids=
for round in $(seq 2 "$rounds"); do
  export_round "$round"
done
# Not timed: the export holds a header and one line per call.
export_lines=$(curl -sS "${auth[@]}" "$url$export_path" | wc -l)
[ "$export_lines" = $((rows + 1)) ] || die "the export has $export_lines lines, want $((rows + 1))"
export_s=$(median "$tmp/export.times")
export_rate=$(awk -v r="$rows" -v s="$export_s" 'BEGIN { printf "%.0f", r / s }')
export_cpu_us=$(awk -v t="$(median "$tmp/export.ticks")" -v hz="$clock_hz" -v r="$rows" \
  'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
# Growth of one line of rss.txt (peak minus before, both in KiB) in MiB.
rss_growth_mb() {
  awk -v k="$1" '$1 == k { printf "%.1f", ($3 - $2) / 1024 }' "$tmp/rss.txt"
}
rss_growth=$(rss_growth_mb VmRSS)
anon_growth=$(rss_growth_mb RssAnon)
file_growth=$(rss_growth_mb RssFile)
smaps_line=$(awk '$1 == "smaps" { printf "%s %+.1f MB; ", $2, ($4 - $3) / 1024 }' "$tmp/rss.txt")
echo "  first export: peak RSS +$rss_growth MB (anon +$anon_growth MB, file +$file_growth MB)"
echo "  smaps_rollup after minus before: ${smaps_line:-not readable}"

# 8. Live events. A batch of answered contacts dials at dial_rate calls/s while the poller reads
# the small batch's status; first with nobody watching (the baseline: what dialling alone costs
# the loop, with the simulator in the same process), then followed by the SSE watchers. The batch
# is scheduled a few seconds ahead (BENCH_SSE_DELAY) so that every watcher is live before the
# first call ends; the measurements run from the first dial to the batch's completion.
#
# dial_phase LABEL WATCHERS: runs one such batch and leaves "name value" lines in $tmp/LABEL.res.
dial_phase() {
  local label=$1 nwatch=$2 stop="$tmp/$1.stop" poll="$tmp/$1.poll" watch="$tmp/$1.watchers"
  "${pin_client[@]}" "${prio_probe[@]}" "$python" "$root/bench/poller.py" "$port" "$(status_path "$small")" "$api_key" "$workspace" \
    "$stop" "$poll" &
  local poller_pid=$! watchers_pid=
  helper_pids="$poller_pid"
  wait_file "$poll.ready" 5 || die "the status poller did not start"
  local fields=() start_s=0 run0 wait0 run1 wait1 t0 t1 batch
  if ((sse_delay > 0)); then
    start_s=$(($(date +%s) + sse_delay + 1))
    fields=("scheduledAt=$(date -u -d "@$start_s" +%Y-%m-%dT%H:%M:%SZ)")
  fi
  upload "$tmp/dial.csv" "$tmp/$label.json" "${fields[@]}" >/dev/null
  batch=$(json_field "$tmp/$label.json" batchId)
  if ((nwatch > 0)); then
    "${pin_client[@]}" "$python" "$tmp/watchers.py" "$port" "/v1/api/batch-calls/$batch/events" \
      "$api_key" "$workspace" "$nwatch" "$timeout" "$watch" &
    watchers_pid=$!
    helper_pids="$poller_pid $watchers_pid"
    wait_file "$watch.ready" 60 || die "the SSE watchers did not connect"
  fi
  if ((start_s > 0)); then
    ((start_s * 1000000000 > $(now_ns))) || echo "  warning: dialling began before every watcher connected" >&2
    while (($(now_ns) < start_s * 1000000000)); do
      sleep 0.01
    done
  fi
  t0=$(now_ns)
  read -r run0 wait0 < <(sched_ns "$server_pid")
  # When watchers join late, their replays can stall the loop for longer than the header timeout;
  # the server then times out a connection whose request it has not read yet and resets it
  # (see bench/README.md). Hence the retries.
  curl -fsS --retry 3 --retry-all-errors -o "$tmp/$label.metrics0" "$url/metrics" ||
    die "GET /metrics failed"
  if [ -n "$watchers_pid" ]; then
    wait "$watchers_pid" || die "the SSE watchers failed"
  fi
  "${pin_client[@]}" "$python" "$root/bench/wait_batch.py" "$port" "$(status_path "$batch")" "$api_key" \
    "$workspace" "$timeout" "$tmp/$label.status" || die "the dialling batch did not complete"
  read -r run1 wait1 < <(sched_ns "$server_pid")
  t1=$(now_ns)
  curl -fsS --retry 3 --retry-all-errors -o "$tmp/$label.metrics1" "$url/metrics" ||
    die "GET /metrics failed"
  touch "$stop"
  wait "$poller_pid" || die "the status poller failed"
  helper_pids=
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld died during the run"; }

  local start_ms end_ms completed
  start_ms=$(json_path "$tmp/$label.status" progress startTime)
  end_ms=$(json_path "$tmp/$label.status" progress completedTime)
  completed=$(json_path "$tmp/$label.status" progress completed)
  [ "$completed" = "$sse_calls" ] || echo "  warning: $completed of $sse_calls calls completed" >&2
  {
    awk -v a="$start_ms" -v b="$end_ms" -v n="$sse_calls" \
      'BEGIN { printf "dial_s %.3f\nrate %.0f\n", (b - a) / 1000, n / ((b - a) / 1000) }'
    # The server's CPU from the start of dialling (or the 201) until the batch was seen complete.
    awk -v r=$((run1 - run0)) -v w=$((wait1 - wait0)) -v a="$t0" -v b="$t1" -v n="$sse_calls" \
      'BEGIN { printf "cpu %.0f\nwait %.0f\ncpu_us_call %.0f\n", r / (b - a) * 100, w / (b - a) * 100,
        r / 1000 / n }'
    echo "commits $(metric_delta "$label" batchcalld_store_commits_total)"
    echo "commit_s $(metric_delta "$label" batchcalld_store_commit_duration_seconds_sum)"
    # The polls that count started between the batch's first dial and its completion.
    awk -v a="$((start_ms * 1000000))" -v b="$((end_ms * 1000000))" '$1 >= a && $1 <= b { print $2 }' \
      "$poll" | percentiles | awk '{ print "polls", $1; print "p50", $2; print "p99", $3; print "max", $4 }'
    if ((nwatch > 0)); then
      # Watchers that joined late first replay what they missed; after the last one caught up,
      # all of them follow live.
      local caught_up
      caught_up=$(json_path "$watch" caughtUpAtMs)
      [ "$caught_up" != None ] || caught_up=$end_ms
      ((caught_up > start_ms)) || caught_up=$start_ms
      awk -v a="$((caught_up * 1000000))" -v b="$((end_ms * 1000000))" '$1 >= a && $1 <= b { print $2 }' \
        "$poll" | percentiles | awk '{ print "live_polls", $1; print "live_p99", $3 }'
    fi
  } >"$tmp/$label.res"
  (($(res "$label" polls) > 0)) || die "no status poll completed while the batch dialled"
  printf '  dialled %d calls in %s s (%s/s); server CPU %s%% of a core (+%s%% waiting for one),' \
    "$sse_calls" "$(res "$label" dial_s)" "$(res "$label" rate)" "$(res "$label" cpu)" "$(res "$label" wait)"
  printf ' %s us a call; %.0f commits took %.2f s\n' "$(res "$label" cpu_us_call)" \
    "$(res "$label" commits)" "$(res "$label" commit_s)"
  printf '  %d status polls of the small batch: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n' \
    "$(res "$label" polls)" "$(res "$label" p50)" "$(res "$label" p99)" "$(res "$label" max)"
}

# How much a counter of /metrics grew during phase LABEL: metric_delta LABEL NAME. Every write
# transaction commits durably on the event loop, so the time spent committing is time no request
# is served: the store's own counters say how much of it there was.
metric_delta() {
  awk -v k="$2" '$1 == k { v[FILENAME] = $2 } END { printf "%.3f", v[ARGV[2]] - v[ARGV[1]] }' \
    "$tmp/$1.metrics0" "$tmp/$1.metrics1"
}

# One value of a phase's results.
res() {
  awk -v k="$2" '$1 == k { print $2 }' "$tmp/$1.res"
}
w() {
  json_path "$tmp/sse.watchers" "$@"
}

echo "baseline: a batch of $sse_calls answered calls dialling at $dial_rate/s, nobody watching ..."
dial_phase alone 0
echo "live events: $watchers watchers of such a batch ..."
dial_phase sse "$watchers"
calls_min=$(w calls min)
calls_max=$(w calls max)
same=no
[ "$calls_min" = "$calls_max" ] && [ "$calls_min" = "$sse_calls" ] && same=yes
printf '  watchers connected in %.2f s; call events per watcher %s-%s, progress events %s-%s\n' \
  "$(w connectSeconds)" "$calls_min" "$calls_max" "$(w progress min)" "$(w progress max)"
printf '  streams: done %s, ended without done %s, closed %s, still open %s; %s bytes received in all\n' \
  "$(w "done")" "$(w endedWithoutDone)" "$(w closedByServer)" "$(w stillOpen)" "$(w bytes)"
if ((sse_delay == 0)); then
  printf '  %d polls after every watcher caught up: p99 %.2f ms\n' "$(res sse live_polls)" "$(res sse live_p99)"
fi
echo "  watchers: $(cat "$tmp/sse.watchers")"
# What the server complained about (it logs at warn level and above), one line per message.
if grep -q 'level=\(warn\|error\)' "$tmp/server.log"; then
  echo "  server log, warnings and errors by message:"
  grep -o 'level=[a-z]* msg="[^"]*"' "$tmp/server.log" | sort | uniq -c | sed 's/^/   /'
fi

# 9. The table.
# verdict VALUE OP TARGET: PASS when VALUE OP TARGET holds.
verdict() {
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
    ok = (op == "<=") ? v <= t : (op == "==") ? v == t : v >= t
    print ok ? "PASS" : "MISS"
  }'
}
row() {
  printf '| %-50s | %16s | %12s | %-7s |\n' "$@"
}
fmt() {
  awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'
}
echo
echo "$rows-call batch ($failed_rows failed at upload) beside a 10-call batch; medians of $rounds rounds"
row metric value target verdict
printf '|%s|%s|%s|%s|\n' ---------------------------------------------------- ------------------ -------------- ---------
row "upload of the $rows calls (curl)" "$(fmt "$big_upload_s" '%.3f s')" "" ""
row "status GET, $rows-call batch" "$(fmt "$rate_big" '%.0f req/s')" "" ""
row "status GET, 10-call batch" "$(fmt "$rate_small" '%.0f req/s')" "" ""
row "status GET rate, big / small" "$(fmt "$rate_ratio" '%.3f')" ">= 0.9" "$(verdict "$rate_ratio" ">=" 0.9)"
row "status GET server CPU per request, big / small" \
  "$(fmt "$cpu_big" '%.1f')/$(fmt "$cpu_small" '%.1f') us" "" ""
row "failed calls page 1, median" "$(fmt "$page_first" '%.3f ms')" "" ""
row "failed calls page $deep_page, median" "$(fmt "$page_deep" '%.3f ms')" "" ""
row "page $deep_page / page 1" "$(fmt "$page_ratio" '%.2fx')" "<= 2x" "$(verdict "$page_ratio" "<=" 2)"
row "export of $rows calls (curl)" "$(fmt "$export_s" '%.3f s')" "" ""
row "export throughput" "$(fmt "$export_rate" '%.0f rows/s')" "" ""
row "export server CPU per row" "$(fmt "$export_cpu_us" '%.2f us')" "" ""
row "peak RSS growth during the first export" "$(fmt "$rss_growth" '%.1f MB')" "<= 16 MB" \
  "$(verdict "$rss_growth" "<=" 16)"
row "  of it anonymous (heap)" "$(fmt "$anon_growth" '%.1f MB')" "" ""
row "  of it file pages (LMDB map)" "$(fmt "$file_growth" '%.1f MB')" "" ""
for label in alone sse; do
  if [ $label = alone ]; then
    name="dialling, no watchers"
  else
    name="dialling, $watchers watchers"
  fi
  row "$name: dial rate" "$(fmt "$(res $label rate)" '%.0f calls/s')" "" ""
  row "$name: server CPU (+ waiting)" "$(res $label cpu) % (+$(res $label wait) %)" "" ""
  row "$name: server CPU per call" "$(res $label cpu_us_call) us" "" ""
  row "$name: store commits" "$(fmt "$(res $label commit_s)" '%.2f s')" "" ""
  row "$name: status GET p50" "$(fmt "$(res $label p50)" '%.2f ms')" "" ""
  if [ $label = sse ]; then
    row "$name: status GET p99" "$(fmt "$(res $label p99)" '%.2f ms')" "<= 5 ms" \
      "$(verdict "$(res $label p99)" "<=" 5)"
  else
    row "$name: status GET p99" "$(fmt "$(res $label p99)" '%.2f ms')" "" ""
  fi
  row "$name: status GET max" "$(fmt "$(res $label max)" '%.2f ms')" "" ""
done
if ((sse_delay == 0)); then
  if (($(res sse live_polls) > 0)); then
    row "SSE: p99 after all watchers caught up" "$(fmt "$(res sse live_p99)" '%.2f ms')" "" ""
  else
    row "SSE: p99 after all watchers caught up" "no polls" "" ""
  fi
fi
row "SSE: call events per watcher, min-max" "$calls_min-$calls_max" "$sse_calls each" \
  "$(verdict "$same" "==" yes)"
row "SSE: watchers that got done" "$(w "done") of $watchers" "" ""
echo "status bodies: big $body_big bytes, small $body_small bytes;" \
  "status polls while dialling: $(res alone polls) alone, $(res sse polls) watched"
echo "$pinning; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
