# Shared by the bench scripts (sourced, not run), which start with
#   # shellcheck source=bench/lib.sh
#   source "$(dirname "$0")/lib.sh"
# Sourcing it turns on strict mode and makes the repository root the working directory; the rest
# are helpers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# VmRSS of a pid, in kB.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# settled_rss PID [MAX_SECONDS]: RSS in kB once it has not changed for 2 s (polled every 0.5 s),
# or the last reading after MAX_SECONDS (default 120).
settled_rss() {
  local pid=$1 max=${2:-120} last=-1 same=0 now
  for _ in $(seq 1 $((max * 2))); do
    sleep 0.5
    now=$(rss_kb "$pid")
    if [[ $now == "$last" ]]; then same=$((same + 1)); else same=0; fi
    last=$now
    ((same >= 4)) && break
  done
  echo "$last"
}

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# rss_at_rest MAX_SECONDS COMMAND...: start COMMAND in the background (its output discarded),
# print its settled RSS in kB (settled_rss), then stop it. COMMAND may be a function that execs
# the program, so that its pid is the program's.
rss_at_rest() {
  local max=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$! r
  r=$(settled_rss "$pid" "$max")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  echo "$r"
}

# idle_sleepers INSTRUMENT TASKS BYTES: exec the sleepers demo (target/release/sleepers) with
# TASKS idle tasks holding BYTES each, all spawned at once, its console on a free port.
idle_sleepers() {
  exec target/release/sleepers --ramp 0 --instrument "$1" -n "$2" -b "$3" --console-bind "127.0.0.1:$(free_port)"
}
