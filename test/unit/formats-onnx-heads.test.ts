// ONNX exports of whole language models: the embedding (Gather from a stored table) before the recurrent
// node and the head after it — Gemm (2-D nn.Linear), MatMul + Add (3-D nn.Linear, as torch.onnx exports
// word_language_model's decoder), a tied decoder (MatMul by the transposed embedding), Relu/Tanh between
// layers, a final Softmax — become the canonical model, so `trace --text` / Open model run the export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { importModel } from '../../src/core/formats/model';
import { describeModel } from '../../src/core/model';
import { loadModelFile } from '../../src/node/loadModelFile';
import { openModel } from '../../src/node/openModel';
import { type PbField, onnxTensor, pb } from './fuzz-corpus';

const V = 5;
const E = 2;
const H = 1;
const seq = (n: number, k: number): number[] => Array.from({ length: n }, (_, i) => Math.round(((i * 7 + k) % 11) - 5) / 10);

const node = (op: string, name: string, inputs: string[], outputs: string[], attrs: Uint8Array[] = []): Uint8Array =>
  pb([...inputs.map((i): PbField => [1, i]), ...outputs.map((o): PbField => [2, o]), [3, name], [4, op], ...attrs.map((a): PbField => [5, a])]);
const intAttr = (name: string, v: number): Uint8Array => pb([[1, name], [3, v], [20, 2]]);

/** Embedding → LSTM → Squeeze → `head` nodes; initializers for all of them. */
function lmGraph(head: Uint8Array[], extra: Uint8Array[] = [], withEmbedding = true): Uint8Array {
  const nodes = [
    ...(withEmbedding ? [node('Gather', '/encoder/Gather', ['encoder.weight', 'tokens'], ['emb'])] : []),
    node('LSTM', '/rnn/LSTM', [withEmbedding ? 'emb' : 'tokens', 'W', 'R', 'B'], ['Y'], [intAttr('hidden_size', H)]),
    node('Squeeze', '/rnn/Squeeze', ['Y', 'axes'], ['Ys']),
    ...head,
  ];
  const inits = [
    ...(withEmbedding ? [onnxTensor('encoder.weight', [V, E], seq(V * E, 1))] : []),
    onnxTensor('W', [1, 4 * H, E], seq(4 * H * E, 2)), onnxTensor('R', [1, 4 * H, H], seq(4 * H * H, 3)), onnxTensor('B', [1, 8 * H], seq(8 * H, 4)),
    pb([[1, 1], [2, 7], [8, 'axes'], [9, new Uint8Array(8).fill(0).map((_, i) => (i === 0 ? 1 : 0))]]),
    ...extra,
  ];
  const graph = pb([...nodes.map((n): PbField => [1, n]), ...inits.map((t): PbField => [5, t]), [2, 'g']]);
  return pb([[1, 7], [7, graph]]);
}

const import_ = (bytes: Uint8Array) => importModel(bytes, 'lm.onnx');

test('MatMul + Add after the LSTM (a 3-D nn.Linear) is the head, the Gather table the embedding', async () => {
  const Wt = seq(H * V, 5); // [in=H, out=V], as MatMul stores x @ W
  const m = await import_(lmGraph([
    node('MatMul', '/decoder/MatMul', ['Ys', 'Wdec'], ['mm']),
    node('Add', '/decoder/Add', ['decoder.bias', 'mm'], ['logits']),
  ], [onnxTensor('Wdec', [H, V], Wt), onnxTensor('decoder.bias', [V], seq(V, 6))]));
  assert.ok(m.model, m.source.modelProblem ?? 'no model');
  assert.equal(describeModel(m.model!), `Embedding(${V}→${E}) → LSTM 1×${H} → per_step → Linear(${H}→${V})`);
  const w = m.params.get('head.weight')!;
  assert.deepEqual(w.shape, [V, H]);
  for (let o = 0; o < V; o++) for (let i = 0; i < H; i++) assert.equal(w.data[o * H + i], Math.fround(Wt[i * V + o]), 'transposed to [out, in]');
  assert.deepEqual([...m.params.get('head.bias')!.data], seq(V, 6).map(Math.fround));
  assert.deepEqual([...m.params.get('embedding.weight')!.data], seq(V * E, 1).map(Math.fround));
  assert.ok(m.source.notes.some((n) => /head decoder from the graph/.test(n)), m.source.notes.join('; '));
});

