#!/usr/bin/env bash
# Compatibility proof: the real tokio-console (0.1.14) attached to a probe-instrumented target
# lists its tasks and their sizes. Starts the sleepers demo under asyncmem-probe with N idle tasks
# (default 20000, beyond the ~12k that console-subscriber can hand a late watcher), runs
# tokio-console in a tmux pty against it, and checks the screen: the task count in the Tasks
# title, a `size.bytes=` field, the auto-boxed tasks' `original_size.bytes=`, no error, and the
# task details view (Enter: WatchTaskDetails) with its histograms and fields.
# Usage: bench/tokio_console_compat.sh [N]. Needs `cargo install tokio-console --version 0.1.14
# --locked` (minutes) and tmux. Exits 0 on success, 1 on failure, 2 if a tool is missing.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
N=${1:-20000}
TC=${TOKIO_CONSOLE:-$(command -v tokio-console || echo "$HOME/.cargo/bin/tokio-console")}
[[ -x $TC ]] || { echo "tokio-console not found (cargo install tokio-console --version 0.1.14 --locked)"; exit 2; }
command -v tmux >/dev/null || { echo "tmux not found"; exit 2; }
echo "tokio-console: $("$TC" --version)"
cargo build --release -q -p asyncmem-demos
port=$(free_port)
session=asyncmem-tc-compat-$$
screen=$(mktemp)
target/release/sleepers --ramp 0 --instrument probe -n "$N" -b 64 --console-bind "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
cleanup() { tmux kill-session -t "$session" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; rm -f "$screen"; }
trap cleanup EXIT
sleep 2 # the target has spawned its tasks: tokio-console is a late watcher
tmux new-session -d -s "$session" -x 200 -y 50 "$TC http://127.0.0.1:$port"
want=$((N + 4))
seen=0
for _ in $(seq 1 60); do
  sleep 0.5
  tmux capture-pane -p -t "$session" >"$screen" || true
  seen=$(grep -o 'Tasks ([0-9]*)' "$screen" | grep -o '[0-9]*' | head -1 || true)
  seen=${seen:-0}
  ((seen >= want)) && grep -q 'size.bytes=' "$screen" && break
done
echo "--- tokio-console screen (first 16 lines) ---"
head -16 "$screen"
echo "---"
ok=1
if ((seen >= want)); then echo "PASS tasks listed: $seen (>= $want)"; else echo "FAIL tasks listed: $seen (< $want)"; ok=0; fi
if grep -q 'CONNECTED' "$screen"; then echo "PASS connected"; else echo "FAIL not connected"; ok=0; fi
if grep -q 'size.bytes=320' "$screen"; then echo "PASS size.bytes=320 shown for the 64-byte sleepers"; else echo "FAIL no size.bytes=320"; ok=0; fi
if grep -q 'original_size.bytes=' "$screen"; then echo "PASS original_size.bytes shown for auto-boxed tasks"; else echo "FAIL no original_size.bytes"; ok=0; fi
if grep -qi 'error' "$screen"; then echo "FAIL an error on screen"; ok=0; fi
# The task details view (WatchTaskDetails): Enter on the selected task.
tmux send-keys -t "$session" Down # select the first row (none is selected at first)
sleep 0.3
tmux send-keys -t "$session" Enter
details=0
for _ in $(seq 1 20); do
  sleep 0.5
  tmux capture-pane -p -t "$session" >"$screen" || true
  grep -q 'Poll Times Percentiles' "$screen" && grep -q 'Scheduled Times Histogram' "$screen" &&
    grep -q 'size.bytes=' "$screen" && details=1 && break
done
if ((details)); then echo "PASS task details: poll and scheduled time histograms, fields"; else
  echo "FAIL no task details view"; head -30 "$screen"; ok=0; fi
((ok)) && echo "tokio-console compat: OK" && exit 0
echo "tokio-console compat: FAILED"
exit 1
