#!/usr/bin/env bash
# The test suite under CPU load on every core (issue 28: a suite that passes only on an idle machine is not a test
# of the product): one busy loop per core at the suite's own priority, then `npm test` RUNS times in a row, each with
# its duration, its result and the load average around it.  Exits non-zero if any run failed.
#   bash scripts/suite-under-load.sh            RUNS=3  LOAD_LOOPS=<cores>
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
runs="${RUNS:-3}"
source "$here/scripts/busy-loops.sh"
echo "[load] $loops busy loop(s) on $(nproc) core(s); npm test $runs time(s) in a row"
failed=0
for i in $(seq 1 "$runs"); do
  log="$(mktemp -t suite-under-load.XXXXXX.log)"
  before="$(cut -d' ' -f1-3 /proc/loadavg)"
  start=$(date +%s)
  set +e
  npm test >"$log" 2>&1
  status=$?
  set -e
  took=$(( $(date +%s) - start ))
  summary="$(grep -E '^\s*(\[k8s\] )?\s*[0-9]+ (passing|failing|pending)' "$log" | sed 's/^ *//' | tr '\n' ' ')"
  echo "[load] run $i: exit $status in $((took / 60)) min $((took % 60)) s; ${summary}load average before ${before}, after $(cut -d' ' -f1-3 /proc/loadavg) (log: $log)"
  [ "$status" -eq 0 ] || failed=$((failed + 1))
done
echo "[load] $((runs - failed)) of $runs run(s) passed"
[ "$failed" -eq 0 ]
