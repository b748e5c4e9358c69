import { modelConfig } from '../../src/core/model';
// The reference engine's training step (one-hot LSTM + Linear + cross-entropy + clip + Adam, stateful
// truncated BPTT) against PyTorch over three windows (scripts/gen_core_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rnnConfig } from '../../src/core/config';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { relativeError } from '../../src/core/metrics';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { type TensorMap, toNumbers } from '../../src/core/tensor';

test('three stateful Adam steps equal PyTorch: losses, gradient norms and weights to 1e-12', () => {
  const { tensors, metadata } = parseSafetensors(readFileSync(join(__dirname, '../fixtures/core/lm_steps.safetensors')));
  const meta = JSON.parse(metadata.config);
  const { vocab: V, hidden: H, batch: B, seq: T } = meta;
  const init: TensorMap = new Map();
  for (const [k, t] of tensors) if (k.startsWith('init.')) init.set(k.slice(5), t);
  const engine = createReferenceLmEngine(
    modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: H, dtype: 'float64' }), vocabSize: V, outputSize: V }), init);
  const tokens = toNumbers(tensors.get('tokens')!); // [3, B, T+1]
  const losses = toNumbers(tensors.get('losses')!), norms = toNumbers(tensors.get('grad_norms')!);
  for (let s = 0; s < 3; s++) {
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      inputs[b * T + t] = tokens[(s * B + b) * (T + 1) + t];
      targets[b * T + t] = tokens[(s * B + b) * (T + 1) + t + 1];
    }
    const r = engine.trainStep({ batchSize: B, seqLen: T, inputs, targets },
      { optimizer: { kind: 'adam', lr: meta.lr }, clip: { maxNorm: meta.clip }, stateful: true });
    assert.ok(Math.abs(r.loss - losses[s]) < 1e-12 * losses[s], `loss ${s}: ${r.loss} vs ${losses[s]}`);
    assert.ok(Math.abs(r.gradNorm - norms[s]) < 1e-12 * norms[s], `norm ${s}: ${r.gradNorm} vs ${norms[s]}`);
  }
  const params = engine.getParameters();
  for (const [k, t] of tensors) {
    if (!k.startsWith('final.')) continue;
    const err = relativeError(t, params.get(k.slice(6))!);
    assert.ok(err < 1e-12, `${k}: ${err}`);
  }
  assert.equal(engine.getOptimizerState().get('step')!.data[0], 3);
});

test('a learning-rate change keeps the optimizer state (schedules do not reset Adam)', () => {
  const V = 5;
  const engine = createReferenceLmEngine(modelConfig({ rnn: rnnConfig({ module: 'GRU', inputSize: V, hiddenSize: 3, dtype: 'float64' }), vocabSize: V, outputSize: V }));
  const batch = { batchSize: 2, seqLen: 3, inputs: Int32Array.from([0, 1, 2, 3, 4, 0]), targets: Int32Array.from([1, 2, 3, 4, 0, 1]) };
  engine.trainStep(batch, { optimizer: { kind: 'adam', lr: 0.01 }, stateful: false });
  engine.trainStep(batch, { optimizer: { kind: 'adam', lr: 0.005 }, stateful: false });
  assert.equal(engine.getOptimizerState().get('step')!.data[0], 2);
});
