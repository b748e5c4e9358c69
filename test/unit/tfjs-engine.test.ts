import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTfjsLmEngine, initTfjsBackend, TfjsUnsupportedError } from '../../src/engines/tfjs';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { rnnConfig, type RnnConfig } from '../../src/core/config';
import type { LmBatch } from '../../src/core/engine';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { relativeError } from '../../src/core/diff/metrics';

function batch(seed: number, B: number, T: number, V: number): LmBatch {
  const rng = createRng(seed);
  const inputs = new Int32Array(B * T).map(() => rng.int(V));
  const targets = new Int32Array(B * T).map(() => rng.int(V));
  return { batchSize: B, seqLen: T, inputs, targets };
}

function lm(rnn: Partial<RnnConfig> & Pick<RnnConfig, 'module'>): ModelConfig {
  const V = 6;
  return modelConfig({ rnn: rnnConfig({ inputSize: V, hiddenSize: 5, dtype: 'float32', ...rnn }), vocabSize: V, outputSize: V });
}

test('tfjs engine trains like the reference (same weights, same batches), float32 tolerance', async () => {
  assert.ok(['wasm', 'cpu'].includes(await initTfjsBackend()));
  for (const cfg of [lm({ module: 'LSTM', numLayers: 2 }), lm({ module: 'RNN', nonlinearity: 'relu' }), lm({ module: 'GRU', gruReset: 'before' })]) {
    const init = initModelParameters(cfg, createRng(3));
    const ref = createReferenceLmEngine(cfg, init);
    const tfe = createTfjsLmEngine(cfg, init);
    const options = { optimizer: { kind: 'adam' as const, lr: 0.01 }, clip: { maxNorm: 1 }, stateful: true };
    for (let s = 0; s < 4; s++) {
      const b = batch(s, 3, 5, cfg.vocabSize);
      const r = ref.trainStep(b, options);
      const t = tfe.trainStep(b, options);
      assert.ok(Math.abs(r.loss - t.loss) / r.loss < 1e-5, `${cfg.rnn.module} step ${s}: loss ${r.loss} vs ${t.loss}`);
      assert.ok(Math.abs(r.gradNorm - t.gradNorm) / r.gradNorm < 1e-4, `${cfg.rnn.module} step ${s}: grad norm`);
    }
    const pr = ref.getParameters();
    for (const [name, t] of tfe.getParameters()) {
      const e = relativeError(pr.get(name)!.data as Float32Array, t.data as Float32Array);
      assert.ok(e < 1e-4, `${cfg.rnn.module} ${name}: ${e}`);
    }
    const eb = batch(99, 2, 4, cfg.vocabSize);
    assert.ok(Math.abs(ref.evaluate(eb, false).loss - tfe.evaluate(eb, false).loss) < 1e-4);
    tfe.dispose();
  }
});

test('tfjs engine refuses what tfjs layers cannot express', () => {
  assert.throws(() => createTfjsLmEngine(lm({ module: 'GRU' })), TfjsUnsupportedError);
  assert.throws(() => createTfjsLmEngine(lm({ module: 'LSTM', dtype: 'float64' })), /float64/);
});
