#!/usr/bin/env bash
# Re-make the screenshots of `asyncmem top` in this folder from the real program:
#   bash screenshots/make.sh            (from anywhere; about 2 minutes after a warm build)
#
# Builds the release binaries, runs `target/release/asyncmem top --demo ...` inside tmux at a
# fixed size, drives it with `tmux send-keys`, captures the screen with its colours
# (`tmux capture-pane -e`) and renders each capture to a PNG with render.py (Pillow, DejaVu Sans
# Mono). Installs tmux, fonts-dejavu-core (apt-get) and Pillow (pip) when they are missing.
#
# Environment: COLS, ROWS (terminal size, default 140x45), FONT_SIZE (16), KEEP=1 keeps the raw
# captures (*.ans) next to the PNGs, TIMEOUT (seconds to wait for any one screen, default 90),
# ONLY (the sections to make, of "sleepers small layout dump spike replay grew cache"; default all;
# replay and grew need spike).
# Exits non-zero when a step fails or a screen does not show up in time; every tmux session and
# demo it started is stopped on the way out.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
COLS="${COLS:-140}"
ROWS="${ROWS:-45}"
FONT_SIZE="${FONT_SIZE:-16}"
TIMEOUT="${TIMEOUT:-90}"
work="$(mktemp -d)"
started=$SECONDS

