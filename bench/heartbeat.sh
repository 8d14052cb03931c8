#!/usr/bin/env bash
# Benchmark (issue: heartbeat vs Playwright): 20 heartbeat checks of a local page, each with a
# 1920×1080 screenshot and a HAR, one at a time — `aviary run` (20 canaries, one browser page at
# a time) against the same checks written with Playwright (playwright-core driving the same
# Chromium, its headless shell where installed). Prints wall time, CPU time and peak memory (whole process tree) per command, as the
# median of ROUNDS alternating runs.
#
# usage: bench/heartbeat.sh [ROUNDS]     (needs: cargo, node/npm, python3, /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5}
checks=20

source ./lib.sh
aviary=$(aviary_binary)
CHROME=$(bench_chromium)
export CHROME AVIARY_CHROME=$CHROME
[ -d node_modules/playwright-core ] || npm install --no-audit --no-fund -q >/dev/null

work=$(mktemp -d)
trap 'kill $site 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/site" "$work/project/canaries"
cp "$root/canaries/site/index.html" "$work/site/"
python3 -m http.server 18080 --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 &
site=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:18080/"

cat > "$work/project/aviary.yaml" <<YAML
browser: {max_concurrency: 1}
YAML
for i in $(seq -w 1 $checks); do
  printf 'blueprint: heartbeat\ntimeout: 30s\nheartbeat:\n  urls: ["%s"]\n' "$url" > "$work/project/canaries/check-$i.yaml"
done

aviary_rows=() ; pw_rows=()
for r in $(seq "$rounds"); do
  rm -rf "$work/project/.aviary" "$work/pw" && mkdir -p "$work/pw"
  aviary_rows+=("$(cd "$work/project" && measure "$aviary" run -q)")
  pw_rows+=("$(measure node playwright-heartbeat.js "$url" $checks "$work/pw")")
done
# Sanity: every aviary run produced a screenshot and a HAR.
shots=$(find "$work/project/.aviary/artifacts" -name '*.png' | wc -l)
hars=$(find "$work/project/.aviary/artifacts" -name '*.har' | wc -l)

echo "$checks heartbeat checks of $url, one at a time, $rounds alternating rounds"
echo "aviary artifacts of the last round: $shots screenshots, $hars HAR files"
python3 - "${#aviary_rows[@]}" "${aviary_rows[@]}" "${pw_rows[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
rows = [tuple(map(float, r.split())) for r in sys.argv[2:]]
aviary, pw = rows[:n], rows[n:]
med = lambda xs, i: statistics.median(x[i] for x in xs)
print(f"{'':12}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}   (medians; RSS of the whole process tree)")
for name, xs in (("aviary", aviary), ("playwright", pw)):
    print(f"{name:12}{med(xs, 0):8.2f}{med(xs, 1):8.2f}{med(xs, 2):13.0f}")
ratios = sorted(a[0] / p[0] for a, p in zip(aviary, pw))
print(f"wall ratio aviary/playwright: {statistics.median(ratios):.2f}x median of per-round ratios "
      f"(min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x; target <= 0.50x)")
PY
