#!/usr/bin/env bash
# One real scrape of `asyncmem export`, end to end (HTTP included), on the sleepers demo with N
# idle tasks under console-subscriber, release build: waits until every sleeper is announced,
# then times SCRAPES requests of /metrics with curl and prints min / median / max in ms, the
# body size, and asyncmem's own CPU time over the scrapes.
# Usage: bench/export_scrape.sh [N] [SCRAPES]
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
N=${1:-10000}
SCRAPES=${2:-50}
cargo build --release -q --workspace
console=$(free_port)
listen=$(free_port)
TOKIO_CONSOLE_PUBLISH_INTERVAL=100ms target/release/sleepers --instrument console-subscriber --ramp 0 -n "$N" -b 1024 \
  --console-bind "127.0.0.1:$console" >/dev/null 2>&1 &
demo=$!
sleep 1
target/release/asyncmem export --addr "http://127.0.0.1:$console" --listen "127.0.0.1:$listen" 2>/dev/null &
exporter=$!
trap 'kill $exporter $demo 2>/dev/null || true' EXIT
url="http://127.0.0.1:$listen/metrics"
for _ in $(seq 1 600); do
  idle=$(curl -s "$url" | awk -F' ' '/^asyncmem_tasks\{state="idle"\}/ {print $2}')
  [[ -n $idle && $idle -ge $N ]] && break
  sleep 1
done
echo "live idle tasks: $idle"
ticks() { awk '{print $14 + $15}' "/proc/$exporter/stat"; }
t0=$(ticks)
for _ in $(seq 1 "$SCRAPES"); do
  curl -s -o /dev/null -w '%{time_total}\n' "$url"
done | sort -n | awk -v n="$SCRAPES" '{ t[NR] = $1 * 1000 }
  END { printf "scrape time over %d scrapes: min %.2f ms, median %.2f ms, max %.2f ms\n", n, t[1], t[int((n + 1) / 2)], t[n] }'
t1=$(ticks)
echo "asyncmem CPU over the scrapes: $(( (t1 - t0) * 1000 / $(getconf CLK_TCK) )) ms (includes its console ingestion meanwhile)"
echo "body: $(curl -s "$url" | wc -c) bytes, $(curl -s "$url" | grep -vc '^#') series"
