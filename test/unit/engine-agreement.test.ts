// The fast engines (js in float32/float64, wasm and native in float32) against the readable reference engine:
// loss and gradient norm of the first step, then 20-step training trajectories and final parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RnnModule, rnnConfig } from '../../src/core/config';
import type { LmBatch, LmEngine, LmTrainOptions } from '../../src/core/engine';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import type { FloatDType, TensorMap } from '../../src/core/tensor';
import { createJsLmEngine } from '../../src/engines/js';
import type { FastLmEngine } from '../../src/core/fast/lmDriver';
import { createNativeLmEngine, nativeAvailability } from '../../src/engines/native';
import { createWasmLmEngine, wasmAvailability } from '../../src/engines/wasm';

const V = 11;

function lmConfig(module: RnnModule, layers: number, H: number, dtype: FloatDType, extra: object = {}): ModelConfig {
  return modelConfig({ rnn: rnnConfig({ module, inputSize: V, hiddenSize: H, numLayers: layers, dtype, ...extra }), vocabSize: V, outputSize: V });
}

function batches(count: number, B: number, T: number, seed: number): LmBatch[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const ids = Int32Array.from({ length: B * (T + 1) }, () => rng.int(V));
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      inputs[b * T + t] = ids[b * (T + 1) + t];
      targets[b * T + t] = ids[b * (T + 1) + t + 1];
    }
    return { batchSize: B, seqLen: T, inputs, targets };
  });
}

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

function maxParamDiff(a: TensorMap, b: TensorMap): number {
  let worst = 0;
  for (const [name, t] of b) {
    const u = a.get(name)!;
    for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(Number(u.data[i]) - Number(t.data[i])));
  }
  return worst;
}

interface Case { module: RnnModule; layers: number; H: number; extra?: object }
const CASES: Case[] = [
  { module: 'LSTM', layers: 1, H: 8 }, { module: 'LSTM', layers: 2, H: 6 },
  { module: 'GRU', layers: 1, H: 8 }, { module: 'GRU', layers: 2, H: 5 },
  { module: 'RNN', layers: 1, H: 8 }, { module: 'RNN', layers: 2, H: 7, extra: { nonlinearity: 'relu' } },
  { module: 'LSTM', layers: 1, H: 6, extra: { bias: false } },
];
const OPTIONS: LmTrainOptions[] = [
  { optimizer: { kind: 'adam', lr: 0.01 }, clip: { maxNorm: 1 }, stateful: true },
  { optimizer: { kind: 'sgd', lr: 0.5, momentum: 0.9 }, clip: { value: 0.05 }, stateful: false },
];

type Factory = (cfg: ModelConfig, params: TensorMap) => LmEngine;
const engines: { name: string; dtype: FloatDType; make: Factory; lossTol: number; trajTol: number }[] = [
  { name: 'js f64', dtype: 'float64', make: createJsLmEngine, lossTol: 1e-12, trajTol: 1e-10 },
  { name: 'js f32', dtype: 'float32', make: createJsLmEngine, lossTol: 1e-5, trajTol: 1e-4 },
];
const wasm = wasmAvailability();
if (wasm.available) {
  engines.push({ name: 'wasm simd', dtype: 'float32', make: (c, p) => createWasmLmEngine(c, p, { variant: 'simd', threads: 1 }), lossTol: 1e-5, trajTol: 1e-4 });
  if (wasm.variant === 'relaxed') {
    engines.push({ name: 'wasm relaxed', dtype: 'float32', make: (c, p) => createWasmLmEngine(c, p, { variant: 'relaxed', threads: 1 }), lossTol: 1e-5, trajTol: 1e-4 });
  }
  if (wasm.threads === 2) {
    engines.push({ name: 'wasm 2 threads', dtype: 'float32', make: (c, p) => createWasmLmEngine(c, p, { threads: 2 }), lossTol: 1e-5, trajTol: 1e-4 });
  }
}

const native = nativeAvailability();
if (native.available) {
  engines.push({ name: 'native', dtype: 'float32', make: (c, p) => createNativeLmEngine(c, p, { threads: 1 }), lossTol: 1e-5, trajTol: 1e-4 });
  if (native.threads === 2) {
    engines.push({ name: 'native 2 threads', dtype: 'float32', make: (c, p) => createNativeLmEngine(c, p, { threads: 2 }), lossTol: 1e-5, trajTol: 1e-4 });
  }
}

