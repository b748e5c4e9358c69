#!/usr/bin/env bash
# Rebuilds the committed WASM kernels from src/kernels/c/kernels.c with Debian clang 14 + wasm-ld:
#   kernels-simd.wasm     SIMD128, separate multiply and add
#   kernels-relaxed.wasm  SIMD128 + relaxed-SIMD FMA (clang 14's pre-standard f32x4.fma opcode 0xfd 0xaf 0x01
#                         rewritten to the final f32x4.relaxed_madd 0xfd 0x85 0x02, same length)
#   kernels-*-mt.wasm     the same on a shared memory (atomics), for the two-thread engine
# Deterministic: no names, paths or producer info end up in the binaries (--strip-all), so the same
# compiler gives the same bytes. Usage: scripts/build-kernels.sh [output-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-src/kernels/wasm}"
mkdir -p "$out"
src=src/kernels/c/kernels.c
flags=(--target=wasm32 -msimd128 -mbulk-memory -O3 -nostdlib -fno-ident
  -Wl,--no-entry -Wl,--import-memory -Wl,--export=__heap_base -Wl,--strip-all)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The helper thread gets its own shadow stack (the two instances share the memory, and so their default stack).
mt=(-matomics -Wl,--shared-memory -Wl,--max-memory=2147483648 -mmutable-globals -Wl,--export=__stack_pointer)
relax() { # pre-standard.wasm final.wasm
  local expected=""
  if command -v llvm-objdump >/dev/null; then
    expected="$(llvm-objdump -d "$1" | grep -c 'f32x4\.fma' || true)"
  fi
  node - "$1" "$2" "$expected" <<'JS'
const fs = require('node:fs');
const [from, to, expected] = process.argv.slice(2);
const bytes = fs.readFileSync(from);
let count = 0;
for (let i = 0; i + 2 < bytes.length; i++) {
  if (bytes[i] === 0xfd && bytes[i + 1] === 0xaf && bytes[i + 2] === 0x01) {
    bytes[i + 1] = 0x85; bytes[i + 2] = 0x02; count++; i += 2;
  }
}
// The byte pattern could in principle occur inside an immediate: the disassembler's count must agree.
if (expected !== '' && Number(expected) !== count) {
  console.error(`relaxed rewrite: ${count} byte matches but ${expected} f32x4.fma instructions`);
  process.exit(1);
}
if (count === 0) { console.error('relaxed rewrite: no f32x4.fma found'); process.exit(1); }
fs.writeFileSync(to, bytes);
JS
}
clang "${flags[@]}" -o "$out/kernels-simd.wasm" "$src"
clang "${flags[@]}" "${mt[@]}" -o "$out/kernels-simd-mt.wasm" "$src"
clang "${flags[@]}" -mrelaxed-simd -DRELAXED -o "$tmp/relaxed.wasm" "$src"
relax "$tmp/relaxed.wasm" "$out/kernels-relaxed.wasm"
clang "${flags[@]}" "${mt[@]}" -mrelaxed-simd -DRELAXED -o "$tmp/relaxed-mt.wasm" "$src"
relax "$tmp/relaxed-mt.wasm" "$out/kernels-relaxed-mt.wasm"
chmod 644 "$out"/kernels-*.wasm
echo "built $out/kernels-{simd,relaxed}{,-mt}.wasm"
