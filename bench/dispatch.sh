#!/usr/bin/env bash
# Dispatch benchmark: how fast and how evenly batchcalld places calls, judged from the provider's
# side. The provider is the carrier simulator in its own process (`batchcalld carrier-sim`), and
# the server talks to it over the production Twilio code path (`--provider twilio`), status
# callbacks included. Every number below comes from the simulator's ledger (GET /sim/dials: one
# [unix_ms, row, seq] per create request it received) or from a client of the server, never from
# the server's own account of itself.
#
# Three measurements, in one run:
#   1. the highest sustained dial rate with no rate limit (one big batch of answered contacts), and
#      the time the whole batch takes to complete;
#   2. the rate limiter's error at 100 and 1,000 calls/s (the batch's callsPerSecond), and the most
#      dials in any sliding 1 s window against rate + burst;
#   3. the latency of GET /v1/api/batch-calls/{id} while that batch dials at 1,000 calls/s.
#
# Loopback only, stops by itself, exits non-zero only when something broke. A missed target is
# reported as MISS and is not a failure.
# Environment:
#   BATCHCALLD_BIN     use this binary instead of building bench/out/build/batchcalld (Release)
#   BENCH_ROWS         contacts of the unlimited batch (default 50000)
#   BENCH_RATE_SECONDS how long each rate-limited batch dials (default 10)
#   BENCH_SIM_SPEED    the simulator's time factor (default 1000: ringing 4 ms, talking 5-59 ms)
#   BENCH_TIMEOUT      seconds any one batch may take to complete before the run fails (default 300)
#   BENCH_PIN          1: pin the server to CPU 0, the simulator and the clients to CPU 1 (default 0)
#   BENCH_KEEP         1: keep the temporary directory (logs, ledgers, samples) for a closer look
#   BENCH_COMPLIANCE   on: the workspace keeps the server's compliance defaults (calling windows,
#                      state rules, frequency cap, do-not-call checks) and the server's clock reads
#                      20:00 UTC today (noon in Los Angeles, where the contacts are), so every call
#                      is checked and allowed; off (default): the workspace opts out explicitly
#   BENCH_UNLIMITED_ONLY 1: stop after the first measurement (bench/compliance_dial.sh)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=${BENCH_ROWS:-50000}
rate_seconds=${BENCH_RATE_SECONDS:-10}
speed=${BENCH_SIM_SPEED:-1000}
timeout=${BENCH_TIMEOUT:-300}
account_sid=ACbench0000000000000000000000000000
auth_token=bench-secret-token

bench_name="dispatch"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require cmake curl
for v in rows rate_seconds timeout; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ $speed =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_SIM_SPEED must be a number, got '$speed'"
# The interpreter itself, not a wrapper: a version manager's shim (pyenv's takes most of a second
# to start here) would delay the status poller and every helper by that much.

tmp=$(mktemp -d /tmp/batchcalld-bench-dispatch.XXXXXX)
server_pid=
sim_pid=
poller_pid=
sampler_pid=

