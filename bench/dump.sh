#!/usr/bin/env bash
# What a task dump costs the target: the `parked` demo with asyncmem-probe's `taskdump` feature
# (release, `target/taskdump`), N idle connections, three dumps each through `asyncmem snapshot
# --dump`: how long the dump held the target's workers (the probe's own measure, `pause_ms`)
# and how long resolving the backtraces took (on the probe's thread). Then the target's RSS
# per task with the feature on and off, no dump taken (the probe's per-task goal).
#
#   bench/dump.sh [N ...]          (default: 1000 10000 100000)
#   PROFILE=debug bench/dump.sh    (the debug build, which names every await; slower dumps)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
sizes=("${@:-1000}")
[[ $# -eq 0 ]] && sizes=(1000 10000 100000)
profile=${PROFILE:-release}
flag=(); [[ $profile == release ]] && flag=(--release)
cargo build -q --bin asyncmem
cargo build -q -p asyncmem-demos --bin parked --features taskdump --target-dir target/taskdump "${flag[@]}"
cargo build -q -p asyncmem-demos --bin parked --target-dir target/taskdump-off "${flag[@]}"
with=target/taskdump/$profile/parked
without=target/taskdump-off/$profile/parked
echo "machine: $(nproc) cores, $(uname -r); $(rustc -V); parked ($profile)"
printf '%8s %4s %10s %12s %8s\n' tasks run pause_ms resolve_ms groups
for n in "${sizes[@]}"; do
  port=$(free_port)
  "$with" -n "$n" --work 1ms --console-bind "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  settled_rss "$pid" 120 >/dev/null
  for run in 1 2 3; do
    target/debug/asyncmem snapshot --addr "http://127.0.0.1:$port" --dump --dump-timeout 60s \
      --format json --timeout 120s |
      python3 -c "import json,sys; d=json.load(sys.stdin)['dump']; print('%8d %4d %10.1f %12.1f %8d' % (d['tasks'], $run, d['pause_ms'], d['resolve_ms'], len(d['groups'])))"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo
echo "RSS at rest, no dump taken (kB): tasks, with taskdump, without, per task with, per task without"
rest() { exec "$1" -n "$2" --work 1ms --console-bind "127.0.0.1:$(free_port)"; }
base_on=$(rss_at_rest 60 rest "$with" 1)
base_off=$(rss_at_rest 60 rest "$without" 1)
for n in "${sizes[@]}"; do
  on=$(rss_at_rest 120 rest "$with" "$n")
  off=$(rss_at_rest 120 rest "$without" "$n")
  awk -v n="$n" -v on="$on" -v off="$off" -v b1="$base_on" -v b0="$base_off" \
    'BEGIN { printf "%8d %10d %10d %10.1f B %10.1f B\n", n, on, off, (on-b1)*1024/n, (off-b0)*1024/n }'
done
