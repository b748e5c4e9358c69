// The one-sequence document sweep (src/core/fast/sweep.ts, kernels.c seq_forward) against the reference: the
// states it keeps over a 100k-token document (drift would show), on every kernel backend here, and the windows a
// DocumentTrace recomputes from them deep in that document.
import assert from 'node:assert/strict';
import test from 'node:test';
import { type RnnConfig, rnnConfig } from '../../src/core/config';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { SequenceSweep, canSweep } from '../../src/core/fast/sweep';
import { createJsKernels } from '../../src/core/fast/jsKernels';
import type { FastKernels } from '../../src/core/fast/kernels';
import { initModelParameters } from '../../src/core/init';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { createRng } from '../../src/core/random';
import type { FloatArray, TensorMap } from '../../src/core/tensor';
import { type LmState, lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { createNativeFastKernels, nativeAvailability } from '../../src/engines/native/index';
import { wasmAvailability } from '../../src/engines/wasm';
import { createWasmKernels } from '../../src/engines/wasm/wasmKernels';
import { createDocumentTrace } from '../../src/worker/documentTrace';

const V = 11;
const vocab = buildCharVocab('abcdefghij\n');

/** Deterministic text-like ids: runs and repeats, not uniform noise. */
function document(n: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = rng.uniform() < 0.7 && i > 0 ? (ids[i - 1] + 1) % V : rng.int(V);
  return ids;
}

function model(rnn: Partial<RnnConfig>, H: number, L: number): { config: ModelConfig; params: TensorMap } {
  const config = modelConfig({
    rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: H, numLayers: L, dtype: 'float32', ...rnn }), vocabSize: V, outputSize: V,
  });
  return { config, params: initModelParameters(config, createRng(7)) };
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}

/** The reference's state [L, H] after every K tokens (lmForward block by block, state carried). */
const cached = new Map<string, LmState[]>();
function referenceStatesOnce(key: string, m: { config: ModelConfig; params: TensorMap }, ids: Int32Array, K: number): LmState[] {
  if (!cached.has(key)) cached.set(key, referenceStates(m, ids, K));
  return cached.get(key)!;
}

function referenceStates(m: { config: ModelConfig; params: TensorMap }, ids: Int32Array, K: number): LmState[] {
  const weights = splitLmParameters(m.config, m.params);
  const out: LmState[] = [];
  let state: LmState | undefined;
  for (let a = 0; a + K <= ids.length; a += K) {
    state = lmForward(m.config, weights, ids.subarray(a, a + K), K, 1, state).state;
    out.push(state);
  }
  return out;
}

function backends(): { name: string; make: () => FastKernels; threads: 1 | 2 }[] {
  const list: { name: string; make: () => FastKernels; threads: 1 | 2 }[] = [{ name: 'js', make: () => createJsKernels('float32'), threads: 1 }];
  const wasm = wasmAvailability();
  if (wasm.available) list.push({ name: `wasm-${wasm.variant}`, make: () => createWasmKernels(wasm.variant!, 1), threads: 1 });
  if (wasm.available && wasm.threads === 2) list.push({ name: `wasm-${wasm.variant}-2t`, make: () => createWasmKernels(`${wasm.variant!}-mt`, 2), threads: 2 });
  if (nativeAvailability().available) {
    list.push({ name: 'native', make: () => createNativeFastKernels(1), threads: 1 });
    list.push({ name: 'native-2t', make: () => createNativeFastKernels(2), threads: 2 });
  }
  return list;
}

const CASES = [
  { label: 'LSTM 2x12', rnn: {}, H: 12, L: 2, n: 100_000 },
  { label: 'GRU 1x20', rnn: { module: 'GRU' as const }, H: 20, L: 1, n: 50_000 },
  { label: 'RNN tanh 2x8', rnn: { module: 'RNN' as const }, H: 8, L: 2, n: 30_000 },
  { label: 'RNN relu 1x16', rnn: { module: 'RNN' as const, nonlinearity: 'relu' as const }, H: 16, L: 1, n: 30_000 },
  { label: 'LSTM hard sigmoid 1x10', rnn: { recurrentActivation: 'hard_sigmoid' as const }, H: 10, L: 1, n: 30_000 },
];

for (const c of CASES) {
  test(`sweep ${c.label} over ${c.n} tokens keeps the reference's states on every backend`, () => {
    const m = model(c.rnn, c.H, c.L);
    const ids = document(c.n, 11);
    const K = 256;
    const want = referenceStatesOnce(c.label, m, ids, K);
    for (const b of backends()) {
      const k = b.make();
      assert.ok(canSweep(k), b.name);
      // Chunks and pieces of odd whole-block sizes: the kept states must not depend on how the document is cut.
      const sweep = new SequenceSweep(m.config.rnn, k, m.params, 'rnn.', { chunkSteps: 3000, threads: b.threads });
      const got: FloatArray[] = [], gotC: FloatArray[] = [];
      for (let a = 0; a < ids.length; a += 27 * K) {
        for (const s of sweep.advance(ids.subarray(a, Math.min(ids.length, a + 27 * K)), K)) {
          got.push(s.h);
          if (s.c) gotC.push(s.c);
        }
      }
      assert.equal(got.length, want.length, b.name);
      let worst = 0;
      want.forEach((s, i) => {
        worst = Math.max(worst, relErr(got[i], s.h.data));
        if (s.c) worst = Math.max(worst, relErr(gotC[i], s.c.data));
      });
      assert.ok(worst <= 1e-5, `${b.name}: relative error ${worst}`);
      sweep.dispose();
    }
  });
}

