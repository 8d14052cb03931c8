#!/usr/bin/env bash
# Benchmark (issue 15: Python script canaries): the same three steps on the example site — open
# the sign-in page, type a user name, tick a checkbox — as a `script` canary (a child process
# with embedded Python asking the run for each action) and as a `workflow` canary, side by side:
# `aviary run` of each from start to exit (browser launch included), medians of ROUNDS
# alternating rounds, wall time, CPU time and peak memory of the whole process tree. Then the
# child's own start-up cost: `aviary __script-child` running an empty handler (process start,
# Python initialisation, the `aviary` module, the script's import), alone.
#
# usage: bench/script.sh [ROUNDS]     (needs: cargo, python3, /usr/bin/chromium)
# AVIARY_BIN=path/to/aviary measures that binary instead of a release build of this tree.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5}

source ./lib.sh
aviary=$(aviary_binary)

port=$(free_port)
work=$(mktemp -d)
trap 'kill $site 2>/dev/null; rm -rf "$work"' EXIT
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$root/canaries/site" >/dev/null 2>&1 &
site=$!
wait_port "$port"
base="http://127.0.0.1:$port"

mkdir -p "$work/script/canaries" "$work/workflow/canaries" "$work/empty"
cat > "$work/script/canaries/three.py" <<PY
def handler(canary):
    page = canary.page()
    with canary.step("open sign-in page"):
        page.goto("$base/login.html")
    with canary.step("type user"):
        page.type("#user", "demo")
    with canary.step("tick terms"):
        page.click("#terms")
PY
printf 'blueprint: script\ntimeout: 60s\nscript: {file: three.py}\n' > "$work/script/canaries/three.yaml"
cat > "$work/workflow/canaries/three.yaml" <<YAML
blueprint: workflow
timeout: 60s
workflow:
  steps:
    - {name: open sign-in page, navigate: "$base/login.html"}
    - {name: type user, input: {selector: "#user", text: demo}}
    - {name: tick terms, click: "#terms"}
YAML
printf 'def handler(canary):\n    pass\n' > "$work/empty/empty.py"
start=$(printf '{"file":"%s","handler":"handler","env":{},"paths":["%s"]}' "$work/empty/empty.py" "$work/empty")

script_rows=(); workflow_rows=(); child_rows=()
for r in $(seq "$rounds"); do
  rm -rf "$work/script/.aviary" "$work/workflow/.aviary"
  script_rows+=("$(cd "$work/script" && measure "$aviary" run -q)")
  workflow_rows+=("$(cd "$work/workflow" && measure "$aviary" run -q)")
  child_rows+=("$(cd "$work/empty" && echo "$start" > start.json && measure sh -c "env -i PATH=/usr/bin:/bin '$aviary' __script-child < start.json")")
done
passed=$(grep -l '"status": "PASSED"' "$work"/*/.aviary/artifacts/*/*/*/*/*/*/report.json | wc -l)

echo "three steps against the example site on $base, $rounds alternating rounds"
echo "last round: $passed of 2 runs PASSED"
python3 - "$rounds" "${script_rows[@]}" "${workflow_rows[@]}" "${child_rows[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
rows = [tuple(map(float, r.split())) for r in sys.argv[2:]]
script, workflow, child = rows[:n], rows[n:2 * n], rows[2 * n:]
med = lambda xs, i: statistics.median(x[i] for x in xs)
print(f"{'':34}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}   (medians; whole process tree)")
for name, xs in (("script canary", script), ("workflow canary", workflow), ("child start-up (empty handler)", child)):
    print(f"{name:34}{med(xs, 0):8.3f}{med(xs, 1):8.3f}{med(xs, 2):13.0f}")
ratios = sorted(s[0] / w[0] for s, w in zip(script, workflow))
print(f"wall ratio script/workflow: {statistics.median(ratios):.2f}x "
      f"(min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x; goal <= 1.2x)")
PY
