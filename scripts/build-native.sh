#!/usr/bin/env bash
# Builds the optional native kernels (src/kernels/c/native.c: kernels.c for x86-64 AVX2 + FMA as a
# Node-API addon) into dist/gatescope-kernels.node. Needs a C compiler and Node's own headers
# (node_api.h next to the node binary); without them, or off x86-64, it says so and exits 0: the engines
# then use the WebAssembly kernels. Usage: scripts/build-native.sh [output-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
skip() { echo "native kernels not built: $1 (the wasm kernels are used instead)"; exit 0; }
[ "$(uname -m)" = x86_64 ] || skip "not an x86-64 machine"
cc="${CC:-}"
if [ -z "$cc" ]; then
  for c in cc gcc clang; do if command -v "$c" >/dev/null; then cc="$c"; break; fi; done
fi
[ -n "$cc" ] || skip "no C compiler (cc, gcc or clang)"
include="$(node -p "require('node:path').join(process.execPath, '../../include/node')")"
[ -f "$include/node_api.h" ] || skip "node_api.h not found next to node ($include)"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
common=(-std=gnu11 -O3 -fPIC -fvisibility=hidden -DNDEBUG -I"$include" -Wall -Wno-unused-function)
"$cc" "${common[@]}" -c src/kernels/c/native_module.c -o "$tmp/module.o"
"$cc" "${common[@]}" -mavx2 -mfma -c src/kernels/c/native.c -o "$tmp/kernels.o"
"$cc" -shared -pthread -o "$tmp/gatescope-kernels.node" "$tmp/module.o" "$tmp/kernels.o"
mv "$tmp/gatescope-kernels.node" "$out/gatescope-kernels.node"
echo "built $out/gatescope-kernels.node ($cc)"
