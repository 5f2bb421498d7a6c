#!/usr/bin/env bash
# asyncmem-probe against console-subscriber and no instrumentation, in one run: for each N
# (default 10000 100000 1000000) and each instrumentation, the release `sleepers -n N -b 64`
# demo (N idle tasks holding 64 bytes across a one-hour sleep, plus 4 named tasks) reports
#   - RSS per task: (settled RSS with N tasks - settled RSS with 0 tasks) / N (bench/lib.sh
#     settled_rss: RSS unchanged for 2 s), after the watchers below have finished;
#   - spawn time: the demo's own measure of its spawn loop ("spawned ... in X us"), with the
#     live watcher below attached (its publisher competes for the 2 cores during the burst),
#     and in REPS further runs with no watcher at all;
#   - live watcher: `watch_count` (probe/examples/watch_count.rs, tonic's default 4 MiB decode
#     limit like tokio-console's) attached as soon as the endpoint listens, before the burst:
#     ms from its start until it knows all N+4 tasks, and ms from the newest task's created_at
#     until then (after_last_spawn_ms);
#   - late watcher: another `watch_count` attached after the spawn and the first watcher are
#     done: ms until it knows all N+4 tasks (its initial state), or what it saw at its timeout.
# The publish interval is the default 1 s for both instrumentations (as users run them).
# Each probe/none configuration runs REPS times (default 3) and the median is reported (the
# machine is shared: spawn times vary); console-subscriber runs once (minutes per run).
# console-subscriber at 1M would need ~52 GB of RSS and hours of absorption: skipped. Its
# watchers are capped at CONSOLE_WATCH_TIMEOUT seconds (default 180; 100k needs ~470 s).
# Usage: bench/probe_cost.sh [N ...]. Environment: REPS, CONSOLE_WATCH_TIMEOUT, PROBE_WATCH_TIMEOUT.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
NS=("$@")
((${#NS[@]})) || NS=(10000 100000 1000000)
REPS=${REPS:-3}
CONSOLE_WATCH_TIMEOUT=${CONSOLE_WATCH_TIMEOUT:-180}
PROBE_WATCH_TIMEOUT=${PROBE_WATCH_TIMEOUT:-120}
cargo build --release -q -p asyncmem-demos
cargo build --release -q -p asyncmem-probe --example watch_count
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
WATCH=target/release/examples/watch_count
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"

# run INSTR N -> one line: rss_kb spawn_us live_watch late_watch (watch fields joined by ',')
run() {
  local instr=$1 n=$2 port pid timeout live="-" late="-" spawn_us rss
  port=$(free_port)
  target/release/sleepers --ramp 0 --instrument "$instr" -n "$n" -b 64 --console-bind "127.0.0.1:$port" \
    >"$WORK/out" 2>"$WORK/err" &
  pid=$!
  for _ in $(seq 1 600); do grep -q '^pid=' "$WORK/out" 2>/dev/null && break; sleep 0.05; done
  timeout=$PROBE_WATCH_TIMEOUT
  [[ $instr == console ]] && timeout=$CONSOLE_WATCH_TIMEOUT
  local wpid=""
  if [[ $instr != none ]]; then
    "$WATCH" "http://127.0.0.1:$port" $((n + 4)) "$timeout" >"$WORK/live" 2>/dev/null &
    wpid=$!
  fi
  until grep -q 'sleepers: spawned.* us ' "$WORK/err" 2>/dev/null; do sleep 0.1; done
  spawn_us=$(sed -n 's/.* in \([0-9]*\) us.*/\1/p' "$WORK/err")
  if [[ -n $wpid ]]; then
    wait "$wpid" || true
    live=$(tr ' ' ',' <"$WORK/live")
    "$WATCH" "http://127.0.0.1:$port" $((n + 4)) "$timeout" >"$WORK/late" 2>/dev/null || true
    late=$(tr ' ' ',' <"$WORK/late")
  fi
  rss=$(settled_rss "$pid" 180)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$rss $spawn_us $live $late"
}

# spawn_only INSTR N -> spawn us, no watcher
spawn_only() {
  local port pid
  port=$(free_port)
  target/release/sleepers --ramp 0 --instrument "$1" -n "$2" -b 64 --console-bind "127.0.0.1:$port" \
    >/dev/null 2>"$WORK/err1" &
  pid=$!
  until grep -q 'sleepers: spawned.* us ' "$WORK/err1" 2>/dev/null; do sleep 0.05; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sed -n 's/.* in \([0-9]*\) us.*/\1/p' "$WORK/err1"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { tr ',' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }

printf '\n| N | instrumentation | RSS(0) kB | RSS(N) kB | bytes/task | spawn ms, live watcher attached (runs) | spawn ms, no watcher (runs) | live watcher: all seen after (ms from start / from last spawn) | late watcher: all seen after ms | largest message (live / late) |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for n in "${NS[@]}"; do
  for instr in none probe console; do
    if [[ $instr == console && $n -ge 1000000 ]]; then
      printf '| %s | console | - | - | - | skipped: ~52 KB/task would be ~52 GB, absorption hours | - | - | - | - |\n' "$n"
      continue
    fi
    reps=$REPS
    [[ $instr == console ]] && reps=1
    r0=$(run "$instr" 0 | cut -d' ' -f1)
    rss=() spawns=() lines=()
    for _ in $(seq 1 "$reps"); do
      line=$(run "$instr" "$n")
      echo "raw: $instr n=$n $line" >&2
      lines+=("$line")
      rss+=("$(cut -d' ' -f1 <<<"$line")")
      spawns+=("$(cut -d' ' -f2 <<<"$line")")
    done
    quiet=()
    if [[ $instr != console ]]; then
      for _ in $(seq 1 "$reps"); do quiet+=("$(spawn_only "$instr" "$n")"); done
    fi
    rn=$(printf '%s\n' "${rss[@]}" | median)
    sp=$(printf '%s\n' "${spawns[@]}" | median)
    sp_all=$(printf '%s\n' "${spawns[@]}" | awk '{printf "%s%.0f", (NR>1?", ":""), $1/1000}')
    per=$(((rn - r0) * 1024 / n))
    # The watcher figures of the run whose RSS is the median.
    live="-" late="-" largest="-"
    for line in "${lines[@]}"; do
      [[ $(cut -d' ' -f1 <<<"$line") == "$rn" ]] || continue
      l=$(cut -d' ' -f3 <<<"$line")
      t=$(cut -d' ' -f4 <<<"$line")
      if [[ $l != "-" ]]; then
        live="$(field "$l" connect_to_all_ms) / $(field "$l" after_last_spawn_ms) (seen $(field "$l" seen))"
        late="$(field "$t" connect_to_all_ms) (seen $(field "$t" seen))"
        largest="$(field "$l" max_message_bytes) / $(field "$t" max_message_bytes)"
      fi
      break
    done
    quiet_s="-"
    if ((${#quiet[@]})); then
      q=$(printf '%s\n' "${quiet[@]}" | median)
      q_all=$(printf '%s\n' "${quiet[@]}" | awk '{printf "%s%.0f", (NR>1?", ":""), $1/1000}')
      quiet_s="$(printf '%.0f' "$(bc -l <<<"$q/1000")") ($q_all)"
    fi
    printf '| %s | %s | %s | %s | %s | %.0f (%s) | %s | %s | %s | %s |\n' "$n" "$instr" "$r0" "$rn" "$per" "$(bc -l <<<"$sp/1000")" "$sp_all" "$quiet_s" "$live" "$late" "$largest"
  done
done
