#!/usr/bin/env bash
# Runs the integration tests with every server's clock at 03:00 and at 12:00 in Los Angeles today
# (BATCHCALLD_TEST_CLOCK_OFFSET_MS, see test/integration/harness.py): the suite must pass at any
# hour, since calling windows now decide when calls go. Tests that are not about compliance use
# workspaces that opt out explicitly; the compliance tests set their own clock.
# Usage: bash test/clock_runs.sh [BUILD_DIR]   (default build/release, built already)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/release}
[ -x "$build/batchcalld" ] || { echo "no $build/batchcalld: build it first" >&2; exit 2; }
status=0
for hour in 03 12; do
  # The UTC instant of HH:00 in Los Angeles today, whatever the DST.
  target=$(TZ=America/Los_Angeles date -d "today $hour:00" +%s%3N)
  offset=$((target - $(date +%s%3N)))
  echo "== integration tests at $hour:00 America/Los_Angeles (offset $offset ms)"
  if BATCHCALLD_TEST_CLOCK_OFFSET_MS=$offset ctest --test-dir "$build" -j2 -R 'integration/' \
    --output-on-failure; then
    echo "== $hour:00 passed"
  else
    echo "== $hour:00 FAILED"
    status=1
  fi
done
exit $status
