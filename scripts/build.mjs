// One esbuild script, one entry per target. Entries that do not exist yet are skipped.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
// TensorFlow.js (several MB) is its own bundle, require()d by src/engines/index.ts from next to the
// caller only when the tfjs engine is asked for; the define tells every node bundle where it is.
const TFJS_BUNDLE = 'tfjs-engine.js';
// h5wasm (HDF5 compiled to WebAssembly, ~4 MB) is only needed for Keras files: its own bundle, dist/h5wasm.js,
// which the other bundles import() from next to themselves when a .h5/.keras file is read.
const H5WASM_BUNDLE = 'h5wasm.js';
const h5wasmApart = {
  name: 'h5wasm-apart',
  setup(b) { b.onResolve({ filter: /^h5wasm$/ }, () => ({ path: `./${H5WASM_BUNDLE}`, external: true })); },
};
const nodeBase = { platform: 'node', format: 'cjs', target: 'node20', bundle: true, sourcemap: true, external: ['vscode'] };
// import() becomes require(): Node's import() of a CommonJS file snapshots its exports, and h5wasm fills
// its FS export only once its runtime is ready.
const node = { ...nodeBase, plugins: [h5wasmApart], supported: { 'dynamic-import': false },
  define: { GATESCOPE_TFJS_BUNDLE: JSON.stringify(TFJS_BUNDLE) } };
const targets = [
  { ...node, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/worker/main.ts'], outfile: 'dist/worker.js' },
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' },
  { ...node, entryPoints: ['src/engines/tfjs/index.ts'], outfile: `dist/${TFJS_BUNDLE}` },
  { ...nodeBase, entryPoints: ['node_modules/h5wasm/dist/esm/hdf5_hl.js'], outfile: `dist/${H5WASM_BUNDLE}`, sourcemap: false },
  { platform: 'browser', format: 'iife', target: 'es2022', bundle: true, sourcemap: true,
    entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js' },
].filter((t) => existsSync(join(root, t.entryPoints[0])));

mkdirSync(join(root, 'dist'), { recursive: true });
await Promise.all(targets.map((t) => build({ ...t, absWorkingDir: root, logLevel: 'warning' })));
// Prebuilt WASM kernels (and any other binary assets) ship next to the bundles.
const wasmDir = join(root, 'src/kernels/wasm');
if (existsSync(wasmDir)) {
  for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join(root, 'dist', f));
}
// TensorFlow.js' WASM backend binaries, found by the tfjs engine next to its bundle (node_modules is not
// shipped in the .vsix).
const tfjsWasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
if (existsSync(tfjsWasmDir)) {
  for (const f of readdirSync(tfjsWasmDir).filter((f) => /^tfjs-backend-wasm.*\.wasm$/.test(f))) copyFileSync(join(tfjsWasmDir, f), join(root, 'dist', f));
}
// The optional native kernels (AVX2 addon): built when a C compiler and Node's headers are there; the
// script explains and exits 0 when they are not.
if (!watch) execFileSync('bash', [join(root, 'scripts/build-native.sh'), join(root, 'dist')], { stdio: 'inherit' });
if (!watch) console.log(`built ${targets.map((t) => t.outfile).join(', ')}`);
