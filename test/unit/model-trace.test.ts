// Every model can be traced over a document: embedding language models (folded onto the fast one-hot
// trace), MLP heads, and classifiers (the whole text's prediction, and for `last`-readout unidirectional
// ones what they would predict had the text ended at each token), against the reference run in one piece.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import { type ModelConfig, modelConfig, parseHeadSpec } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { foldEmbedding } from '../../src/core/foldEmbedding';
import { kernelFoldProduct } from '../../src/core/fast/foldProduct';
import type { FastKernels } from '../../src/core/fast/kernels';
import { createJsKernels } from '../../src/core/fast/jsKernels';
import { createNativeFastKernels } from '../../src/engines/native/index';
import { nativeAvailability } from '../../src/engines/native';
import { createWasmKernels } from '../../src/engines/wasm/wasmKernels';
import { wasmAvailability } from '../../src/engines/wasm';
import { checkedModelParameters, modelForward } from '../../src/core/reference/model';
import { logitsOf } from '../../src/core/reference/head';
import { lmForward, softmaxRows } from '../../src/core/train/lmForward';
import { buildWordVocab, tokenizeWords, wordOffsets } from '../../src/core/data/wordVocab';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { createDocumentTrace } from '../../src/worker/documentTrace';
import type { TensorMap } from '../../src/core/tensor';

const V = 11;
const vocab = buildCharVocab('abcdefghij\n');

function model(o: Partial<Parameters<typeof modelConfig>[0]> & { module?: 'LSTM' | 'GRU' | 'RNN'; bidirectional?: boolean; dtype?: 'float32' | 'float64' }): { config: ModelConfig; params: TensorMap } {
  const E = o.embedding === undefined ? 5 : o.embedding?.embeddingDim;
  const rnn = rnnConfig({ module: o.module ?? 'LSTM', inputSize: E ?? V, hiddenSize: 6, numLayers: 2, bidirectional: o.bidirectional ?? false, dtype: o.dtype ?? 'float64' });
  const config = modelConfig({
    rnn, vocabSize: V, embedding: E === undefined ? null : { numEmbeddings: V, embeddingDim: E, paddingIdx: 0 },
    readout: o.readout, head: o.head, outputSize: o.outputSize,
  });
  return { config, params: initModelParameters(config, createRng(3)) };
}

const ids = Int32Array.from({ length: 300 }, (_, i) => (i * 7 + (i >> 3)) % V);

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}

test('folding the embedding into weight_ih_l0 gives the same outputs as the embedding model', () => {
  const m = model({});
  const folded = foldEmbedding(m.config, m.params);
  assert.equal(folded.config.embedding, null);
  const a = lmForward(m.config, checkedModelParameters(m.config, m.params), ids, ids.length, 1, undefined, { trace: true });
  const b = lmForward(folded.config, checkedModelParameters(folded.config, folded.params), ids, ids.length, 1, undefined, { trace: true });
  assert.ok(relErr(b.logits, a.logits) < 1e-13);
  for (const [name, t] of a.trace!) assert.ok(relErr(b.trace!.get(name)!.data as Float64Array, t.data as Float64Array) < 1e-13, name);
});

test('the fold on the fast kernels (transpose, one GEMM) equals the plain loops: js in float64, native and wasm in float32', () => {
  const kernels: FastKernels[] = [createJsKernels('float64'), createJsKernels('float32')];
  if (nativeAvailability().available) kernels.push(createNativeFastKernels(1));
  const wasm = wasmAvailability();
  if (wasm.available) kernels.push(createWasmKernels(wasm.variant!, 1));
  for (const k of kernels) {
    // A 300-token table against 4H = 136 rows: whole GEMM blocks and register-tile tails.
    const config = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: 40, hiddenSize: 34, dtype: k.dtype }), vocabSize: 300,
      embedding: { numEmbeddings: 300, embeddingDim: 40, paddingIdx: null }, outputSize: 300 });
    const m = { config, params: initModelParameters(config, createRng(4)) };
    const plain = foldEmbedding(m.config, m.params).params.get('rnn.weight_ih_l0')!;
    const fast = foldEmbedding(m.config, m.params, kernelFoldProduct(k)).params.get('rnn.weight_ih_l0')!;
    assert.deepEqual(fast.shape, plain.shape);
    assert.equal(fast.dtype, k.dtype);
    assert.ok(relErr(fast.data as ArrayLike<number>, plain.data as ArrayLike<number>) < (k.dtype === 'float64' ? 1e-14 : 1e-6), k.name);
    const other = model({ embedding: { numEmbeddings: V, embeddingDim: 4, paddingIdx: null }, dtype: k.dtype === 'float32' ? 'float64' : 'float32' });
    assert.throws(() => foldEmbedding(other.config, other.params, kernelFoldProduct(k)), /fold on the/);
    k.dispose();
  }
});