test('sweep at larger H (two threads split the gate panels; H not a multiple of the panel) agrees with the reference', () => {
  for (const [module, H, L] of [['LSTM', 256, 2], ['GRU', 200, 1], ['LSTM', 100, 1]] as const) {
    const m = model({ module }, H, L);
    const ids = document(300, 5);
    const want = referenceStates(m, ids, 100);
    for (const b of backends().filter((x) => x.name !== 'js' || H <= 100)) {
      const sweep = new SequenceSweep(m.config.rnn, b.make(), m.params, 'rnn.', { threads: b.threads });
      const got = sweep.advance(ids, 100);
      want.forEach((s, i) => {
        const e = Math.max(relErr(got[i].h, s.h.data), s.c ? relErr(got[i].c!, s.c.data) : 0);
        assert.ok(e <= 1e-5, `${module} H=${H} ${b.name} state ${i}: ${e}`);
      });
      sweep.dispose();
    }
  }
});

test('a 100k-token document trace: windows deep in it equal the reference from the same point', () => {
  const m = model({}, 12, 2);
  const ids = document(100_000, 11); // the document and model of the first sweep test: its reference states serve
  const doc = createDocumentTrace({ ...m, vocab }, ids);
  let last = 0;
  for (const done of doc.prepare()) last = done;
  assert.equal(last, ids.length);
  assert.equal(doc.available, ids.length);
  const K = doc.checkpointEvery;
  assert.equal(K, 256);
  const states = referenceStatesOnce(CASES[0].label, m, ids, K);
  const weights = splitLmParameters(m.config, m.params);
  for (const start of [37, 50_000 + 17, 99_700]) {
    const end = Math.min(ids.length, start + 200);
    const b = Math.floor(start / K);
    const a = b * K;
    const ref = lmForward(m.config, weights, ids.subarray(a, end), end - a, 1, b > 0 ? states[b - 1] : undefined, { trace: true });
    const w = doc.window(start, end);
    for (const [name, t] of w.tensors) {
      const e = relErr(t.data as FloatArray, (ref.trace!.get(name)!.data as FloatArray).subarray((start - a) * 12, (end - a) * 12));
      assert.ok(e <= 1e-5, `[${start}, ${end}) ${name}: ${e}`);
    }
  }
  doc.dispose();
});

test('states kept less often than the sweep\'s chunk still come at every K-th token', () => {
  const m = model({ module: 'GRU' }, 8, 2);
  const ids = document(20_000, 9);
  const want = referenceStates(m, ids, 5000);
  for (const b of backends()) {
    const sweep = new SequenceSweep(m.config.rnn, b.make(), m.params, 'rnn.', { chunkSteps: 3000, threads: b.threads });
    const got = sweep.advance(ids, 5000);
    assert.equal(got.length, want.length, b.name);
    want.forEach((s, i) => assert.ok(relErr(got[i].h, s.h.data) <= 1e-5, `${b.name} state ${i}`));
    sweep.dispose();
  }
});

test('sweep with an embedding before layer 0 (its table by one GEMM) keeps the reference\'s states on every backend', () => {
  // E = 13 and H = 21: packing and register-tile tails on both sides of the table's product; 2 layers.
  const rnn = rnnConfig({ module: 'LSTM', inputSize: 13, hiddenSize: 21, numLayers: 2, dtype: 'float32' });
  const config = modelConfig({ rnn, vocabSize: V, embedding: { numEmbeddings: V, embeddingDim: 13, paddingIdx: 0 }, outputSize: V });
  const m = { config, params: initModelParameters(config, createRng(12)) };
  const ids = document(20_000, 4);
  const K = 128;
  const want = referenceStates(m, ids, K);
  const embedding = m.params.get('embedding.weight')!.data as Float32Array;
  for (const b of backends()) {
    const sweep = new SequenceSweep(rnn, b.make(), m.params, 'rnn.', { chunkSteps: 3000, threads: b.threads, embedding });
    const got = sweep.advance(ids, K);
    assert.equal(got.length, want.length, b.name);
    let worst = 0;
    want.forEach((s, i) => { worst = Math.max(worst, relErr(got[i].h, s.h.data), relErr(got[i].c!, s.c!.data)); });
    assert.ok(worst <= 1e-5, `${b.name}: relative error ${worst}`);
    sweep.dispose();
  }
  assert.throws(() => new SequenceSweep(rnn, createJsKernels('float32'), m.params, 'rnn.', { embedding: embedding.subarray(1) }), /not rows of 13/);
});
