// The fast engines (js in float64/float32, wasm and native in float32) on the general model against the readable
// reference engine over 20 training steps: embeddings with padding_idx, packed variable-length batches,
// bidirectional stacks, the last / mean / max readouts, Sequential heads, dropout, no-bias layers; and the js
// engine replaying PyTorch's own trajectories (fixtures/pytorch/models).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixturePath } from '../fixtures';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type RnnModule, rnnConfig } from '../../src/core/config';
import { IGNORE_INDEX, type LmBatch, type LmEngine, type LmTrainOptions } from '../../src/core/engine';
import { type HeadLayer, type ModelConfig, type Readout, featureWidth, modelConfig } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import type { FloatDType, TensorMap } from '../../src/core/tensor';
import { parseTrajectoryCase, replayTrajectory, trajectoryBatches } from '../../src/core/trajectory';
import { checkedModelParameters, modelForward } from '../../src/core/reference/model';
import { logitsOf } from '../../src/core/reference/head';
import { createLmEngine, traceLm } from '../../src/engines';
import { createJsLmEngine } from '../../src/engines/js';
import { createNativeLmEngine, nativeAvailability } from '../../src/engines/native';
import { createWasmLmEngine, wasmAvailability } from '../../src/engines/wasm';

interface Case {
  readonly label: string;
  readonly module: RnnModule;
  readonly H: number;
  readonly layers?: number;
  readonly bidirectional?: boolean;
  readonly bias?: boolean;
  readonly nonlinearity?: 'tanh' | 'relu';
  readonly vocab: number;
  /** Embedding width and padding_idx; absent: one-hot. */
  readonly embedding?: { readonly dim: number; readonly pad: number | null };
  readonly readout?: Readout;
  readonly classes?: number;
  /** Head layers before the output Linear, as parseHeadSpec's spelling (absent: a single nn.Linear). */
  readonly hidden?: readonly (number | 'relu' | 'tanh' | `dropout${number}`)[];
  readonly rnnDropout?: number;
  /** Variable lengths (packed batches); false: every sequence is full. */
  readonly lengths: boolean;
  readonly stateful?: boolean;
  readonly B?: number;
  readonly T?: number;
}

const CASES: Case[] = [
  { label: 'embedding LSTM LM, padding_idx, lengths', module: 'LSTM', H: 8, vocab: 13, embedding: { dim: 5, pad: 0 }, lengths: true },
  { label: 'embedding GRU LM, stateful, lengths', module: 'GRU', H: 6, vocab: 9, embedding: { dim: 4, pad: 2 }, lengths: true, stateful: true },
  { label: 'bidirectional 2-layer LSTM classifier, last', module: 'LSTM', H: 7, layers: 2, bidirectional: true, vocab: 11, embedding: { dim: 6, pad: 0 }, readout: 'last', classes: 3, lengths: true },
  { label: 'GRU mean, Linear-ReLU-Linear head', module: 'GRU', H: 8, vocab: 10, embedding: { dim: 5, pad: 0 }, readout: 'mean', classes: 4, hidden: [6, 'relu'], lengths: true },
  { label: 'RNN(relu) max', module: 'RNN', H: 9, nonlinearity: 'relu', vocab: 12, embedding: { dim: 4, pad: null }, readout: 'max', classes: 3, lengths: true },
  { label: 'bidirectional GRU max, Tanh head, 2 layers', module: 'GRU', H: 5, layers: 2, bidirectional: true, vocab: 8, readout: 'max', classes: 3, hidden: [7, 'tanh'], lengths: true },
  { label: 'one-hot bidirectional LSTM LM, stateful', module: 'LSTM', H: 6, bidirectional: true, vocab: 10, lengths: false, stateful: true },
  { label: 'bidirectional GRU LM, stateful, lengths', module: 'GRU', H: 5, bidirectional: true, vocab: 9, embedding: { dim: 4, pad: 0 }, lengths: true, stateful: true },
  { label: 'one-hot bidirectional 2-layer RNN LM, lengths', module: 'RNN', H: 6, layers: 2, bidirectional: true, vocab: 9, lengths: true },
  { label: 'one-hot bidirectional LSTM LM, ReLU-first head', module: 'LSTM', H: 5, bidirectional: true, vocab: 8, hidden: ['relu', 6], lengths: true },
  { label: 'no-bias bidirectional LSTM classifier, mean', module: 'LSTM', H: 6, bidirectional: true, bias: false, vocab: 10, embedding: { dim: 4, pad: 1 }, readout: 'mean', classes: 2, lengths: true },
  { label: 'no-bias GRU LM, one-hot, lengths', module: 'GRU', H: 7, bias: false, vocab: 9, lengths: true },
  { label: 'dropout: 2-layer bidirectional LSTM LM, rnn dropout 0.3, head Dropout', module: 'LSTM', H: 6, layers: 2, bidirectional: true, vocab: 10, embedding: { dim: 5, pad: 0 }, rnnDropout: 0.3, hidden: [8, 'relu', 'dropout0.25'], lengths: true },
  { label: 'dropout: GRU classifier last, 3 layers', module: 'GRU', H: 5, layers: 3, vocab: 9, embedding: { dim: 4, pad: 0 }, rnnDropout: 0.2, readout: 'last', classes: 3, hidden: ['dropout0.5', 6, 'tanh'], lengths: true },
];

