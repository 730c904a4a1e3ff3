#!/usr/bin/env bash
# Builds the batchcalld container image from ./Dockerfile without a Docker engine and without a
# registry, then runs it and checks it, end to end:
#   1. local base images debian:12 and debian:12-slim from `debootstrap --variant=minbase bookworm`
#      (Debian's mirror, which apt reaches) and `podman import`, with the apt and dpkg settings the
#      official images carry (without them apt leaves ~80 MB of caches in every layer that installs);
#   2. `buildah bud --isolation chroot --format docker` (the OCI format drops HEALTHCHECK);
#   3. `podman --runtime runc --cgroup-manager cgroupfs run` with explicit --ulimit (crun 1.8 refuses
#      hybrid cgroup hosts; root cannot raise limits in some sandboxes, so none is inherited blindly);
#   4. checks: HEALTHCHECK present and passing, non-root user, /data a writable volume, `--demo`
#      start, the printed curl command answers, SIGTERM stops it with exit 0 within the grace period.
# Prints the image size and the build time. Needs root and `bash deps/install.sh --test` (podman,
# buildah, runc, debootstrap).
#
# Usage: bash deploy/image.sh [--rebuild-base] [--keep]
#   --rebuild-base  make the base images again even if they exist (and refresh the cached root)
#   --keep          leave the checked container's volume behind (it is removed by default)
# Environment:
#   BATCHCALLD_IMAGE          image name (default localhost/batchcalld:latest)
#   BATCHCALLD_IMAGE_CACHE    where the debootstrap root is cached as a tarball
#                             (default ${XDG_CACHE_HOME:-~/.cache}/batchcalld-image; "" = no cache)
#   BATCHCALLD_IMAGE_CACHE_DAYS  a cached root older than this is made again (default 7)
#   BATCHCALLD_DEBIAN_MIRROR  (default http://deb.debian.org/debian)
#   BATCHCALLD_DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security)
#   BATCHCALLD_IMAGE_PORT     loopback port the checked container is published on (default 18080)
#   BATCHCALLD_STORAGE_DRIVER containers/storage driver (default vfs: works on any file system and
#                             inside containers, where overlay mounts are refused)
set -euo pipefail
cd "$(dirname "$0")/.."

