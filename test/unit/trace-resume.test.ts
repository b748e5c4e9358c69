// A document traced again after an edit (createDocumentTrace with `previous`): the states before the first changed
// token are kept, preparation starts there, and every window equals a fresh trace of the new tokens; for the fast
// trace (float32 char LSTM) and the reference one (float64 with an MLP head, a mean-readout classifier).
import assert from 'node:assert/strict';
import test from 'node:test';
import { rnnConfig } from '../../src/core/config';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { initModelParameters } from '../../src/core/init';
import { type ModelConfig, type ModelOptions, modelConfig, parseHeadSpec } from '../../src/core/model';
import { createRng } from '../../src/core/random';
import type { FloatArray } from '../../src/core/tensor';
import { type DocumentTrace, type TraceModel, type TraceWindowData, createDocumentTrace } from '../../src/worker/documentTrace';

const V = 11;
const vocab = buildCharVocab('abcdefghij\n');
const N = 20_000;
const K = 64;

/** Deterministic text-like ids: runs and repeats, not uniform noise. */
function document(n: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = rng.uniform() < 0.7 && i > 0 ? (ids[i - 1] + 1) % V : rng.int(V);
  return ids;
}

function traceModel(options: Omit<ModelOptions, 'vocabSize'>, seed = 7): TraceModel {
  const config: ModelConfig = modelConfig({ vocabSize: V, outputSize: V, ...options });
  return { config, params: initModelParameters(config, createRng(seed)), vocab };
}

const lstm = (dtype: 'float32' | 'float64', H: number, L: number) => rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: H, numLayers: L, dtype });

/**
 * Forget gates near 1: a random-init LSTM forgets its state within a block, which would hide a sweep resumed from the
 * wrong state; this one still remembers it K tokens later.
 */
function longMemory(m: TraceModel): TraceModel {
  const { hiddenSize: H, numLayers: L } = m.config.rnn;
  const params = new Map(m.params);
  for (let l = 0; l < L; l++) {
    const b = params.get(`rnn.bias_ih_l${l}`)!;
    const data = (b.data as FloatArray).slice();
    for (let j = H; j < 2 * H; j++) data[j] += 5; // PyTorch's gate order i, f, g, o
    params.set(`rnn.bias_ih_l${l}`, { ...b, data });
  }
  return { ...m, params };
}

const MODELS: { label: string; model: TraceModel; tolerance: number }[] = [
  { label: 'fast (float32 LSTM 2x16)', model: longMemory(traceModel({ rnn: lstm('float32', 16, 2) })), tolerance: 1e-5 },
  { label: 'fast (float32 embedding LSTM 1x16: folded once; the engine and the sweep handed on)', tolerance: 1e-5,
    model: longMemory(traceModel({ rnn: rnnConfig({ module: 'LSTM', inputSize: 6, hiddenSize: 16, dtype: 'float32' }), embedding: { numEmbeddings: V, embeddingDim: 6, paddingIdx: null } })) },
  { label: 'reference (float64 LSTM 1x8, MLP head)', model: longMemory(traceModel({ rnn: lstm('float64', 8, 1), head: parseHeadSpec('12,relu', 8, V) })), tolerance: 0 },
  { label: 'reference (float64 GRU 1x8 mean classifier)', tolerance: 0,
    model: traceModel({ rnn: { ...lstm('float64', 8, 1), module: 'GRU' }, readout: 'mean', outputSize: 3, head: parseHeadSpec('', 8, 3) }) },
];

/** The edited ids and the first token where they differ from `ids`. */
const EDITS: { label: string; edit: (ids: Int32Array) => { ids: Int32Array; at: number } }[] = [
  { label: 'a changed token mid-document', edit: (ids) => replaced(ids, 12_345) },
  { label: 'an insertion mid-document', edit: (ids) => ({ ids: Int32Array.from([...ids.subarray(0, 9_000), 1, 2, 3, ...ids.subarray(9_000)]), at: 9_000 }) },
  { label: 'the first token changed', edit: (ids) => replaced(ids, 0) },
  { label: 'the last token changed', edit: (ids) => replaced(ids, ids.length - 1) },
  { label: 'tokens appended', edit: (ids) => ({ ids: Int32Array.from([...ids, ...document(700, 3)]), at: ids.length }) },
  { label: 'truncated inside a block', edit: (ids) => ({ ids: ids.slice(0, 15_000), at: 15_000 }) },
  { label: 'truncated at a block start', edit: (ids) => ({ ids: ids.slice(0, 240 * K), at: 240 * K }) },
  { label: 'unchanged', edit: (ids) => ({ ids: ids.slice(), at: ids.length }) },
];

function replaced(ids: Int32Array, at: number): { ids: Int32Array; at: number } {
  const out = ids.slice();
  out[at] = (out[at] + 1) % V;
  return { ids: out, at };
}

