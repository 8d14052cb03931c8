#!/usr/bin/env bash
# Benchmark (issue 17: scale-out): N one-step API canaries at rate(1 minute) against a local
# server, run by 1, 2 and 4 daemons sharing one PostgreSQL (a throwaway cluster on 127.0.0.1).
#
# For each runner count, on a fresh database: the daemons start, the first minute passes (every
# canary reaches its first slot), then SECONDS are measured:
# - runs per second (runs saved with a start in the window) against the schedule's N / 60;
# - slots missed (gaps in each canary's minute grid of claims, in the window) and slots run
#   twice (every saved run against the claims done);
# - start lateness (actual start - slot) p50 / p99 / max of the scheduled runs, from the
#   daemons' "run finished" log lines;
# - CPU of the database (every postgres process) and of the daemons, as shares of one core.
#
# usage: bench/scale.sh [CANARIES] [SECONDS] [RUNNERS...]   (defaults 20000, 120, "1 2 4";
#        SECONDS at least 60)
#        AVIARY_BIN=path/to/aviary bench/scale.sh          measures that binary
# Needs PostgreSQL's server programs (Debian `postgresql`), python3 and cargo.
set -euo pipefail
cd "$(dirname "$0")"
canaries=${1:-20000}
seconds=${2:-120}
[ "$seconds" -ge 60 ] || { echo "SECONDS must be at least 60 (one slot of every canary)" >&2; exit 2; }
shift $(( $# > 2 ? 2 : $# ))
runner_counts=("${@:-1 2 4}")
read -r -a runner_counts <<< "${runner_counts[*]}"

source ./lib.sh
aviary=$(aviary_binary)

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL's server programs are missing (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  as_pg "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres "$work"

pg_port=$(free_port)
as_pg "$pg_bin/initdb" -D "$work/pg" --auth=trust --username=aviary >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
psql_q() { psql -qAt -h 127.0.0.1 -p "$pg_port" -U aviary -d "$1" -c "$2"; }

mkdir -p "$work/site/api/items"
printf '{"id": 1, "name": "widget"}\n' > "$work/site/api/items/1.json"
serve_static "$work/site"
url="http://127.0.0.1:$site_port/api/items/1.json"

# The canary files every runner reads (as each machine reads the repository).
mkdir -p "$work/canaries"
python3 - "$work/canaries" "$canaries" "$url" <<'PY'
import sys
folder, n, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    with open(f"{folder}/c{i:05}.yaml", "w") as f:
        f.write(f'blueprint: api\nschedule: rate(1 minute)\ntimeout: 10s\napi:\n  steps:\n'
                f'    - name: get item\n      request: {{url: "{url}"}}\n      assert: [status == 200]\n')
PY

tck=$(getconf CLK_TCK)
# CPU ticks (user + system) of the processes with these pids.
ticks_of() { local sum=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $sum; }
# The postmaster and its children (the backends serving the daemons).
pg_pids() { local pm; pm=$(head -1 "$work/pg/postmaster.pid"); echo "$pm"; pgrep -P "$pm" || true; }

printf '%s\n' "| runners | runs/s (schedule: $(python3 -c "print(f'{$canaries/60:.0f}')")) | missed slots | doubled slots | lateness p50 ms | p99 ms | max ms | database CPU % of a core | daemons CPU % |"
printf '%s\n' "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for runners in "${runner_counts[@]}"; do
  db="scale_$runners"
  psql_q postgres "CREATE DATABASE $db" >/dev/null
  store="postgres://aviary@127.0.0.1:$pg_port/$db"
  daemons=()
  for r in $(seq "$runners"); do
    dir="$work/r$runners-$r"
    mkdir -p "$dir"
    printf 'canaries: ["%s"]\nstore: "%s"\nserver: {listen: "127.0.0.1:0"}\nrunner: {max_concurrency: 64}\n' \
      "$work/canaries" "$store" > "$dir/aviary.yaml"
    (cd "$dir" && exec "$aviary" daemon --log-format json 2>"$dir/daemon.log") &
    daemons+=($!)
    pids+=($!)
  done
  sleep 70
  t0=$(date +%s%3N); d0=$(ticks_of "${daemons[@]}"); p0=$(ticks_of $(pg_pids))
  sleep "$seconds"
  t1=$(date +%s%3N); d1=$(ticks_of "${daemons[@]}"); p1=$(ticks_of $(pg_pids))
  for p in "${daemons[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${daemons[@]}"; do wait "$p" 2>/dev/null || true; done
  runs=$(psql_q "$db" "SELECT COUNT(*) FROM runs WHERE started_at >= $t0 AND started_at < $t1")
  # Slots missed in the window: gaps in each canary's minute grid of claimed slots, and canaries
  # with no claim at all (the window is at least a minute).
  missed=$(psql_q "$db" "SELECT COALESCE(SUM((last - first) / 60000 + 1 - n), 0), COUNT(*)
    FROM (SELECT MIN(slot) AS first, MAX(slot) AS last, COUNT(*) AS n FROM slot_claims
          WHERE slot >= $t0 AND slot < $t1 GROUP BY canary) AS per_canary")
  # Over the whole run (the daemons drained their runs): every saved run against its claim.
  all_runs=$(psql_q "$db" "SELECT COUNT(*) FROM runs")
  done_claims=$(psql_q "$db" "SELECT COUNT(*) FROM slot_claims WHERE done")
  python3 - "$work/r$runners-" "$runners" "$canaries" "$t0" "$t1" "$runs" "$missed" "$all_runs" "$done_claims" \
    "$((d1 - d0))" "$((p1 - p0))" "$tck" <<'PY'
import json, sys, datetime
prefix, runners, n, t0, t1, runs, missed, all_runs, done_claims, dticks, pticks, tck = sys.argv[1:]
runners, n, t0, t1 = int(runners), int(n), int(t0), int(t1)
window = (t1 - t0) / 1000
late = []
for r in range(1, runners + 1):
    for line in open(f"{prefix}{r}/daemon.log"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        f = e.get("fields", {})
        if f.get("message") != "run finished" or f.get("trigger") != "schedule" or f.get("attempt") != 1:
            continue
        ts = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
        if t0 <= ts < t1:
            late.append(float(f.get("late_ms", 0)))
late.sort()
pct = lambda p: late[min(len(late) - 1, int(round(p / 100 * (len(late) - 1))))] if late else float("nan")
gaps, claimed_canaries = (int(x) for x in missed.split("|"))
missed = gaps + (n - claimed_canaries if window >= 60 else 0)
doubled = max(0, int(all_runs) - int(done_claims))
cpu = lambda ticks: 100 * int(ticks) / int(tck) / window
print(f"| {runners} | {int(runs) / window:.1f} | {missed} | {doubled} | {pct(50):.1f} | {pct(99):.1f} | "
      f"{(late[-1] if late else float('nan')):.1f} | {cpu(pticks):.0f} | {cpu(dticks):.0f} |")
PY
done
