# shellcheck shell=bash disable=SC2034,SC2154
# Shared by the benchmark scripts (sourced, not run). Before sourcing, a script sets bench_name,
# its name in messages ("ingest" gives "bench/ingest: ..."), and before bench_binary, tmp, its
# temporary directory (the build log goes there). It then gets die, bench_require, free_port, json_field, now_ns, bench_binary and
#   python      the Python interpreter itself, not a version-manager shim in front of it: a shim
#               (pyenv's costs about 0.4 s a start here) would be timed along with the baseline;
#   prio_probe  a command prefix giving latency probes a real-time priority when allowed.

die() {
  echo "bench/$bench_name: $*" >&2
  exit 1
}

# bench_require TOOL...: stops unless every tool is installed.
bench_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool not found (run deps/install.sh)"
  done
}

bench_require python3
python=$(python3 -c 'import sys; print(sys.executable)') || die "python3 does not run"

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json_field FILE NAME: a top-level field of a JSON file.
json_field() {
  "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# stop_pids PID...: the end of a script's cleanup. Asks every process given to stop, then waits
# for each (empty arguments and processes already gone are skipped).
stop_pids() {
  local pid
  for pid in "$@"; do
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "$@"; do
    if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  done
}

now_ns() {
  date +%s%N
}

# bench_binary ROOT: sets bin to $BATCHCALLD_BIN, or builds a Release binary in ROOT/bench/out/build.
bench_binary() {
  local build
  if [ -n "${BATCHCALLD_BIN:-}" ]; then
    bin=$BATCHCALLD_BIN
  else
    build="$1/bench/out/build"
    echo "building Release binary in $build ..."
    cmake -S "$1" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 ||
      { cat "$tmp/cmake.log" >&2; die "cmake configure failed"; }
    cmake --build "$build" --target batchcalld -j"$(nproc)" >>"$tmp/cmake.log" 2>&1 ||
      { tail -n 50 "$tmp/cmake.log" >&2; die "build failed"; }
    bin="$build/batchcalld"
  fi
  [ -x "$bin" ] || die "binary $bin is not executable"
}

# A latency probe (a status poller) measures the server, so it must not wait for its own CPU
# behind the other clients on its core: as root it runs with a real-time priority, which it
# barely uses as it sleeps between requests.
prio_probe=()
if [ "$(id -u)" = 0 ] && command -v chrt >/dev/null && chrt -f 10 true 2>/dev/null; then
  prio_probe=(chrt -f 10)
fi

# The admin flags that opt a benchmark's workspace out of calling windows and the frequency cap,
# in the array no_compliance: benchmarks measure throughput at any hour of the day
# (bench/compliance.sh and bench/compliance_dial.sh measure the rules). Empty for builds that
# predate compliance settings, so a baseline build runs the same script.
bench_no_compliance() {
  no_compliance=()
  if "$bin" admin --help 2>&1 | grep -q -- --compliance; then
    no_compliance=(--compliance '{"allowOutsideFederalWindow":true,"maxAttemptsPerNumber":0}')
  fi
}
