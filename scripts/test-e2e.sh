#!/usr/bin/env bash
# End-to-end tests in real VS Code: code-server + playwright-core + Debian chromium.
# Prepares (or reuses) the cached environment, installs the freshly packaged extension into an isolated
# extensions dir, then runs test/e2e/*.e2e.ts one file at a time (each starts its own code-server).
# Usage: bash scripts/test-e2e.sh [test/e2e/NAME.e2e.ts ...]     GATESCOPE_E2E_KEEP=1 keeps temp dirs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache/e2e
t0=$SECONDS

[ -f src/extension.ts ] || { echo "e2e: src/extension.ts does not exist: there is no extension to test" >&2; exit 1; }
[ -f dist/extension.js ] || npm run --silent build
CODE_SERVER=$(bash scripts/e2e-setup.sh | tail -n 1)

# A fresh, isolated extensions dir with only this build of the extension.
RUN=$(mktemp -d "${TMPDIR:-/tmp}/gatescope-e2e-run-XXXXXX")
cleanup() {
  # The harness ends each code-server (process group) and chromium; should a scenario die before that,
  # end what is still running from this run's directory (every temp path of the run lies under it).
  local pid
  for pid in $(pgrep -f -- "$RUN" || true); do
    [ "$pid" = $$ ] && continue
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  rm -rf "$RUN"
}
trap cleanup EXIT
rm -rf "$CACHE/screenshots"
mkdir -p "$RUN/extensions" "$RUN/user-data" "$CACHE/screenshots"
XDG_CONFIG_HOME=$RUN/xdg-config XDG_DATA_HOME=$RUN/xdg-data \
  "$CODE_SERVER" --extensions-dir "$RUN/extensions" --user-data-dir "$RUN/user-data" \
  --install-extension "$CACHE/gatescope.vsix" >/dev/null
ls "$RUN/extensions" | grep -q '^gatescope\.gatescope-' || { echo "e2e: the .vsix did not install" >&2; exit 1; }
echo "[e2e] environment ready in $((SECONDS - t0)) s"

if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test/e2e -maxdepth 1 -name '*.e2e.ts' | sort); fi
# (node --test with no files would run every test it finds: never let that happen.)
[ ${#files[@]} -gt 0 ] || { echo "e2e: no test/e2e/*.e2e.ts scenarios found" >&2; exit 1; }
export GATESCOPE_E2E_CODE_SERVER=$CODE_SERVER GATESCOPE_E2E_EXTENSIONS=$RUN/extensions
mkdir -p "$RUN/tmp"
# Scenarios run one after another: each drives a whole VS Code, and the machine has two cores.
status=0
TMPDIR=$RUN/tmp node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}" || status=$?
echo "[e2e] done in $((SECONDS - t0)) s; screenshots in .cache/e2e/screenshots/"
exit $status