function headOf(c: Case, width: number, out: number): { head?: HeadLayer[]; headSequential?: boolean } {
  if (!c.hidden) return {};
  const head: HeadLayer[] = [];
  let w = width;
  for (const h of c.hidden) {
    if (typeof h === 'number') { head.push({ type: 'Linear', inFeatures: w, outFeatures: h, bias: true }); w = h; }
    else if (h === 'relu') head.push({ type: 'ReLU' });
    else if (h === 'tanh') head.push({ type: 'Tanh' });
    else head.push({ type: 'Dropout', p: Number(h.slice(7)) });
  }
  head.push({ type: 'Linear', inFeatures: w, outFeatures: out, bias: true });
  return { head, headSequential: true };
}

function configOf(c: Case, dtype: FloatDType): ModelConfig {
  const rnn = rnnConfig({
    module: c.module, inputSize: c.embedding ? c.embedding.dim : c.vocab, hiddenSize: c.H, numLayers: c.layers ?? 1,
    bidirectional: c.bidirectional ?? false, bias: c.bias ?? true, nonlinearity: c.nonlinearity ?? 'tanh', dtype,
  });
  const readout = c.readout ?? 'per_step';
  const out = readout === 'per_step' ? c.vocab : c.classes!;
  const width = (c.H) * (c.bidirectional ? 2 : 1);
  return modelConfig({
    rnn, vocabSize: c.vocab, readout, outputSize: out, rnnDropout: c.rnnDropout ?? 0,
    embedding: c.embedding ? { numEmbeddings: c.vocab, embeddingDim: c.embedding.dim, paddingIdx: c.embedding.pad } : null,
    ...headOf(c, width, out),
  });
}

/** Batches as the trajectory fixtures make them: padded with padding_idx (0 without one), targets -100 past each end. */
function batches(cfg: ModelConfig, c: Case, count: number, seed: number): LmBatch[] {
  const rng = createRng(seed);
  const B = c.B ?? 4, T = c.T ?? 6, V = cfg.vocabSize;
  const pad = cfg.embedding?.paddingIdx ?? 0;
  const classify = cfg.readout !== 'per_step';
  return Array.from({ length: count }, () => {
    const lengths = Int32Array.from({ length: B }, () => (c.lengths ? 1 + rng.int(T) : T));
    if (c.lengths) lengths[rng.int(B)] = T;
    const inputs = new Int32Array(B * T).fill(pad);
    const targets = new Int32Array(classify ? B : B * T).fill(IGNORE_INDEX);
    for (let b = 0; b < B; b++) {
      // Padding tokens inside sequences too: their embedding row is zero and gets no gradient.
      for (let t = 0; t < lengths[b]; t++) inputs[b * T + t] = rng.int(V);
      if (classify) targets[b] = rng.int(cfg.outputSize);
      else for (let t = 0; t < lengths[b]; t++) targets[b * T + t] = rng.uniform() < 0.1 ? IGNORE_INDEX : rng.int(V);
    }
    return { batchSize: B, seqLen: T, inputs, targets, ...(c.lengths ? { lengths } : {}) };
  });
}

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

function maxParamDiff(a: TensorMap, b: TensorMap): { diff: number; name: string } {
  let worst = 0, at = '';
  for (const [name, t] of b) {
    const u = a.get(name)!;
    for (let i = 0; i < t.data.length; i++) {
      const d = Math.abs(Number(u.data[i]) - Number(t.data[i])) / Math.max(1, Math.abs(Number(t.data[i])));
      if (d > worst) { worst = d; at = name; }
    }
  }
  return { diff: worst, name: at };
}

