#!/usr/bin/env bash
# Benchmark (issue 14: the visual diff): `aviary diff` against odiff (npm odiff-bin, its native
# binary run directly) and pixelmatch (npm pixelmatch 7.1 with pngjs, bench/pixelmatch-diff.mjs)
# on the same pairs of page-like PNG screenshots made by bench/visual_images.mjs: 1920x1080 and
# 1920x8000, a few changes each (a recoloured button, a paragraph moved by one pixel, a changed
# word, a new badge). Each tool decodes both PNGs, compares them (per-pixel threshold 0.1,
# anti-aliasing excluded) and encodes a diff PNG, as one process from start to exit.
#
# Printed per size and tool: wall time, CPU (user + system) and peak RSS, the median round of
# ROUNDS alternating rounds, and each tool's count of differing pixels (once).
#
# usage: bench/visual.sh [ROUNDS]
#        AVIARY_BIN=path/to/aviary bench/visual.sh   measures that binary instead of building this tree
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5}
source ./lib.sh

[ -d node_modules/pixelmatch ] && [ -d node_modules/odiff-bin ] || npm install --no-save --no-audit --no-fund --silent
odiff=$(node -e 'process.stdout.write(require.resolve("@odiff/linux-x64/package.json").replace(/package\.json$/, "odiff"))' 2>/dev/null || echo node_modules/.bin/odiff)
aviary=$(aviary_binary)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# "Different" is an answer, not a failure: aviary exits 1, odiff 22.
export MEASURE_OK_EXIT=1,22

median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

printf '%-10s %-11s %8s %8s %8s %10s\n' size tool wall_s cpu_s rss_mb diff_px
for size in 1920x1080 1920x8000; do
  dir=$work/$size
  mkdir -p "$dir"
  node visual_images.mjs "$dir" "${size%x*}" "${size#*x}"
  a=$dir/a.png b=$dir/b.png
  declare -A cmd=(
    [aviary]="$aviary diff $a $b -o $dir/aviary.png"
    [odiff]="$odiff $a $b $dir/odiff.png --aa -t 0.1"
    [pixelmatch]="node pixelmatch-diff.mjs $a $b $dir/pixelmatch.png"
  )
  declare -A count=(
    [aviary]=$($aviary diff "$a" "$b" | sed -n 's/.*differ (\([0-9]*\) pixels.*/\1/p')
    [odiff]=$($odiff "$a" "$b" "$dir/odiff.png" --aa -t 0.1 2>&1 | sed -n 's/Found \([0-9]*\) different.*/\1/p')
    [pixelmatch]=$(node pixelmatch-diff.mjs "$a" "$b" "$dir/pixelmatch.png")
  )
  declare -A results=()
  for _ in $(seq "$rounds"); do
    for tool in aviary odiff pixelmatch; do
      # shellcheck disable=SC2086
      results[$tool]+="$(measure ${cmd[$tool]})"$'\n'
    done
  done
  for tool in aviary odiff pixelmatch; do
    wall=$(printf '%s' "${results[$tool]}" | awk 'NF {print $1}' | median)
    cpu=$(printf '%s' "${results[$tool]}" | awk 'NF {print $2}' | median)
    rss=$(printf '%s' "${results[$tool]}" | awk 'NF {print $3}' | median)
    printf '%-10s %-11s %8s %8s %8s %10s\n' "$size" "$tool" "$wall" "$cpu" "$rss" "${count[$tool]}"
  done
  unset cmd count results
done