for (const e of engines) {
  test(`${e.name} engine agrees with the reference engine`, () => {
    for (const c of CASES) for (const [oi, opts] of OPTIONS.entries()) {
      const cfg = lmConfig(c.module, c.layers, c.H, e.dtype, c.extra);
      const label = `${c.module} L${c.layers} H${c.H} ${JSON.stringify(c.extra ?? {})} ${opts.optimizer.kind}`;
      const params = initModelParameters(cfg, createRng(7 + oi));
      const ref = createReferenceLmEngine(cfg, params);
      const fast = e.make(cfg, params);
      const data = batches(20, 3, 5, 11 + oi);
      // Forward only first: evaluation loss from the same parameters.
      const evalRef = ref.evaluate(data[0], false).loss, evalFast = fast.evaluate(data[0], false).loss;
      assert.ok(relErr(evalFast, evalRef) <= e.lossTol, `${label}: eval loss ${evalFast} vs ${evalRef}`);
      for (const [step, batch] of data.entries()) {
        const r = ref.trainStep(batch, opts), f = fast.trainStep(batch, opts);
        const tol = step === 0 ? e.lossTol : e.trajTol;
        assert.ok(relErr(f.loss, r.loss) <= tol, `${label} step ${step}: loss ${f.loss} vs ${r.loss}`);
        assert.ok(relErr(f.gradNorm, r.gradNorm) <= Math.max(tol, e.lossTol * 10), `${label} step ${step}: grad norm ${f.gradNorm} vs ${r.gradNorm}`);
      }
      const diff = maxParamDiff(fast.getParameters(), ref.getParameters());
      assert.ok(diff <= e.trajTol, `${label}: parameters differ by ${diff} after 20 steps`);
      // Stateful evaluation continues from the carried state in both.
      assert.ok(relErr(fast.evaluate(data[1], true).loss, ref.evaluate(data[1], true).loss) <= e.trajTol, `${label}: stateful eval`);
      fast.dispose();
    }
  });
}

test('optimizer state round-trips through getOptimizerState / setOptimizerState', () => {
  const cfg = lmConfig('LSTM', 1, 8, 'float64');
  const params = initModelParameters(cfg, createRng(3));
  const data = batches(4, 2, 4, 5);
  const opts: LmTrainOptions = { optimizer: { kind: 'adam', lr: 0.01 }, stateful: false };
  const a = createJsLmEngine(cfg, params);
  a.trainStep(data[0], opts);
  a.trainStep(data[1], opts);
  const b = createJsLmEngine(cfg, a.getParameters());
  b.setOptimizerState(a.getOptimizerState());
  for (const batch of data.slice(2)) assert.equal(b.trainStep(batch, opts).loss, a.trainStep(batch, opts).loss);
  assert.equal(maxParamDiff(a.getParameters(), b.getParameters()), 0);
});

const kernelEngines: { name: string; threads: 1 | 2; make: (cfg: ModelConfig, params: TensorMap) => LmEngine }[] = [];
for (const threads of [1, 2] as const) {
  if (wasm.available && (threads === 1 || wasm.threads === 2)) {
    kernelEngines.push({ name: 'wasm', threads, make: (c, p) => createWasmLmEngine(c, p, { threads }) });
  }
  if (native.available && (threads === 1 || native.threads === 2)) {
    kernelEngines.push({ name: 'native', threads, make: (c, p) => createNativeLmEngine(c, p, { threads }) });
  }
}

// Shapes the tiny cases above never reach: whole GEMM blocks (4H >= 128 rows, 320 tokens >= one 256-deep K block
// in the weight gradients) and, on two threads, products and cell steps split across the threads.
for (const engine of kernelEngines) test(`${engine.name} engine on ${engine.threads} thread${engine.threads === 2 ? 's' : ''} agrees with the reference on whole GEMM blocks`, () => {
  const opts: LmTrainOptions = { optimizer: { kind: 'adam', lr: 0.003 }, clip: { maxNorm: 5 }, stateful: true };
  for (const module of ['LSTM', 'GRU', 'RNN'] as const) {
    // H = 130: register-tile and SIMD tails; B * H large enough for the cell kernels to split by rows.
    const cfg = lmConfig(module, 2, 130, 'float32');
    const params = initModelParameters(cfg, createRng(21));
    const ref = createReferenceLmEngine(cfg, params);
    const fast = engine.make(cfg, params);
    assert.equal(fast.name.endsWith('-2t'), engine.threads === 2);
    for (const [step, batch] of batches(3, 20, 16, 2).entries()) {
      const r = ref.trainStep(batch, opts), f = fast.trainStep(batch, opts);
      assert.ok(relErr(f.loss, r.loss) <= 1e-4, `${module} step ${step}: loss ${f.loss} vs ${r.loss}`);
      assert.ok(relErr(f.gradNorm, r.gradNorm) <= 1e-4, `${module} step ${step}: grad norm ${f.gradNorm} vs ${r.gradNorm}`);
    }
    assert.ok(maxParamDiff(fast.getParameters(), ref.getParameters()) <= 1e-4, `${module}: parameters`);
    fast.dispose();
  }
});

