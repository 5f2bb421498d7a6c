#!/usr/bin/env bash
# What the live tasks explain of the RSS a demo's workload adds: the demo under asyncmem-probe
# with its workload and without it (the runtime, the binary, the probe's server), each read by
# `asyncmem snapshot --wait 3s --settle 2s --format json`; the share is the growth of the
# explained bytes over the growth of RSS.
#
#   bench/explained.sh DEMO [WORKLOAD ARGS] -- [BASELINE ARGS]
#   bench/explained.sh fat-vs-slim --only boxed -- --only boxed -n 0
#   PROFILE=release bench/explained.sh sleepers -- -n 0      (default: debug, the tests' build)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
profile=${PROFILE:-debug}
if [[ $profile == release ]]; then
  cargo build --release --workspace --quiet
else
  cargo build --workspace --quiet
fi
am=target/$profile/asyncmem
demo=$1
shift
load=()
while (($#)) && [[ $1 != -- ]]; do
  load+=("$1")
  shift
done
(($#)) && shift
base=("$@")
snap() {
  "$am" snapshot --wait 3s --settle 2s --format json --demo "$demo" -- "$@" |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["rss_bytes"], j["explained"]["explained_bytes"])'
}
read -r rss explained < <(snap "${load[@]}")
read -r rss0 explained0 < <(snap "${base[@]}")
python3 - "$demo ${load[*]}" "$rss" "$explained" "$rss0" "$explained0" <<'PY'
import sys
name, rss, e, rss0, e0 = sys.argv[1], *map(int, sys.argv[2:])
g, ge = rss - rss0, e - e0
print(f"{name}: RSS {rss/2**20:.1f} MiB, explained {e/2**20:.1f} MiB ({100*e/rss:.0f} % of RSS); "
      f"without the workload {rss0/2**20:.1f} MiB; growth {g/2**20:.1f} MiB, explained {ge/2**20:.1f} MiB: {ge/g:.2f}")
PY
