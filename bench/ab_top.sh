#!/usr/bin/env bash
# A/B of two asyncmem builds watching ONE target side by side: CPU of each `asyncmem top` over
# 30 s, after 40 s to let the target's tasks be announced. Usage:
#   bench/ab_top.sh OLD_BINARY NEW_BINARY [TASKS] [PUBLISH_INTERVAL]
# e.g. build the old commit in a clone, then: bench/ab_top.sh /tmp/old/asyncmem target/release/asyncmem 10000 100ms
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
OLD=$1; NEW=$2; N=${3:-10000}; INTERVAL=${4:-100ms}
cargo build --release -q -p asyncmem-demos
cp "$OLD" /tmp/asyncmem-old; cp "$NEW" /tmp/asyncmem-new   # distinct process names for pgrep -x
port=$(free_port)
TOKIO_CONSOLE_PUBLISH_INTERVAL=$INTERVAL target/release/sleepers --instrument console-subscriber --ramp 0 -n "$N" --console-bind "127.0.0.1:$port" >/dev/null 2>&1 &
target=$!
sock="asyncmem-ab-$$"
cleanup() { tmux -L "$sock" kill-server >/dev/null 2>&1 || true; kill "$target" 2>/dev/null || true; }
trap cleanup EXIT
sleep 1
tmux -L "$sock" new-session -d -s old -x 200 -y 50 "/tmp/asyncmem-old top --addr http://127.0.0.1:$port"
tmux -L "$sock" new-session -d -s new -x 200 -y 50 "/tmp/asyncmem-new top --addr http://127.0.0.1:$port"
sleep 40
po=$(pgrep -x asyncmem-old); pn=$(pgrep -x asyncmem-new)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
o0=$(cpu "$po"); n0=$(cpu "$pn"); sleep 30; o1=$(cpu "$po"); n1=$(cpu "$pn")
tmux -L "$sock" capture-pane -p -t new | sed -n 2p
tck=$(getconf CLK_TCK)
awk -v o=$((o1 - o0)) -v n=$((n1 - n0)) -v t="$tck" 'BEGIN { printf "old: %.2f %% of a core   new: %.2f %%   (over 30 s)\n", 100*o/t/30, 100*n/t/30 }'
