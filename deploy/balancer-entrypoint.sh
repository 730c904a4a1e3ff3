#!/bin/sh
# The compose balancer's entrypoint (deploy/balancer.Dockerfile): renders the nginx configuration
# for $BALANCER_INSTANCES (space-separated NAME=HOST:PORT) with fleetconf.py, runs nginx, and
# reloads it whenever an instance's address changes. nginx resolves upstream names only when it
# loads its configuration, and a container started again may get another address: without the
# reload a restarted instance would stay unreachable (503) until someone reloaded by hand.
set -eu
args="" hosts=""
for spec in $BALANCER_INSTANCES; do
  args="$args --instance $spec"
  addr=${spec#*=}
  hosts="$hosts ${addr%:*}"
done
# shellcheck disable=SC2086
python3 /opt/batchcalld/fleetconf.py --state /run/balancer --listen 0.0.0.0:8080 \
  --map /etc/batchcalld/placement.map --access-log /dev/stdout $args
conf="-p /run/balancer -c /run/balancer/nginx.conf"

addresses() {
  for host in $hosts; do getent hosts "$host" || echo "unresolved $host"; done
}
(
  last=$(addresses)
  while sleep "${BALANCER_RESOLVE_S:-1}"; do
    now=$(addresses)
    if [ "$now" != "$last" ]; then
      echo "balancer: instance addresses changed, reloading nginx:" $now >&2
      # shellcheck disable=SC2086
      nginx $conf -s reload || true
      last=$now
    fi
  done
) &
# shellcheck disable=SC2086
exec nginx $conf -g 'daemon off;'
