#!/usr/bin/env bash
# Installs what Aviary needs to build, run and test, on Debian or Ubuntu: Chromium (and, where the
# distribution has it, its headless shell, which headless runs prefer: it starts in about half the
# time), the Python headers (script canaries), a C toolchain, and Rust (through rustup) when cargo
# is missing.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
have() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg -s "$1" >/dev/null 2>&1; }

have chromium || [ -x /usr/bin/chromium ] || packages+=(chromium)
optional=()
[ -x /usr/lib/chromium/chromium-headless-shell ] || have chrome-headless-shell || optional+=(chromium-headless-shell)
installed python3-dev || packages+=(python3-dev)
have cc || packages+=(build-essential)
have pkg-config || packages+=(pkg-config)
have curl || packages+=(curl ca-certificates)
have pkill || packages+=(procps)
# Test-only tools: a real BIND9 for DNS failover tests, dig to query it, PostgreSQL for the
# shared store, and Python's venv for moto (the local Route 53 stand-in, below).
if [ "${AVIARY_SETUP_TESTS:-0}" = 1 ]; then
  have named || packages+=(bind9)
  have dig || packages+=(bind9-dnsutils)
  have promtool || packages+=(prometheus)  # promtool checks /metrics in tests/server.rs
  python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
  have npm || packages+=(nodejs npm)  # @puppeteer/replay, the reference replayer of tests/flow.rs
  # tests/postgres.rs starts its own throwaway cluster with these server programs.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
fi

if [ $((${#packages[@]} + ${#optional[@]})) -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  apt_install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
  if [ ${#packages[@]} -gt 0 ]; then
    echo "setup: installing ${packages[*]}"
    $sudo apt-get update -qq
    apt_install "${packages[@]}"
  fi
  if [ ${#optional[@]} -gt 0 ]; then
    echo "setup: installing ${optional[*]} (optional)"
    # Offline, or where the distribution lacks it (its package lists, read without an update,
    # do not name it), setup goes on without it.
    apt-cache show "${optional[@]}" >/dev/null 2>&1 && apt_install "${optional[@]}" 2>/dev/null ||
      echo "setup: could not install ${optional[*]} (not in this machine's package lists, or apt failed); the full Chromium runs headless canaries"
  fi
fi

if ! have cargo; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    :
  else
    echo "setup: installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
fi

# moto's server mode stands in for Route 53 and S3 in the tests (tests/support/moto.rs looks here).
if [ "${AVIARY_SETUP_TESTS:-0}" = 1 ] && [ ! -x target/moto-venv/bin/moto_server ]; then
  echo "setup: installing moto (Route 53 and S3 stand-in for the tests) into target/moto-venv"
  rm -rf target/moto-venv
  python3 -m venv target/moto-venv
  target/moto-venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]==5.*'
fi

# @puppeteer/replay + puppeteer-core: every test flow must also pass in the Recorder's own
# replayer (tests/flow.rs, through bench/replay.js).
if [ "${AVIARY_SETUP_TESTS:-0}" = 1 ] && [ ! -d bench/node_modules/@puppeteer/replay ]; then
  echo "setup: installing @puppeteer/replay and puppeteer-core into bench/node_modules"
  # Not `npm ci`: odiff-bin lists a package per platform as optional and registries that hold
  # only linux-x64 leave the others out of the lock, which `npm ci` refuses; `npm install`
  # keeps to the lock's versions and skips the absent optional ones.
  PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix bench --no-save --no-audit --no-fund --loglevel=error >/dev/null
fi
