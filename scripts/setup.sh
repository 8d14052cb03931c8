#!/usr/bin/env bash
# Installs what Aviary needs to build, run and test, on Debian or Ubuntu: Chromium, the Python
# headers (script canaries), a C toolchain, and Rust (through rustup) when cargo is missing.
# Safe to run again: it installs only what is missing.
set -euo pipefail

packages=()
have() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg -s "$1" >/dev/null 2>&1; }

have chromium || [ -x /usr/bin/chromium ] || packages+=(chromium)
installed python3-dev || packages+=(python3-dev)
have cc || packages+=(build-essential)
have pkg-config || packages+=(pkg-config)
have curl || packages+=(curl ca-certificates)
have pkill || packages+=(procps)
# Test-only tools: a real BIND9 for DNS failover tests, dig to query it.
if [ "${AVIARY_SETUP_TESTS:-0}" = 1 ]; then
  have named || packages+=(bind9)
  have dig || packages+=(bind9-dnsutils)
fi

if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${packages[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

if ! have cargo; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    :
  else
    echo "setup: installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
fi
