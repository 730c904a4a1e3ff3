# The balancer of deploy/compose.yaml: Debian's nginx with the fleet configuration rendered at start
# from deploy/fleetconf.py (the same renderer the tests and bare-metal installs use), so the
# image needs no registry beyond the local debian:12-slim that deploy/image.sh makes.
#   buildah bud --isolation chroot --format docker -f deploy/balancer.Dockerfile -t localhost/batchcalld-balancer deploy
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light python3-minimal \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /dev/stderr /var/log/nginx/error.log
COPY fleetconf.py /opt/batchcalld/fleetconf.py
COPY nginx /opt/batchcalld/nginx
COPY haproxy /opt/batchcalld/haproxy
EXPOSE 8080
STOPSIGNAL SIGQUIT
# BALANCER_INSTANCES: space-separated NAME=HOST:PORT; the map is /etc/batchcalld/placement.map
# (a mounted directory, which `batchcalld admin placement set` rewrites by rename).
ENV BALANCER_INSTANCES="inst-1=inst-1:8080 inst-2=inst-2:8080 inst-3=inst-3:8080"
CMD set -e; args=""; for i in $BALANCER_INSTANCES; do args="$args --instance $i"; done; \
    python3 /opt/batchcalld/fleetconf.py --state /run/balancer --listen 0.0.0.0:8080 \
      --map /etc/batchcalld/placement.map --access-log /dev/stdout $args; \
    exec nginx -p /run/balancer -c /run/balancer/nginx.conf -g 'daemon off;'