for (const [label, o, tol] of [
  ['embedding LSTM language model (fast trace: the sweep reads token ids through the embedding), float32', { dtype: 'float32' as const }, 1e-5],
  ['embedding GRU language model, float64', { module: 'GRU' as const }, 1e-12],
  ['language model with an MLP head (reference trace)', { head: parseHeadSpec('9,tanh', 6, V) }, 1e-12],
  ['bidirectional embedding LSTM language model', { bidirectional: true }, 1e-12],
] as const) {
  test(`document trace: ${label} equals one reference pass`, () => {
    const m = model(o);
    const doc = createDocumentTrace({ ...m, vocab }, ids, 32);
    for (const _ of doc.prepare()) { /* sweep */ }
    const ref = lmForward(m.config, checkedModelParameters(m.config, m.params), ids, ids.length, 1, undefined, { trace: true });
    const w = doc.window(40, 170);
    for (const [name, t] of w.tensors) {
      const want = ref.trace!.get(name)!.data.subarray(40 * 6, 170 * 6);
      assert.ok(relErr(t.data as Float64Array, want as Float64Array) <= tol, `${name} ${relErr(t.data as Float64Array, want as Float64Array)}`);
    }
    const probs = softmaxRows(ref.logits.subarray(40 * V, 170 * V), V);
    for (let t = 0; t < 130; t++) assert.ok(Math.abs(w.topProbs[t * 5] - probs[t * V + w.topIds[t * 5]]) < 1e-5);
    assert.equal(doc.prediction(), undefined);
    doc.dispose();
  });
}

test('a last-readout classifier: the text\'s prediction, and at each token what it would predict had the text ended there', () => {
  const m = model({ module: 'GRU', readout: 'last', head: parseHeadSpec('8,relu', 6, 3) });
  const doc = createDocumentTrace({ ...m, vocab }, ids, 32);
  for (const _ of doc.prepare()) { /* sweep */ }
  const weights = checkedModelParameters(m.config, m.params);
  const whole = (n: number): Float32Array => {
    const fwd = modelForward(m.config, weights, { batchSize: 1, seqLen: n, inputs: ids.subarray(0, n), targets: new Int32Array(1) });
    return softmaxRows(logitsOf(fwd.head), 3);
  };
  assert.ok(relErr(doc.prediction()!, whole(ids.length)) < 1e-6);
  const w = doc.window(90, 110);
  for (const t of [90, 97, 109]) {
    const p = whole(t + 1);
    const top = w.topIds[(t - 90) * 5];
    assert.equal(p.indexOf(Math.max(...p)), top, `step ${t}`);
    assert.ok(Math.abs(w.topProbs[(t - 90) * 5] - p[top]) < 1e-6);
  }
  doc.dispose();
});

for (const readout of ['mean', 'max'] as const) {
  for (const bidirectional of [false, true]) {
    test(`a ${readout}-readout ${bidirectional ? 'bidirectional ' : ''}classifier predicts for the whole text as one sequence`, () => {
      const m = model({ readout, bidirectional, head: parseHeadSpec('', bidirectional ? 12 : 6, 4) });
      const doc = createDocumentTrace({ ...m, vocab }, ids, 32);
      for (const _ of doc.prepare()) { /* sweep */ }
      const fwd = modelForward(m.config, checkedModelParameters(m.config, m.params), { batchSize: 1, seqLen: ids.length, inputs: ids, targets: new Int32Array(1) });
      assert.ok(relErr(doc.prediction()!, softmaxRows(logitsOf(fwd.head), 4)) < 1e-6);
      assert.equal(doc.window(0, 10).topIds.length, 0, 'no per-step scores');
      doc.dispose();
    });
  }
}

test('word offsets map basic_english tokens back to the text', () => {
  const text = 'He said: "Hello, World!" It\'s <br />fine.\nOK';
  const tokens = tokenizeWords(text);
  const off = wordOffsets(text, tokens);
  assert.equal(off.length, tokens.length + 1);
  tokens.forEach((tok, i) => {
    if (tok === "'") return;
    assert.equal(text.slice(off[i], off[i] + tok.length).toLowerCase(), tok, `token ${i} ${tok}`);
  });
  assert.equal(off[tokens.length], text.length);
  const v = buildWordVocab(tokens);
  assert.ok(v.words.includes('hello'));
});
