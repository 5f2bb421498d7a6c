#!/usr/bin/env bash
# RSS per idle task: tokio (sleepers: uninstrumented, under asyncmem-probe, under
# console-subscriber) against Python asyncio (demos/python/sleepers.py: a Task each, and bare
# coroutines never scheduled), N tasks each holding B bytes across their await.
# Each runtime runs with 0 and with N tasks; per task = (RSS(N) - RSS(0)) / N, once RSS is
# still for 2 s. Usage: bench/idle_tasks.sh [N] [B]
# (`asyncmem lesson idle-tasks -n N` measures the same rows within one process each: RSS
# before the spawn and after it.)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
N=${1:-100000}
B=${2:-0}
cargo build --release -q -p asyncmem-demos
tokio() { idle_sleepers "$1" "$2" "$B"; }
python() {
  local bare=()
  [[ $1 == bare ]] && bare=(--bare)
  exec python3 demos/python/sleepers.py -n "$2" -b "$B" "${bare[@]}"
}
printf '%-26s %10s %12s %12s %12s\n' runtime tasks "RSS(0) kB" "RSS(N) kB" "bytes/task"
for spec in "tokio none" "tokio probe" "tokio console" "python asyncio" "python bare"; do
  read -r kind arg <<<"$spec"
  r0=$(rss_at_rest 300 "$kind" "$arg" 0)
  rn=$(rss_at_rest 300 "$kind" "$arg" "$N")
  printf '%-26s %10s %12s %12s %12s\n' "$spec" "$N" "$r0" "$rn" $(( (rn - r0) * 1024 / N ))
done
