#!/usr/bin/env bash
# Benchmark (issue 16: the dashboard): a daemon with CANARIES canaries and RUNS runs of history in
# its store (bench/seed_runs.py: one run of each canary every 10 minutes back from now, copied
# from one real run's report), serving the dashboard.
#
# Prints, for the overview (/), a canary page (/canaries/c-0001, 24 h of charts and 25 runs), a
# run page and the alarms page: the time to the first byte of the answer (curl's
# time_starttransfer on 127.0.0.1: the server's time, the loopback adds microseconds) as the
# median and the slowest of REQUESTS requests, and the page's size; then the daemon's RSS idle
# after start, and after serving every request.
#
# usage: bench/dashboard.sh [CANARIES] [RUNS] [REQUESTS]   (defaults 500 100000 21; needs cargo,
#        python3, curl)     AVIARY_BIN=path/to/aviary bench/dashboard.sh  measures that binary
set -euo pipefail
cd "$(dirname "$0")"
canaries=${1:-500}
runs=${2:-100000}
requests=${3:-21}
source ./lib.sh
aviary=$(aviary_binary)

bench_dir=$(pwd)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# One real run of a one-step API canary: the template of every seeded run.
mkdir -p "$work/site" "$work/project/canaries"
printf '{"status": "ok"}\n' > "$work/site/status.json"
serve_static "$work/site"
cd "$work/project"
printf 'blueprint: api\nschedule: rate(10 minutes)\nenabled: false\napi:\n  steps:\n    - name: get\n      request: {url: "http://127.0.0.1:%s/status.json"}\n      assert: [status == 200]\n' \
  "$site_port" > canaries/seed.yaml
"$aviary" run canaries/seed.yaml >/dev/null
template=$(find .aviary/artifacts -name report.json | head -1)
cp "$template" "$work/template.json"
rm -rf canaries/seed.yaml .aviary/artifacts
for i in $(seq 0 $((canaries - 1))); do
  printf 'blueprint: api\nschedule: rate(10 minutes)\nenabled: false\ntags: {team: t%s}\napi:\n  steps:\n    - name: get\n      request: {url: "http://127.0.0.1:%s/status.json"}\n      assert: [status == 200]\n' \
    "$((i % 7))" "$site_port" > "canaries/c-$(printf %04d "$i").yaml"
done
per_canary=$((runs / canaries))
seed_start=$(date +%s.%N)
python3 "$bench_dir/seed_runs.py" .aviary/aviary.db "$work/template.json" "$canaries" "$per_canary" 600
printf "seeded %d runs of %d canaries in %.1f s\n" "$((per_canary * canaries))" "$canaries" "$(echo "$(date +%s.%N) - $seed_start" | bc -l)"

port=$(free_port)
printf 'server: {listen: "127.0.0.1:%s"}\n' "$port" > aviary.yaml
"$aviary" daemon >"$work/daemon.log" 2>&1 &
daemon=$!
pids+=($daemon)
wait_port "$port"
sleep 5
idle=$(rss_mb "$daemon")
run_id=$(curl -s "http://127.0.0.1:$port/api/v1/canaries/c-0001/runs?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["run_id"])')

printf '%-28s %10s %10s %10s\n' page median_ms max_ms size_kb
for path in / /canaries/c-0001 "/canaries/c-0001?range=7d" "/runs/$run_id" /alarms; do
  times=()
  for _ in $(seq "$requests"); do
    times+=("$(curl -s -o "$work/page.html" -w '%{time_starttransfer}' "http://127.0.0.1:$port$path")")
  done
  size=$(stat -c %s "$work/page.html")
  printf '%s\n' "${times[@]}" | sort -g | awk -v p="${path:0:28}" -v s="$size" \
    '{a[NR]=$1} END {printf "%-28s %10.1f %10.1f %10.1f\n", p, a[int((NR+1)/2)] * 1000, a[NR] * 1000, s / 1024}'
done
echo "daemon RSS: idle after start ${idle} MB, after serving $((requests * 5)) pages $(rss_mb "$daemon") MB"