/** Prepares `trace` fully; returns what prepare() yielded. */
function prepared(trace: DocumentTrace): number[] {
  const done: number[] = [];
  for (const d of trace.prepare()) done.push(d);
  return done;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(a.length, b.length, what);
  let scale = 1e-30;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tolerance * scale)) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]} (tolerance ${tolerance})`);
  }
}

function assertSameWindow(got: TraceWindowData, want: TraceWindowData, tolerance: number, what: string): void {
  assert.deepEqual([...got.tensors.keys()], [...want.tensors.keys()], what);
  for (const [name, t] of want.tensors) assertClose(got.tensors.get(name)!.data as FloatArray, t.data as FloatArray, tolerance, `${what} ${name}`);
  if (tolerance === 0) assert.deepEqual(got.topIds, want.topIds, `${what} top ids`);
  assertClose(got.topProbs, want.topProbs, Math.max(tolerance, 1e-6), `${what} top probabilities`);
}

for (const { label, model, tolerance } of MODELS) {
  test(`${label}: a re-trace after an edit keeps the states before it and equals a fresh trace`, () => {
    const ids = document(N, 11);
    for (const { label: editLabel, edit } of EDITS) {
      const old = createDocumentTrace(model, ids, K);
      prepared(old);
      const e = edit(ids);
      const n = e.ids.length;
      const resumed = createDocumentTrace(model, e.ids, K, old);
      // Kept: the states at block starts up to the first changed token, inside the new document.
      const kept = Math.min(Math.floor(e.at / K), Math.ceil(n / K) - 1) * K;
      assert.deepEqual(resumed.resumed, { tokens: kept, firstChange: e.at }, editLabel);
      assert.ok(resumed.available >= Math.min(n, kept + K), `${editLabel}: the kept blocks are windowable before preparing`);
      const done = prepared(resumed);
      assert.ok(done[0] >= Math.floor(e.at / K) * K, `${editLabel}: first progress ${done[0]} (edit at ${e.at})`);
      assert.equal(done.at(-1), n, editLabel);
      old.dispose(); // the resumed trace shares the old one's states: they must outlive its dispose

      const fresh = createDocumentTrace(model, e.ids, K);
      prepared(fresh);
      assert.equal(fresh.resumed, undefined);
      const at = Math.min(e.at, n - 1);
      // Before, across and after the edit; from the first state the resumed sweep computed; the end.
      const windows = [[0, Math.min(n, 100)], [Math.max(0, at - 150), Math.min(n, at + 150)], [Math.max(0, at - 3), at + 1], [at, Math.min(n, at + 90)], [n - 40, n]];
      if (kept + K < n) windows.push([kept + K, Math.min(n, kept + K + 50)]);
      for (const [start, end] of windows) {
        assertSameWindow(resumed.window(start, end), fresh.window(start, end), tolerance, `${editLabel} [${start}, ${end})`);
      }
      const p = fresh.prediction();
      if (p) assertClose(resumed.prediction()!, p, tolerance, `${editLabel} prediction`);
      resumed.dispose();
      fresh.dispose();
    }
  });
}

test('a re-trace resumes only from the same kind of trace of the same model and K', () => {
  const { model } = MODELS[0];
  const ids = document(4_000, 5);
  const edited = replaced(ids, 3_000).ids;
  const old = createDocumentTrace(model, ids, K);
  prepared(old);
  const tokens = (m: TraceModel, k: number, previous: DocumentTrace): number | undefined => createDocumentTrace(m, edited, k, previous).resumed?.tokens;
  assert.equal(tokens(model, K, old), 2_944);
  assert.equal(tokens(structuredClone(model), K, old), 2_944, 'the same weights sent again (a copy) still match');
  assert.equal(tokens(longMemory(traceModel({ rnn: lstm('float32', 16, 2) }, 8)), K, old), undefined, 'other weights');
  assert.equal(tokens(model, 2 * K, old), undefined, 'another K');
  const bidirectional = traceModel({ rnn: { ...lstm('float32', 8, 1), bidirectional: true } });
  const bi = createDocumentTrace(bidirectional, ids, K);
  prepared(bi);
  assert.equal(tokens(bidirectional, K, bi), undefined, 'a bidirectional trace starts over');
  old.dispose();
  assert.equal(tokens(model, K, old), undefined, 'a disposed trace has nothing to give');
});

test('a re-trace of a partly prepared trace keeps only what it had prepared', () => {
  for (const { label, model, tolerance } of MODELS.slice(0, 2)) {
    const ids = document(N, 2);
    const old = createDocumentTrace(model, ids, K);
    const first = old.prepare().next().value as number; // one slice only
    assert.ok(first < N - K, label);
    const edited = replaced(ids, N - 10).ids;
    const resumed = createDocumentTrace(model, edited, K, old);
    assert.equal(resumed.resumed?.tokens, first, label);
    prepared(resumed);
    const fresh = createDocumentTrace(model, edited, K);
    prepared(fresh);
    for (const start of [first - 5, first + 300, N - 100]) assertSameWindow(resumed.window(start, start + 80), fresh.window(start, start + 80), tolerance, `${label} ${start}`);
    for (const t of [old, resumed, fresh]) t.dispose();
  }
});
