# Sourced by the *-under-load scripts: one busy loop per core (LOAD_LOOPS overrides), at the same priority as the work
# measured beside them, stopped when the sourcing script exits.  Leaves `loops` and `pids` (append to stop more).
loops="${LOAD_LOOPS:-$(nproc)}"
pids=()
stop_busy_loops() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_busy_loops EXIT
for _ in $(seq 1 "$loops"); do
  nice -n 0 sh -c 'while :; do :; done' &
  pids+=("$!")
done
