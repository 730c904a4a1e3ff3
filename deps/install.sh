#!/usr/bin/env bash
# Installs every Debian package that building, running, testing and benchmarking batchcalld
# needs. Idempotent: when everything is already present it only checks and returns.
# Usage: bash deps/install.sh [--test]
#   --test  also what only the test suite needs (the fuzzers' clang, Node.js and the twilio npm
#           package of test/twilio, Debian's chromium and playwright-core for test/browser,
#           HAProxy for test/cluster, podman, buildah, runc, debootstrap and podman-compose for
#           deploy/); the README's test command and test/run.sh pass it, so starting the server
#           never installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    *) echo "usage: bash deps/install.sh [--test]" >&2; exit 2 ;;
  esac
done

packages=(
  # build
  build-essential cmake pkg-config clang-format
  # libraries
  libuv1-dev libcurl4-openssl-dev libcjson-dev liblmdb-dev lmdb-utils libssl-dev node-llhttp
  # runtime: the IANA time-zone rules that calling windows read (src/policy/tz.c)
  tzdata
  # tests
  python3 curl
  # benchmarks
  wrk nginx-light libcsv-dev sqlite3 procps
)
# test only: the libFuzzer harnesses of test/fuzz (clang with its sanitizer and fuzzer runtimes);
# the dashboard's browser tests (test/browser): Debian's chromium, driven by playwright-core, which
# never downloads a browser of its own, and a font with wide coverage for its screenshots;
# HAProxy for test/cluster (nginx is above, for the benchmarks); the container tools of
# deploy/image.sh and deploy/compose.yaml (no Docker engine: buildah builds, podman with runc runs,
# debootstrap makes the Debian base images, dnsname lets compose's containers find each other);
# libphonenumber's data for the gen_zones test (tools/gen_zones.py regenerates src/policy's
# time-zone tables from it and compares)
test_packages=(clang-14 libclang-rt-14-dev chromium fonts-dejavu-core haproxy podman buildah runc
  debootstrap podman-compose golang-github-containernetworking-plugin-dnsname
  python3-phonenumbers)

if [ "$with_test" = 1 ]; then
  packages+=("${test_packages[@]}")
fi

# --test (twilio acceptance test): Node.js and npm, from Debian unless a Node.js is already
# installed (a NodeSource nodejs brings its own npm, which Debian's npm package conflicts with).
if [ "$with_test" = 1 ] && ! { command -v node && command -v npm; } >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
else
  echo "deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: must run as root to install packages (or install them yourself: ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "deps: done"
fi

# --test: the npm packages of the Node-based tests, at the versions pinned in their
# package-lock.json (test/twilio: Twilio's own Node library; test/browser: playwright-core);
# skipped when node_modules was installed from this very lock.
if [ "$with_test" = 1 ]; then
  for dir in test/twilio test/browser; do
    lock=$dir/package-lock.json stamp=$dir/node_modules/.installed-from-lock
    if cmp -s "$lock" "$stamp"; then
      echo "deps: $dir npm packages present"
    else
      echo "deps: npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
      cp "$lock" "$stamp"
    fi
  done
fi
