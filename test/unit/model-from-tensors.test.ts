// State dicts as real programs name them become the canonical model by names and shapes; what the weights
// do not record is asked for by option, never guessed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import { modelConfig, parseHeadSpec } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { ModelAmbiguityError, hintsFromModules, mergeHints, modelFromTensors } from '../../src/core/modelFromTensors';
import type { TensorMap } from '../../src/core/tensor';

function rename(params: TensorMap, map: Record<string, string>): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, t] of params) {
    const hit = Object.keys(map).find((from) => name === from || name.startsWith(`${from}.`));
    out.set(hit ? map[hit] + name.slice(hit.length) : name, t);
  }
  return out;
}

const lm = modelConfig({
  rnn: rnnConfig({ module: 'LSTM', inputSize: 6, hiddenSize: 5, numLayers: 2 }), vocabSize: 11,
  embedding: { numEmbeddings: 11, embeddingDim: 6, paddingIdx: null },
});
const lmParams = initModelParameters(lm, createRng(1));

test("word_language_model's encoder / rnn / decoder is an embedding language model", () => {
  const sd = rename(lmParams, { embedding: 'encoder', head: 'decoder' });
  sd.set('drop.p_buffer', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
  const m = modelFromTensors(sd);
  assert.deepEqual(m.config, lm);
  assert.equal(m.renamed.get('embedding.weight'), 'encoder.weight');
  assert.equal(m.renamed.get('head.weight'), 'decoder.weight');
  assert.deepEqual(m.ignored, ['drop.p_buffer']);
  for (const [name, t] of lmParams) assert.equal(m.params.get(name), t);
});

test('tied weights (encoder and decoder the same [V, H] table) still read the right way round', () => {
  const tied = modelConfig({
    rnn: rnnConfig({ module: 'GRU', inputSize: 5, hiddenSize: 5 }), vocabSize: 11,
    embedding: { numEmbeddings: 11, embeddingDim: 5, paddingIdx: null },
  });
  const p = initModelParameters(tied, createRng(2));
  const sd = rename(p, { embedding: 'encoder', head: 'decoder' });
  const m = modelFromTensors(sd);
  assert.equal(m.config.rnn.module, 'GRU');
  assert.equal(m.renamed.get('embedding.weight'), 'encoder.weight');
  assert.equal(m.renamed.get('head.weight'), 'decoder.weight');
});

test('a classifier with fc1 / fc2 asks for its readout and the activation between, then builds the Sequential', () => {
  const cls = modelConfig({
    rnn: rnnConfig({ module: 'LSTM', inputSize: 4, hiddenSize: 3, bidirectional: true }), vocabSize: 9, readout: 'max',
    embedding: { numEmbeddings: 9, embeddingDim: 4, paddingIdx: null }, head: parseHeadSpec('7,relu', 6, 2),
  });
  const sd = rename(initModelParameters(cls, createRng(3)), { embedding: 'model.embed', rnn: 'model.lstm', 'head.0': 'fc1', 'head.2': 'fc2' });
  assert.throws(() => modelFromTensors(sd, {}, 'clf.pt'), (e: unknown) => e instanceof ModelAmbiguityError && /clf\.pt: the head predicts 2 classes .* give --readout/.test(e.message));
  assert.throws(() => modelFromTensors(sd, { readout: 'max' }), /2 Linear layers \(fc1 → fc2\).*--head-activation/);
  const m = modelFromTensors(sd, { readout: 'max', headActivations: ['relu'] });
  assert.deepEqual(m.config, cls);
  assert.equal(m.renamed.get('head.2.weight'), 'fc2.weight');
  assert.equal(m.renamed.get('rnn.weight_hh_l0_reverse'), 'model.lstm.weight_hh_l0_reverse');
});

test('one-hot input, an Elman RNN (nonlinearity asked), and a bare module without a head', () => {
  const onehot = modelConfig({ rnn: rnnConfig({ module: 'RNN', inputSize: 7, hiddenSize: 4, nonlinearity: 'relu' }), vocabSize: 7 });
  const sd = initModelParameters(onehot, createRng(4));
  assert.throws(() => modelFromTensors(sd), /nonlinearity .* give --nonlinearity tanh\|relu/);
  assert.deepEqual(modelFromTensors(sd, { nonlinearity: 'relu' }).config, onehot);
  const bare: TensorMap = new Map([...sd].filter(([n]) => n.startsWith('rnn.')));
  assert.throws(() => modelFromTensors(bare, { nonlinearity: 'relu' }), /no output layer/);
  assert.throws(() => modelFromTensors(sd, { nonlinearity: 'relu', vocabSize: 65 }), /the vocabulary has 65 tokens but the model's one-hot input takes 7/);
});

test('two recurrent stacks or two candidate embeddings are asked about', () => {
  const sd = rename(lmParams, { embedding: 'encoder', head: 'decoder' });
  for (const [name, t] of lmParams) if (name.startsWith('rnn.')) sd.set(`aux.${name}`, t);
  assert.throws(() => modelFromTensors(sd), /2 recurrent stacks .* give --rnn-prefix/);
  assert.equal(modelFromTensors(sd, { rnnPrefix: 'rnn' }).config.rnn.numLayers, 2);
  const two = rename(lmParams, { embedding: 'tok_table', head: 'decoder' });
  two.set('pos_table.weight', lmParams.get('embedding.weight')!);
  assert.throws(() => modelFromTensors(two), /2 tables could be the embedding \(tok_table, pos_table\).*--embedding-name/);
  assert.equal(modelFromTensors(two, { embeddingName: 'tok_table' }).renamed.get('embedding.weight'), 'tok_table.weight');
});

test("gatescope's own names come back as they were", () => {
  const cls = modelConfig({
    rnn: rnnConfig({ module: 'GRU', inputSize: 4, hiddenSize: 3, numLayers: 2, bias: false }), vocabSize: 9, readout: 'last',
    embedding: { numEmbeddings: 9, embeddingDim: 4, paddingIdx: null }, head: parseHeadSpec('5,tanh', 3, 4),
  });
  const m = modelFromTensors(initModelParameters(cls, createRng(5)), { readout: 'last', headActivations: ['tanh'] });
  assert.deepEqual(m.config, cls);
  assert.deepEqual([...m.renamed].filter(([a, b]) => a !== b), []);
});

test('a pickled module tree gives what the weights do not: the RNN mode, the Sequential head\'s activations, padding_idx', () => {
  const info = (path: string, kind: string, attributes: Record<string, unknown> = {}, children: string[] = []) => ({ path, kind, attributes: new Map(Object.entries(attributes)), children });
  const tree = [
    info('', 'Classifier', {}, ['embed', 'rnn', 'head']),
    info('embed', 'Embedding', { num_embeddings: 9, embedding_dim: 4, padding_idx: 0, max_norm: null }),
    info('rnn', 'RNN', { mode: 'RNN_RELU', hidden_size: 3, dropout: 0.1, proj_size: 0 }),
    info('head', 'Sequential', {}, ['0', '1', '2', '3']),
    info('head.0', 'Linear'), info('head.1', 'Tanh'), info('head.2', 'Dropout', { p: 0.5 }), info('head.3', 'Linear'),
  ];
  const { hints, problem } = hintsFromModules(tree, 'm.pt');
  assert.equal(problem, undefined);
  assert.deepEqual({ ...hints }, { rnnPrefix: 'rnn.', nonlinearity: 'relu', rnnDropout: 0.1, embeddingName: 'embed', paddingIdx: 0, headActivations: ['tanh'] });
  const cls = modelConfig({
    rnn: rnnConfig({ module: 'RNN', inputSize: 4, hiddenSize: 3, nonlinearity: 'relu' }), vocabSize: 9, readout: 'last', rnnDropout: 0.1,
    embedding: { numEmbeddings: 9, embeddingDim: 4, paddingIdx: 0 }, head: parseHeadSpec('5,tanh', 3, 2),
  });
  const sd = rename(initModelParameters(cls, createRng(6)), { embedding: 'embed', 'head.2': 'head.3' });
  assert.deepEqual(modelFromTensors(sd, { ...hints, readout: 'last' }).config, cls);
  // A flag the tree contradicts is refused; one it agrees with is fine.
  assert.throws(() => mergeHints(hints, { nonlinearity: 'tanh' }, 'm.pt'), /m\.pt: the file's module tree gives nonlinearity "relu", not the "tanh" asked for/);
  assert.equal(mergeHints(hints, { rnnPrefix: 'rnn', readout: 'max' }).readout, 'max');
  // What the description cannot run is said, not dropped.
  const gelu = tree.map((m) => (m.path === 'head.1' ? info('head.1', 'GELU') : m));
  assert.match(hintsFromModules(gelu, 'm.pt').problem!, /GELU between its Linear layers/);
  const trailing = [...tree.slice(0, 4).map((m) => (m.path === 'head' ? info('head', 'Sequential', {}, ['0', '1']) : m)), info('head.0', 'Linear'), info('head.1', 'ReLU')];
  assert.match(hintsFromModules(trailing, 'm.pt').problem!, /ends with ReLU after its last Linear/);
  const maxNorm = tree.map((m) => (m.path === 'embed' ? info('embed', 'Embedding', { embedding_dim: 4, max_norm: 1 }) : m));
  assert.match(hintsFromModules(maxNorm, 'm.pt').problem!, /max_norm=1/);
  // Linear straight into Linear: 'none' between them.
  const noAct = modelFromTensors(sd, { ...hints, headActivations: ['none'], readout: 'last' });
  assert.deepEqual(noAct.config.head.map((l) => l.type), ['Linear', 'Linear']);
  assert.equal(noAct.renamed.get('head.1.weight'), 'head.3.weight');
});

test('an open question carries its flag and choices, for a quick pick', () => {
  const e = new ModelAmbiguityError('x', '--readout last|mean|max');
  assert.deepEqual(e.question, { flag: '--readout', choices: ['last', 'mean', 'max'] });
  assert.deepEqual(new ModelAmbiguityError('x', '--rnn-prefix').question, { flag: '--rnn-prefix' });
  assert.deepEqual(new ModelAmbiguityError('x', '--head-activation relu|tanh|none (2 of them, comma-separated)').question, { flag: '--head-activation', choices: ['relu', 'tanh', 'none'] });
});
