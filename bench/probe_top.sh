#!/usr/bin/env bash
# `asyncmem top` watching a target of N idle tasks instrumented with asyncmem-probe (default
# N = 1000000): the release `sleepers -n N -b 64 --instrument probe` (N + 5 live tasks with the
# named ones and block_on), `asyncmem top --addr URL` in a detached tmux session (200x50)
# attached right after the target listens; once the target has spawned and top's header shows
# all N+5 live tasks, the script lets it settle SETTLE seconds (default 10), then samples top
# and the target over WINDOW seconds (default 60) with bench/peer_sample.py (CPU = utime+stime
# as % of one core; RSS max and end), and checks that top still answers keys: it presses `?`
# (help) and `Esc` and reports how long until each shows on the screen (read with capture-pane).
# Prints the JSON of peer_sample.py and the key timings.
# Usage: bench/probe_top.sh [N]. Environment: WINDOW, SETTLE.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
N=${1:-1000000}
WINDOW=${WINDOW:-60}
SETTLE=${SETTLE:-10}
cargo build --release -q --bin asyncmem
cargo build --release -q -p asyncmem-demos
WORK=$(mktemp -d)
SOCK="$WORK/tmux.sock"
tm() { tmux -S "$SOCK" "$@"; }
port=$(free_port)
target/release/sleepers --ramp 0 --instrument probe -n "$N" -b 64 --console-bind "127.0.0.1:$port" \
  >"$WORK/out" 2>"$WORK/err" &
TARGET=$!
cleanup() { tm kill-server 2>/dev/null || true; kill "$TARGET" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
until grep -q '^pid=' "$WORK/out" 2>/dev/null; do sleep 0.05; done
tm new-session -d -s top -x 200 -y 50 "target/release/asyncmem top --addr http://127.0.0.1:$port"
TOP=$(tm list-panes -t top -F '#{pane_pid}')
echo "machine: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD); target pid $TARGET, top pid $TOP"
until grep -q 'sleepers: spawned' "$WORK/err"; do sleep 0.1; done
echo "target: $(cat "$WORK/err")"
want=$((N + 5))
start=$(date +%s.%N)
count=0
for _ in $(seq 1 1200); do
  count=$(tm capture-pane -p -t top | grep -oE 'live tasks [0-9]+' | head -1 | grep -oE '[0-9]+' || true)
  ((${count:-0} >= want)) && break
  sleep 0.25
done
echo "top lists ${count:-0} live tasks (want $want), $(bc <<<"$(date +%s.%N) - $start") s after the target's spawn finished"
sleep "$SETTLE"
python3 bench/peer_sample.py sample --window "$WINDOW" --interval 1 --meta "n=$N" asyncmem="$TOP" target="$TARGET"
# Keys: help on, help off.
key_latency() { # KEY PATTERN present|absent
  local t0 t1
  t0=$(date +%s%N)
  tm send-keys -t top "$1"
  for _ in $(seq 1 400); do
    if tm capture-pane -p -t top | grep -q "$2"; then [[ $3 == present ]] && break; else [[ $3 == absent ]] && break; fi
    sleep 0.01
  done
  t1=$(date +%s%N)
  echo "key $1: $(((t1 - t0) / 1000000)) ms until the screen changed"
}
help_word=$(tm capture-pane -p -t top | grep -c 'Esc closes' || true)
key_latency '?' 'Esc closes' present
key_latency Escape 'Esc closes' absent
tm capture-pane -p -t top | head -8
[[ $help_word == 0 ]] || echo "(note: 'Esc closes' was on screen before the help was opened)"
