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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }
