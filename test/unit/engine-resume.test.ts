// Fast engines carry the truncated-BPTT state like the reference: across evaluation batches of another
// shape, and through getCarriedState / setCarriedState so a resumed run continues exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import type { LmBatch, LmEngine, LmTrainOptions } from '../../src/core/engine';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { createJsLmEngine } from '../../src/engines/js';

const V = 7;
const cfg: ModelConfig = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: 5, numLayers: 2, dtype: 'float64' }), vocabSize: V, outputSize: V });
const options: LmTrainOptions = { optimizer: { kind: 'adam', lr: 0.01 }, clip: { maxNorm: 5 }, stateful: true };

function batch(B: number, T: number, seed: number): LmBatch {
  const rng = createRng(seed);
  return { batchSize: B, seqLen: T, inputs: Int32Array.from({ length: B * T }, () => rng.int(V)), targets: Int32Array.from({ length: B * T }, () => rng.int(V)) };
}

function run(engine: LmEngine, steps: number[]): number[] {
  return steps.map((seed) => {
    const loss = engine.trainStep(batch(3, 4, seed), options).loss;
    engine.evaluate(batch(3, 6, seed + 100), true); // another window length between training steps
    return loss;
  });
}

test('js engine: interleaved evaluation of another length keeps the training state (as the reference does)', () => {
  const params = initModelParameters(cfg, createRng(1));
  const ref = run(createReferenceLmEngine(cfg, params), [1, 2, 3, 4]);
  const js = run(createJsLmEngine(cfg, params), [1, 2, 3, 4]);
  js.forEach((l, i) => assert.ok(Math.abs(l - ref[i]) <= 1e-12 * ref[i], `step ${i}: ${l} vs ${ref[i]}`));
});

test('js engine: carried state, parameters and optimizer state resume a run exactly', () => {
  const params = initModelParameters(cfg, createRng(2));
  const whole = createJsLmEngine(cfg, params);
  const expected = run(whole, [1, 2, 3, 4, 5]);
  const first = createJsLmEngine(cfg, params);
  run(first, [1, 2, 3]);
  const resumed = createJsLmEngine(cfg, first.getParameters());
  resumed.setOptimizerState(first.getOptimizerState());
  resumed.setCarriedState!(first.getCarriedState!());
  assert.deepEqual(run(resumed, [4, 5]), expected.slice(3));
});
