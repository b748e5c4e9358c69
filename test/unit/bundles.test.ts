// The shipped bundles (dist/, made by `npm run build`, which `npm test` runs first): h5wasm lives in its own
// bundle that the CLI and worker load only for Keras files, and that lazy path works from the bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = join(__dirname, '../../dist');

test('the CLI and worker bundles leave h5wasm out and still read Keras files through dist/h5wasm.js', (t) => {
  if (!existsSync(join(dist, 'cli.js'))) return t.skip('dist/ is not built (npm test builds it first)');
  for (const bundle of ['cli.js', 'worker.js']) {
    assert.ok(statSync(join(dist, bundle)).size < 2_000_000, `${bundle} embeds h5wasm`);
    assert.match(readFileSync(join(dist, bundle), 'utf8'), /require\("\.\/h5wasm\.js"\)/);
  }
  const out = mkdtempSync(join(tmpdir(), 'gatescope-bundles-'));
  try {
    for (const model of ['keras2_lstm_dense.h5', 'keras3_simplernn.keras']) {
      const r = spawnSync(process.execPath, [join(dist, 'cli.js'), 'convert', join(__dirname, '../fixtures/formats/models', model), '--out', join(out, `${model}.safetensors`)],
        { encoding: 'utf8' });
      assert.equal(r.status, 0, `${model}: ${r.stderr}`);
      assert.ok(existsSync(join(out, `${model}.safetensors`)));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
