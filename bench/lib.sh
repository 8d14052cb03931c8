# Shared by the bench scripts (sourced, after `cd "$(dirname "$0")"`).
root=$(pwd)/..

# The binary to measure: AVIARY_BIN if set (e.g. an experiment), else a release build of this tree.
aviary_binary() {
  if [ -n "${AVIARY_BIN:-}" ]; then
    echo "$AVIARY_BIN"
  else
    (cd "$root" && cargo build --release --locked -q) >&2
    echo "$root/target/release/aviary"
  fi
}

# median_wall ROUNDS CMD...: the median wall time in seconds of ROUNDS runs of CMD (its output
# and exit status ignored).
median_wall() {
  local rounds=$1 times=() start end
  shift
  for _ in $(seq "$rounds"); do
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}

# The Chromium both sides of a side-by-side run use: the one Aviary's `auto` picks (the headless
# shell where installed, else Debian's chromium), so that a comparison is of the tools, not of two
# builds of the browser. BENCH_CHROME=/path picks another for both.
bench_chromium() {
  [ -n "${BENCH_CHROME:-}" ] && { echo "$BENCH_CHROME"; return; }
  for candidate in /usr/lib/chromium/chromium-headless-shell /usr/bin/chromium; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  echo "no Chromium: apt-get install -y chromium chromium-headless-shell" >&2
  exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# serve_static DIR: serves DIR over HTTP on a free port of 127.0.0.1; sets site_port and adds the
# server to the caller's pids (killed by its EXIT trap).
serve_static() {
  site_port=$(free_port)
  python3 -m http.server "$site_port" --bind 127.0.0.1 --directory "$1" >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$site_port"
}
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

# Runs a command, sampling its whole process tree; prints "wall_s cpu_s peak_rss_mb". Exit codes
# other than 0 fail, except those listed in MEASURE_OK_EXIT (e.g. "1,22": "different" answers).
measure() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
def tree_rss(pid):
    total, stack = 0, [pid]
    children = {}
    for p in os.listdir('/proc'):
        if p.isdigit():
            try:
                with open(f'/proc/{p}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p))
            except OSError:
                pass
    while stack:
        p = stack.pop()
        try:
            with open(f'/proc/{p}/status') as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1])
        except OSError:
            pass
        stack.extend(children.get(p, []))
    return total
start = time.monotonic()
t0 = os.times()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = 0
while proc.poll() is None:
    peak = max(peak, tree_rss(proc.pid))
    time.sleep(0.02)
wall = time.monotonic() - start
t1 = os.times()
cpu = (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)
ok = {0} | {int(c) for c in os.environ.get('MEASURE_OK_EXIT', '').split(',') if c}
if proc.returncode not in ok:
    print(f"command failed with exit {proc.returncode}: {' '.join(sys.argv[1:])}", file=sys.stderr)
    sys.exit(1)
print(f"{wall:.3f} {cpu:.3f} {peak/1024:.0f}")
PY
}