# Every process this script starts is stopped here, whatever way the script ends.
cleanup() {
  stop_pids "$sampler_pid" "$poller_pid" "$server_pid" "$sim_pid"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "kept $tmp (logs, ledgers, CPU samples, poll latencies)" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# By default the kernel places the processes: the server and the simulator are single-threaded,
# so on an idle two-CPU machine each gets a CPU anyway, and when other work keeps one CPU busy
# both can move to the other. BENCH_PIN=1 pins the server to CPU 0 and the simulator to CPU 1
# (the clients, which are light, share CPU 1), which makes "which process ran out of CPU" plain
# on an idle machine but leaves a pinned process stuck behind any other load on its CPU.
if [ "${BENCH_PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_server=(taskset -c 0)
  pin_sim=(taskset -c 1)
  pin_client=(taskset -c 1)
  pinning="server pinned to CPU 0; simulator and clients to CPU 1"
else
  pin_server=()
  pin_sim=()
  pin_client=()
  pinning="not pinned"
fi



# Waits until url answers 200, while process pid lives.
wait_ready() {
  local url=$1 pid=$2 name=$3 log=$4
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  curl -fsS -o /dev/null "$url" || die "$name not ready after 10 s"
}

# 1. The binary.
bench_binary "$root"

# 2. The helpers, in Python's standard library.
#
# contacts.py ROWS: a CSV of ROWS distinct valid NANP numbers whose last two digits are 10-99, so
# the simulator answers every one (00-05 would be busy, no answer, failures or a 503).
cat >"$tmp/contacts.py" <<'EOF'
import sys
rows = int(sys.argv[1])
out = ["phone_number,first_name"]
for i in range(rows):
    last2 = 10 + i % 90
    mid2 = (i // 90) % 100
    exchange = 555 + (i // 9000) % 400
    area = 415 + i // 3600000
    out.append("+1%03d%03d%02d%02d,Contact%d" % (area, exchange, mid2, last2, i))
sys.stdout.write("\n".join(out) + "\n")
EOF


# dials.py FILE LO HI: reads a /sim/dials answer and prints one "name value" line each:
#   dials, rows (distinct), duplicates (a (row, seq) sent twice), first and last (unix ms),
#   t_lo and t_hi: the LO-th and HI-th percentile timestamps (unix ms),
#   rate: dials per second between the LO-th and HI-th percentile timestamps, that is
#         (index(HI) - index(LO)) / (t(HI) - t(LO)), which leaves out the start and the tail,
#   window: the most dials whose timestamps fall within any 1000 ms.
cat >"$tmp/dials.py" <<'EOF'
import json, sys
dials = json.load(open(sys.argv[1]))["dials"]
lo, hi = float(sys.argv[2]), float(sys.argv[3])
ts = sorted(d[0] for d in dials)
n = len(ts)
if n < 2:
    sys.exit("dials.py: only %d dials in the ledger" % n)
i_lo, i_hi = int(n * lo / 100), min(n - 1, int(n * hi / 100))
span_ms = ts[i_hi] - ts[i_lo]
rate = (i_hi - i_lo) / (span_ms / 1000) if span_ms > 0 else float("inf")
window = start = 0
for end in range(n):
    while ts[end] - ts[start] >= 1000:
        start += 1
    window = max(window, end - start + 1)
attempts = [(d[1], d[2]) for d in dials]
print("dials", n)
print("rows", len(set(d[1] for d in dials)))
print("duplicates", len(attempts) - len(set(attempts)))
print("first", ts[0])
print("last", ts[-1])
print("t_lo", ts[i_lo])
print("t_hi", ts[i_hi])
print("rate", "%.1f" % rate)
print("window", window)
EOF

# cpu_sampler.py PID1 PID2 STOP OUT: every 20 ms until the file STOP exists, one line
# "unix_ms run1 wait1 run2 wait2": nanoseconds each process has spent on a CPU and waiting in a
# run queue for one (/proc/PID/schedstat). Waiting means other work on the machine held the CPU.
cat >"$tmp/cpu_sampler.py" <<'EOF'
import os, sys, time
pids, stop, out = sys.argv[1:3], sys.argv[3], sys.argv[4]

def schedstat(pid):
    with open("/proc/%s/schedstat" % pid) as f:
        run, wait, _ = f.read().split()
    return run + " " + wait

with open(out, "w") as f:
    while True:
        done = os.path.exists(stop)
        print(time.time_ns() // 1000000, *(schedstat(p) for p in pids), file=f, flush=True)
        if done:
            break
        time.sleep(0.02)
EOF

# cpu_window.py SAMPLES FROM_MS TO_MS MODE: CPU use of both processes between the samples nearest
# to FROM_MS and TO_MS. MODE "percent": "run1 wait1 run2 wait2" as percent of one core over the
# window; "per:N": the same in microseconds per item, for N items.
cat >"$tmp/cpu_window.py" <<'EOF'
import sys
rows = [list(map(int, line.split())) for line in open(sys.argv[1])]
lo, hi, mode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = max((r for r in rows if r[0] <= lo), key=lambda r: r[0], default=rows[0])
end = min((r for r in rows if r[0] >= hi), key=lambda r: r[0], default=rows[-1])
wall_ns = (end[0] - start[0]) * 1e6
deltas = [end[i] - start[i] for i in range(1, 5)]
if mode == "percent":
    print(*("%.0f" % (d / wall_ns * 100 if wall_ns > 0 else 0) for d in deltas))
else:
    n = int(mode.split(":")[1])
    print(*("%.0f" % (d / 1000 / n) for d in deltas))
EOF


# 3. The simulator and the server wired to it.
sim_port=$(free_port)
sim_url="http://127.0.0.1:$sim_port"
"${pin_sim[@]}" "$bin" carrier-sim --listen "127.0.0.1:$sim_port" --sim-speed "$speed" \
  --account-sid "$account_sid" --auth-token "$auth_token" --log-level warn >"$tmp/sim.log" 2>&1 &
sim_pid=$!
wait_ready "$sim_url/sim/stats" "$sim_pid" carrier-sim "$tmp/sim.log"

port=$(free_port)
url="http://127.0.0.1:$port"
mkdir "$tmp/data"
server_env=()
if [ "${BENCH_COMPLIANCE:-off}" = on ]; then
  now_ms=$(($(date +%s%N) / 1000000))
  server_env=(env "BATCHCALLD_CLOCK_OFFSET_MS=$((now_ms / 86400000 * 86400000 + 72000000 - now_ms))")
fi
"${pin_server[@]}" "${server_env[@]}" "$bin" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" --log-level warn \
  --provider twilio --twilio-api-base "$sim_url" --twilio-account-sid "$account_sid" \
  --twilio-auth-token "$auth_token" --public-url "$url" --provider-cps 0 --max-in-flight 512 \
  >"$tmp/server.log" 2>&1 &
server_pid=$!
wait_ready "$url/readyz" "$server_pid" batchcalld "$tmp/server.log"

# A workspace whose own limits never hold anything back: the first measurement is of the dialler,
# the others set the pace per batch (callsPerSecond).
# The workspace opts out of calling windows and caps unless BENCH_COMPLIANCE=on.
no_compliance=()
[ "${BENCH_COMPLIANCE:-off}" = on ] || bench_no_compliance
"$bin" admin workspace create --name bench "${no_compliance[@]}" --calls-per-second 100000 \
  --max-concurrent-calls 1000000 --requests-per-minute 1000000000 --max-records 100000000 \
  --data-dir "$tmp/data" >"$tmp/workspace.json" || die "admin workspace create failed"
workspace=$(json_field "$tmp/workspace.json" workspaceId)
api_key=$(json_field "$tmp/workspace.json" apiKey)
auth=(-H "x-api-key: $api_key" -H "x-workspace-id: $workspace")

status=$(curl -sS -o "$tmp/agent.json" -w '%{http_code}' "${auth[@]}" \
  -H 'content-type: application/json' -X POST "$url/v1/api/agents" \
  -d '{"name":"Bench agent","prompt":"Hello {first_name}, this is Acme calling.","fromNumber":"+14155550100"}')
[ "$status" = 201 ] || { cat "$tmp/agent.json" >&2; die "POST /v1/api/agents answered $status, want 201"; }
agent=$(json_field "$tmp/agent.json" id)

# Uploads a CSV of N answered contacts with extra form fields ("name=value" arguments) and prints
# the batch id. Leaves curl's time to the 201 in $tmp/upload.secs and the moment curl returned
# (unix ns) in $tmp/upload.done.
upload() {
  local n=$1 csv="$tmp/contacts-$1.csv"
  shift
  [ -e "$csv" ] || "$python" "$tmp/contacts.py" "$n" >"$csv"
  local fields=(-F "agentId=$agent") f
  for f in "$@"; do
    fields+=(-F "$f")
  done
  local status secs
  read -r status secs < <("${pin_client[@]}" curl -sS -o "$tmp/upload.json" \
    -w '%{http_code} %{time_total}\n' "${auth[@]}" -H 'Expect:' "${fields[@]}" \
    -F "file=@$csv;type=text/csv" "$url/v1/api/batch-calls")
  now_ns >"$tmp/upload.done"
  echo "$secs" >"$tmp/upload.secs"
  if [ "$status" != 201 ]; then
    cat "$tmp/upload.json" >&2 2>/dev/null || true
    kill -0 "$server_pid" 2>/dev/null ||
      { tail -n 20 "$tmp/server.log" >&2; die "batchcalld died during an upload"; }
    die "upload of $n contacts answered $status, want 201"
  fi
  json_field "$tmp/upload.json" batchId
}

# Waits for a batch to complete, then checks that it holds every contact, counts the calls that
# did not complete (all should: every number answers), and leaves the ledger's dials in
# $tmp/BATCH.dials and the last status answer in $tmp/BATCH.a2.
finish_batch() {
  local batch=$1 n=$2
  "${pin_client[@]}" "$python" "$root/bench/wait_batch.py" "$port" "/v1/api/batch-calls/$batch" "$api_key" \
    "$workspace" "$timeout" "$tmp/$batch.a2" || {
    tail -n 20 "$tmp/server.log" >&2
    die "batch $batch did not complete"
  }
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld died"; }
  kill -0 "$sim_pid" 2>/dev/null || { cat "$tmp/sim.log" >&2; die "carrier-sim died"; }
  curl -fsS -o "$tmp/$batch.dials" "$sim_url/sim/dials?batch=$batch" || die "GET /sim/dials failed"
  local completed total
  completed=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["progress"]["completed"])' \
    "$tmp/$batch.a2")
  total=$(json_field "$tmp/$batch.a2" totalCalls)
  [ "$total" = "$n" ] || die "batch $batch has $total calls, want $n"
  if [ "$completed" != "$n" ]; then
    echo "  only $completed of $n calls of batch $batch completed:" >&2
    "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["progress"])' "$tmp/$batch.a2" >&2
  fi
  not_completed=$((not_completed + n - completed))
}
not_completed=0

# Reads one value printed by dials.py.
stat_of() {
  awk -v k="$2" '$1 == k { print $2 }' "$1"
}

echo "simulator: $sim_url, speed $speed; server: $url; $pinning"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# A sampler records both processes' CPU time from here on, so that it can be split afterwards
# into the phases of each measurement.
cpu_stop="$tmp/cpu.stop"
"${pin_client[@]}" "$python" "$tmp/cpu_sampler.py" "$server_pid" "$sim_pid" "$cpu_stop" "$tmp/cpu.txt" &
sampler_pid=$!

# 4. The highest dial rate: a batch limited by nothing but the dialler (and the simulator).
echo "unlimited batch of $rows answered contacts ..."
"$python" "$tmp/contacts.py" "$rows" >"$tmp/contacts-$rows.csv"
batch=$(upload "$rows")
upload_s=$(awk '{ printf "%.3f", $1 }' "$tmp/upload.secs")
upload_ms=$(($(cat "$tmp/upload.done") / 1000000))
finish_batch "$batch" "$rows"
sleep 0.1 # a CPU sample after the end of the batch
"$python" "$tmp/dials.py" "$tmp/$batch.dials" 10 90 >"$tmp/max.stats"
max_rate=$(stat_of "$tmp/max.stats" rate)
max_dials=$(stat_of "$tmp/max.stats" dials)
[ "$(stat_of "$tmp/max.stats" rows)" = "$rows" ] ||
  die "the simulator saw $(stat_of "$tmp/max.stats" rows) distinct rows of $rows"
first_ms=$(stat_of "$tmp/max.stats" first)
last_ms=$(stat_of "$tmp/max.stats" last)
seen_ms=$(json_field "$tmp/$batch.a2" seenAt)
# Completion: from the upload's 201 until a status poll (every 50 ms) saw the batch complete.
complete_s=$(awk -v a="$upload_ms" -v b="$seen_ms" 'BEGIN { printf "%.3f", (b - a) / 1e3 }')
dial_span_s=$(awk -v a="$first_ms" -v b="$last_ms" 'BEGIN { printf "%.3f", (b - a) / 1e3 }')
tail_s=$(awk -v a="$last_ms" -v b="$seen_ms" 'BEGIN { printf "%.3f", (b - a) / 1e3 }')
read -r dial_srv dial_srv_wait dial_sim dial_sim_wait < <("$python" "$tmp/cpu_window.py" "$tmp/cpu.txt" \
  "$(stat_of "$tmp/max.stats" t_lo)" "$(stat_of "$tmp/max.stats" t_hi)" percent)
read -r tail_srv tail_srv_wait tail_sim tail_sim_wait < <("$python" "$tmp/cpu_window.py" "$tmp/cpu.txt" \
  "$last_ms" "$seen_ms" percent)
read -r srv_us _ sim_us _ < <("$python" "$tmp/cpu_window.py" "$tmp/cpu.txt" "$upload_ms" "$seen_ms" \
  "per:$max_dials")
curl -fsS -o "$tmp/sim-stats.json" "$sim_url/sim/stats" || die "GET /sim/stats failed"
max_in_progress=$(json_field "$tmp/sim-stats.json" maxInProgress)
printf '  upload %s s; %d dials over %s s, steady %.0f/s; complete %s s after the 201 (%s s after the last dial)\n' \
  "$upload_s" "$max_dials" "$dial_span_s" "$max_rate" "$complete_s" "$tail_s"
printf '  CPU while dialling (p10-p90): server %s%% (+%s%% waiting for a CPU), simulator %s%% (+%s%% waiting)\n' \
  "$dial_srv" "$dial_srv_wait" "$dial_sim" "$dial_sim_wait"
printf '  CPU after the last dial:      server %s%% (+%s%% waiting for a CPU), simulator %s%% (+%s%% waiting)\n' \
  "$tail_srv" "$tail_srv_wait" "$tail_sim" "$tail_sim_wait"
printf '  CPU per call, 201 to complete: server %s us, simulator %s us; at most %d calls in progress at the simulator\n' \
  "$srv_us" "$sim_us" "$max_in_progress"
[ "${BENCH_UNLIMITED_ONLY:-0}" = 1 ] && exit 0

# 5. The rate limiter: batches paced by their callsPerSecond, each enough for rate_seconds.
# A bucket starts full, so a batch may dial its burst at once on top of the rate. The rate is
# measured over the middle 80% of the dials (p10 to p90), which leaves out that start as long as
# the burst stays well under 10% of the batch. Over the whole batch the last dial can come no
# sooner than (contacts - burst) / rate after the first: that span is printed beside its ideal.
#
# The burst, as burst_for() in src/dispatch/scheduler.c sets it: max(2, rate / 20) tokens.
# Keep the two in step.
burst_of() {
  awk -v r="$1" 'BEGIN { b = r / 20; if (b < 2) b = 2; printf "%d", b }'
}
# The shortest first-to-last span the limiter allows for N dials at RATE.
ideal_span() {
  awk -v n="$1" -v r="$2" -v b="$(burst_of "$2")" 'BEGIN { printf "%.3f", (n - b) / r }'
}
rate_batch() {
  local rate=$1 n=$(($1 * rate_seconds)) batch stats="$tmp/rate-$1.stats"
  batch=$(upload "$n" "callsPerSecond=$rate")
  finish_batch "$batch" "$n"
  "$python" "$tmp/dials.py" "$tmp/$batch.dials" 10 90 >"$stats"
  [ "$(stat_of "$stats" rows)" = "$n" ] || die "batch at $rate/s: not every row was dialled"
  awk -v a="$(stat_of "$stats" first)" -v b="$(stat_of "$stats" last)" \
    'BEGIN { printf "%.3f\n", (b - a) / 1e3 }' >"$tmp/rate-$rate.span"
  sleep 0.1 # a CPU sample after the last dial
  "$python" "$tmp/cpu_window.py" "$tmp/cpu.txt" "$(stat_of "$stats" first)" "$(stat_of "$stats" last)" \
    percent >"$tmp/rate-$rate.cpu"
  local cpu
  read -r -a cpu <"$tmp/rate-$rate.cpu"
  printf '  %5d/s: %d dials over %s s (ideal %s s), %s/s over p10-p90, at most %d in any 1 s; server CPU %s%% (+%s%% waiting)\n' \
    "$rate" "$(stat_of "$stats" dials)" "$(cat "$tmp/rate-$rate.span")" "$(ideal_span "$n" "$rate")" \
    "$(stat_of "$stats" rate)" "$(stat_of "$stats" window)" "${cpu[0]}" "${cpu[1]}"
}
echo "rate-limited batches, ${rate_seconds} s each ..."
rate_batch 100
rate_batch 1000

# 6. Status reads while a batch dials at 1,000/s: the poller asks for that batch's status over one
# keep-alive connection; the polls counted are those that started between its first and last dial.
echo "status polls while a batch dials at 1000/s for ${rate_seconds} s ..."
poll_rate=1000
poll_n=$((poll_rate * rate_seconds))
"$python" "$tmp/contacts.py" "$poll_n" >"$tmp/contacts-$poll_n.csv"
stop="$tmp/poll.stop"
# The poller needs the batch id, so it starts right after the upload; the first dials may go out
# before it connects, which is why only polls within the dials' time span count.
batch=$(upload "$poll_n" "callsPerSecond=$poll_rate")
"${pin_client[@]}" "${prio_probe[@]}" "$python" "$root/bench/poller.py" "$port" "/v1/api/batch-calls/$batch" "$api_key" \
  "$workspace" "$stop" "$tmp/poll.txt" &
poller_pid=$!
finish_batch "$batch" "$poll_n"
touch "$stop"
wait "$poller_pid" || die "the status poller failed"
poller_pid=
"$python" "$tmp/dials.py" "$tmp/$batch.dials" 10 90 >"$tmp/poll.stats"
first_ns=$(($(stat_of "$tmp/poll.stats" first) * 1000000))
last_ns=$(($(stat_of "$tmp/poll.stats" last) * 1000000))
read -r polls p50 p99 pmax < <(awk -v a="$first_ns" -v b="$last_ns" \
  '$1 >= a && $1 <= b { print $2 }' "$tmp/poll.txt" | sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print 0, 0, 0, 0; exit }
      i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
      print NR, v[i50], v[i99], v[NR]
    }')
((polls > 0)) || die "no status poll completed while the batch dialled"
sleep 0.1 # a CPU sample after the end of the batch
touch "$cpu_stop"
wait "$sampler_pid" || die "the CPU sampler failed"
sampler_pid=
read -r poll_srv poll_srv_wait _ < <("$python" "$tmp/cpu_window.py" "$tmp/cpu.txt" \
  "$(stat_of "$tmp/poll.stats" first)" "$(stat_of "$tmp/poll.stats" last)" percent)
printf '  %d polls: p50 %.2f ms, p99 %.2f ms, max %.2f ms; dial rate meanwhile %s/s; server CPU %s%% (+%s%% waiting)\n' \
  "$polls" "$p50" "$p99" "$pmax" "$(stat_of "$tmp/poll.stats" rate)" "$poll_srv" "$poll_srv_wait"

kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld died during the run"; }
curl -fsS -o "$tmp/sim-stats.json" "$sim_url/sim/stats" || die "GET /sim/stats failed"
sim_duplicates=$(json_field "$tmp/sim-stats.json" duplicates)

# 7. The table.
# verdict VALUE OP TARGET: PASS when VALUE OP TARGET holds.
verdict() {
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
    ok = (op == "<=") ? v <= t : (op == "==") ? v == t : v >= t
    print ok ? "PASS" : "MISS"
  }'
}
row() {
  printf '| %-41s | %14s | %20s | %-7s |\n' "$@"
}
fmt() {
  awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'
}
# error RATE_FILE TARGET: |measured - target| / target, in percent.
rate_error() {
  awk -v m="$(stat_of "$1" rate)" -v t="$2" 'BEGIN { d = m - t; if (d < 0) d = -d; printf "%.2f", d / t * 100 }'
}

echo
row metric value target verdict
printf '|%s|%s|%s|%s|\n' ------------------------------------------- ---------------- \
  ---------------------- ---------
row "dial rate, no limit (p10-p90 of ledger)" "$(fmt "$max_rate" '%.0f /s')" ">= 5000 /s" \
  "$(verdict "$max_rate" ">=" 5000)"
row "$rows calls: upload (curl)" "$upload_s s" "" ""
row "$rows calls: first to last dial" "$dial_span_s s" "" ""
row "$rows calls: 201 to batch complete" "$complete_s s" "" ""
row "server CPU while dialling (+ waiting)" "$dial_srv % (+$dial_srv_wait %)" "" ""
row "simulator CPU while dialling (+ waiting)" "$dial_sim % (+$dial_sim_wait %)" "" ""
row "server CPU after last dial (+ waiting)" "$tail_srv % (+$tail_srv_wait %)" "" ""
row "simulator CPU after last dial (+ waiting)" "$tail_sim % (+$tail_sim_wait %)" "" ""
row "server CPU per call" "$srv_us us" "" ""
row "simulator CPU per call" "$sim_us us" "" ""
for rate in 100 1000; do
  err=$(rate_error "$tmp/rate-$rate.stats" "$rate")
  win=$(stat_of "$tmp/rate-$rate.stats" window)
  row "rate $rate/s: first to last dial" \
    "$(cat "$tmp/rate-$rate.span") s" "(ideal $(ideal_span $((rate * rate_seconds)) "$rate") s)" ""
  row "rate $rate/s: measured (p10-p90)" "$(fmt "$(stat_of "$tmp/rate-$rate.stats" rate)" '%.1f /s')" "" ""
  row "rate $rate/s: error" "$(fmt "$err" '%.2f %%')" "<= 1 %" "$(verdict "$err" "<=" 1)"
  read -r -a cpu <"$tmp/rate-$rate.cpu"
  row "rate $rate/s: server CPU (+ waiting)" "${cpu[0]} % (+${cpu[1]} %)" "" ""
  limit=$((rate + $(burst_of "$rate")))
  row "rate $rate/s: most dials in any 1 s" "$win" "<= $limit (rate + burst)" \
    "$(verdict "$win" "<=" "$limit")"
done
row "status GET while dialling 1000/s, p50" "$(fmt "$p50" '%.2f ms')" "" ""
row "status GET while dialling 1000/s, p99" "$(fmt "$p99" '%.2f ms')" "<= 5 ms" "$(verdict "$p99" "<=" 5)"
row "status GET while dialling 1000/s, max" "$(fmt "$pmax" '%.2f ms')" "" ""
row "server CPU meanwhile (+ waiting)" "$poll_srv % (+$poll_srv_wait %)" "" ""
row "calls not completed (every batch)" "$not_completed" "0" "$(verdict "$not_completed" "==" 0)"
row "dials sent twice (simulator ledger)" "$sim_duplicates" "0" "$(verdict "$sim_duplicates" "==" 0)"
echo "CPU: percent of one core; waiting = runnable but another process held the CPU."
# Time spent waiting for a CPU means other work on the machine slowed the processes measured.
busiest=$(printf '%s\n' "$dial_srv_wait" "$dial_sim_wait" "$tail_srv_wait" "$tail_sim_wait" \
  "$poll_srv_wait" "$(cut -d' ' -f2 "$tmp/rate-100.cpu")" "$(cut -d' ' -f2 "$tmp/rate-1000.cpu")" |
  sort -g | tail -n1)
if [ "$busiest" -gt 10 ]; then
  echo "WARNING: a process waited for a CPU up to $busiest% of a phase: the machine was busy with" \
    "other work, so these numbers understate batchcalld. Run again on an idle machine."
fi
echo "$pinning; $polls status polls; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
