#!/usr/bin/env bash
# bench/peer.sh: asyncmem top against tokio-console, both watching the SAME target in the same run.
#
#   bench/peer.sh [N ...]            # default: 10000 100000
#
# For each N: start one release `sleepers -n N` (N idle tasks of 1 KiB plus 4 named tasks and the
# runtime's block_on task: N+5 live tasks) on a free port, attach `asyncmem top --addr URL` and
# `tokio-console URL`, each in its own detached tmux session of the same size, wait until the
# target has spawned its tasks (its "spawned" line, then its RSS flat for 3 s) and until both
# screens list all N+5 tasks (read with capture-pane), let them settle, then sample both watchers
# (and the target) over one common window: CPU = utime+stime from /proc/PID/stat as % of one core,
# RSS = VmRSS every second (max) and at the end. Prints a Markdown table with the ratios
# asyncmem / tokio-console and the verdict on issue 3's goal (at 100,000 tasks asyncmem uses at
# most 1/20 of tokio-console's CPU and 1/10 of its RSS).
#
# Settings (environment):
#   PEER_PUBLISH_INTERVAL  the target's TOKIO_CONSOLE_PUBLISH_INTERVAL (default 1s, the
#                          subscriber's own default; 100ms is the stress variant, see below)
#   PEER_BUFFER_CAPACITY   the target's TOKIO_CONSOLE_BUFFER_CAPACITY (default 1048576, see below)
#   PEER_WINDOW            measurement window in seconds (default 60)
#   PEER_SETTLE            seconds between "both list all tasks" and the window (default 10)
#   PEER_COLS, PEER_ROWS   size of both tmux sessions (default 200x50)
#   PEER_ABSORB_TIMEOUT    most seconds to wait until both list all tasks (default 3600; 100k
#                          took 1,572 s at 1s and 518-794 s at 100ms, see below)
#   PEER_KEEP=1            keep the work directory (logs, screen captures, JSON) on success too
#   TOKIO_CONSOLE          the tokio-console binary (default: on PATH or ~/.cargo/bin; 0.1.14
#                          is installed with `cargo install --locked` if missing)
#
# Why the watchers attach right after the target starts, not after its tasks are spawned:
# console-subscriber 0.5 sends a new watcher its initial state only if it fits in 4 MiB (~12k
# tasks); a watcher that attaches later never hears of the tasks that existed before it (see
# ../shared/DESIGN.md, "Late attach"). With the default event buffer the subscriber had absorbed
# ~32k of 100k tasks by the end of the spawn burst (measured), so both watchers are started as
# soon as the endpoint listens (each then receives every task as the subscriber announces it),
# and the measurement only starts once both list all.
#
# The publish interval: console-subscriber announces the tasks of a burst slowly, ~128 events
# per publish tick once the target is quiet (two events per sleeper: the task and its Sleep).
# Measured here at the default 1s: ~64 tasks/s, so both watchers list all 100k only after
# ~26 min (1,572 s; 10k: 154 s). TOKIO_CONSOLE_PUBLISH_INTERVAL=100ms makes the subscriber ten
# times faster, but then tokio-console itself falls behind (it redraws and re-sorts every task on
# each of the 10 messages a second: ~80 tasks/s while asyncmem listed all 100k after ~160 s), so
# 100k still took 518-794 s to appear in both; and it changes what is measured: both watchers
# redraw on every update (tokio-console draws once per message; asyncmem marks its frame dirty
# on each update, at most ~30 fps), ten times as often as at the default. So the default stays
# 1s, as users run it; PEER_PUBLISH_INTERVAL=100ms is the stress variant (same stream for both,
# hence the ratios still compare).
#
# Why a 1M event buffer: console-subscriber's event channel holds 102,400 events by default and
# its aggregator drains ~128 events per wake-up (tokio's coop budget); the release sleepers
# spawns 100k tasks (two events each: the task and its Sleep resource) in ~8 s, and in a first
# run with the default buffer the subscriber dropped 23,792 of them (tokio-console: "dropped:
# 23792 tasks"; both watchers stopped at 76,213 tasks). With 1,048,576 nothing is dropped; the
# run fails if tokio-console reports dropped events.
#
# Exit: 0 = the runs completed and the goal is met (or there was no 100,000 run to judge);
# 3 = the runs completed and the goal is missed; 1 = a run failed (the work directory is kept);
# 2 = bad arguments. Every process this script starts is stopped on exit (its own tmux server).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PUBLISH=${PEER_PUBLISH_INTERVAL:-1s}
BUFFER=${PEER_BUFFER_CAPACITY:-1048576}
WINDOW=${PEER_WINDOW:-60}
SETTLE=${PEER_SETTLE:-10}
COLS=${PEER_COLS:-200}
ROWS=${PEER_ROWS:-50}
ABSORB_TIMEOUT=${PEER_ABSORB_TIMEOUT:-3600}
GOAL_N=100000

