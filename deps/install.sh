#!/usr/bin/env bash
# Installs every Debian 12 package that building, running, testing and benchmarking batchcalld
# needs. Idempotent: when everything is already present it only checks and returns.
# Usage: bash deps/install.sh [--test]
#   --test  also the packages only the test suite needs (the fuzzers' clang); test/run.sh passes it,
#           so starting the server never installs them.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang-format
  # libraries
  libuv1-dev libcurl4-openssl-dev libcjson-dev liblmdb-dev lmdb-utils libssl-dev node-llhttp
  # tests
  python3 curl
  # benchmarks
  wrk nginx-light libcsv-dev sqlite3 procps
)
# test only: the libFuzzer harnesses of test/fuzz (clang with its sanitizer and fuzzer runtimes)
test_packages=(clang-14 libclang-rt-14-dev)

for arg in "$@"; do
  case $arg in
    --test) packages+=("${test_packages[@]}") ;;
    *) echo "deps: unknown option $arg (usage: bash deps/install.sh [--test])" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: must run as root to install packages (or install them yourself: ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
