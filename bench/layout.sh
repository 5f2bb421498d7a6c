#!/usr/bin/env bash
# What `asyncmem layout` costs on this repository's demos package: a cold build (its target
# directory removed first), then a warm one (nothing changed), each timed, and the size of the
# type-size report it read (lines, from its own progress line) and of the layout file it wrote.
#
#   bench/layout.sh [PACKAGE]      (default: asyncmem-demos; the release build of asyncmem runs it)
#   RELEASE=1 bench/layout.sh      (the target's release profile instead of debug)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
package=${1:-asyncmem-demos}
cargo build --release --bin asyncmem --quiet
target=target/bench-layout
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-p "$package" --target-dir "$target" --format json)
[[ -n ${RELEASE:-} ]] && flags+=(--release)

run() { # run NAME: one timed `asyncmem layout`, its stderr kept
  local start end
  start=$(date +%s.%N)
  target/release/asyncmem layout "${flags[@]}" -o "$out/$1.json" 2> "$out/$1.err"
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}

rm -rf "$target"
echo "machine: $(nproc) cores, $(uname -r); $(rustc -V); package $package${RELEASE:+, release}"
cold=$(run cold)
warm=$(run warm)
parsed=$(grep '^asyncmem: parsing' "$out/warm.err")
printf '%-6s %8s\n' run seconds
printf '%-6s %8s\n' cold "$cold" warm "$warm"
echo "report: ${parsed#asyncmem: parsing the }"
echo "layout file: $(wc -l < "$out/warm.json") lines, $(wc -c < "$out/warm.json") bytes"
if ! cmp -s "$out/cold.json" "$out/warm.json"; then
  echo "warning: the warm run's layout differs from the cold run's" >&2
fi
du -sh "$target" | awk '{print "target dir: " $1}'
rm -rf "$target"
