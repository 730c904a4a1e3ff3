#!/usr/bin/env bash
# HTTP benchmark: one authenticated GET /v1/api/agents/{id} served by batchcalld, compared with nginx
# returning a fixed JSON body of the same size. nginx is the baseline for "how fast can a single
# event-loop process answer a small HTTP/1.1 request on this machine", so the ratio tells how much
# batchcalld spends on its own work (routing, auth, rate limit, an LMDB read, JSON) on top of that.
#
# Loopback only, stops by itself, exits non-zero when anything fails.
# Environment:
#   BATCHCALLD_BIN   use this binary instead of building bench/out/build/batchcalld (Release)
#   BENCH_DURATION   wrk duration of each round (default 10s)
#   BENCH_ROUNDS     rounds per server, run alternately so machine noise hits both alike (default 3)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${BENCH_DURATION:-10s}
rounds=${BENCH_ROUNDS:-3}
connections=64

bench_name="http"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_require cmake curl nginx wrk
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, got '$rounds'"

tmp=$(mktemp -d /tmp/batchcalld-bench-http.XXXXXX)
server_pid=
nginx_pid=

# Every process this script starts is stopped here, whatever way the script ends.
cleanup() {
  stop_pids "$server_pid" "$nginx_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port the kernel just handed out and released is free for the next moment, which is all we need.

# Keep wrk off the servers' core so the load generator does not steal the CPU it is measuring.
if [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0)
  pin_client=(taskset -c 1)
  pinning="batchcalld and nginx pinned to CPU 0, wrk to CPU 1"
else
  pin_server=()
  pin_client=()
  pinning="not pinned (only one CPU)"
fi

# 1. The binary.
bench_binary "$root"

# 2. batchcalld with one workspace whose rate limit never triggers, and one agent to read back.
# Logging at warn keeps per-request log lines out of the measurement, like nginx's access_log off.
server_port=$(free_port)
server_url="http://127.0.0.1:$server_port"
mkdir "$tmp/data"
"${pin_server[@]}" "$bin" serve --listen "127.0.0.1:$server_port" --data-dir "$tmp/data" \
  --log-level warn >"$tmp/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 100); do
  curl -fsS -o /dev/null "$server_url/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld exited at start"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$server_url/readyz" || die "batchcalld not ready after 10 s"

bench_no_compliance
"$bin" admin workspace create --name bench "${no_compliance[@]}" --requests-per-minute 1000000000 \
  --data-dir "$tmp/data" >"$tmp/workspace.json" || die "admin workspace create failed"
workspace=$("$python" -c 'import json, sys; print(json.load(sys.stdin)["workspaceId"])' <"$tmp/workspace.json")
api_key=$("$python" -c 'import json, sys; print(json.load(sys.stdin)["apiKey"])' <"$tmp/workspace.json")
auth=(-H "x-api-key: $api_key" -H "x-workspace-id: $workspace")

status=$(curl -sS -o "$tmp/agent.json" -w '%{http_code}' "${auth[@]}" \
  -H 'content-type: application/json' -X POST "$server_url/v1/api/agents" \
  -d '{"name":"Bench agent","prompt":"Hello {firstName}, this is Acme calling about your {topic} appointment.","fromNumber":"+14155550100"}')
[ "$status" = 201 ] || { cat "$tmp/agent.json" >&2; die "POST /v1/api/agents answered $status, want 201"; }
agent=$("$python" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <"$tmp/agent.json")
path="/v1/api/agents/$agent"

status=$(curl -sS -o "$tmp/body.json" -w '%{http_code}' "${auth[@]}" "$server_url$path")
[ "$status" = 200 ] || { cat "$tmp/body.json" >&2; die "GET $path answered $status, want 200"; }
body_size=$(wc -c <"$tmp/body.json")

# 3. nginx serving the very same bytes. Inside a single-quoted nginx string only ' and \ need
# escaping, but "$" would start a variable, so refuse a body that has one rather than serve another.
grep -q '\$' "$tmp/body.json" && die "agent body contains '\$', which nginx would expand"
nginx_body=$(sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g" "$tmp/body.json")
nginx_port=$(free_port)
nginx_url="http://127.0.0.1:$nginx_port"
mkdir "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
# One process, like batchcalld, in the foreground so this script owns and stops it.
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        location = $path {
            default_type application/json;
            return 200 '$nginx_body';
        }
    }
}
EOF
"${pin_server[@]}" nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" \
  >"$tmp/nginx/stdout.log" 2>&1 &
nginx_pid=$!

for _ in $(seq 100); do
  curl -fsS -o /dev/null "$nginx_url$path" 2>/dev/null && break
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$tmp/nginx/error.log" "$tmp/nginx/stdout.log" >&2; die "nginx exited at start"; }
  sleep 0.1
