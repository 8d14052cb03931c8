#!/usr/bin/env bash
# Benchmark (issue 20.4: the YAML loader, weighed): the project's own loader (`aviary validate`)
# against serde-saphyr (bench/yaml-compare, a small program that deserializes the same file into
# a typed canary and into an untyped value), on the files bench/parse.sh generates (N map keys,
# list items, API steps, bad values) and on hostile ones (an alias bomb, deep nesting). Prints
# the median wall time of each (whole process) and what each reports for the bad and hostile
# files: the own loader every problem with file:line:col, serde-saphyr the first.
#
# usage: bench/yaml.sh [ROUNDS]      (needs: cargo, python3, bc)
#        AVIARY_BIN=path/to/aviary bench/yaml.sh   measures that binary instead of building this tree
set -euo pipefail
cd "$(dirname "$0")"
. ./lib.sh
rounds=${1:-3}
bin=$(aviary_binary)
CARGO_TARGET_DIR="$root/target/yaml-compare" cargo build --release -q --manifest-path yaml-compare/Cargo.toml
saphyr=$root/target/yaml-compare/release/yaml-compare
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "canaries: [canaries]" >"$work/aviary.yaml"

printf '%-10s %7s %10s %12s %12s\n' kind N bytes "aviary (s)" "saphyr (s)"
for case in "tags 1000" "tags 10000" "tags 100000" "items 100000" "api 10000" "bad 1000" "bad 100000"; do
  set -- $case
  file="$work/$1-$2.yaml"
  python3 gen_canary.py "$1" "$2" "$file"
  own=$(median_wall "$rounds" "$bin" --config "$work/aviary.yaml" validate "$file")
  other=$(median_wall "$rounds" "$saphyr" "$file")
  printf '%-10s %7d %10d %12s %12s\n' "$1" "$2" "$(stat -c %s "$file")" "$own" "$other"
done

echo
for case in "bad 1000" "alias-bomb 9" "deep 5000"; do
  set -- $case
  file="$work/$1-$2.yaml"
  python3 gen_canary.py "$1" "$2" "$file"
  echo "$1 $2:"
  report=$("$bin" --config "$work/aviary.yaml" validate "$file" 2>&1 | sed "s|$work/||g" || true)
  echo "  aviary: $(grep -c ':[0-9]*:[0-9]*: ' <<<"$report" || true) problem lines; $(grep -v '^.*:1:1: …' <<<"$report" | head -1)"
  echo "  saphyr: $("$saphyr" --untyped-too "$file" 2>&1 | cut -c1-220)"
done
