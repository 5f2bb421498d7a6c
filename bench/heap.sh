#!/usr/bin/env bash
# What asyncmem_probe::Allocator costs (issue 15): the same workloads built with the system
# allocator and with the probe's allocator over it, both under the probe (no watcher), each
# run REPS times inside the binary (best of) and RUNS times here, alternating the two builds
# (the machine is shared and noisy); every run is printed, then the medians and the ratio.
#   - task N: one tokio task allocates and frees N small blocks (16-256 B, 8 live at a time)
#     and does nothing else (the worst case);
#   - request N: one tokio task handles N requests: a buffer of 16-256 B filled, summed, freed;
#   - tasks N: two such tasks on two workers at once;
#   - outside N: the same loop on the main thread, outside any poll;
#   - idle M: M idle tasks each holding a 64-byte Vec across a sleep: RSS per task.
# See probe/examples/heap_cost/body.rs. Usage: bench/heap.sh [N [M]]; environment RUNS, REPS.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
N=${1:-10000000}
M=${2:-100000}
RUNS=${RUNS:-5}
REPS=${REPS:-3}
cargo build --release -q -p asyncmem-probe --example heap_cost_plain --example heap_cost_counted
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "machine: $(nproc) cores, $(uname -r), $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for mode in task request tasks outside idle; do
  n=$N; [[ $mode == idle ]] && n=$M
  : >"$WORK/plain"; : >"$WORK/counted"
  for _ in $(seq 1 "$RUNS"); do
    for build in plain counted; do
      line=$(target/release/examples/heap_cost_$build "$mode" "$n" "$REPS" 2>/dev/null)
      echo "  $build: $line"
      awk '{print $3}' <<<"$line" >>"$WORK/$build"
    done
  done
  p=$(median <"$WORK/plain"); c=$(median <"$WORK/counted")
  unit=$(target/release/examples/heap_cost_plain "$mode" 1000 1 2>/dev/null | cut -d' ' -f4-)
  if [[ $mode == idle ]]; then
    echo "$mode $n: plain $p, counted $c $unit (+$(awk -v p="$p" -v c="$c" 'BEGIN{printf "%.1f", c-p}') B/task)"
  else
    echo "$mode $n: plain $p, counted $c $unit: counted throughput $(awk -v p="$p" -v c="$c" 'BEGIN{printf "%.2f", p/c}') of plain"
  fi
done
