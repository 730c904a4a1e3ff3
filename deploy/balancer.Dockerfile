# The balancer of deploy/compose.yaml: Debian's nginx with the fleet configuration rendered at start
# from deploy/fleetconf.py (the same renderer the tests and bare-metal installs use), reloaded when
# an instance's address changes (balancer-entrypoint.sh); the image needs no registry beyond the
# local debian:12-slim that deploy/image.sh makes.
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
COPY balancer-entrypoint.sh /opt/batchcalld/balancer-entrypoint.sh
# BALANCER_INSTANCES: space-separated NAME=HOST:PORT; the map is /etc/batchcalld/placement.map
# (a mounted directory, which `batchcalld admin placement set` rewrites by rename).
ENV BALANCER_INSTANCES="inst-1=inst-1:8080 inst-2=inst-2:8080 inst-3=inst-3:8080"
CMD ["/opt/batchcalld/balancer-entrypoint.sh"]