done
curl -fsS -o "$tmp/nginx-body.json" "$nginx_url$path" || die "nginx not ready after 10 s"
cmp -s "$tmp/body.json" "$tmp/nginx-body.json" || die "nginx body differs from the batchcalld body"

# 4. Alternate the two servers round by round. Each round leaves one line in $tmp/NAME.results;
# any non-2xx response or socket error fails the whole run.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { exit 1 }
  }'
}

# CPU time (user + system, in clock ticks) a process has used so far. The fields are counted after
# the ")" that ends the command name, which could itself contain spaces.
cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# One wrk run against NAME (whose process id is PID); appends
# "req/s p50_ms p99_ms server_cpu_us_per_req wrk_cpu_percent".
# CPU per request is the server's own CPU time divided by the requests it answered: unlike req/s it
# barely moves when other work on the machine takes turns on the same core. wrk's own CPU use shows
# whether the load generator, not the server, was the ceiling.
run_round() {
  local name=$1 pid=$2 url=$3 round=$4 out="$tmp/wrk-$1-$4.txt"
  local ticks_before TIMEFORMAT='%R %U %S'
  ticks_before=$(cpu_ticks "$pid")
  { time "${pin_client[@]}" wrk -t1 -c"$connections" -d"$duration" --latency "${auth[@]}" "$url" \
    >"$out" 2>&1; } 2>"$out.time" || { cat "$out" >&2; die "wrk against $name failed"; }
  if grep -q -e 'Non-2xx or 3xx responses' -e 'Socket errors' "$out"; then
    cat "$out" >&2
    die "$name round $round: not every response was a 2xx (see wrk output above)"
  fi
  local ticks rate p50 p99 requests cpu client
  ticks=$(($(cpu_ticks "$pid") - ticks_before))
  rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  requests=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
  p50=$(awk '$1 == "50%" { print $2 }' "$out")
  p99=$(awk '$1 == "99%" { print $2 }' "$out")
  if [ -z "$rate" ] || [ -z "$p50" ] || [ -z "$p99" ] || [ "${requests:-0}" -eq 0 ]; then
    cat "$out" >&2
    die "cannot parse wrk output"
  fi
  if ! p50=$(to_ms "$p50") || ! p99=$(to_ms "$p99"); then
    cat "$out" >&2
    die "unknown latency unit in wrk output"
  fi
  cpu=$(awk -v t="$ticks" -v hz="$clock_hz" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
  client=$(awk '{ printf "%.0f", ($2 + $3) / $1 * 100 }' "$out.time")
  echo "$rate $p50 $p99 $cpu $client" >>"$tmp/$name.results"
  printf '  round %d %-10s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  server %6.2f us/req  wrk CPU %3d%%\n' \
    "$round" "$name" "$rate" "$p50" "$p99" "$cpu" "$client"
}

# Median of one column of a results file (mean of the middle two for an even count).
median() {
  sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c }
    END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "batchcalld $server_url$path vs nginx $nginx_url$path"
echo "body $body_size bytes; wrk -t1 -c$connections -d$duration, $rounds rounds each, alternating; $pinning"
clock_hz=$(getconf CLK_TCK)
# Other work on the machine skews both servers; the load average tells the reader whether it was idle.
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  run_round batchcalld "$server_pid" "$server_url$path" "$round"
  run_round nginx "$nginx_pid" "$nginx_url$path" "$round"
done

kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "batchcalld died during the run"; }
kill -0 "$nginx_pid" 2>/dev/null || die "nginx died during the run"

echo
echo "median of $rounds rounds (each column separately):"
printf '| %-10s | %9s | %11s | %11s | %16s | %7s |\n' server "req/s" "p50 latency" "p99 latency" \
  "server CPU / req" "wrk CPU"
printf '|%s|%s|%s|%s|%s|%s|\n' ------------ ----------- ------------- ------------- ------------------ ---------
for name in batchcalld nginx; do
  printf '| %-10s | %9.0f | %8.3f ms | %8.3f ms | %11.2f us | %6.0f%% |\n' "$name" \
    "$(median "$tmp/$name.results" 1)" "$(median "$tmp/$name.results" 2)" \
    "$(median "$tmp/$name.results" 3)" "$(median "$tmp/$name.results" 4)" \
    "$(median "$tmp/$name.results" 5)"
done
awk -v a="$(median "$tmp/batchcalld.results" 1)" -v b="$(median "$tmp/nginx.results" 1)" \
  -v c="$(median "$tmp/batchcalld.results" 4)" -v d="$(median "$tmp/nginx.results" 4)" \
  'BEGIN { printf "ratio batchcalld/nginx: req/s %.2f, CPU per request %.2f\n", a / b, c / d }'
for name in batchcalld nginx; do
  if awk -v v="$(median "$tmp/$name.results" 5)" 'BEGIN { exit !(v >= 90) }'; then
    echo "note: wrk used its whole core against $name, so the client was the ceiling and that req/s" \
      "is a lower bound; compare CPU per request instead"
  fi
done
