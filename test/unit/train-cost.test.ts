import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainingMultiplyAddsPerToken } from '../../src/core/train/cost';
import { buildVocabulary } from '../../src/core/data/tokenizer';
import { modelConfigFor } from '../../src/core/train/model';
import { modelParameterSpecs } from '../../src/core/model';
import { roughDuration, sizeChoices } from '../../src/extension/logic/trainPlan';

test('multiply-adds per token: three times every weight matrix a token goes through (no biases, no embedding)', () => {
  const vocab = buildVocabulary('abcdefghij klmnop\n', 'char');
  for (const shape of [{ module: 'LSTM' as const, hiddenSize: 16, numLayers: 2 }, { module: 'GRU' as const, hiddenSize: 8, numLayers: 1, bidirectional: true }]) {
    const cfg = modelConfigFor(vocab, shape);
    const weights = modelParameterSpecs(cfg).filter((p) => p.name.includes('weight')).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    const macs = trainingMultiplyAddsPerToken({ ...shape, inputSize: cfg.vocabSize, perTokenOutputs: cfg.outputSize });
    assert.equal(macs, 3 * weights, `${shape.module}`);
  }
});

test('size hints: a time at a measured rate, else the work relative to the first size', () => {
  const cost = { module: 'LSTM' as const, bidirectional: false, inputSize: 65, perTokenOutputs: 65, steps: 500, tokensPerStep: 2048 };
  const relative = sizeChoices(128, 1, cost);
  assert.equal(relative[0].description, 'default (settings)');
  assert.match(relative.find((c) => c.label === '1 × 256')!.description, /^slower, better · 3\.\d× the time of 1 × 128$/);
  const timed = sizeChoices(128, 1, { ...cost, multiplyAddsPerSecond: 40e9 });
  // 500 × 2048 × 3 × (4·128·193 + 128·65) ≈ 3.2e11 multiply-adds at 40e9 a second.
  assert.equal(timed[0].description, 'default (settings) · about 8 s for 500 steps');
  assert.equal(roughDuration(30), 'about 30 s');
  assert.equal(roughDuration(600), 'about 10 min');
  assert.equal(roughDuration(9000), 'about 2.5 h');
  assert.equal(sizeChoices(128, 1)[0].description, 'default (settings)', 'no hint without a cost');
});
