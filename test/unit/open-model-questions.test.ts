// What a file does not record comes back as a question the extension asks (a quick pick) and answers with
// the CLI flag it names: the questions (node/openModel.ts questionOf), the worker's model loading with
// the answers (worker/modelFiles.ts readModel), the one flag mapping (node/flagOptions.ts), and the model
// store's rule that weights without a vocabulary do not take over from a usable model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { OpenModelError, openModel, questionOf } from '../../src/node/openModel';
import { openOptionsFrom } from '../../src/node/flagOptions';
import { readModel } from '../../src/worker/modelFiles';
import { ModelStore, openedEntry } from '../../src/extension/services/modelStore';
import { answeredWords, questionPrompt } from '../../src/extension/logic/openAnswers';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';

const PROGRAMS = resolve(__dirname, '../fixtures/programs');
const MODELS = resolve(__dirname, '../fixtures/formats/models');
const DIFF = resolve(__dirname, '../fixtures/diff');

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

test('a model without its vocabulary asks --vocab; a fused layout asks --gate-order with the usual orders', async () => {
  const e = await rejection(openModel(join(PROGRAMS, 'char_rnn_lstm/model.pt')));
  assert.ok(e instanceof OpenModelError);
  const q = questionOf(e)!;
  assert.equal(q.flag, '--vocab');
  assert.match(q.message, /100 tokens is the size of Python's string\.printable/);

  const fused = await rejection(openModel(join(MODELS, 'scratch_lstm_fused_ifog.npz')));
  const g = questionOf(fused)!;
  assert.equal(g.flag, '--gate-order', String(fused));
  assert.deepEqual(g.choices, ['i,f,g,o', 'i,f,c,o', 'i,f,o,g']);

  // The quick pick's one-line placeholder: the question, not the path, the tensors or the CLI's flags.
  const path = join(PROGRAMS, 'char_rnn_lstm/model.pt');
  assert.equal(questionPrompt(q.message, path, 'model.pt'), 'the model takes 100 tokens and the file has no vocabulary');
  assert.match(questionPrompt(g.message, join(MODELS, 'scratch_lstm_fused_ifog.npz'), 'scratch_lstm_fused_ifog.npz'), /^[^;]*$/);
  assert.ok(!/--|Tensors found/.test(questionPrompt(g.message, '', '')), questionPrompt(g.message, '', ''));
  assert.equal(questionPrompt('m.pt: the head has 2 Linear layers (fc1 → fc2); the activations between them are not in the weights; give --head-activation relu|tanh|none (1 of them, comma-separated)', 'dir/m.pt', 'm.pt'),
    'the head has 2 Linear layers (fc1 → fc2); the activations between them are not in the weights');

  const corpus = await rejection(openModel(join(PROGRAMS, 'char_rnn_lstm/model.pt'), { vocabulary: { corpus: [join(PROGRAMS, 'char_rnn_lstm/probe.txt')] } }));
  assert.deepEqual(questionOf(corpus)?.choices, ['corpus', 'printable', 'sorted-chars', 'basic_english']);
  assert.equal(questionOf(new Error('disk full')), undefined, 'not every error is a question');
});

test('the worker opens with the answers: question first (weights alone for comparisons), then the model; or one side of a diff', async () => {
  const path = join(PROGRAMS, 'char_rnn_lstm/model.pt');
  const asked = await readModel(path);
  assert.equal(asked.question?.flag, '--vocab');
  assert.equal(asked.data, undefined);
  assert.equal(asked.imported?.config.module, 'LSTM', 'the weights load for comparisons while the question is open');
  const opened = await readModel(path, { answers: { 'vocab-rule': 'printable' } });
  assert.equal(opened.question, undefined);
  assert.equal(opened.data!.config.vocabSize, 100);
  assert.ok(opened.notes!.some((n) => /string\.printable/.test(n)), opened.notes!.join('; '));
  // A bare stack (no head): weights for comparisons, with the reason it does not run over text.
  const bare = await readModel(join(DIFF, 'gru_bi.pt'));
  assert.equal(bare.data, undefined);
  assert.equal(bare.imported?.config.module, 'GRU');
  assert.ok(bare.notes!.some((n) => /^not a model to run over text: .*no output layer/.test(n)), bare.notes!.join('; '));
  // A bad answer is the user's error, in one line naming the flag.
  await assert.rejects(readModel(path, { answers: { 'vocab-rule': 'alphabetical' } }), /--vocab-rule must be one of corpus, printable, sorted-chars, basic_english/);
  // One side of a comparison, read as `gatescope diff` reads it; a fused layout asks its gate order there too.
  const side = await readModel(join(DIFF, 'lm_lstm.onnx'), { compareAs: 'B' });
  assert.equal(side.comparable?.side, 'B');
  assert.ok(side.comparable!.tensors.has('head.weight'), 'the ONNX decoder is read');
  const fused = await readModel(join(MODELS, 'scratch_lstm_fused_ifog.npz'), { compareAs: 'A' });
  assert.equal(fused.question?.flag, '--gate-order');
  const answered = await readModel(join(MODELS, 'scratch_lstm_fused_ifog.npz'), { compareAs: 'A', answers: { 'gate-order': 'i,f,o,g' } });
  assert.equal(answered.comparable?.info.layout, 'scratch-fused');
});

test('flag values map to open options once for the CLI and the worker', () => {
  const o = openOptionsFrom({ vocab: 'v.json', 'gate-order': 'i,f,o,g', readout: 'mean', 'head-activation': 'relu,none' }, (m) => new RangeError(m));
  assert.deepEqual(o.vocabulary, { file: 'v.json' });
  assert.equal(o.layout?.gateOrder, 'i,f,o,g');
  assert.deepEqual(o.hints, { readout: 'mean', headActivations: ['relu', 'none'] });
  assert.throws(() => openOptionsFrom({ orientation: 'sideways' }, (m) => new RangeError(m)), /--orientation must be one of out-in, in-out/);
});

test('imported weights without a vocabulary do not take over from a usable model; a model that can be traced does', async () => {
  const vocab = buildCharVocab('hello world\n');
  const config = modelConfigFor(vocab, { module: 'LSTM', hiddenSize: 3, numLayers: 1 });
  const store = new ModelStore();
  store.add({ id: 'trained', label: 'trained', origin: 'trained', data: { config, params: initialWeights(config, 1), vocab } });
  const weights = await readModel(join(DIFF, 'gru_bi.pt'));
  store.add(openedEntry('/x/gru_bi.pt', 'gru_bi.pt', weights));
  assert.equal(store.current?.id, 'trained');
  assert.equal(store.models.length, 2);
  store.add(openedEntry('/x/gru_bi.pt', 'gru_bi.pt', weights), true);
  assert.equal(store.current?.id, '/x/gru_bi.pt', 'asked explicitly, it does');
  const empty = new ModelStore();
  empty.add(openedEntry('/x/gru_bi.pt', 'gru_bi.pt', weights));
  assert.equal(empty.current?.id, '/x/gru_bi.pt', 'with no usable model, weights are current');
  const opened = await readModel(join(PROGRAMS, 'char_rnn_lstm/model.pt'), { answers: { 'vocab-rule': 'printable' } });
  store.setCurrent('trained');
  store.add(openedEntry('/x/model.pt', 'model.pt', opened));
  assert.equal(store.current?.id, '/x/model.pt');
});

test('the save offer names what the answers settled, each once', () => {
  assert.equal(answeredWords(['vocab-from', 'vocab-rule']), 'its vocabulary');
  assert.equal(answeredWords(['gate-order', 'vocab', 'recurrent-activation']), 'its gate order, vocabulary and gate activation');
  assert.equal(answeredWords(['some-new-flag']), 'its some-new-flag');
});
