#!/usr/bin/env bash
# Sets up the machine, builds Aviary, serves the example site on 127.0.0.1:8080 and starts the
# daemon on the example canaries against it — all offline. Ctrl-C stops it.
#   bash scripts/demo.sh          the daemon (every canary runs now, then on its schedule)
#   bash scripts/demo.sh --once   `aviary run` once instead, and exit
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export PYO3_PYTHON="${PYO3_PYTHON:-/usr/bin/python3}"  # script canaries embed this Python

# A release build newer than everything it is built from is reused as it is (no cargo run at
# all); otherwise cargo builds what changed.
release_is_fresh() {
  [ -x target/release/aviary ] &&
    [ -z "$(find src blueprints Cargo.toml Cargo.lock -newer target/release/aviary -print -quit)" ]
}
if release_is_fresh; then
  echo "demo: reusing target/release/aviary (newer than src/, blueprints/, Cargo.toml, Cargo.lock)"
else
  cargo build --release --locked
fi

site_is_up() { (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; }
if site_is_up; then
  echo "demo: port 8080 on 127.0.0.1 is already in use; the example canaries expect their site" >&2
  echo "demo: there. Stop what listens on it (e.g. \`ss -ltnp 'sport = :8080'\`) and try again." >&2
  exit 2
fi
python3 -m http.server 8080 --bind 127.0.0.1 --directory canaries/site >/dev/null 2>&1 &
site=$!
# Waited for, so the port is free again once the script has exited.
trap 'kill $site 2>/dev/null && wait $site 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  site_is_up && break
  sleep 0.1
done
if ! site_is_up; then
  echo "demo: the example site did not start on 127.0.0.1:8080" >&2
  exit 1
fi

if [ "${1:-}" = "--once" ]; then
  shift
  target/release/aviary run canaries/ "$@"
  echo
  echo "Artifacts: .aviary/artifacts/   History: target/release/aviary runs homepage"
  exit
fi

cat <<'TEXT'
Aviary daemon on the example canaries (canaries/*.yaml, against the site on 127.0.0.1:8080).
Every canary runs now, then on its schedule; edit a canary file and it reloads by itself.
  dashboard  http://127.0.0.1:9090/
  metrics    curl -s http://127.0.0.1:9090/metrics | grep aviary_
  API        curl -s http://127.0.0.1:9090/api/v1/canaries
  history    target/release/aviary runs homepage      artifacts: .aviary/artifacts/
Ctrl-C stops it (a run in flight finishes first).

TEXT
target/release/aviary daemon "$@"
