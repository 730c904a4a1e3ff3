#!/usr/bin/env bash
# Builds the libFuzzer harnesses (test/fuzz/fuzz_*.c) with clang-14, ASan and UBSan, into
# build/fuzz (or $1). The normal gcc builds are not touched. Needs clang-14 and
# libclang-rt-14-dev (bash deps/install.sh --test).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build/fuzz}
cc=${FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found: bash deps/install.sh --test" >&2; exit 1; }
cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBATCHCALLD_FUZZ=ON >/dev/null
cmake --build "$dir" --target fuzzers -j"$(nproc 2>/dev/null || echo 2)"
