#!/usr/bin/env bash
# Observer cost: target RSS per live task with console-subscriber against no instrumentation.
# For each instrumentation, the sleepers demo runs with 0 and with N idle tasks; the per-task
# cost is (RSS(N) - RSS(0)) / N once RSS stops growing. Usage: bench/observer_cost.sh [N] [BYTES]
# (INSTRUMENTS="none probe" measures asyncmem-probe instead of console-subscriber.)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
N=${1:-20000}
B=${2:-64}
cargo build --release -q -p asyncmem-demos
printf '%-10s %12s %12s %14s\n' instrument "RSS(0) kB" "RSS($N) kB" "bytes/task"
for instr in ${INSTRUMENTS:-none console}; do
  r0=$(rss_at_rest 120 idle_sleepers "$instr" 0 "$B")
  rn=$(rss_at_rest 120 idle_sleepers "$instr" "$N" "$B")
  per=$(( (rn - r0) * 1024 / N ))
  printf '%-10s %12s %12s %14s\n' "$instr" "$r0" "$rn" "$per"
done