say() { printf 'make.sh: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

# --- what it needs ------------------------------------------------------------------------

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null || die "$1 is missing and there is no apt-get to install it"
    if [[ $apt_updated -eq 0 ]]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    say "installing $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v tmux >/dev/null || apt_install tmux
font_ok() {
    local d
    for d in /usr/share/fonts/truetype/dejavu /usr/share/fonts/dejavu; do
        [[ -f $d/DejaVuSansMono.ttf && -f $d/DejaVuSansMono-Bold.ttf ]] && return 0
    done
    return 1
}
font_ok || apt_install fonts-dejavu-core
font_ok || die "DejaVu Sans Mono is still missing after installing fonts-dejavu-core"
command -v python3 >/dev/null || apt_install python3 python3-pip
if ! python3 -c 'import PIL' 2>/dev/null; then
    say "installing Pillow"
    python3 -m pip install --quiet Pillow 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages Pillow ||
        apt_install python3-pil
    python3 -c 'import PIL' || die "Pillow is not importable"
fi

# --- build --------------------------------------------------------------------------------

say "building (cargo build --release --workspace)"
(cd "$root" && cargo build --release --workspace --quiet) || die "the build failed"
asyncmem="$root/target/release/asyncmem"
[[ -x $asyncmem ]] || die "$asyncmem was not built"

# --- tmux on a private server ---------------------------------------------------------------

cat >"$work/tmux.conf" <<'EOF'
set -g status off
set -g remain-on-exit on
set -g escape-time 0
set -g default-terminal "tmux-256color"
set -g history-limit 0
EOF

# A private server whose socket lives (and is removed) with the temporary folder.
t() { tmux -S "$work/tmux.sock" -f "$work/tmux.conf" "$@"; }

# Quit every session still running (q, as a user would), then make sure nothing is left: the
# pane's process group holds asyncmem and the demo it started.
cleanup() {
    local rc=$? s pid
    for s in $(t list-sessions -F '#{session_name}' 2>/dev/null); do
        stop_session "$s" || true
    done
    t kill-server 2>/dev/null || true
    if [[ ${KEEP:-0} == 1 ]]; then
        cp "$work"/*.ans "$here"/ 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

session=""
start() { # NAME COMMAND...: a fresh session of COLS x ROWS running COMMAND
    session="$1"
    shift
    local cmd
    printf -v cmd '%q ' "$@"
    t new-session -d -s "$session" -x "$COLS" -y "$ROWS" "exec env -u NO_COLOR $cmd"
    local size
    size="$(t display-message -p -t "$session" '#{pane_width}x#{pane_height}')"
    [[ $size == "${COLS}x${ROWS}" ]] || die "the pane is $size, not ${COLS}x${ROWS}"
}

dead() { [[ $(t display-message -p -t "$session" '#{pane_dead}' 2>/dev/null) == 1 ]]; }

screen() { t capture-pane -p -t "$session"; }

# Poll until the screen matches an extended regex (or a predicate function succeeds).
wait_for() { # DESCRIPTION REGEX
    local what="$1" re="$2" deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        if screen | grep -Eq -- "$re"; then
            return 0
        fi
        if dead; then
            screen >&2
            die "asyncmem exited while waiting for $what"
        fi
        sleep 0.2
    done
    screen >&2
    die "timed out after ${TIMEOUT}s waiting for $what"
}

# Poll until FUNCTION succeeds, run in this shell (so that it can keep counts) with the screen on
# stdin, every INTERVAL seconds for at most SECONDS; die with LATE when it does not in time and
# with GONE when asyncmem exits.
poll() { # FUNCTION SECONDS INTERVAL LATE GONE
    local fn="$1" deadline=$((SECONDS + $2)) interval="$3" late="$4" gone="$5"
    until "$fn" < <(screen); do
        ((SECONDS < deadline)) || {
            screen >&2
            die "$late"
        }
        dead && die "$gone"
        sleep "$interval"
    done
}

wait_until() { # DESCRIPTION FUNCTION: FUNCTION is called with the screen on stdin
    local what="$1" fn="$2" deadline=$((SECONDS + ${3:-$TIMEOUT}))
    while ((SECONDS < deadline)); do
        if screen | "$fn"; then
            return 0
        fi
        dead && {
            screen >&2
            die "asyncmem exited while waiting for $what"
        }
        sleep 0.25
    done
    screen >&2
    die "timed out waiting for $what"
}

keys() { t send-keys -t "$session" "$@"; }

stop_session() { # quit asyncmem with q; kill its process group if it does not go
    local s="$1" pid i
    pid="$(t display-message -p -t "$s" '#{pane_pid}' 2>/dev/null)" || return 0
    if [[ $(t display-message -p -t "$s" '#{pane_dead}') != 1 ]]; then
        t send-keys -t "$s" q
        for i in $(seq 50); do
            [[ $(t display-message -p -t "$s" '#{pane_dead}') == 1 ]] && break
            sleep 0.1
        done
    fi
    # The demo is in asyncmem's process group (tmux made the pane its own session).
    kill -TERM -- "-$pid" 2>/dev/null || true
    t kill-session -t "$s" 2>/dev/null || true
}

shoot() { # NAME: capture the current screen with colours and render screenshots/NAME.png
    local name="$1"
    sleep 0.3 # one more redraw tick, so that no half-updated frame is taken
    t capture-pane -p -e -N -t "$session" >"$work/$name.ans"
    python3 "$here/render.py" "$work/$name.ans" "$here/$name.png" \
        --cols "$COLS" --rows "$ROWS" --font-size "$FONT_SIZE" || die "rendering $name failed"
    say "wrote screenshots/$name.png"
}

# A warning in the header is worth knowing about when reading the screenshots: print it.
report_warnings() {
    screen | grep -q '⚠' || return 0
    keys Escape
    keys w
    wait_for "the warnings" 'warnings \(Esc closes\)'
    screen | grep -o '• .*' | sed -e 's/ *│.*//' -e 's/^/make.sh: note: asyncmem warns: /' >&2
    keys Escape
}

# Numbers from the header: `live tasks N` and `RSS X UNIT`.
live_tasks() { grep -oE 'live tasks [0-9]+' | head -1 | grep -oE '[0-9]+$'; }
rss_mib() {
    grep -oE 'RSS [0-9.]+ [KMG]iB' | head -1 |
        awk '{ v = $2; if ($3 == "GiB") v *= 1024; if ($3 == "KiB") v /= 1024; printf "%d\n", v }'
}

want() { [[ -z ${ONLY:-} || " $ONLY " == *" $1 "* ]]; }

# --- sleepers: overview, details, filter --------------------------------------------------

if want sleepers; then

say "sleepers: overview, details, filter, help"
# The sleepers wake every 500 ms: asyncmem-probe (the demos' default) keeps poll-time histograms
# of a watched task from its next poll on, so the details shot needs a task that polls.
start sleepers "$asyncmem" top --demo sleepers -- -n 2000 -b 64 --wake 500ms
# All 2004 tasks announced (2000 sleepers, 4 named ones, plus the demo's own tasks).
all_sleepers() { local n; n="$(live_tasks)"; [[ -n $n && $n -ge 2004 ]]; }
wait_until "the 2000 sleepers" all_sleepers
# A 30 s chart window: the run is young, the default 5 min window would be mostly empty.
keys +
keys +
keys +
wait_for "the 30 s chart window" '^ *-30s +now *$'
sleep 4 # a few more RSS samples on the chart
keys Home
wait_for "boxed-32k at the top" '^[0-9]+ .*boxed-32k'
shoot overview

# Four rows down: the first of the 2000 sleepers (below the three named tasks and the demo's
# own task).
for _ in 1 2 3 4; do keys Down; done
keys Enter
wait_for "the details of a sleeper" 'sleepers\.rs:[0-9]+:[0-9]+'
histograms_arrived() {
    local s
    s="$(cat)"
    [[ $s != *"waiting for WatchTaskDetails"* ]] && grep -Eq 'n [0-9]+ +p50' <<<"$s"
}
wait_until "the poll-time histogram" histograms_arrived
shoot details
keys Escape
wait_for "the table again" 'Location'

keys /
for k in s i z e '>' 1 k; do keys -l "$k"; done
wait_for "the filter being typed" 'filter: size>1k'
keys Enter
wait_for "the filter applied" 'filter: size>1k \(Esc clears\)'
shoot filter
keys Escape
wait_for "the filter cleared" '^ *[0-9]+/2[0-9]{3} '
keys '?'
wait_for "the help" 'keys \(Esc closes\)'
shoot help
report_warnings
stop_session sleepers
fi

# --- small: lesson 1 at 80x24, the classroom projector ----------------------------------------

if want small; then
say "sleepers at 80x24: overview-80x24"
wide=("$COLS" "$ROWS")
COLS=80
ROWS=24
# Lesson 1's command as demos/README.md gives it.
start small "$asyncmem" top --demo sleepers -- -n 10000 -b 1024
all_sleepers_10k() { local n; n="$(live_tasks)"; [[ -n $n && $n -ge 10004 ]]; }
wait_until "the 10000 sleepers" all_sleepers_10k
wait_for "the bytes/task figure" 'bytes/task [0-9.]+ [KM]?i?B \(r²'
keys Home
wait_for "boxed-32k at the top" '^boxed-32k'
shoot overview-80x24
stop_session small
COLS="${wide[0]}"
ROWS="${wide[1]}"
fi

# --- layout: the details view explained by the compiler's layout (lesson 7) -------------------

if want layout; then
say "layers with --layout: details-layout, future-layout, locations-layout (a release layout build: minutes the first time)"
# The layout of the same release build that --demo runs, so that the sizes match.
"$asyncmem" layout -p asyncmem-demos --bin layers --release -o "$work/layers.json" ||
    die "asyncmem layout failed"
start layout "$asyncmem" top --demo layers --layout "$work/layers.json" -- -n 200
all_layers() { local n; n="$(live_tasks)"; [[ -n $n && $n -ge 400 ]]; }
wait_until "the 400 layers tasks" all_layers
keys Home
wait_for "deep at the top" '^[0-9]+ .*deep'
keys Enter
wait_for "the layout in the details" 'Suspend0 .*, the largest'
shoot details-layout
# t: the whole future as a tree, unfolded down to read_frame's 8 KiB frame.
keys t
wait_for "the layout view" 'frame 8.0 KiB \(local\)'
shoot future-layout
# The locations view with the layout's columns.
keys Escape
keys Escape
keys g
wait_for "the layout's columns" 'Largest state'
wait_for "twice's line" '@ layers.rs:61'
shoot locations-layout
stop_session layout
fi

# --- dump: where tasks wait (lesson 8) ----------------------------------------------------------

if want dump; then
say "parked with task dumps: parked (a debug build with the probe's taskdump feature)"
(cd "$root" && cargo build -q -p asyncmem-demos --bin parked --features taskdump \
    --target-dir target/taskdump) || die "building parked with taskdump failed"
"$asyncmem" layout -p asyncmem-demos --bin parked -o "$work/parked.json" ||
    die "asyncmem layout failed"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$root/target/taskdump/debug/parked" -n 2000 --console-bind "127.0.0.1:$port" >/dev/null 2>&1 &
parked_pid=$!
start dump "$asyncmem" top --addr "http://127.0.0.1:$port" --layout "$work/parked.json"
all_parked() { local n; n="$(live_tasks)"; [[ -n $n && $n -ge 2001 ]]; }
wait_until "the 2000 connections" all_parked
keys d
wait_for "the question" 'task dump\?'
keys y
# The keep-alive await's line, read from the demo's source (the point every connection waits at).
keep_alive="$(grep -n 'sleep(keep_alive).await' "$root/demos/src/bin/parked.rs" | head -1 | cut -d: -f1)"
[[ -n $keep_alive ]] || die "no keep-alive await in parked.rs"
wait_for "the dump at the keep-alive await" "demos/src/bin/parked\\.rs:$keep_alive:"
keys Enter
wait_for "a point's chain" 'parked::connection::\{\{closure\}\}'
shoot parked
stop_session dump
kill "$parked_pid" 2>/dev/null || true
wait "$parked_pid" 2>/dev/null || true
fi

# --- spike: two bursts, spike and drain -----------------------------------------------------

if want spike; then
say "spike: two bursts (about 50 s)"
# 5,000 tasks per burst: console-subscriber absorbs ~600 new tasks a second, so bursts of the
# default 20,000 every 20 s would outrun what it can report.
start spike "$asyncmem" top --demo spike --record "$work/spike.amrec" -- --burst 5000 --first-after 2s --hold 3s
keys +
keys +
wait_for "the 1 min chart window" '^ *-1m +now *$'
peak=0
bursts=0
in_burst=0
# Follow the header: a burst is the live count far above the baseline of ~300 idle tasks.
watch_bursts() {
    local s n r
    s="$(cat)"
    n="$(live_tasks <<<"$s")"
    r="$(rss_mib <<<"$s")"
    [[ -n $n && -n $r ]] || return 1
    ((r > peak)) && peak=$r
    if ((in_burst == 0 && n > 1000)); then
        in_burst=1
        bursts=$((bursts + 1))
        say "burst $bursts seen (live $n, RSS $r MiB)"
    elif ((in_burst == 1 && n < 500)); then
        in_burst=0
    fi
    # Done after two bursts, once the RSS has drained to under half its peak.
    ((bursts >= 2 && in_burst == 0 && r * 2 < peak))
}
# `poll`, not `wait_until`: its pipe would run watch_bursts in a subshell and lose the counts.
poll watch_bursts $((TIMEOUT + 60)) 0.25 \
    "timed out waiting for two bursts to spike and drain" "asyncmem exited during the spike demo"
sleep 2
# The table can be blank for a moment while the finished tasks of a burst expire (its index
# still lists them): take the picture once it shows rows again.
wait_for "table rows" '^[0-9]+ +[0-9-]+ '
shoot spike
report_warnings
stop_session spike
fi

# --- replay of the spike session, paused in its second burst -------------------------------

if want replay; then
want spike || die "replay shows the spike section's recording: ONLY must hold spike too"
say "replay: the spike session, at 4x"
start replay "$asyncmem" replay "$work/spike.amrec" --speed 4
keys +
keys +
wait_for "the 1 min chart window" '^ *-1m +now *$'
bursts=0
in_burst=0
second_burst() {
    local n
    n="$(live_tasks)"
    [[ -n $n ]] || return 1
    if ((in_burst == 0 && n > 1000)); then
        in_burst=1
        bursts=$((bursts + 1))
    elif ((in_burst == 1 && n < 500)); then
        in_burst=0
    fi
    ((bursts >= 2))
}
poll second_burst "$TIMEOUT" 0.1 "timed out waiting for the replay's second burst" "asyncmem replay exited"
keys Space
wait_for "the replay paused" '⏸ [0-9]+:[0-9]{2} /'
sleep 3.5 # the header's lint counts are refreshed at least every 3 s
shoot replay
stop_session replay
fi

# --- the spike session's first spike: locations with sparklines and what grew since the mark ---

if want grew; then
want spike || die "grew shows the spike section's recording: ONLY must hold spike too"
say "grew: n to the first burst of the spike recording, the locations since the mark"
start grew "$asyncmem" replay "$work/spike.amrec" --spike-window 2s
wait_for "the spikes found" 'spikes \(n\)'
keys +
keys +
wait_for "the 1 min chart window" '^ *-1m +now *$'
keys n
wait_for "at a spike, marked" 'spike [0-9]/[0-9].*since mark'
keys g
wait_for "the locations since the mark" '\+Mark'
shoot locations-growth
stop_session grew
fi

# --- cache-outside: RSS rising, the tasks explaining none of it -----------------------------

if want cache; then
say "cache: RSS rises outside the tasks (about 20 s)"
start cache "$asyncmem" top --demo cache-outside -- --entries 8000 --rate 200
keys +
keys +
keys +
wait_for "the 30 s chart window" '^ *-30s +now *$'
cache_grew() { local m; m="$(rss_mib)"; [[ -n $m && $m -ge 60 ]]; }
wait_until "RSS past 60 MiB" cache_grew
wait_for "the explained line" 'explained by tasks'
shoot chart-explained
stop_session cache
fi

say "done in $((SECONDS - started)) s"
