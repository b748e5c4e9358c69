import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVocabulary } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { chooseToken, referenceScorer, sampleText } from '../../src/core/sample';
import { rnnConfig } from '../../src/core/config';
import { modelConfig } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { fastNextTokenScorer, sampleFast } from '../../src/engines';
import { createRng } from '../../src/core/random';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';

const vocab = buildVocabulary('ROMEO: hello, world!\n', 'char');
const cfg = modelConfigFor(vocab, { hiddenSize: 8, dtype: 'float64' });
const params = initialWeights(cfg, 3);

test('the same seed gives the same sample; a different seed a different one', () => {
  const a = sampleText(cfg, params, vocab, { prime: 'ROMEO:', length: 40, temperature: 1, seed: 5 });
  const b = sampleText(cfg, params, vocab, { prime: 'ROMEO:', length: 40, temperature: 1, seed: 5 });
  const c = sampleText(cfg, params, vocab, { prime: 'ROMEO:', length: 40, temperature: 1, seed: 6 });
  assert.equal(a.generated, b.generated);
  assert.notEqual(a.generated, c.generated);
  assert.equal(Array.from(a.generated).length, 40);
});

test('stepping one token at a time equals one pass over the whole sequence', () => {
  const w = splitLmParameters(cfg, params);
  const ids = [1, 4, 2, 7, 3];
  const whole = lmForward(cfg, w, ids, ids.length, 1);
  let r = lmForward(cfg, w, [ids[0]], 1, 1);
  for (let t = 1; t < ids.length; t++) r = lmForward(cfg, w, [ids[t]], 1, 1, r.state);
  const V = cfg.outputSize;
  assert.deepEqual([...r.logits], [...whole.logits.subarray((ids.length - 1) * V)]);
});

test('greedy picks the argmax, top-k never leaves the k best, temperature must be >= 0', () => {
  const logits = [0.1, 3, 2.9, -1];
  const rng = createRng(1);
  assert.equal(chooseToken(logits, rng, 0), 1);
  for (let i = 0; i < 200; i++) assert.ok([1, 2].includes(chooseToken(logits, rng, 5, 2)));
  assert.throws(() => sampleText(cfg, params, vocab, { length: 1, temperature: -1 }), /temperature/);
  const g1 = sampleText(cfg, params, vocab, { prime: 'he', length: 10, temperature: 0, seed: 1 });
  const g2 = sampleText(cfg, params, vocab, { prime: 'he', length: 10, temperature: 0, seed: 2 });
  assert.equal(g1.generated, g2.generated);
});

test('sampling on the fast kernels: the reference\'s scores at float32 precision, prime then token by token; float64 and bidirectional models stay on the reference', () => {
  const V = vocab.kind === 'char' ? vocab.chars.length : 0;
  for (const [module, embedding] of [['GRU', 6], ['LSTM', 0], ['RNN', 5]] as const) {
    const config = modelConfig({ rnn: rnnConfig({ module, inputSize: embedding || V, hiddenSize: 12, numLayers: 2 }), vocabSize: V,
      embedding: embedding ? { numEmbeddings: V, embeddingDim: embedding, paddingIdx: null } : null, outputSize: V });
    const p = initModelParameters(config, createRng(2));
    const reference = referenceScorer(config, p), fast = fastNextTokenScorer(config, p)!;
    for (const ids of [[1, 4, 2, 7, 3], [5], [0], [2, 2], [6]]) {
      const a = reference.next(Int32Array.from(ids)), b = fast.next(Int32Array.from(ids));
      assert.equal(b.length, V);
      for (let i = 0; i < V; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${module} after ${ids}: ${a[i]} vs ${b[i]}`);
    }
    fast.dispose!();
    const greedy = { prime: 'RO', length: 12, temperature: 0 };
    assert.equal(sampleFast(config, p, vocab, greedy).generated, sampleText(config, p, vocab, greedy).generated, module);
  }
  assert.equal(fastNextTokenScorer(cfg, params), undefined, 'float64');
  const bi = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: 4, bidirectional: true }), vocabSize: V, outputSize: V });
  assert.equal(fastNextTokenScorer(bi, initModelParameters(bi, createRng(1))), undefined, 'bidirectional');
});
