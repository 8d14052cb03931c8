#!/usr/bin/env bash
# Benchmark (issue 4: the daemon's scheduler): N one-step API canaries at rate(1 minute) against a
# local server for a few minutes.
#
# Prints:
# - start lateness (actual start - scheduled fire) p50 / p99 / max of the scheduled runs, from
#   the daemon's "run finished" log lines (`late_ms`, first attempts with trigger=schedule) — the
#   same figure /metrics exports as aviary_scheduler_start_lateness_seconds; and, separately, of
#   the runs at start (every canary is due at the same instant then, so they queue);
# - the daemon's CPU (user + system, from /proc/PID/stat) over the scheduled phase, as a share of
#   one core, and its RSS (VmRSS, sampled each second: peak and last);
# - idle RSS: a second daemon with the same N canaries on a daily schedule, measured once their
#   runs at start are done and it only waits for timers.
#
# usage: bench/daemon.sh [CANARIES] [SECONDS]      (defaults 5000 and 180; needs cargo, python3)
#        AVIARY_BIN=path/to/aviary bench/daemon.sh  measures that binary instead of building
set -euo pipefail
cd "$(dirname "$0")"
canaries=${1:-5000}
seconds=${2:-180}

source ./lib.sh
aviary=$(aviary_binary)

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# The endpoint: a small JSON document behind a threading HTTP server.
mkdir -p "$work/site/api/items"
printf '{"id": 1, "name": "widget"}\n' > "$work/site/api/items/1.json"
serve_static "$work/site"
url="http://127.0.0.1:$site_port/api/items/1.json"

# Writes a project with N canaries on SCHEDULE into DIR.
make_project() {
  local dir=$1 schedule=$2
  mkdir -p "$dir/canaries"
  printf 'server: {listen: "127.0.0.1:%s"}\nrunner: {max_concurrency: 16}\n' "$(free_port)" > "$dir/aviary.yaml"
  for i in $(seq -w 1 "$canaries"); do
    printf 'blueprint: api\nschedule: %s\ntimeout: 10s\napi:\n  steps:\n    - name: get item\n      request: {url: "%s"}\n      assert: [status == 200]\n' \
      "$schedule" "$url" > "$dir/canaries/c$i.yaml"
  done
}

# Waits until LOG has N "run finished" lines (at most LIMIT seconds).
wait_runs() {
  local log=$1 n=$2 limit=$3
  for _ in $(seq $((limit * 10))); do
    [ "$(grep -c '"run finished"' "$log" || true)" -ge "$n" ] && return 0
    sleep 0.1
  done
  echo "only $(grep -c '"run finished"' "$log" || true) of $n runs after ${limit}s" >&2
}

tck=$(getconf CLK_TCK)

# --- Load: rate(1 minute) ---
make_project "$work/load" "rate(1 minute)"
(cd "$work/load" && exec "$aviary" daemon --log-format json 2>"$work/load.log") &
pid=$!
pids+=($pid)
wait_runs "$work/load.log" "$canaries" 120
start_done=$(date +%s.%N)
t0=$(cpu_ticks $pid)
peak=0
for _ in $(seq "$seconds"); do
  r=$(rss_kb $pid); [ "$r" -gt "$peak" ] && peak=$r
  sleep 1
done
t1=$(cpu_ticks $pid)
last_rss=$(rss_kb $pid)
elapsed=$(python3 -c "import time; print(time.time() - $start_done)")
kill -TERM $pid; wait $pid || true

# --- Idle: the same canaries on a daily schedule, after their runs at start ---
make_project "$work/idle" "rate(1 day)"
(cd "$work/idle" && exec "$aviary" daemon --log-format json 2>"$work/idle.log") &
ipid=$!
pids+=($ipid)
wait_runs "$work/idle.log" "$canaries" 120
sleep 10
idle_rss=$(rss_kb $ipid)
kill -TERM $ipid; wait $ipid || true

python3 - "$work/load.log" "$canaries" "$seconds" "$elapsed" "$((t1 - t0))" "$tck" "$peak" "$last_rss" "$idle_rss" <<'PY'
import json, sys
log, n, seconds, elapsed, ticks, tck, peak, last, idle = sys.argv[1:]
sched, start = [], []
counts = {}
for line in open(log):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    f = e.get("fields", {})
    if f.get("message") != "run finished":
        continue
    counts[f.get("status")] = counts.get(f.get("status"), 0) + 1
    if f.get("attempt") != 1:
        continue
    (sched if f.get("trigger") == "schedule" else start).append(float(f.get("late_ms", 0)))
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")
print(f"canaries: {n} at rate(1 minute), measured for {seconds}s after their runs at start")
print(f"runs: {sum(counts.values())} {counts}")
print(f"scheduled runs: {len(sched)}; start lateness p50 {pct(sched, 50):.1f} ms, p99 {pct(sched, 99):.1f} ms, max {max(sched or [float('nan')]):.1f} ms")
print(f"runs at start: {len(start)}; lateness p50 {pct(start, 50):.0f} ms, p99 {pct(start, 99):.0f} ms (all due at once; they queue)")
cpu = int(ticks) / int(tck)
print(f"daemon CPU: {cpu:.1f} s in {float(elapsed):.0f} s = {100 * cpu / float(elapsed):.1f}% of one core")
print(f"daemon RSS under load: peak {int(peak) / 1024:.1f} MB, last {int(last) / 1024:.1f} MB")
print(f"idle RSS with {n} canaries loaded: {int(idle) / 1024:.1f} MB")
PY
