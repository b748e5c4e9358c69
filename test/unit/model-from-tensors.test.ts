// State dicts as real programs name them become the canonical model by names and shapes; what the weights
// do not record is asked for by option, never guessed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import { modelConfig, parseHeadSpec } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { ModelAmbiguityError, modelFromTensors } from '../../src/core/modelFromTensors';
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