if [[ $# -gt 0 ]]; then NS=("$@"); else NS=(10000 100000); fi
for n in "${NS[@]}" "$BUFFER" "$WINDOW" "$SETTLE" "$COLS" "$ROWS" "$ABSORB_TIMEOUT"; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "peer.sh: not a whole number: $n" >&2; exit 2; }
done

log() { printf '[peer %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAILED: $*"; FAILED=1; exit 1; }

WORK=$(mktemp -d /tmp/asyncmem-peer.XXXXXX)
TMUX_SOCK="asyncmem-peer-$$"
tm() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }
TARGET_PID=""
WATCHERS=()
FAILED=0

stop_target() {
    local pid=$TARGET_PID
    [[ -n $pid ]] || return 0
    TARGET_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_watchers() {
    local p
    for p in "${WATCHERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    tm kill-server 2>/dev/null || true
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TMUX_SOCK"
    for p in "${WATCHERS[@]}"; do
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    WATCHERS=()
}

cleanup() {
    local rc=$?
    set +e
    stop_watchers
    stop_target
    if [[ $rc -eq 1 || $FAILED -eq 1 || ${PEER_KEEP:-0} == 1 ]]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools -------------------------------------------------------------------------------------
if ! command -v tmux >/dev/null; then
    log "installing tmux"
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq tmux >/dev/null || die "cannot install tmux"
fi
TC=${TOKIO_CONSOLE:-$(command -v tokio-console || echo "$HOME/.cargo/bin/tokio-console")}
if ! "$TC" --version 2>/dev/null | grep -q '0\.1\.14'; then
    log "installing tokio-console 0.1.14"
    cargo install tokio-console --version 0.1.14 --locked || die "cannot install tokio-console"
    TC="$HOME/.cargo/bin/tokio-console"
fi

log "building release binaries"
cargo build --release --workspace || die "cargo build --release --workspace"
# Run copies: other people rebuild target/release while this runs (and perf needs the same file).
mkdir -p "$WORK/bin"
cp "$ROOT/target/release/asyncmem" "$ROOT/target/release/sleepers" "$WORK/bin/"
ASYNCMEM="$WORK/bin/asyncmem"
SLEEPERS="$WORK/bin/sleepers"
GIT_STATE="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
if [[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock demos 2>/dev/null) ]]; then
    GIT_STATE+=" + uncommitted changes in src/, demos/ or Cargo.*"
fi
TC_VERSION=$("$TC" --version | head -1)

# ---- helpers -----------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

listening() { # port
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$1" 2>/dev/null
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

alive() { kill -0 "$1" 2>/dev/null; }

# The live-task count each screen shows (empty if not drawn yet).
count_asyncmem() { tm capture-pane -p -t asyncmem 2>/dev/null | grep -oE 'live tasks [0-9]+' | head -1 | grep -oE '[0-9]+' || true; }
count_console() { tm capture-pane -p -t console 2>/dev/null | grep -oE 'Tasks \([0-9]+\)' | head -1 | grep -oE '[0-9]+' || true; }

# console-subscriber's dropped-event counters, as tokio-console's header shows them.
dropped_events() { tm capture-pane -p -t console 2>/dev/null | grep -m1 -oE 'dropped: [^│]*' || true; }

check_alive() {
    local d; d=$(dropped_events)
    [[ -z $d ]] || die "the subscriber dropped events (tokio-console: $d): raise PEER_BUFFER_CAPACITY"
    alive "$TARGET_PID" || die "the target exited (stderr: $(tail -3 "$WORK/target-$N.err"))"
    alive "$A_PID" || die "asyncmem top exited: $(tm capture-pane -p -t asyncmem 2>/dev/null | grep -v '^$' | tail -3)"
    alive "$C_PID" || die "tokio-console exited: $(tm capture-pane -p -t console 2>/dev/null | grep -v '^$' | tail -3)"
}

# ---- one run per N -----------------------------------------------------------------------------
run_one() {
    N=$1
    local expect=$((N + 5))
    local port; port=$(free_port)
    local url="http://127.0.0.1:$port"
    log "N=$N: starting sleepers -n $N on $url (TOKIO_CONSOLE_PUBLISH_INTERVAL=$PUBLISH TOKIO_CONSOLE_BUFFER_CAPACITY=$BUFFER)"
    local t0=$SECONDS
    TOKIO_CONSOLE_PUBLISH_INTERVAL=$PUBLISH TOKIO_CONSOLE_BUFFER_CAPACITY=$BUFFER "$SLEEPERS" --instrument console-subscriber --ramp 0 -n "$N" --console-bind "127.0.0.1:$port" \
        >"$WORK/target-$N.out" 2>"$WORK/target-$N.err" &
    TARGET_PID=$!
    for _ in $(seq 100); do
        grep -q '^pid=' "$WORK/target-$N.out" && break
        alive "$TARGET_PID" || die "the target exited: $(cat "$WORK/target-$N.err")"
        sleep 0.1
    done
    grep -q "^pid=$TARGET_PID " "$WORK/target-$N.out" || die "no pid line from the target: $(cat "$WORK/target-$N.out")"
    for _ in $(seq 100); do listening "$port" && break; sleep 0.1; done
    listening "$port" || die "the target's console endpoint $url does not listen"

    # Both watchers at once, as soon as the endpoint listens (see the header: late attach).
    tm new-session -d -s keep -x "$COLS" -y "$ROWS" 'sleep 100000'
    tm set-option -g remain-on-exit on >/dev/null
    A_PID=$(tm new-session -d -s asyncmem -x "$COLS" -y "$ROWS" -P -F '#{pane_pid}' \
        "exec '$ASYNCMEM' top --addr '$url'")
    C_PID=$(tm new-session -d -s console -x "$COLS" -y "$ROWS" -P -F '#{pane_pid}' \
        "exec '$TC' '$url'")
    WATCHERS=("$A_PID" "$C_PID")
    local sa sc
    sa=$(tm display-message -p -t asyncmem '#{window_width}x#{window_height}')
    sc=$(tm display-message -p -t console '#{window_width}x#{window_height}')
    [[ $sa == "${COLS}x${ROWS}" && $sc == "${COLS}x${ROWS}" ]] || die "tmux sizes differ: asyncmem $sa, tokio-console $sc"
    log "N=$N: target pid $TARGET_PID, asyncmem top pid $A_PID, tokio-console pid $C_PID ($sa each)"

    # 1. The target has spawned its tasks: its own line, then RSS flat for 3 s.
    local deadline=$((SECONDS + ABSORB_TIMEOUT))
    until grep -q 'sleepers: spawned' "$WORK/target-$N.err"; do
        check_alive
        ((SECONDS < deadline)) || die "the target did not finish spawning within ${ABSORB_TIMEOUT}s"
        sleep 0.5
    done
    local prev=-1 flat=0 r
    while ((flat < 3)); do
        sleep 1
        check_alive
        r=$(rss_kib "$TARGET_PID")
        if [[ $r == "$prev" ]]; then flat=$((flat + 1)); else flat=0; fi
        prev=$r
        ((SECONDS < deadline)) || die "the target's RSS did not settle"
    done
    local spawned_s=$((SECONDS - t0))
    log "N=$N: spawned after ${spawned_s}s, target RSS $((prev / 1024)) MiB; waiting until both list $expect tasks"

    # 2. Both screens list all N+5 tasks.
    local ca cc last_log=$SECONDS
    while :; do
        check_alive
        ca=$(count_asyncmem); cc=$(count_console)
        if [[ -n $ca && -n $cc ]] && ((ca >= expect && cc >= expect)); then break; fi
        if ((SECONDS >= deadline)); then
            die "after ${ABSORB_TIMEOUT}s asyncmem lists ${ca:-?}, tokio-console ${cc:-?} of $expect tasks"
        fi
        if ((SECONDS - last_log >= 15)); then
            log "N=$N: listed so far: asyncmem ${ca:-?}, tokio-console ${cc:-?} of $expect"
            last_log=$SECONDS
        fi
        sleep 1
    done
    local absorb_s=$((SECONDS - t0))
    log "N=$N: both list all tasks after ${absorb_s}s (asyncmem $ca, tokio-console $cc); settling ${SETTLE}s"
    sleep "$SETTLE"
    check_alive
    tm capture-pane -p -t asyncmem >"$WORK/screen-asyncmem-$N-before.txt"
    tm capture-pane -p -t console >"$WORK/screen-console-$N-before.txt"

    # 3. One common window for both watchers and the target.
    log "N=$N: measuring for ${WINDOW}s"
    python3 "$ROOT/bench/peer_sample.py" sample --window "$WINDOW" --interval 1 \
        --meta "n=$N" --meta "absorb_s=$absorb_s" --meta "spawned_s=$spawned_s" \
        --meta "publish_interval=$PUBLISH" --meta "buffer=$BUFFER" --meta "size=${COLS}x${ROWS}" \
        asyncmem="$A_PID" console="$C_PID" target="$TARGET_PID" >"$WORK/run-$N.json" \
        || die "sampling failed"
    check_alive
    tm capture-pane -p -t asyncmem >"$WORK/screen-asyncmem-$N.txt"
    tm capture-pane -p -t console >"$WORK/screen-console-$N.txt"
    ca=$(count_asyncmem); cc=$(count_console)
    ((${ca:-0} >= expect && ${cc:-0} >= expect)) || die "after the window asyncmem lists $ca, tokio-console $cc of $expect tasks"
    log "N=$N: after the window: asyncmem lists $ca, tokio-console $cc tasks"
    log "N=$N: asyncmem:      $(sed -n 2p "$WORK/screen-asyncmem-$N.txt" | tr -s ' ')"
    log "N=$N: asyncmem:      $(sed -n 3p "$WORK/screen-asyncmem-$N.txt" | tr -s ' ')"
    log "N=$N: tokio-console: $(grep -m1 -oE 'Tasks \([0-9]+\)[^─]*' "$WORK/screen-console-$N.txt")"

    stop_watchers
    stop_target
}

log "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
log "asyncmem $("$ASYNCMEM" --version | awk '{print $2}') (tree $GIT_STATE), $TC_VERSION, tmux $(tmux -V | awk '{print $2}')"
log "settings: N=${NS[*]} publish=$PUBLISH buffer=$BUFFER window=${WINDOW}s settle=${SETTLE}s terminal=${COLS}x${ROWS}"
for N in "${NS[@]}"; do
    run_one "$N"
done

echo
echo "asyncmem top vs tokio-console, same target (sleepers -n N, 1 KiB futures), same ${WINDOW}s window"
echo "asyncmem built from $GIT_STATE"
echo "target: TOKIO_CONSOLE_PUBLISH_INTERVAL=$PUBLISH TOKIO_CONSOLE_BUFFER_CAPACITY=$BUFFER; both watchers in tmux ${COLS}x${ROWS}; $TC_VERSION"
echo
set +e
python3 "$ROOT/bench/peer_sample.py" table --goal-n "$GOAL_N" "$WORK"/run-*.json
rc=$?
set -e
case $rc in
    0 | 2) exit 0 ;;
    3) exit 3 ;;
    *) die "table" ;;
esac
