#!/usr/bin/env bash
# RSS per idle task: tokio (sleepers, uninstrumented and with console-subscriber) against
# Python asyncio (demos/python/sleepers.py), N tasks each holding B bytes across their await.
# Each runtime runs with 0 and with N tasks; per task = (RSS(N) - RSS(0)) / N, once RSS is
# still for 2 s. Usage: bench/idle_tasks.sh [N] [B]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
B=${2:-0}
cargo build --release -q -p asyncmem-demos
# shellcheck source=bench/lib.sh
source bench/lib.sh
run() { # label tasks cmd... -> RSS kB
  shift
  local n=$1; shift
  "$@" >/dev/null 2>&1 &
  local pid=$! r
  r=$(settled_rss "$pid" 300)
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  echo "$r"
}
tokio() { exec target/release/sleepers --ramp 0 --instrument "$1" -n "$2" -b "$B" --console-bind "127.0.0.1:$(free_port)"; }
python() { exec python3 demos/python/sleepers.py -n "$2" -b "$B"; }
printf '%-26s %10s %12s %12s %12s\n' runtime tasks "RSS(0) kB" "RSS(N) kB" "bytes/task"
for spec in "tokio none" "tokio console" "python asyncio"; do
  read -r kind arg <<<"$spec"
  r0=$(run "$spec" 0 "$kind" "$arg" 0)
  rn=$(run "$spec" "$N" "$kind" "$arg" "$N")
  printf '%-26s %10s %12s %12s %12s\n' "$spec" "$N" "$r0" "$rn" $(( (rn - r0) * 1024 / N ))
done
