// The committed WASM kernels are exactly what scripts/build-kernels.sh makes from src/kernels/c, and
// both variants load (the relaxed one where the runtime validates relaxed SIMD).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const committed = (name: string): Buffer => readFileSync(join(root, 'src/kernels/wasm', name));

function clangMajor(): number | undefined {
  const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (!has('clang') || !has('wasm-ld')) return undefined;
  const m = /clang version (\d+)\./.exec(execFileSync('clang', ['--version'], { encoding: 'utf8' }));
  return m ? Number(m[1]) : undefined;
}

test('rebuilding the kernels from C gives the committed bytes', (t) => {
  const major = clangMajor();
  // The committed binaries come from Debian's clang 14; other compilers emit other (valid) code.
  if (major === undefined) return t.skip('clang and wasm-ld are not installed');
  if (major !== 14) return t.skip(`clang ${major} is not the clang 14 the binaries were built with`);
  const out = mkdtempSync(join(tmpdir(), 'gatescope-kernels-'));
  try {
    execFileSync('bash', [join(root, 'scripts/build-kernels.sh'), out], { stdio: 'pipe' });
    for (const name of ['kernels-simd.wasm', 'kernels-relaxed.wasm', 'kernels-simd-mt.wasm', 'kernels-relaxed-mt.wasm']) {
      assert.ok(readFileSync(join(out, name)).equals(committed(name)), `${name} differs from a fresh build`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the SIMD128 kernels validate; the relaxed builds use only the final FMA opcode', () => {
  const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
  assert.ok(wasm.validate(committed('kernels-simd.wasm')));
  assert.ok(wasm.validate(committed('kernels-simd-mt.wasm')));
  for (const name of ['kernels-relaxed.wasm', 'kernels-relaxed-mt.wasm']) checkRelaxed(committed(name));
});

function checkRelaxed(relaxed: Buffer): void {
  let fma = 0;
  for (let i = 0; i + 2 < relaxed.length; i++) if (relaxed[i] === 0xfd && relaxed[i + 1] === 0x85 && relaxed[i + 2] === 0x02) fma++;
  assert.ok(fma > 0, 'no f32x4.relaxed_madd in the relaxed build');
  for (let i = 0; i + 2 < relaxed.length; i++) {
    assert.ok(!(relaxed[i] === 0xfd && relaxed[i + 1] === 0xaf && relaxed[i + 2] === 0x01), `pre-standard fma left at byte ${i}`);
  }
}
