// Bundles test/extension/*.test.ts into out/test/extension/*.test.js (CommonJS, `vscode` external):
// the form both @vscode/test-cli (mocha) and gatescope.selfTest (code-server) load.
import { buildSync } from 'esbuild';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const outDir = join(root, 'out/test/extension');

/** Builds the suite; returns the absolute paths of the bundles. */
export function buildExtensionTests() {
  const sources = readdirSync(join(root, 'test/extension')).filter((f) => f.endsWith('.test.ts')).sort();
  buildSync({
    entryPoints: sources.map((f) => join(root, 'test/extension', f)),
    outdir: outDir, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    external: ['vscode', 'mocha'], sourcemap: 'inline', logLevel: 'warning',
  });
  return sources.map((f) => join(outDir, f.replace(/\.ts$/, '.js')));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const f of buildExtensionTests()) console.log(f);
}
