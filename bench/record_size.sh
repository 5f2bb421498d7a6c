#!/usr/bin/env bash
# How big recordings get: bytes per task per minute, for idle tasks and for tasks that wake
# often, under console-subscriber. Each case: start the sleepers demo, wait until its tasks are
# announced, record for DURATION, and read the file's size half-way and at the end.
#
#   bench/record_size.sh [TASKS] [DURATION_S]      (defaults: 1000 tasks, 60 s)
#   PUBLISH=100ms bench/record_size.sh             (the subscriber's publish interval; default 1s)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
tasks=${1:-1000}
duration=${2:-60}
publish=${PUBLISH:-1s}
cargo build --release --workspace --quiet
bin=target/release
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

echo "machine: $(nproc) cores, $(uname -r); $tasks tasks, ${duration} s, publish interval $publish"
printf '%-26s %12s %12s %14s %18s\n' case "first ${duration}s" "half-way" "steady B/s" "steady B/task/min"
for case in "idle:" "waking every 1s:1s" "waking every 100ms:100ms"; do
  name=${case%%:*}
  wake=${case##*:}
  port=$(free_port)
  TOKIO_CONSOLE_PUBLISH_INTERVAL=$publish "$bin/sleepers" -n "$tasks" ${wake:+--wake "$wake"} \
    --console-bind "127.0.0.1:$port" > "$dir/demo.out" &
  demo=$!
  until grep -q '^pid=' "$dir/demo.out"; do sleep 0.1; done
  # Wait until every task is announced (console-subscriber is slow to absorb a burst).
  "$bin/asyncmem" snapshot --addr "http://127.0.0.1:$port" --format json --settle 5s --timeout 120s \
    > /dev/null
  file="$dir/$port.amrec"
  "$bin/asyncmem" record --addr "http://127.0.0.1:$port" -o "$file" --duration "${duration}s" 2> /dev/null &
  rec=$!
  sleep $((duration / 2))
  half=$(stat -c %s "$file")
  wait $rec
  end=$(stat -c %s "$file")
  kill $demo; wait $demo 2> /dev/null || true
  steady=$(( (end - half) * 2 / duration ))
  per_task=$(python3 -c "print(f'{($end - $half) / ($duration / 2) * 60 / $tasks:.0f}')")
  printf '%-26s %12s %12s %14s %18s\n' "$name" "$end" "$half" "$steady" "$per_task"
done
