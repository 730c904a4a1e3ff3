# batchcalld container: build with the same deps script a developer uses, ship only the binary and
# the shared libraries it links.
#   docker build -t batchcalld .
#   docker run -d -p 8080:8080 -v batchcalld-data:/data batchcalld

FROM debian:12 AS build
# The deps script alone first, so editing the sources does not reinstall the toolchain.
COPY deps/install.sh /src/deps/install.sh
RUN bash /src/deps/install.sh
COPY . /src
# Only the server target: the unit tests are not needed in the image.
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target batchcalld -j"$(nproc)"

FROM debian:12-slim
# The runtime counterparts of the -dev packages the build links against (libssl3 carries libcrypto);
# llhttp is compiled into the binary. tzdata: calling windows read each callee's local time from
# the system's time-zone database, and the server refuses to start without it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libuv1 libcurl4 libcjson1 liblmdb0 libssl3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid so a bind-mounted host directory can be chowned to match.
RUN groupadd --system --gid 10001 batchcalld \
 && useradd --system --uid 10001 --gid batchcalld --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin batchcalld \
 && mkdir /data \
 && chown batchcalld:batchcalld /data
COPY --from=build /build/batchcalld /usr/local/bin/batchcalld

USER batchcalld
WORKDIR /data
# Declared after the chown so a new named volume starts out owned by batchcalld.
VOLUME /data
EXPOSE 8080
# On SIGTERM batchcalld drains requests in flight for up to --shutdown-timeout-ms; the CMD keeps that
# under docker stop's default 10 s grace period so the store is always closed cleanly.
STOPSIGNAL SIGTERM
HEALTHCHECK CMD ["batchcalld", "healthcheck", "--listen", "127.0.0.1:8080"]
ENTRYPOINT ["batchcalld"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data", "--shutdown-timeout-ms", "8000"]
