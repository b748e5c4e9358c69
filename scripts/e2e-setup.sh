#!/usr/bin/env bash
# Prepares the real-VS-Code end-to-end environment, idempotently, cached under .cache/e2e/:
#   - Debian chromium (driven by playwright-core), ripgrep and the Kerberos headers code-server needs;
#   - code-server (VS Code served from npm) with its native modules rebuilt for this node;
#   - the extension packaged as a .vsix (offline, no dependencies: the bundles are self-contained).
# Usage: bash scripts/e2e-setup.sh [--no-vsix]
# Prints the code-server binary path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache/e2e
CS_VERSION=4.100.3
CS_DIR=$CACHE/code-server-$CS_VERSION
CS_READY=$CS_DIR/.ready
log() { echo "[e2e-setup] $*" >&2; }
t0=$SECONDS

# --- System packages (shared apt lock: other tools install at the same time) -------------------------
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
[ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || need+=(libkrb5-dev)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  flock /tmp/gatescope-apt.lock sh -c "$SUDO apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ${need[*]} >/dev/null"
fi

# --- code-server (Recipe A: node 20, install scripts off, native modules rebuilt one by one) ---------
# node-gyp needs a real python3; the system one is always there.
export npm_config_python=/usr/bin/python3
if [ ! -f "$CS_READY" ]; then
  log "installing code-server $CS_VERSION into $CS_DIR (cold: several minutes)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  (
    cd "$CS_DIR"
    echo '{"name":"gatescope-e2e-code-server","private":true}' > package.json
    npm install --no-audit --no-fund --loglevel=error --ignore-scripts "code-server@$CS_VERSION"
    cd node_modules/code-server/lib/vscode
    npm install --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts
    npm_config_yes=true npm rebuild --loglevel=error \
      @parcel/watcher @vscode/spdlog kerberos native-watchdog node-pty @vscode/deviceid
    mkdir -p node_modules/@vscode/ripgrep/bin
    ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
    [ -e node_modules.asar ] || ln -s node_modules node_modules.asar
    (cd extensions && npm install --no-audit --no-fund --loglevel=error --omit=dev)
    cd "$CS_DIR"  # argon2 is hoisted next to code-server
    npm_config_build_from_source=true npm rebuild --loglevel=error argon2
  )
  XDG_CONFIG_HOME=$CACHE/xdg-config XDG_DATA_HOME=$CACHE/xdg-data "$CS_DIR/node_modules/.bin/code-server" --version >/dev/null
  touch "$CS_READY"
  log "code-server ready ($((SECONDS - t0)) s)"
fi
CODE_SERVER=$CS_DIR/node_modules/.bin/code-server

# --- The extension as a .vsix --------------------------------------------------------------------------
if [ "${1:-}" != "--no-vsix" ]; then
  [ -f dist/extension.js ] || npm run --silent build
  log "packaging the extension"
  npx --no-install vsce package --no-dependencies --allow-missing-repository --skip-license --no-rewrite-relative-links \
    --out "$CACHE/gatescope.vsix" >&2
fi
log "done in $((SECONDS - t0)) s"
echo "$CODE_SERVER"