image=${BATCHCALLD_IMAGE:-localhost/batchcalld:latest}
cache=${BATCHCALLD_IMAGE_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/batchcalld-image}
cache_days=${BATCHCALLD_IMAGE_CACHE_DAYS:-7}
mirror=${BATCHCALLD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${BATCHCALLD_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
port=${BATCHCALLD_IMAGE_PORT:-18080}
driver=${BATCHCALLD_STORAGE_DRIVER:-vfs}
suite=bookworm
rebuild_base=0 keep=0
for arg in "$@"; do
  case "$arg" in
    --rebuild-base) rebuild_base=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: bash deploy/image.sh [--rebuild-base] [--keep]" >&2; exit 2 ;;
  esac
done

for tool in podman buildah runc debootstrap; do
  if ! command -v "$tool" >/dev/null; then
    echo "image: $tool is missing: run bash deps/install.sh --test (as root)" >&2
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "image: run as root (debootstrap and the chroot build need it)" >&2
  exit 1
fi

podman=(podman --storage-driver "$driver" --runtime runc --cgroup-manager cgroupfs)
buildah=(buildah --storage-driver "$driver")
# Explicit limits, never above this shell's hard limits: podman's defaults (nofile 1048576) are
# higher than a sandboxed root may set, and runc then fails with "error setting rlimits". 16384
# descriptors cover --max-connections 1024 with its curl sockets.
cap_limit() {
  local hard want=$2
  hard=$(ulimit -H "$1")
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then echo "$hard"; else echo "$want"; fi
}
nofile=$(cap_limit -n 16384) nproc=$(cap_limit -u 4096)
ulimits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
name=batchcalld-image-check
volume=batchcalld-image-check-data
work=$(mktemp -d /tmp/batchcalld-image.XXXXXX)

cleanup() {
  "${podman[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  if [ "$keep" = 0 ]; then "${podman[@]}" volume rm -f "$volume" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() {
  [ -s "$work/podman.log" ] && grep -v 'systemd connection' "$work/podman.log" | tail -20 >&2
  echo "image: FAIL: $*" >&2
  exit 1
}
# podman without systemd logs an error for every health-check timer it cannot add or remove; those
# lines are noise here, the rest of its stderr is shown when a check fails.
pm() { "${podman[@]}" "$@" 2>>"$work/podman.log"; }

# --- 1. base images -------------------------------------------------------------------------------

# The settings Docker's official Debian images carry (debuerreotype): no package caches, no
# translations, gzipped indexes, no services started by postinst scripts.
apply_official_settings() {
  local root=$1
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' \
    >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' \
    >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  echo 'force-unsafe-io' >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
  : >"$root/etc/machine-id"
}

# What the official -slim images drop, for packages installed later too (dpkg path-exclude).
apply_slim_settings() {
  local root=$1
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/groff/* "$root"/usr/share/info/* "$root"/usr/share/linda/* \
    "$root"/usr/share/lintian/* "$root"/usr/share/locale/* "$root"/usr/share/man/*
}

# A debootstrap root as a tarball, from the cache when a complete one (its .ok stamp is written
# last) is younger than $cache_days; the key names the suite, variant and mirror.
root_tarball() {
  local key tar
  key=$(printf '%s minbase %s' "$suite" "$mirror" | sha256sum | cut -c1-16)
  if [ -n "$cache" ]; then
    mkdir -p "$cache"
    tar="$cache/$suite-minbase-$key.tar"
    if [ "$rebuild_base" = 0 ] && [ -f "$tar.ok" ] &&
      [ -n "$(find "$tar.ok" -mtime -"$cache_days" 2>/dev/null)" ]; then
      echo "image: debootstrap root from the cache ($tar)" >&2
      echo "$tar"
      return
    fi
  else
    tar="$work/$suite-minbase.tar"
  fi
  echo "image: debootstrap --variant=minbase $suite from $mirror" >&2
  rm -f "$tar.ok"
  debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
  tar -C "$work/root" --numeric-owner -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  [ -n "$cache" ] && touch "$tar.ok"
  rm -rf "$work/root"
  echo "$tar"
}

import_base() {
  local tar=$1 tag=$2 slim=$3 root="$work/base-$2"
  mkdir -p "$root"
  tar -C "$root" --numeric-owner -xf "$tar"
  apply_official_settings "$root"
  [ "$slim" = 1 ] && apply_slim_settings "$root"
  tar -C "$root" --numeric-owner -cf - . |
    "${podman[@]}" import --change 'CMD ["bash"]' --message "debootstrap minbase $suite" - \
      "localhost/debian:$tag" >/dev/null
  rm -rf "$root"
  echo "image: base localhost/debian:$tag $(size_of "localhost/debian:$tag")"
}

size_of() {
  "${podman[@]}" image inspect --format '{{.Size}}' "$1" |
    awk '{ printf "%.1f MB", $1 / 1000000 }'
}

t0=$(now)
if [ "$rebuild_base" = 1 ] || ! "${podman[@]}" image exists localhost/debian:12 ||
  ! "${podman[@]}" image exists localhost/debian:12-slim; then
  tarball=$(root_tarball)
  import_base "$tarball" 12 0
  import_base "$tarball" 12-slim 1
else
  echo "image: base images localhost/debian:12 and :12-slim present (--rebuild-base to remake)"
fi
base_s=$(elapsed "$t0")

# --- 2. build -------------------------------------------------------------------------------------

echo "image: buildah bud --isolation chroot --format docker -t $image"
t1=$(now)
# --pull=never: FROM debian:12 must resolve to the local images, never to a registry.
"${buildah[@]}" bud --isolation chroot --format docker --pull=never \
  -t "$image" -f Dockerfile . >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; fail "build failed (log above)"; }
build_s=$(elapsed "$t1")
size=$(size_of "$image")
echo "image: built $image in ${build_s} s, $size"

# --- 3. checks ------------------------------------------------------------------------------------

health=$(pm image inspect --format '{{json .Config.Healthcheck}}' "$image")
case "$health" in
  *healthcheck*) echo "image: HEALTHCHECK $health" ;;
  *) fail "the image has no HEALTHCHECK ($health): was it built with --format docker?" ;;
esac
user=$(pm image inspect --format '{{.Config.User}}' "$image")
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "the image runs as root ($user)"

pm volume rm -f "$volume" >/dev/null 2>&1 || true
pm volume create "$volume" >/dev/null
# The image's own CMD plus --demo: what `docker run IMAGE` does, with a demo workspace.
# --health-interval disable: podman schedules health checks with systemd timers, and a machine or
# container without systemd has none; the check is then run on demand below (the image's
# HEALTHCHECK, unchanged).
pm run -d --name "$name" "${ulimits[@]}" --health-interval disable -p "127.0.0.1:$port:8080" \
  -v "$volume:/data" "$image" serve --listen 0.0.0.0:8080 --data-dir /data \
  --shutdown-timeout-ms 8000 --demo >/dev/null

healthy=0
for _ in $(seq 1 60); do
  if pm healthcheck run "$name" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.5
done
[ "$healthy" = 1 ] || { "${podman[@]}" logs "$name" >&2; fail "HEALTHCHECK did not pass in 30 s"; }
echo "image: HEALTHCHECK passes"

uid=$(pm exec "$name" id -u)
[ "$uid" != 0 ] || fail "the server runs as root"
echo "image: runs as uid $uid ($(pm exec "$name" id -un))"
pm exec "$name" sh -c 'touch /data/.write-check && rm /data/.write-check' ||
  fail "/data is not writable by uid $uid"
pm exec "$name" test -s /data/data.mdb || fail "no store in /data"
mount=$(pm inspect --format '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}' "$name")
case "$mount" in *"$volume:/data"*) ;; *) fail "/data is not the volume ($mount)" ;; esac
echo "image: /data is volume $volume, writable, holds the store"

demo=$("${podman[@]}" logs "$name" 2>/dev/null)
grep -q 'Demo workspace ready' <<<"$demo" || { echo "$demo" >&2; fail "no demo workspace printed"; }
try=$(grep -m1 "^ *curl " <<<"$demo" | sed -E 's#http://[^/]+/#http://127.0.0.1:'"$port"'/#')
[ -n "$try" ] || fail "the demo printed no curl command"
answer=$(bash -c "$try -w ' %{http_code}'")
case "$answer" in
  *'"id":"agent_'*' 200') echo "image: the demo's curl command answers 200 (its agent)" ;;
  *) fail "the demo's curl command answered: $answer" ;;
esac

grace=10
t2=$(now)
pm stop -t "$grace" "$name" >/dev/null
stop_s=$(elapsed "$t2")
code=$(pm inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { "${podman[@]}" logs "$name" >&2; fail "exit code $code after SIGTERM"; }
awk -v s="$stop_s" -v g="$grace" 'BEGIN { exit !(s < g) }' ||
  fail "SIGTERM took ${stop_s} s, not within the ${grace} s grace period (it was killed)"
"${podman[@]}" logs "$name" 2>&1 | grep -q 'msg="stopped"' ||
  { "${podman[@]}" logs "$name" >&2; fail "no clean stop in the log"; }
echo "image: SIGTERM stopped it cleanly in ${stop_s} s (exit 0, grace ${grace} s)"

echo "image: OK $image size $size build ${build_s} s (base images ${base_s} s, total $(elapsed "$t0") s)"
