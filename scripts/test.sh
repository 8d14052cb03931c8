#!/usr/bin/env bash
# Sets up the machine (see setup.sh) and runs every test: unit and integration tests against
# local fixture servers on 127.0.0.1 and a real headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
AVIARY_SETUP_TESTS=1 bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export PYO3_PYTHON="${PYO3_PYTHON:-/usr/bin/python3}"
cargo test --locked
