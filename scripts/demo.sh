#!/usr/bin/env bash
# npm run demo                 build, then serve VS Code (code-server) with gatescope installed and the
#                              bundled sample text open; prints the URL (Ctrl-C stops it).
# npm run demo -- --headless   (also without a terminal, or with CI set) the CLI demo: train on the bundled
#                              text for a short while, sample, trace, and write out/demo/report.html.
# Environment: PORT (default 8080) for code-server; DEMO_MINUTES (default 1.5) for the headless training.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
headless=0
for a in "$@"; do [ "$a" = --headless ] && headless=1; done
{ [ -t 1 ] && [ -z "${CI:-}" ]; } || headless=1

# A fresh clone installs what it needs first (quick no-op once set up).
bash scripts/setup.sh --if-needed
npm run --silent build

if [ $headless = 1 ]; then
  OUT=$ROOT/out/demo
  mkdir -p "$OUT"
  MODEL=$OUT/model.safetensors
  echo "== train: LSTM 1x128 on samples/tinyshakespeare.txt for ${DEMO_MINUTES:-1.5} min (at most 3000 steps)"
  rm -f "$MODEL"
  node dist/cli.js train --text samples/tinyshakespeare.txt --out "$MODEL" --hidden 128 --steps 3000 \
    --minutes "${DEMO_MINUTES:-1.5}" --eval-every 100
  echo "== sample"
  node dist/cli.js sample "$MODEL" --prime "ROMEO:" --temperature 0.8 -n 400 --seed 1 | tee "$OUT/sample.txt"
  echo
  echo "== trace the first 1000 characters"
  head -c 1000 samples/tinyshakespeare.txt > "$OUT/excerpt.txt"
  node dist/cli.js trace "$MODEL" --text "$OUT/excerpt.txt" --out "$OUT/trace.safetensors"
  echo "== report"
  node --import tsx scripts/demo-report.ts --model "$MODEL" --trace "$OUT/trace.safetensors" \
    --text "$OUT/excerpt.txt" --sample "$OUT/sample.txt" --out "$OUT/report.html"
  echo "open out/demo/report.html in a browser; the model is out/demo/model.safetensors (PyTorch-loadable)"
  exit 0
fi

# Interactive: VS Code in the browser, with the packaged extension in its own extensions dir.
CODE_SERVER=$(bash scripts/e2e-setup.sh | tail -n 1)
DEMO=$ROOT/.cache/demo
mkdir -p "$DEMO/extensions" "$DEMO/user-data/User" "$DEMO/workspace"
cp samples/tinyshakespeare.txt "$DEMO/workspace/"
[ -f "$DEMO/user-data/User/settings.json" ] || \
  echo '{"workbench.startupEditor":"none","security.workspace.trust.enabled":false}' > "$DEMO/user-data/User/settings.json"
export XDG_CONFIG_HOME=$DEMO/xdg-config XDG_DATA_HOME=$DEMO/xdg-data
"$CODE_SERVER" --extensions-dir "$DEMO/extensions" --user-data-dir "$DEMO/user-data" --force \
  --install-extension "$ROOT/.cache/e2e/gatescope.vsix" >/dev/null
PORT=${PORT:-8080}
echo
echo "  gatescope in VS Code: http://127.0.0.1:$PORT/?folder=$DEMO/workspace"
echo "  open tinyshakespeare.txt, then F1 → \"gatescope: Train char LSTM\", \"gatescope: Trace active document\"."
echo
exec "$CODE_SERVER" --auth none --bind-addr "127.0.0.1:$PORT" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --extensions-dir "$DEMO/extensions" --user-data-dir "$DEMO/user-data" "$DEMO/workspace"
