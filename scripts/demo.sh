#!/usr/bin/env bash
# Sets up the machine, builds Aviary, serves the example site on 127.0.0.1:8080 and runs the
# example canaries against it — all offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked

python3 -m http.server 8080 --bind 127.0.0.1 --directory canaries/site >/dev/null 2>&1 &
site=$!
trap 'kill $site 2>/dev/null' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break
  sleep 0.1
done

target/release/aviary run canaries/ "$@"
echo
echo "Artifacts: .aviary/artifacts/   History: target/release/aviary runs homepage"