test('Gemm (transB, alpha, beta), Relu between two layers and a final Softmax; a tied decoder through Transpose', async () => {
  const m = await import_(lmGraph([
    node('Gemm', '/fc1/Gemm', ['Ys', 'fc1.weight', 'fc1.bias'], ['a'], [intAttr('transB', 1), pb([[1, 'alpha'], [2, { f32: 2 }], [20, 1]])]),
    node('Relu', '/act/Relu', ['a'], ['r']),
    node('Gemm', '/fc2/Gemm', ['r', 'fc2.weight', 'fc2.bias'], ['b'], [intAttr('transB', 1)]),
    node('Softmax', '/out/Softmax', ['b'], ['p']),
  ], [onnxTensor('fc1.weight', [3, H], [1, 2, 3]), onnxTensor('fc1.bias', [3], [0, 0.5, 1]), onnxTensor('fc2.weight', [V, 3], seq(3 * V, 7)), onnxTensor('fc2.bias', [V], seq(V, 8))]));
  assert.ok(m.model, m.source.modelProblem ?? 'no model');
  assert.equal(describeModel(m.model!), `Embedding(${V}→${E}) → LSTM 1×${H} → per_step → Linear(${H}→3)-ReLU-Linear(3→${V})`);
  assert.deepEqual([...m.params.get('head.0.weight')!.data], [2, 4, 6], 'alpha folded into the weight');

  // A tied decoder: MatMul by the transpose of a stored [V, H] table (the embedding, when E = H).
  const tied = await import_(lmGraph([
    node('Transpose', '/decoder/Transpose', ['table'], ['tableT']),
    node('MatMul', '/decoder/MatMul', ['Ys', 'tableT'], ['mm']),
    node('Add', '/decoder/Add', ['mm', 'decoder.bias'], ['logits']),
  ], [onnxTensor('table', [V, H], seq(V * H, 10)), onnxTensor('decoder.bias', [V], seq(V, 9))]));
  assert.ok(tied.model, tied.source.modelProblem ?? 'no model');
  assert.deepEqual([...tied.params.get('head.weight')!.data], seq(V * H, 10).map(Math.fround), 'the table itself is [out, in]');
});

test('a stack with nothing recognisable after it stays the bare stack (with the reason)', async () => {
  const m = await import_(lmGraph([node('Sigmoid', '/odd/Sigmoid', ['Ys'], ['s'])], [], false));
  assert.equal(m.model, undefined);
  assert.match(m.source.modelProblem ?? '', /no output layer/);
});

test('the word_language_model-style ONNX export opens as a whole model and runs like its state_dict', async () => {
  const DIFF = resolve(__dirname, '../fixtures/diff');
  const tmp = mkdtempSync(join(tmpdir(), 'gatescope-onnx-lm-'));
  try {
    const vocab = join(tmp, 'vocab.json');
    writeFileSync(vocab, JSON.stringify(Array.from({ length: 12 }, (_, i) => `w${i}`)));
    const onnx = await openModel(join(DIFF, 'lm_lstm.onnx'), { vocabulary: { file: vocab } });
    const pt = await openModel(join(DIFF, 'lm_lstm.pt'), { vocabulary: { file: vocab } });
    assert.equal(describeModel(onnx.model.config), describeModel(pt.model.config));
    for (const [k, t] of pt.model.params) assert.deepEqual([...onnx.model.params.get(k)!.data], [...t.data], k);
    const bare = await loadModelFile(join(DIFF, 'gru_bi.onnx'));
    assert.equal(bare.model, undefined, 'a bare GRU export stays a bare stack');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
