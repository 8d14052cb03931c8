#!/usr/bin/env bash
# Benchmark (issue 13: broken links vs lychee): a generated local site of 2,000 pages (about
# 22,000 links, 2,401 unique URLs of which 400 are broken), served by bench/links_site.py
# (python3, HTTP/1.1 keep-alive, 127.0.0.1 only), which counts every request it receives.
#
# - Aviary: `aviary run` of one broken-links canary starting at the site's start page, crawling
#   (depth 20, max_links 5000) with politeness off (per_host concurrency 128, interval 0): it
#   renders the start page in Chromium, then discovers the 2,000 pages itself.
# - lychee (`cargo install lychee --locked`; looked for on PATH, in /work/bench-tools/bin and in
#   target/bench-tools/bin, installed into the latter if missing): given all 2,000 page URLs as
#   inputs (it does not crawl), politeness off as for Aviary: max and per-host concurrency 128,
#   request interval 0ms, no retries, no disk cache.
#
# Printed per tool: wall time, CPU (user + system of the whole process tree, Chromium included
# for Aviary), peak RSS of the process tree, requests the server received, and how many URLs were
# requested more than once; the median round of ROUNDS alternating rounds.
#
# usage: bench/links.sh [ROUNDS]
#        AVIARY_BIN=path/to/aviary bench/links.sh   measures that binary instead of building this tree
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-3}
source ./lib.sh

lychee=$(command -v lychee || true)
for candidate in /work/bench-tools/bin/lychee "$root/target/bench-tools/bin/lychee"; do
  [ -z "$lychee" ] && [ -x "$candidate" ] && lychee=$candidate
done
if [ -z "$lychee" ]; then
  echo "links.sh: installing lychee into target/bench-tools (takes a few minutes)" >&2
  cargo install lychee --locked --root "$root/target/bench-tools" -q
  lychee=$root/target/bench-tools/bin/lychee
fi
aviary=$(aviary_binary)

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

start_site() {
  port=$(free_port)
  python3 links_site.py "$port" &
  pids+=($!)
  wait_port "$port"
}

# "requests duplicates": all requests, and URLs requested more than once (HEAD and GET alike).
request_counts() {
  curl -s "http://127.0.0.1:$1/__counts" | python3 -c '
import json, sys, collections
counts = json.load(sys.stdin)
per_url = collections.Counter()
for key, n in counts.items():
    per_url[key.split(" ", 1)[1]] += n
print(sum(counts.values()), sum(1 for n in per_url.values() if n > 1))'
}

run_aviary() {
  local port=$1 project=$work/aviary-$port
  mkdir -p "$project/canaries"
  cat > "$project/canaries/site-links.yaml" <<YAML
blueprint: broken-links
schedule: rate(1 hour)
timeout: 10m
broken-links:
  url: "http://127.0.0.1:$port/"
  depth: 20
  max_links: 5000
  per_host: {concurrency: 128, interval: 0ms}
YAML
  (cd "$project" && measure sh -c "'$aviary' run canaries/ --data-dir '$project/data'; [ \$? -le 1 ]")
}

run_lychee() {
  local port=$1
  seq 0 1999 | sed "s|^|http://127.0.0.1:$port/p/|; s|\$|.html|" > "$work/inputs-$port.txt"
  measure sh -c "'$lychee' \$(cat '$work/inputs-$port.txt') --no-progress --max-concurrency 128 --host-concurrency 128 --host-request-interval 0ms --max-retries 0 >/dev/null 2>&1; [ \$? -le 2 ]"
}

printf '%-8s %8s %8s %10s %9s %10s\n' tool wall_s cpu_s peak_rss_mb requests duplicated
for tool in aviary lychee; do : > "$work/$tool.rows"; done
for round in $(seq "$rounds"); do
  for tool in aviary lychee; do
    start_site
    figures=$(run_$tool "$port")
    echo "$figures $(request_counts "$port")" >> "$work/$tool.rows"
    kill "${pids[-1]}" 2>/dev/null || true
  done
done
for tool in aviary lychee; do
  sort -n "$work/$tool.rows" | sed -n "$(( (rounds + 1) / 2 ))p" |
    awk -v t="$tool" '{printf "%-8s %8s %8s %10s %9s %10s\n", t, $1, $2, $3, $4, $5}'
done
# The wall-time ratio round by round (each pair ran back to back, so it holds when the machine's
# speed drifts), as median (min-max).
paste -d' ' "$work/aviary.rows" "$work/lychee.rows" | awk '{print $1 / $6}' | sort -g |
  awk '{r[NR] = $1} END {printf "wall ratio aviary/lychee: %.2fx median (%.2f-%.2fx over %d rounds; goal <= 1.0x)\n", r[int((NR + 1) / 2)], r[1], r[NR], NR}'
