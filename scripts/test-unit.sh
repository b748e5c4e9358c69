#!/usr/bin/env bash
# Unit tests on plain node (no VS Code): node's test runner with tsx for TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test/unit -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
