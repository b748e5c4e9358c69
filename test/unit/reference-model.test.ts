// The reference model's parts the PyTorch trajectories do not exercise: dropout in training only (head
// Dropout and nn.LSTM's inter-layer dropout), finite differences through every readout and head layer,
// and padding_idx rows that never move.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import { type ModelConfig, type Readout, modelConfig, parseHeadSpec } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { checkedModelParameters, modelBackward, modelForward, modelLoss } from '../../src/core/reference/model';
import { logitsOf } from '../../src/core/reference/head';
import type { LmBatch } from '../../src/core/engine';
import { IGNORE_INDEX } from '../../src/core/engine';

const V = 9;

function cfg(readout: Readout, extra: { dropout?: number; head?: string; bidirectional?: boolean; module?: 'LSTM' | 'GRU' | 'RNN' } = {}): ModelConfig {
  const bi = extra.bidirectional ?? true;
  const rnn = rnnConfig({ module: extra.module ?? 'LSTM', inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: bi, dtype: 'float64' });
  const out = readout === 'per_step' ? V : 3;
  return modelConfig({
    rnn, vocabSize: V, embedding: { numEmbeddings: V, embeddingDim: 4, paddingIdx: 0 }, readout, rnnDropout: extra.dropout ?? 0,
    head: parseHeadSpec(extra.head ?? '6,tanh,dropout0.5,4,relu', bi ? 10 : 5, out),
  });
}

function batch(c: ModelConfig): LmBatch {
  const B = 3, T = 6;
  const inputs = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % V);
  inputs[2] = 0; // the padding token inside a sequence: contributes its (zero) row
  const lengths = Int32Array.of(6, 3, 1);
  const targets = c.readout === 'per_step'
    ? Int32Array.from({ length: B * T }, (_, i) => (i % T < lengths[Math.floor(i / T)] ? (i * 3) % V : IGNORE_INDEX))
    : Int32Array.of(0, 2, 1);
  return { batchSize: B, seqLen: T, inputs, targets, lengths };
}

for (const readout of ['per_step', 'last', 'mean', 'max'] as const) {
  test(`finite differences: embedding → biLSTM 2 layers → ${readout} → Linear-Tanh-Dropout-Linear-ReLU-Linear`, () => {
    const c = cfg(readout);
    const params = checkedModelParameters(c, initModelParameters(c, createRng(5)));
    const b = batch(c);
    const loss = (): number => modelLoss(c, modelForward(c, params, b)).loss;
    const fwd = modelForward(c, params, b, { forBackward: true });
    const dLogits = new Float64Array(logitsOf(fwd.head).length);
    modelLoss(c, fwd, dLogits);
    const grads = modelBackward(c, params, fwd, dLogits);
    let worst = 0, where = '';
    for (const [name, p] of params) {
      const g = grads.get(name)!.data;
      // The padding row contributes but gets no gradient by nn.Embedding's definition: not a derivative.
      const first = name === 'embedding.weight' ? 4 : 0;
      for (const i of [first, Math.floor(p.data.length / 2), p.data.length - 1]) {
        const keep = p.data[i];
        const h = 1e-6;
        p.data[i] = keep + h;
        const up = loss();
        p.data[i] = keep - h;
        const down = loss();
        p.data[i] = keep;
        const numeric = (up - down) / (2 * h);
        const diff = Math.abs(numeric - g[i]) / Math.max(1e-4, Math.abs(numeric) + Math.abs(g[i]));
        if (diff > worst) { worst = diff; where = `${name}[${i}] numeric ${numeric} analytic ${g[i]}`; }
      }
    }
    assert.ok(worst < 1e-5, `worst relative difference ${worst} at ${where}`);
    assert.ok(grads.get('embedding.weight')!.data.subarray(0, 4).every((x) => x === 0), 'padding_idx row gets no gradient');
  });
}

test('dropout is on in training steps only; the padding row never moves', () => {
  const c = cfg('last', { dropout: 0.5 });
  const init = initModelParameters(c, createRng(2));
  const withDrop = createReferenceLmEngine(c, init, 1);
  const without = createReferenceLmEngine({ ...c, rnnDropout: 0, head: c.head.map((l) => (l.type === 'Dropout' ? { ...l, p: 0 } : l)) }, init, 1);
  const b = batch(c);
  assert.equal(withDrop.evaluate(b, false).loss, without.evaluate(b, false).loss, 'evaluation ignores dropout');
  const opt = { optimizer: { kind: 'adam' as const, lr: 0.05 }, stateful: false };
  const a = withDrop.trainStep(b, opt), n = without.trainStep(b, opt);
  assert.notEqual(a.loss, n.loss, 'training applies the masks');
  for (let s = 0; s < 5; s++) withDrop.trainStep(b, opt);
  const row0 = (withDrop.getParameters().get('embedding.weight')!.data as Float64Array).subarray(0, 4);
  assert.deepEqual(Array.from(row0), [0, 0, 0, 0]);
  assert.ok(withDrop.evaluate(b, false).accuracy! >= 0);
});
