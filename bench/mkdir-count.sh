#!/usr/bin/env bash
# Folders a run creates (issue 11: cheap artifact writes): counts the mkdir/mkdirat calls of
# `aviary run` on N one-step API canaries (default 100) with strace, after a warm-up run into
# the same data folder (steady state: the canary and hour folders exist). Expected: one mkdir
# per run (its own folder) plus one for the data folder.
#
# usage: bench/mkdir-count.sh path/to/aviary [N]     (needs: strace, python3)
set -euo pipefail
bin=$(realpath "$1"); n=${2:-100}
work=$(mktemp -d)
mkdir -p "$work/site/api" "$work/project/canaries"
echo '{"ok":true}' > "$work/site/api/x.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 & srv=$!
trap 'kill $srv; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
printf 'runner: {max_concurrency: 16}\n' > "$work/project/aviary.yaml"
for i in $(seq -w 1 "$n"); do
  printf 'blueprint: api\ntimeout: 10s\napi:\n  steps:\n    - name: get\n      request: {url: "http://127.0.0.1:%s/api/x.json"}\n      assert: [status == 200]\n' "$port" > "$work/project/canaries/c$i.yaml"
done
cd "$work/project"
"$bin" run > /dev/null || { echo "the warm-up run did not pass" >&2; exit 1; }
for round in 1 2; do
  strace -f -qq -e trace=mkdir,mkdirat -o "$work/strace.$round" "$bin" run > /dev/null
  calls=$(grep -c 'mkdir(' "$work/strace.$round")
  echo "round $round: $n runs, $calls mkdir calls ($(grep -c 'mkdir(.*artifacts/c' "$work/strace.$round") of run folders)"
done
