#!/usr/bin/env bash
# RSS per idle task: tokio (sleepers, uninstrumented and with console-subscriber) against
# Python asyncio (demos/python/sleepers.py), N tasks each holding B bytes across their await.
# Each runtime runs with 0 and with N tasks; per task = (RSS(N) - RSS(0)) / N, once RSS is
# still for 2 s. Usage: bench/idle_tasks.sh [N] [B]
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
N=${1:-100000}
B=${2:-0}
cargo build --release -q -p asyncmem-demos
tokio() { idle_sleepers "$1" "$2" "$B"; }
python() { exec python3 demos/python/sleepers.py -n "$2" -b "$B"; }
printf '%-26s %10s %12s %12s %12s\n' runtime tasks "RSS(0) kB" "RSS(N) kB" "bytes/task"
for spec in "tokio none" "tokio console" "python asyncio"; do
  read -r kind arg <<<"$spec"
  r0=$(rss_at_rest 300 "$kind" "$arg" 0)
  rn=$(rss_at_rest 300 "$kind" "$arg" "$N")
  printf '%-26s %10s %12s %12s %12s\n' "$spec" "$N" "$r0" "$rn" $(( (rn - r0) * 1024 / N ))
done
