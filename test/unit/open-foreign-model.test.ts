// `trace MODEL --text` and `sample` open state_dicts other programs wrote: names and shapes give the model,
// --vocab / --vocab-from give the tokens, and what the weights do not say is asked for by flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rnnConfig } from '../../src/core/config';
import { modelConfig } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { serializeSafetensors, parseSafetensors } from '../../src/core/formats/safetensors';
import { lmForward, splitLmParameters, softmaxRows } from '../../src/core/train/lmForward';
import { PYTHON_PRINTABLE, parseVocabularyText, vocabularyFromCorpus, vocabularyFromTokens } from '../../src/core/data/vocabFile';
import { splitWords } from '../../src/core/data/wordVocab';
import { encodeText } from '../../src/core/data/tokenizer';
import { traceDocument } from '../../src/cli/traceDocument';
import { run as sample } from '../../src/cli/sample';
import type { CommandOutput } from '../../src/cli/train';
import type { TensorMap } from '../../src/core/tensor';

const dir = mkdtempSync(join(tmpdir(), 'gatescope-open-'));
const corpus = 'the cat sat on the mat\nthe dog sat\n\na cat ran\n';

async function quietly(f: (io: CommandOutput) => Promise<number>): Promise<{ value: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const value = await f({ out: (s) => { stdout += s; }, err: (s) => { stderr += s; }, tty: false });
  return { value, stdout, stderr };
}

test("word_language_model's vocabulary: first appearance over the lines, <eos> at each line's end", () => {
  const v = vocabularyFromCorpus('corpus', [corpus]);
  assert.equal(v.kind, 'word');
  assert.deepEqual(v.kind === 'word' && v.words, ['the', 'cat', 'sat', 'on', 'mat', '<eos>', 'dog', 'a', 'ran']);
  const { tokens, offsets } = splitWords('whitespace_eos', corpus);
  assert.deepEqual(tokens.slice(0, 7), ['the', 'cat', 'sat', 'on', 'the', 'mat', '<eos>']);
  assert.equal(tokens.filter((t) => t === '<eos>').length, 4, 'the empty line too');
  assert.equal(corpus.slice(offsets[1], offsets[1] + 3), 'cat');
  assert.equal(corpus[offsets[6]], '\n', '<eos> sits on the line end');
  assert.equal(offsets[tokens.length], corpus.length);
  const printable = vocabularyFromCorpus('printable', []);
  assert.equal(printable.kind === 'char' ? printable.chars.join('') : '', PYTHON_PRINTABLE);
  assert.equal(PYTHON_PRINTABLE.length, 100);
});

test('vocabulary files: JSON lists, token → id maps, objects with idx2word / stoi, one token per line; bad ones named', () => {
  assert.deepEqual(parseVocabularyText('["a","b","c"]', 'v.json'), ['a', 'b', 'c']);
  assert.deepEqual(parseVocabularyText('{"b": 1, "a": 0}', 'v.json'), ['a', 'b']);
  assert.deepEqual(parseVocabularyText('{"idx2word": ["x", "<eos>"], "word2idx": {"x": 0, "<eos>": 1}}', 'v.json'), ['x', '<eos>']);
  assert.deepEqual(parseVocabularyText('hello\r\nworld\n', 'v.txt'), ['hello', 'world']);
  assert.throws(() => parseVocabularyText('{"a": 0, "b": 0}', 'v.json'), /v\.json: token "b" has id 0|id 0 is given to both "a" and "b"/);
  assert.throws(() => parseVocabularyText('["a", "a"]', 'v.json'), /"a" is both token 0 and 1/);
  assert.throws(() => parseVocabularyText('[1, 2]', 'v.json'), /token 0 is 1, not a string/);
  assert.equal(vocabularyFromTokens(['a', 'b']).kind, 'char');
  const w = vocabularyFromTokens(['<unk>', 'the', '<eos>']);
  assert.ok(w.kind === 'word' && w.tokenizer === 'whitespace_eos' && w.unkId === 0);
});

