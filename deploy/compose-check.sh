#!/usr/bin/env bash
# Runs deploy/compose.yaml for real with podman-compose and checks the fleet it starts:
#   - three instances and the nginx balancer up; the balancer answers /healthz;
#   - a workspace created on each instance (admin CLI inside its container), placed in a fresh
#     placement map, the balancer reloaded; every request for it through the balancer is answered
#     by its instance (X-Instance);
#   - a campaign per workspace through the balancer, its simulator's callbacks back through the
#     balancer (BATCHCALLD_PUBLIC_URL=http://balancer:8080), every call final;
#   - one instance stopped: its workspace gets 503 JSON with Retry-After from the balancer, the
#     others still 200; started again: 200, its data (the volume) intact;
#   - everything removed at the end (containers, network, volumes, the temporary map).
# Needs root, `bash deps/install.sh --test`, the image (bash deploy/image.sh; made when missing) and
# DNS between containers (podman's CNI dnsname plugin, or netavark; Docker always has it).
#
# Usage: bash deploy/compose-check.sh
# Environment: BATCHCALLD_PORT (host port of the balancer, default 18480), BATCHCALLD_BIN (the
# host's batchcalld for `admin placement`, default build/release/batchcalld),
# BATCHCALLD_STORAGE_DRIVER (default vfs, as deploy/image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

port=${BATCHCALLD_PORT:-18480}
bin=${BATCHCALLD_BIN:-build/release/batchcalld}
project=bcfleet-check
podman_args="--runtime runc --cgroup-manager cgroupfs --storage-driver ${BATCHCALLD_STORAGE_DRIVER:-vfs}"
# shellcheck disable=SC2206
podman=(podman $podman_args)
base="http://127.0.0.1:$port"
work=$(mktemp -d /tmp/batchcalld-compose.XXXXXX)
export BATCHCALLD_PORT=$port BATCHCALLD_PLACEMENT_DIR=$work/placement BATCHCALLD_SIM_SPEED=200

