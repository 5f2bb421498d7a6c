# Helpers shared by the bench scripts (sourced, not run).

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