type Factory = (cfg: ModelConfig, params: TensorMap) => LmEngine;
const engines: { name: string; dtype: FloatDType; make: Factory; tol: number }[] = [
  { name: 'js f64', dtype: 'float64', make: createJsLmEngine, tol: 1e-10 },
  { name: 'js f32', dtype: 'float32', make: createJsLmEngine, tol: 1e-4 },
];
const wasm = wasmAvailability();
if (wasm.available) {
  engines.push({ name: `wasm ${wasm.variant}`, dtype: 'float32', make: (c, p) => createWasmLmEngine(c, p, { threads: 1 }), tol: 1e-4 });
  if (wasm.threads === 2) engines.push({ name: 'wasm 2 threads', dtype: 'float32', make: (c, p) => createWasmLmEngine(c, p, { threads: 2 }), tol: 1e-4 });
}
const native = nativeAvailability();
if (native.available) {
  engines.push({ name: 'native', dtype: 'float32', make: (c, p) => createNativeLmEngine(c, p, { threads: 1 }), tol: 1e-4 });
  if (native.threads === 2) engines.push({ name: 'native 2 threads', dtype: 'float32', make: (c, p) => createNativeLmEngine(c, p, { threads: 2 }), tol: 1e-4 });
}

const OPTIONS: LmTrainOptions[] = [
  { optimizer: { kind: 'adam', lr: 0.01 }, clip: { maxNorm: 1 }, stateful: false },
  { optimizer: { kind: 'sgd', lr: 0.3, momentum: 0.9 }, clip: { value: 0.05 }, stateful: false },
];

for (const e of engines) {
  test(`${e.name} engine agrees with the reference engine on the general model`, () => {
    for (const [ci, c] of CASES.entries()) {
      const opts = { ...OPTIONS[ci % OPTIONS.length], stateful: c.stateful ?? false };
      const cfg = configOf(c, e.dtype);
      const label = `${c.label} (${opts.optimizer.kind})`;
      const params = initModelParameters(cfg, createRng(7 + ci));
      const ref = createReferenceLmEngine(cfg, params);
      const fast = e.make(cfg, params);
      const data = batches(cfg, c, 20, 11 + ci);
      const evalRef = ref.evaluate(data[0], false), evalFast = fast.evaluate(data[0], false);
      assert.ok(relErr(evalFast.loss, evalRef.loss) <= e.tol, `${label}: eval loss ${evalFast.loss} vs ${evalRef.loss}`);
      assert.equal(evalFast.accuracy, evalRef.accuracy, `${label}: eval accuracy`);
      for (const [step, batch] of data.entries()) {
        const r = ref.trainStep(batch, opts), f = fast.trainStep(batch, opts);
        assert.ok(relErr(f.loss, r.loss) <= e.tol, `${label} step ${step}: loss ${f.loss} vs ${r.loss}`);
        assert.ok(relErr(f.gradNorm, r.gradNorm) <= e.tol * 10, `${label} step ${step}: grad norm ${f.gradNorm} vs ${r.gradNorm}`);
        if (e.dtype === 'float64') assert.equal(f.accuracy, r.accuracy, `${label} step ${step}: accuracy`);
      }
      const { diff, name } = maxParamDiff(fast.getParameters(), ref.getParameters());
      assert.ok(diff <= e.tol, `${label}: ${name} differs by ${diff} after 20 steps`);
      if (cfg.embedding?.paddingIdx !== null && cfg.embedding?.paddingIdx !== undefined) {
        const E = cfg.embedding.embeddingDim, pad = cfg.embedding.paddingIdx;
        const row = fast.getParameters().get('embedding.weight')!.data.slice(pad * E, (pad + 1) * E);
        assert.ok(row.every((x) => x === 0), `${label}: the padding_idx row moved`);
      }
      if (opts.stateful) {
        const a = fast.getCarriedState!(), b = ref.getCarriedState!();
        for (const [key, t] of b) {
          const u = a.get(key)!;
          assert.deepEqual(u.shape, t.shape, `${label}: carried ${key} shape`);
          for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(Number(u.data[i]) - Number(t.data[i])) <= e.tol, `${label}: carried ${key}`);
        }
      }
      const r = ref.evaluate(data[1], false), f = fast.evaluate(data[1], false);
      assert.ok(relErr(f.loss, r.loss) <= e.tol, `${label}: final eval loss ${f.loss} vs ${r.loss}`);
      fast.dispose();
    }
  });
}

test("'auto' runs every model the fast driver supports on a fast engine", () => {
  for (const c of CASES.slice(0, 4)) {
    const e = createLmEngine(configOf(c, 'float32'));
    assert.notEqual(e.name, 'reference', c.label);
    e.dispose();
  }
  const f64 = createLmEngine(configOf(CASES[2], 'float64'));
  assert.equal(f64.name, 'js');
  const keras = configOf({ ...CASES[3] }, 'float32');
  assert.equal(createLmEngine({ ...keras, rnn: { ...keras.rnn, gruReset: 'before' } }).name, 'reference');
});

