#!/usr/bin/env bash
# Measures the extension host's event loop in code-server while training and tracing (a diagnostic, not
# part of npm test): max / p99 delay and the longest stalls with the functions that ran in them.
# Env: GATESCOPE_MEASURE_CHARS (traced document size), GATESCOPE_MEASURE_STEPS (training steps),
# GATESCOPE_HOST_PROBE_PROFILE=0 (event-loop numbers without the CPU profiler's overhead, no attribution).
# Report: .cache/e2e/host-probe.json
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/test-e2e.sh test/e2e/host-latency.measure.ts
