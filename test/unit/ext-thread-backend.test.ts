// The compute thread: the same results as computing in-process, tensors crossing by transfer,
// cancellation, and errors reported (not hung). The thread entry is bundled with esbuild first, as
// scripts/build.mjs does.
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fixturePath } from '../fixtures';
import { serializeCheckpoint } from '../../src/core/checkpoint';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import assert from 'node:assert/strict';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { lmConfigFor, initialWeights } from '../../src/core/train/model';
import { CancelledError, type ModelData } from '../../src/extension/services/backend';
import { InHostBackend } from '../../src/extension/services/inHostBackend';
import { ThreadBackend } from '../../src/extension/services/threadBackend';

const TEXT = 'all the world is a stage, and all the men and women merely players.\n'.repeat(40);

function model(): ModelData {
  const vocab = buildCharVocab(TEXT);
  const config = lmConfigFor(vocab, { module: 'LSTM', hiddenSize: 16, numLayers: 2, dtype: 'float32' });
  return { config, params: initialWeights(config, 5), vocab };
}

test('the worker thread traces and samples exactly like the host', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-thread-'));
  const script = join(dir, 'backend-thread.js');
  await build({ entryPoints: ['src/extension/services/backendThread.ts'], outfile: script, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error' });
  const logs: string[] = [];
  const thread = new ThreadBackend(script, (m) => logs.push(m));
  const local = new InHostBackend();
  try {
    const m = model();
    const ids = Int32Array.from(TEXT.slice(0, 1000), (ch) => (m.vocab as { chars: readonly string[] }).chars.indexOf(ch));
    const progress: number[] = [];
    const [a, b] = await Promise.all([thread.prepareTrace(m, ids, 64, { onProgress: (d) => progress.push(d) }), local.prepareTrace(m, ids, 64)]);
    assert.equal(a.length, 1000);
    assert.equal(progress.at(-1), 1000);
    const [wa, wb] = await Promise.all([a.window(100, 300), b.window(100, 300)]);
    assert.deepEqual([...wa.keys()], [...wb.keys()]);
    for (const [k, t] of wb) {
      const x = wa.get(k)!.data as Float32Array;
      const y = t.data as Float32Array;
      assert.equal(x.length, y.length);
      // The two sides may pick different float32 kernels (WASM variants / JS): equal to rounding.
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-5, `${k}[${i}]: ${x[i]} vs ${y[i]}`);
    }
    const req = { prime: 'all ', length: 30, temperature: 0.7, seed: 3 };
    assert.equal(await thread.sample(m, req), await local.sample(m, req));
    a.dispose();
    await assert.rejects(a.window(0, 10), /closed/);
    const long = new Int32Array(2_000_000).map((_, i) => ids[i % ids.length]);
    const t0 = performance.now();
    await assert.rejects(thread.prepareTrace(m, long, 64, { isCancelled: () => performance.now() - t0 > 150 }), (e) => e instanceof CancelledError);
    await assert.rejects(thread.sample({ ...m, params: new Map() }, req), /head|missing|lack/);
    const cmp = await thread.compareEngines(m, ['reference', 'js'], 2);
    assert.equal(cmp.paramError.length, 2);
    assert.ok(cmp.paramError.every((e) => e < 1e-4), `engines diverge: ${cmp.paramError}`);
    assert.ok(cmp.left.has('rnn.weight_hh_l1') && cmp.right.has('head.weight'));
    const pt = await thread.loadModel(fixturePath('lstm_1l_f64/weights.pt'));
    assert.equal(pt.imported?.config.module, 'LSTM');
    assert.equal(pt.data, undefined);
    const ckPath = join(dir, 'm.safetensors');
    writeFileSync(ckPath, serializeCheckpoint({ config: m.config, vocab: m.vocab, params: m.params, engine: 'test' }));
    const ck = await thread.loadModel(ckPath);
    assert.equal(ck.engine, 'test');
    assert.deepEqual(ck.data?.vocab, m.vocab);
    await assert.rejects(thread.loadModel(join(dir, 'missing.pt')), /missing\.pt/);
    assert.deepEqual(logs, []);
  } finally {
    thread.dispose();
    local.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
