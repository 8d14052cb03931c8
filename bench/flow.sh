#!/usr/bin/env bash
# Benchmark (issue: recorded flows vs @puppeteer/replay): the example sign-in flow
# (canaries/flows/sign-in.json: 11 Recorder steps — viewport, page load, typing into three
# fields, a select, a checkbox, a click that navigates, a menu, two waits) replayed against the
# example site by `aviary run` of a flow canary and by @puppeteer/replay with puppeteer-core
# (bench/replay.js), both on the same Debian Chromium (its headless shell where installed), one process each from start to exit
# (browser launch included). Prints wall time, CPU time and peak memory of the whole process
# tree, medians of ROUNDS alternating rounds. Aviary runs twice: with its default step
# screenshots (a PNG after every step) and without (what the reference does).
#
# usage: bench/flow.sh [ROUNDS]     (needs: cargo, node/npm, python3, /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5}

source ./lib.sh
aviary=$(aviary_binary)
CHROMIUM=$(bench_chromium)
export CHROMIUM AVIARY_CHROME=$CHROMIUM
[ -d node_modules/@puppeteer/replay ] || PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-save --no-audit --no-fund -q >/dev/null

port=$(free_port)
work=$(mktemp -d)
trap 'kill $site 2>/dev/null; rm -rf "$work"' EXIT
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$root/canaries/site" >/dev/null 2>&1 &
site=$!
wait_port "$port"

mkdir -p "$work/shots/canaries/flows" "$work/plain/canaries/flows"
sed "s#http://127.0.0.1:8080#http://127.0.0.1:$port#g" "$root/canaries/flows/sign-in.json" > "$work/flow.json"
for kind in shots plain; do
  cp "$work/flow.json" "$work/$kind/canaries/flows/sign-in.json"
  printf 'blueprint: flow\ntimeout: 60s\nflow: {file: flows/sign-in.json}\n' > "$work/$kind/canaries/sign-in.yaml"
done
printf 'screenshots: {on_step_success: false}\n' >> "$work/plain/canaries/sign-in.yaml"

shots_rows=(); plain_rows=(); ref_rows=()
for r in $(seq "$rounds"); do
  rm -rf "$work/shots/.aviary" "$work/plain/.aviary"
  shots_rows+=("$(cd "$work/shots" && measure "$aviary" run -q)")
  plain_rows+=("$(cd "$work/plain" && measure "$aviary" run -q)")
  ref_rows+=("$(measure node replay.js "$work/flow.json")")
done
passed=$(grep -l '"status": "PASSED"' "$work"/shots/.aviary/artifacts/*/*/*/*/*/*/report.json | wc -l)

echo "the 11-step sign-in flow against the example site on 127.0.0.1:$port, $rounds alternating rounds"
echo "aviary's last run: $passed PASSED report"
python3 - "$rounds" "${shots_rows[@]}" "${plain_rows[@]}" "${ref_rows[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
rows = [tuple(map(float, r.split())) for r in sys.argv[2:]]
shots, plain, ref = rows[:n], rows[n:2 * n], rows[2 * n:]
med = lambda xs, i: statistics.median(x[i] for x in xs)
print(f"{'':34}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}   (medians; whole process tree)")
for name, xs in (("aviary (step screenshots)", shots), ("aviary (no step screenshots)", plain), ("@puppeteer/replay", ref)):
    print(f"{name:34}{med(xs, 0):8.2f}{med(xs, 1):8.2f}{med(xs, 2):13.0f}")
for name, xs in (("with screenshots", shots), ("without", plain)):
    ratios = sorted(a[0] / p[0] for a, p in zip(xs, ref))
    print(f"wall ratio aviary/replay, {name}: {statistics.median(ratios):.2f}x "
          f"(min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x; goal <= 1.0x)")
PY
