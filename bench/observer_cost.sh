#!/usr/bin/env bash
# Observer cost: target RSS per live task with console-subscriber against no instrumentation.
# For each instrumentation, the sleepers demo runs with 0 and with N idle tasks; the per-task
# cost is (RSS(N) - RSS(0)) / N once RSS stops growing. Usage: bench/observer_cost.sh [N] [BYTES]
# (INSTRUMENTS="none probe" measures asyncmem-probe instead of console-subscriber.)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
B=${2:-64}
cargo build --release -q -p asyncmem-demos
# shellcheck source=bench/lib.sh
source bench/lib.sh
measure() { # instrument tasks -> RSS kB
  local port
  port=$(free_port)
  target/release/sleepers --ramp 0 --instrument "$1" -n "$2" -b "$B" --console-bind "127.0.0.1:$port" >/dev/null 2>&1 &
  local pid=$!
  local r
  r=$(settled_rss "$pid" 120)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$r"
}
printf '%-10s %12s %12s %14s\n' instrument "RSS(0) kB" "RSS($N) kB" "bytes/task"
for instr in ${INSTRUMENTS:-none console}; do
  r0=$(measure "$instr" 0)
  rn=$(measure "$instr" "$N")
  per=$(( (rn - r0) * 1024 / N ))
  printf '%-10s %12s %12s %14s\n' "$instr" "$r0" "$rn" "$per"
done
