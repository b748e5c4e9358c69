#!/usr/bin/env bash
# All tests: build, type check, layering lint, unit tests, then the real-VS-Code end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh clone installs what it needs first (quick no-op once set up).
bash scripts/setup.sh --if-needed
npm run --silent build
npm run --silent typecheck
npm run --silent lint
bash scripts/test-unit.sh
if [ -f scripts/test-e2e.sh ]; then bash scripts/test-e2e.sh; fi