// Packed batches (lengths 1..T, longest first) on the layer kernels: each thread's share of the rows ends at its own
// step, a GRU's reset scratch and the reverse direction's rows included; an embedding and a classifier head on top.
for (const engine of kernelEngines) test(`${engine.name} engine on ${engine.threads} thread${engine.threads === 2 ? 's' : ''} agrees with the reference on packed batches`, () => {
  const opts: LmTrainOptions = { optimizer: { kind: 'adam', lr: 0.003 }, clip: { maxNorm: 5 }, stateful: false };
  const B = 17, T = 40, H = 36;
  for (const [module, readout] of [['LSTM', 'last'], ['GRU', 'per_step'], ['RNN', 'mean']] as const) {
    const classify = readout !== 'per_step';
    const cfg = modelConfig({
      rnn: rnnConfig({ module, inputSize: 10, hiddenSize: H, numLayers: 2, bidirectional: true, dtype: 'float32' }), vocabSize: V,
      embedding: { numEmbeddings: V, embeddingDim: 10, paddingIdx: 0 }, outputSize: classify ? 3 : V, ...(classify ? { readout } : {}),
    });
    const params = initModelParameters(cfg, createRng(5));
    const ref = createReferenceLmEngine(cfg, params);
    const fast = engine.make(cfg, params);
    const rng = createRng(9);
    for (let step = 0; step < 3; step++) {
      const lengths = Int32Array.from({ length: B }, () => 1 + rng.int(T));
      lengths[step] = T;
      const inputs = new Int32Array(B * T), targets = new Int32Array(classify ? B : B * T);
      for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) {
        inputs[b * T + t] = 1 + rng.int(V - 1);
        if (!classify) targets[b * T + t] = rng.int(V);
      }
      if (classify) for (let b = 0; b < B; b++) targets[b] = rng.int(3);
      const batch = { batchSize: B, seqLen: T, inputs, targets, lengths };
      const r = ref.trainStep(batch, opts), f = fast.trainStep(batch, opts);
      assert.ok(relErr(f.loss, r.loss) <= 1e-4, `${module} step ${step}: loss ${f.loss} vs ${r.loss}`);
      assert.ok(relErr(f.gradNorm, r.gradNorm) <= 1e-4, `${module} step ${step}: grad norm ${f.gradNorm} vs ${r.gradNorm}`);
    }
    assert.ok(maxParamDiff(fast.getParameters(), ref.getParameters()) <= 1e-4, `${module}: parameters`);
    fast.dispose();
  }
});

test('an inference engine traces exactly as a training one, on less memory, and refuses to train', () => {
  const cfg = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: 24, numLayers: 2, dtype: 'float32' }), vocabSize: V, outputSize: V });
  const params = initModelParameters(cfg, createRng(3));
  const makers: ((o: { inference?: boolean }) => LmEngine & { traceWindow: FastLmEngine['traceWindow'] })[] = [(o) => createJsLmEngine(cfg, params, o)];
  if (wasm.available) makers.push((o) => createWasmLmEngine(cfg, params, { threads: 1, ...o }));
  if (native.available) makers.push((o) => createNativeLmEngine(cfg, params, { threads: 1, ...o }));
  const ids = Int32Array.from({ length: 3 * 50 }, (_, i) => (i * 5 + (i >> 2)) % V);
  for (const make of makers) {
    const full = make({}), inference = make({ inference: true });
    const a = full.traceWindow(ids, 3, 50, 'zero'), b = inference.traceWindow(ids, 3, 50, 'zero');
    assert.deepEqual(b.logits, a.logits, full.name);
    b.layers.forEach((layer, l) => {
      assert.deepEqual(layer.gates, a.layers[l].gates, `${full.name} layer ${l} gates`);
      assert.deepEqual(layer.h, a.layers[l].h, `${full.name} layer ${l} h`);
    });
    const heapOf = (e: unknown): number => (e as { k: { heap(): ArrayLike<number> } }).k.heap().length;
    assert.ok(heapOf(inference) < heapOf(full), `${full.name}: heap ${heapOf(inference)} vs ${heapOf(full)}`);
    assert.throws(() => inference.trainStep(batches(1, 3, 50, 1)[0], { optimizer: { kind: 'sgd', lr: 0.1 }, stateful: false }), /inference only/);
    assert.ok(Number.isFinite(inference.evaluate(batches(1, 3, 50, 1)[0], false).loss));
    full.dispose();
    inference.dispose();
  }
});