test('a batch whose targets are all ignored trains nothing and reports a zero loss', () => {
  const c = CASES[0];
  const cfg = configOf(c, 'float64');
  const params = initModelParameters(cfg, createRng(3));
  const fast = createJsLmEngine(cfg, params), ref = createReferenceLmEngine(cfg, params);
  const [batch] = batches(cfg, c, 1, 4);
  const ignored = { ...batch, targets: new Int32Array(batch.targets.length).fill(IGNORE_INDEX) };
  const opts: LmTrainOptions = { optimizer: { kind: 'sgd', lr: 0.1 }, stateful: false };
  const f = fast.trainStep(ignored, opts), r = ref.trainStep(ignored, opts);
  assert.equal(f.loss, 0);
  assert.equal(f.gradNorm, r.gradNorm);
  assert.equal(maxParamDiff(fast.getParameters(), params).diff, 0);
});

test('traceLm traces embedding models with Sequential heads as the reference forward does', () => {
  for (const [i, c] of [CASES[0], CASES[1], CASES[11], { ...CASES[12], rnnDropout: 0, bidirectional: false }].entries()) {
    for (const dtype of ['float64', 'float32'] as const) {
      const cfg = configOf(c, dtype);
      const params = initModelParameters(cfg, createRng(30 + i));
      const T = 11, rng = createRng(40 + i);
      const tokens = Int32Array.from({ length: T }, () => rng.int(cfg.vocabSize));
      const ref = modelForward(cfg, checkedModelParameters(cfg, params), { batchSize: 1, seqLen: T, inputs: tokens, targets: new Int32Array(T) }, { trace: true });
      const refLogits = logitsOf(ref.head);
      const tol = dtype === 'float64' ? 1e-12 : 1e-5;
      let worst = 0;
      const near = (a: number, b: number): void => { worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(b))); };
      traceLm(cfg, params, tokens, {
        engine: dtype === 'float64' ? 'js' : 'auto', chunkSteps: 4,
        onChunk(chunk) {
          chunk.layers.forEach((layer, l) => {
            const h = ref.rnn.trace!.get(`trace_l${l}_h`)!.data;
            for (let j = 0; j < layer.h.length; j++) near(layer.h[j], Number(h[chunk.start * cfg.rnn.hiddenSize + j]));
          });
          for (let j = 0; j < chunk.logits.length; j++) near(chunk.logits[j], refLogits[chunk.start * cfg.outputSize + j]);
        },
      });
      assert.ok(worst <= tol, `${c.label} ${dtype}: trace differs by ${worst}`);
    }
  }
});

// ---- PyTorch trajectories ----------------------------------------------------------------------

const FIXTURES = fixturePath('models');
const cases = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'case.json'))).sort();

test('the js engine replays PyTorch training trajectories (float64 to 1e-10, float32 to 1e-4)', () => {
  assert.ok(cases.length >= 11, `trajectory fixtures at ${FIXTURES}`);
  for (const name of cases) {
    const dir = join(FIXTURES, name);
    const c = parseTrajectoryCase(JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')));
    const read = (file: string): TensorMap => parseSafetensors(new Uint8Array(readFileSync(join(dir, file))), file).tensors;
    const init = read('init.safetensors'), expected = read('trajectory.safetensors'), data = read('data.safetensors');
    const tol = c.model.rnn.dtype === 'float64' ? 1e-10 : 1e-4;
    const engine = createLmEngine(c.model, { engine: 'js', params: init });
    assert.equal(engine.name, 'js');
    let worst = 0;
    replayTrajectory(c, engine, trajectoryBatches(c, data), (s) => {
      if (c.losses) assert.ok(relErr(s.loss, c.losses[s.step - 1]) <= tol, `${name} step ${s.step}: loss ${s.loss} vs ${c.losses[s.step - 1]}`);
      if (c.gradNorms) assert.ok(relErr(s.gradNorm, c.gradNorms[s.step - 1]) <= tol, `${name} step ${s.step}: grad norm`);
      for (const [key, tensor] of s.snapshot) {
        const want = expected.get(key);
        assert.ok(want, `${name}: trajectory lacks ${key}`);
        for (let i = 0; i < tensor.data.length; i++) {
          const a = Number(tensor.data[i]), b = Number(want.data[i]);
          worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(b), 1e-3));
        }
      }
    });
    assert.ok(worst <= tol, `${name}: weights differ from PyTorch's by ${worst} (relative)`);
    engine.dispose();
  }
});

test('featureWidth of the configs is what the fast heads read', () => {
  assert.equal(featureWidth(configOf(CASES[2], 'float32')), 14);
});
