#!/usr/bin/env bash
# asyncmem's own memory per tracked task: `asyncmem top --addr URL` watching a release
# `sleepers --instrument probe -n N -b 64` target (N idle tasks plus 5: the named ones and
# block_on), in a detached tmux session (200x50). Once top's header lists all N+5 live tasks,
# top's VmRSS is read when it has not changed for 2 s (at most SETTLE_MAX seconds). The same
# for a small target of SMALL idle tasks (default 100: 105 tasks) is the baseline, and
#   bytes per tracked task = (RSS(N) - RSS(SMALL)) / (N - SMALL).
# Several asyncmem builds can be compared on the same targets (A/B): each is started at the same
# time, in its own tmux session, against the same target.
#
# Usage: bench/self_rss.sh [N ...]            (default: 100000 1000000)
# Environment:
#   ASYNCMEM_BINS  "LABEL=PATH ..." the builds to compare (default: "this=target/release/asyncmem",
#                  built first); e.g. ASYNCMEM_BINS="main=/tmp/main/asyncmem this=target/release/asyncmem"
#   SMALL          tasks of the baseline target (default 100)
#   SETTLE_MAX     most seconds to wait for top's RSS to settle (default 120)
#   ROUNDS         measure each size this many times, a new target each time (default 1)
#   WINDOW         then each top's CPU (utime+stime, % of one core) over this many seconds,
#                  all builds at once (default 30; 0: none)
# Prints one line per build, size and round, then a table of bytes per tracked task (median of the rounds).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
NS=("$@")
((${#NS[@]})) || NS=(100000 1000000)
SMALL=${SMALL:-100}
SETTLE_MAX=${SETTLE_MAX:-120}
ROUNDS=${ROUNDS:-1}
WINDOW=${WINDOW:-30}
cargo build --release -q -p asyncmem-demos
if [[ -z ${ASYNCMEM_BINS:-} ]]; then
  cargo build --release -q --bin asyncmem
  ASYNCMEM_BINS="this=target/release/asyncmem"
fi
read -r -a BINS <<<"$ASYNCMEM_BINS"
WORK=$(mktemp -d)
SOCK="$WORK/tmux.sock"
tm() { tmux -S "$SOCK" -f /dev/null "$@"; }
# Copies: other builds replace target/release while this runs.
declare -A BIN
LABELS=()
for spec in "${BINS[@]}"; do
  label=${spec%%=*}
  cp "${spec#*=}" "$WORK/asyncmem-$label"
  BIN[$label]="$WORK/asyncmem-$label"
  LABELS+=("$label")
done
cp target/release/sleepers "$WORK/sleepers"
TARGET=""
cleanup() {
  tm kill-server 2>/dev/null || true
  [[ -n $TARGET ]] && kill "$TARGET" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# measure N ROUND: start a target of N idle tasks and every build's top against it; record each
# top's settled RSS in $WORK/rss-LABEL-N-ROUND.
measure() {
  local n=$1 round=$2 want=$(($1 + 5)) port label
  port=$(free_port)
  "$WORK/sleepers" --ramp 0 --instrument probe -n "$n" -b 64 --console-bind "127.0.0.1:$port" \
    >"$WORK/out" 2>"$WORK/err" &
  TARGET=$!
  until grep -q '^pid=' "$WORK/out" 2>/dev/null; do sleep 0.05; done
  declare -A pid
  for label in "${LABELS[@]}"; do
    tm new-session -d -s "$label" -x 200 -y 50 "exec ${BIN[$label]} top --addr http://127.0.0.1:$port"
    pid[$label]=$(tm list-panes -t "$label" -F '#{pane_pid}')
  done
  until grep -q 'sleepers: spawned' "$WORK/err"; do sleep 0.1; done
  for label in "${LABELS[@]}"; do
    local count=0
    for _ in $(seq 1 2400); do
      count=$(tm capture-pane -p -t "$label" | grep -oE 'live tasks [0-9]+' | head -1 | grep -oE '[0-9]+' || true)
      ((${count:-0} >= want)) && break
      sleep 0.25
    done
    ((${count:-0} >= want)) || { echo "self_rss: $label lists ${count:-0} of $want tasks" >&2; exit 1; }
  done
  for label in "${LABELS[@]}"; do
    local r
    r=$(settled_rss "${pid[$label]}" "$SETTLE_MAX")
    echo "$r" >"$WORK/rss-$label-$n-$round"
    echo "$label: N=$n round $round: top lists $want live tasks, VmRSS $r kB (target VmRSS $(rss_kb "$TARGET") kB)"
  done
  if ((WINDOW > 0)); then
    declare -A cpu0
    for label in "${LABELS[@]}"; do cpu0[$label]=$(awk '{print $14 + $15}' "/proc/${pid[$label]}/stat"); done
    sleep "$WINDOW"
    for label in "${LABELS[@]}"; do
      awk -v a="${cpu0[$label]}" -v b="$(awk '{print $14 + $15}' "/proc/${pid[$label]}/stat")" \
        -v t="$(getconf CLK_TCK)" -v w="$WINDOW" 'BEGIN { printf "%.2f\n", 100 * (b - a) / t / w }' \
        >"$WORK/cpu-$label-$n-$round"
      echo "$label: N=$n round $round: CPU $(cat "$WORK/cpu-$label-$n-$round") % of a core over ${WINDOW} s, VmRSS then $(rss_kb "${pid[$label]}") kB"
    done
  fi
  for label in "${LABELS[@]}"; do tm kill-session -t "$label"; done
  kill "$TARGET"
  wait "$TARGET" 2>/dev/null || true
  TARGET=""
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; load: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD); builds: ${BINS[*]}"
for round in $(seq 1 "$ROUNDS"); do
  for n in "$SMALL" "${NS[@]}"; do measure "$n" "$round"; done
done
echo
printf '| build | tasks | top VmRSS | baseline (%s tasks) | bytes per tracked task | vs %s | CPU | vs %s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n' "$((SMALL + 5))" "${LABELS[0]}" "${LABELS[0]}"
first=${LABELS[0]}
for n in "${NS[@]}"; do
  for label in "${LABELS[@]}"; do
    per() { awk -v r="$(cat "$WORK"/rss-"$1"-"$n"-* | median)" -v b="$(cat "$WORK"/rss-"$1"-"$SMALL"-* | median)" -v n="$n" -v s="$SMALL" 'BEGIN { print (r - b) * 1024 / (n - s) }'; }
    cpu() { if ((WINDOW > 0)); then cat "$WORK"/cpu-"$1"-"$n"-* | median; else echo 0; fi; }
    awk -v l="$label" -v n="$n" -v r="$(cat "$WORK"/rss-"$label"-"$n"-* | median)" \
      -v b="$(cat "$WORK"/rss-"$label"-"$SMALL"-* | median)" -v p="$(per "$label")" -v p0="$(per "$first")" \
      -v c="$(cpu "$label")" -v c0="$(cpu "$first")" 'BEGIN {
      printf "| %s | %d | %.1f MiB | %.1f MiB | %.1f B | %.2f | %.2f %% | %s |\n", l, n + 5, r / 1024, b / 1024, p, p / p0, c, (c0 > 0) ? sprintf("%.2f", c / c0) : "-" }'
  done
done