test('a word_language_model-style state_dict (encoder / rnn / decoder) traces and samples with --vocab-from', async () => {
  const vocab = vocabularyFromCorpus('corpus', [corpus]);
  const V = 9;
  const cfg = modelConfig({
    rnn: rnnConfig({ module: 'LSTM', inputSize: 6, hiddenSize: 5, numLayers: 2 }), vocabSize: V,
    embedding: { numEmbeddings: V, embeddingDim: 6, paddingIdx: null },
  });
  const params = initModelParameters(cfg, createRng(4));
  const sd: TensorMap = new Map([...params].map(([n, t]) => [n.replace(/^embedding\./, 'encoder.').replace(/^head\./, 'decoder.'), t]));
  const model = join(dir, 'wlm.safetensors'), train = join(dir, 'train.txt'), doc = join(dir, 'doc.txt'), out = join(dir, 'trace.safetensors');
  writeFileSync(model, serializeSafetensors(sd));
  writeFileSync(train, corpus);
  writeFileSync(doc, 'the cat sat\non the mat\n');
  await assert.rejects(quietly((io) => traceDocument([model, '--text', doc, '--out', out], io)), /has no vocabulary: give --vocab FILE, or --vocab-from CORPUS/);
  await assert.rejects(quietly((io) => traceDocument([model, '--text', doc, '--out', out, '--vocab-from', train], io)), /needs its rule: --vocab-rule/);
  const r = await quietly((io) => traceDocument([model, '--text', doc, '--out', out, '--vocab-from', train, '--vocab-rule', 'corpus'], io));
  assert.equal(r.value, 0);
  assert.match(r.stderr, /read encoder\.weight as embedding\.weight, .*decoder\.weight as head\.weight/);
  const file = parseSafetensors(readFileSync(out)).tensors;
  const ids = encodeText(vocab, 'the cat sat\non the mat\n');
  assert.deepEqual(Array.from(file.get('tokens')!.data as Int32Array), Array.from(ids));
  const ref = lmForward(cfg, splitLmParameters(cfg, params), ids, ids.length, 1, undefined, { trace: true });
  const h = file.get('trace_l1_h')!.data as Float32Array;
  for (let i = 0; i < h.length; i++) assert.ok(Math.abs(h[i] - (ref.trace!.get('trace_l1_h')!.data as Float32Array)[i]) < 1e-6);
  const probs = softmaxRows(ref.logits, V);
  const top = file.get('top_probs')!.data as Float32Array, topIds = file.get('top_ids')!.data as Int32Array;
  for (let t = 0; t < ids.length; t++) assert.ok(Math.abs(top[t * 5] - probs[t * V + topIds[t * 5]]) < 1e-6);
  const vocabFile = join(dir, 'vocab.json');
  writeFileSync(vocabFile, JSON.stringify(vocab.kind === 'word' ? vocab.words : []));
  const s = await quietly((io) => sample([model, '--vocab', vocabFile, '--prime', 'the cat', '-n', '5', '--temperature', '0'], io));
  assert.equal(s.value, 0);
  assert.match(s.stdout, /^the cat /);
  const wrong = join(dir, 'wrong.json');
  writeFileSync(wrong, '["a", "b"]');
  await assert.rejects(quietly((io) => sample([model, '--vocab', wrong], io)), /the vocabulary has 2 tokens but the model's embedding encoder takes 9/);
});

test("a trained model whose header is large (a long loss history) still opens as gatescope's own, with its vocabulary", async () => {
  const { buildCharVocab } = await import('../../src/core/data/charVocab');
  const { serializeCheckpoint } = await import('../../src/core/checkpoint');
  const { modelConfigFor, initialWeights } = await import('../../src/core/train/model');
  const { openModel } = await import('../../src/node/openModel');
  const vocab = buildCharVocab('abcdef\n');
  const cfg = modelConfigFor(vocab, { hiddenSize: 4 });
  const lossHistory = Array.from({ length: 6000 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) }));
  const file = join(dir, 'long.safetensors');
  writeFileSync(file, serializeCheckpoint({
    config: cfg, vocab, params: initialWeights(cfg, 1), engine: 'reference',
    training: {
      settings: { seqLen: 8, batchSize: 2, steps: 6000, optimizer: { kind: 'adam', lr: 0.01 }, clip: 5, validationFraction: 0.1, evalEvery: 5, evalBatches: 0, shuffle: false, seed: 1, sampleEvery: 0, sampleLength: 10 },
      step: 6000, window: 0, epoch: 3, rngState: [1, 2, 3, 4], lossHistory, validationHistory: [], elapsedSeconds: 1, data: { sources: [], tokens: 100 },
    },
  }));
  assert.ok(readFileSync(file).readUInt32LE(0) > 1 << 16, 'the header is over 64 KiB');
  const opened = await openModel(file);
  assert.deepEqual(opened.model.vocab, vocab);
  const s = await quietly((io) => sample([file, '-n', '5'], io));
  assert.equal(s.value, 0);
});
