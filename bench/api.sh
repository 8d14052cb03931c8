#!/usr/bin/env bash
# Benchmark (issue 3: API canaries vs blackbox_exporter): CPU time per one-step HTTP check of the
# same local endpoint, 1,000 checks each.
#
# - Aviary: one `aviary run` of 1,000 one-step API canaries (`GET <url>`, `status == 200`), 16 at
#   a time (the default runner.max_concurrency). Counted: the whole `aviary` process — start-up,
#   parsing 1,000 canary files, the requests, assertions, and for every run its report.json,
#   HAR, log.txt and database row — from the kernel's rusage of the process (user + system).
# - blackbox_exporter (Debian's prometheus-blackbox-exporter, `http` prober, module `http_2xx`):
#   1,000 `GET /probe?module=http_2xx&target=<url>`, 16 at a time. Counted: the exporter
#   process only (utime + stime from /proc/PID/stat before and after), not the client.
#
# Both probe the same endpoint of the same local server (python3 http.server, 127.0.0.1 only),
# each check on a fresh connection. Prints the median of ROUNDS alternating rounds.
#
# Aviary's data folder (database + artifacts) is on the disk under $TMPDIR by default;
# DATA_ROOT=/dev/shm measures it on tmpfs (no disk, no filesystem quirks).
#
# usage: bench/api.sh [ROUNDS] [CHECKS]     (needs: cargo, python3, prometheus-blackbox-exporter)
#        AVIARY_BIN=path/to/aviary bench/api.sh   measures that binary instead of building this tree
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-3}
checks=${2:-1000}
blackbox=${BLACKBOX_EXPORTER:-/usr/bin/prometheus-blackbox-exporter}
[ -x "$blackbox" ] || { echo "blackbox_exporter not found at $blackbox (apt-get install prometheus-blackbox-exporter)" >&2; exit 2; }

source ./lib.sh
aviary=$(aviary_binary)


work=$(mktemp -d)
data=$(mktemp -d "${DATA_ROOT:-${TMPDIR:-/tmp}}/aviary-bench-data.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work" "$data"' EXIT

# The endpoint: a small JSON document.
mkdir -p "$work/site/api/items" "$work/project/canaries"
printf '{"id": 1, "name": "widget", "tags": ["new"], "price": 9.5}\n' > "$work/site/api/items/1.json"
serve_static "$work/site"
url="http://127.0.0.1:$site_port/api/items/1.json"

# Aviary: one canary file per check.
printf 'runner: {max_concurrency: 16}\n' > "$work/project/aviary.yaml"
for i in $(seq -w 1 "$checks"); do
  printf 'blueprint: api\ntimeout: 10s\napi:\n  steps:\n    - name: get item\n      request: {url: "%s"}\n      assert: [status == 200]\n' \
    "$url" > "$work/project/canaries/check-$i.yaml"
done

# blackbox_exporter: the http prober, 2xx expected, IPv4 (as Aviary connects to 127.0.0.1).
cat > "$work/blackbox.yml" <<'YAML'
modules:
  http_2xx:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
YAML
bb_port=$(free_port)
"$blackbox" --config.file="$work/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" --log.level=warn >/dev/null 2>&1 &
bb_pid=$!
pids+=($bb_pid)
wait_port "$bb_port"

# Runs `aviary run` in the project; prints "wall_s cpu_s". By default each round gets a fresh
# data folder (first-ever runs: every canary's folder tree is created too). WARM=1 uses one data
# folder that an uncounted warm-up run has filled, as in steady-state monitoring. Nothing is
# deleted between rounds: deleting 10,000 files just before creating as many makes ext4 search
# past the recently freed inodes, a cost no steady-state run pays.
data_folder() { if [ "${WARM:-0}" = 1 ]; then echo "$data/steady"; else echo "$data/round-$1"; fi; }
run_aviary() {
  python3 - "$aviary" "$work/project" "$checks" "$(data_folder "$1")" <<'PY'
import os, subprocess, sys, time
aviary, project, checks, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
before = sum(1 for d, _, files in os.walk(os.path.join(data, "artifacts")) if "report.json" in files)
t0, start = os.times(), time.monotonic()
proc = subprocess.run([aviary, "run", "--data-dir", data], cwd=project, stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE)
wall, t1 = time.monotonic() - start, os.times()
if proc.returncode != 0:
    sys.exit(f"aviary run failed with exit {proc.returncode}: {proc.stderr.decode()[-2000:]}")
reports = sum(1 for d, _, files in os.walk(os.path.join(data, "artifacts")) if "report.json" in files) - before
if reports != checks:
    sys.exit(f"expected {checks} run folders, found {reports}")
cpu = (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)
print(f"{wall:.3f} {cpu:.3f}")
PY
}
[ "${WARM:-0}" = 1 ] && run_aviary warmup >/dev/null

# Sends the probes to blackbox_exporter; prints "wall_s cpu_s" of the exporter process.
run_blackbox() {
  python3 - "$bb_pid" "$bb_port" "$url" "$checks" <<'PY'
import http.client, os, sys, threading, time, urllib.parse
pid, port, target, checks = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick   # utime + stime
path = "/probe?" + urllib.parse.urlencode({"module": "http_2xx", "target": target})
left, failures, lock = [checks], [], threading.Lock()
def worker():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while True:
        with lock:
            if left[0] == 0:
                return
            left[0] -= 1
        conn.request("GET", path)
        body = conn.getresponse().read().decode()
        if "\nprobe_success 1" not in body:
            failures.append(body[-300:])
time.sleep(0.5)   # let the exporter settle after start-up
c0, start = cpu(), time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
wall, c1 = time.monotonic() - start, cpu()
if failures:
    sys.exit(f"{len(failures)} probes failed, e.g.: {failures[0]}")
print(f"{wall:.3f} {c1 - c0:.3f}")
PY
}

aviary_rows=(); bb_rows=()
for r in $(seq "$rounds"); do
  aviary_rows+=("$(run_aviary "$r")")
  bb_rows+=("$(run_blackbox)")
  echo "round $r: aviary ${aviary_rows[-1]}   blackbox ${bb_rows[-1]}   (wall_s cpu_s)" >&2
done

python3 - "$checks" "${#aviary_rows[@]}" "${aviary_rows[@]}" "${bb_rows[@]}" <<'PY'
import statistics, sys
checks, n = int(sys.argv[1]), int(sys.argv[2])
rows = [tuple(map(float, r.split())) for r in sys.argv[3:]]
aviary, bb = rows[:n], rows[n:]
med = lambda xs, i: statistics.median(x[i] for x in xs)
low = lambda xs, i: min(x[i] for x in xs)
a_cpu, b_cpu = med(aviary, 1), med(bb, 1)
import os
mode = "warm data folder (WARM=1)" if os.environ.get("WARM") == "1" else "fresh data folder each round"
print(f"{checks} one-step HTTP checks of one local endpoint, {n} rounds, aviary: {mode}")
print(f"{'':20}{'wall s':>8}{'CPU s':>8}{'CPU ms/check':>14}{'(best round)':>14}")
for name, rows in (("aviary run", aviary), ("blackbox_exporter", bb)):
    print(f"{name:20}{med(rows, 0):8.2f}{med(rows, 1):8.2f}{med(rows, 1) / checks * 1000:14.3f}"
          f"{low(rows, 1) / checks * 1000:14.3f}")
print(f"CPU ratio aviary / blackbox_exporter: {a_cpu / b_cpu:.2f}x median, "
      f"{low(aviary, 1) / low(bb, 1):.2f}x best rounds  (target <= 1.0x)")
PY