fail() {
  echo "compose-check: FAIL: $*" >&2
  "${podman[@]}" logs "${project}_balancer_1" 2>&1 | grep -v systemd | tail -20 >&2 || true
  exit 1
}
compose() {
  podman-compose --podman-args "$podman_args" -p "$project" -f deploy/compose.yaml "$@" \
    >>"$work/compose.log" 2>&1
}
cleanup() {
  compose down || true
  for i in 1 2 3; do "${podman[@]}" volume rm -f "${project}_inst-$i-data" >/dev/null 2>&1 || true; done
  "${podman[@]}" network rm -f "${project}_default" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in podman-compose podman buildah python3 curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run bash deps/install.sh --test"
done
[ -x "$bin" ] || fail "no batchcalld at $bin: build it, or set BATCHCALLD_BIN"
mkdir -p "$work/placement"

if ! "${podman[@]}" image exists localhost/batchcalld:latest; then
  bash deploy/image.sh
fi
echo "compose-check: building localhost/batchcalld-balancer:latest"
buildah --storage-driver "${BATCHCALLD_STORAGE_DRIVER:-vfs}" bud --isolation chroot --format docker \
  --pull=never -f deploy/balancer.Dockerfile -t localhost/batchcalld-balancer:latest deploy \
  >"$work/balancer-build.log" 2>&1 || { tail -20 "$work/balancer-build.log" >&2; fail "balancer build"; }

echo "compose-check: podman-compose up (project $project, balancer on 127.0.0.1:$port)"
compose up -d || { tail -30 "$work/compose.log" >&2; fail "podman-compose up"; }
for _ in $(seq 1 100); do
  curl -sf -m 1 "$base/healthz" >/dev/null && break
  sleep 0.2
done
curl -sf -m 2 "$base/healthz" >/dev/null || fail "the balancer does not answer /healthz"

# json FIELD: a field of the JSON document on stdin.
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# req METHOD PATH WS KEY [curl args]: prints "STATUS INSTANCE" then the body on the next line.
req() {
  local method=$1 path=$2 ws=$3 key=$4
  shift 4
  curl -s -m 10 -X "$method" -H "x-workspace-id: $ws" -H "x-api-key: $key" \
    -D "$work/headers" -o "$work/body" "$@" "$base$path" >/dev/null || true
  local status inst
  status=$(awk 'NR == 1 { print $2 }' "$work/headers")
  inst=$(tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1) == "x-instance" { print $2 }')
  echo "$status ${inst:--}"
  cat "$work/body"
  echo
}

declare -A ws key agent batch
for i in 1 2 3; do
  created=$("${podman[@]}" exec "${project}_inst-${i}_1" batchcalld admin workspace create \
    --name "compose-$i" --requests-per-minute 100000 --data-dir /data)
  ws[$i]=$(json workspaceId <<<"$created")
  key[$i]=$(json apiKey <<<"$created")
  "$bin" admin placement set --map "$work/placement/placement.map" --workspace "${ws[$i]}" \
    --instance "inst-$i" >/dev/null
done
"${podman[@]}" exec "${project}_balancer_1" nginx -p /run/balancer -c /run/balancer/nginx.conf \
  -s reload 2>/dev/null
sleep 1
echo "compose-check: 3 workspaces placed, balancer reloaded"

for i in 1 2 3; do
  out=$(req POST /v1/api/agents "${ws[$i]}" "${key[$i]}" -H 'Content-Type: application/json' \
    -d '{"name":"Compose","prompt":"Hello {first_name}","fromNumber":"+14155552671"}')
  [ "$(head -1 <<<"$out")" = "201 inst-$i" ] || fail "agent of workspace $i: $out"
  agent[$i]=$(tail -n +2 <<<"$out" | json id)
  printf 'phone_number,first_name\n+14155550111,A\n+14155550112,B\n+14155550113,C\n' >"$work/c.csv"
  out=$(req POST /v1/api/batch-calls "${ws[$i]}" "${key[$i]}" -F "agentId=${agent[$i]}" \
    -F "file=@$work/c.csv")
  [ "$(head -1 <<<"$out")" = "201 inst-$i" ] || fail "upload to workspace $i: $out"
  batch[$i]=$(tail -n +2 <<<"$out" | json batchId)
done
echo "compose-check: an agent and a campaign per workspace, each answered by its instance"

for i in 1 2 3; do
  done_=0
  for _ in $(seq 1 150); do
    out=$(req GET "/v1/api/batch-calls/${batch[$i]}" "${ws[$i]}" "${key[$i]}")
    [ "$(head -1 <<<"$out")" = "200 inst-$i" ] || fail "status of campaign $i: $out"
    if [ "$(tail -n +2 <<<"$out" | json isComplete)" = True ]; then done_=1; break; fi
    sleep 0.2
  done
  [ "$done_" = 1 ] || fail "campaign $i did not complete (callbacks through the balancer?): $out"
done
echo "compose-check: every campaign complete (the simulator's callbacks came through the balancer)"

compose stop inst-3
out=$(req GET "/v1/api/batch-calls/${batch[3]}" "${ws[3]}" "${key[3]}")
grep -q '^503 ' <<<"$out" && grep -q '"error":"unavailable"' <<<"$out" ||
  fail "stopped instance's workspace: $out"
grep -qi '^retry-after: 2' "$work/headers" || fail "no Retry-After on the 503"
for i in 1 2; do
  out=$(req GET "/v1/api/batch-calls/${batch[$i]}" "${ws[$i]}" "${key[$i]}")
  [ "$(head -1 <<<"$out")" = "200 inst-$i" ] || fail "workspace $i while inst-3 is stopped: $out"
done
echo "compose-check: inst-3 stopped: its workspace gets 503 unavailable (JSON, Retry-After), the others 200"
compose start inst-3
for _ in $(seq 1 100); do
  out=$(req GET "/v1/api/batch-calls/${batch[3]}" "${ws[3]}" "${key[3]}")
  [ "$(head -1 <<<"$out")" = "200 inst-3" ] && break
  sleep 0.2
done
[ "$(head -1 <<<"$out")" = "200 inst-3" ] || fail "inst-3 after its restart: $out"
reloads=$("${podman[@]}" logs "${project}_balancer_1" 2>&1 | grep -c 'addresses changed' || true)
echo "compose-check: inst-3 started again: its campaign is still there (volume); the balancer" \
  "reloaded nginx $reloads times for changed instance addresses"
echo "compose-check: OK"
