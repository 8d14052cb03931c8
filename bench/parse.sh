#!/usr/bin/env bash
# Benchmark (issue 19.5: loading time must grow linearly with the file): `aviary validate` on one
# generated canary file with N map keys (`tags:`), N list items (`heartbeat.urls`), N bad
# values (tags whose values are lists: one problem each, reported up to 100) or N API steps each
# using a variable an earlier step extracts (`api`), for N = 1k, 10k and 100k (API steps: 50k). Prints the wall time of each run (the median of ROUNDS); time / N should stay flat.
#
# usage: bench/parse.sh [ROUNDS]      (needs: cargo, python3)
#        AVIARY_BIN=path/to/aviary bench/parse.sh   measures that binary instead of building this tree
set -euo pipefail
cd "$(dirname "$0")"
. ./lib.sh
rounds=${1:-3}
bin=$(aviary_binary)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# generate KIND N FILE (bench/gen_canary.py)
generate() { python3 gen_canary.py "$1" "$2" "$3"; }

# seconds of the median of $rounds runs of `aviary validate FILE`
measure() { median_wall "$rounds" "$bin" --config "$work/aviary.yaml" validate "$1"; }

echo "canaries: [canaries]" >"$work/aviary.yaml"
printf '%-10s %8s %10s %14s %10s\n' kind N bytes "validate (s)" "µs per N"
for kind in tags items bad api; do
  sizes="1000 10000 100000"
  # 100,000 API steps would pass the 10 MB file limit: 50,000 is ~5 MB.
  [ "$kind" = api ] && sizes="1000 10000 50000"
  for n in $sizes; do
    file="$work/$kind-$n.yaml"
    generate "$kind" "$n" "$file"
    seconds=$(measure "$file")
    printf '%-10s %8d %10d %14s %10.1f\n' "$kind" "$n" "$(stat -c %s "$file")" "$seconds" \
      "$(echo "$seconds * 1000000 / $n" | bc -l)"
  done
done
