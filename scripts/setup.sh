#!/usr/bin/env bash
# Idempotent setup for a fresh machine: system packages the tests need, then npm dependencies, then the
# real-VS-Code e2e environment (code-server, cached in .cache/e2e/).
# Usage: bash scripts/setup.sh [--if-needed]
#   --if-needed  only when it has not run (node_modules missing or older than package-lock.json, or the
#                code-server cache missing); a no-op taking milliseconds otherwise. `npm test` and `npm run demo`
#                call it this way, so a fresh clone needs no separate setup step.
set -euo pipefail
cd "$(dirname "$0")/.."

# The markers of a completed setup: npm ci's own lock copy (newer than package-lock.json) and code-server's
# ready file (scripts/e2e-setup.sh writes it last).
setup_done() {
  [ -d node_modules ] && [ -f node_modules/.package-lock.json ] || return 1
  [ package-lock.json -nt node_modules/.package-lock.json ] && return 1
  local cs
  cs=$(sed -n 's/^CS_VERSION=//p' scripts/e2e-setup.sh)
  [ -n "$cs" ] && [ -f ".cache/e2e/code-server-$cs/.ready" ]
}
if [ "${1:-}" = --if-needed ]; then
  setup_done && exit 0
  echo "[setup] not set up yet here (npm dependencies or code-server missing, or package-lock.json changed): running it" >&2
fi

need=()
command -v clang >/dev/null || need+=(clang)
command -v wasm-ld >/dev/null || need+=(lld)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Real PyTorch: the test oracle, the python/ package's tests and --engine torch; OpenBLAS for the benchmark.
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || need+=(python3-torch python3-numpy)
[ -d /usr/lib/x86_64-linux-gnu/openblas-openmp ] || [ "$(uname -m)" != x86_64 ] || need+=(libopenblas0-openmp)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # Shared apt lock: other tools (and scripts/e2e-setup.sh) install at the same time.
  flock /tmp/gatescope-apt.lock sh -c "$SUDO apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ${need[*]} >/dev/null"
fi
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
  touch node_modules/.package-lock.json # npm ci may keep the lock copy's old time: mark this install as current
fi
# Real-VS-Code e2e environment (chromium, code-server and its native modules), cached in .cache/e2e/.
bash scripts/e2e-setup.sh --no-vsix >/dev/null
