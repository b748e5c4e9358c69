import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVocabulary } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { parseCheckpoint, serializeCheckpoint } from '../../src/core/checkpoint';
import { parseSafetensors, serializeSafetensors } from '../../src/core/formats/safetensors';

const vocab = buildVocabulary('hello world\n', 'char');
const cfg = modelConfigFor(vocab, { hiddenSize: 4, numLayers: 2 });
const params = initialWeights(cfg, 1);

test('a checkpoint is a safetensors file with PyTorch names first, extras under prefixes, metadata JSON', () => {
  const optimizer = new Map([['head.bias.exp_avg', { dtype: 'float32' as const, shape: [cfg.outputSize], data: new Float32Array(cfg.outputSize) }]]);
  const bytes = serializeCheckpoint({ config: cfg, vocab, params, optimizer, engine: 'reference' });
  const file = parseSafetensors(bytes);
  assert.deepEqual([...file.tensors.keys()], [
    'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0',
    'rnn.weight_ih_l1', 'rnn.weight_hh_l1', 'rnn.bias_ih_l1', 'rnn.bias_hh_l1',
    'head.weight', 'head.bias', 'optimizer.head.bias.exp_avg',
  ]);
  assert.equal(file.metadata.format, 'pt');
  const ck = parseCheckpoint(bytes);
  assert.deepEqual(ck.vocab, vocab);
  assert.deepEqual(ck.config, cfg);
  assert.equal(ck.engine, 'reference');
  assert.deepEqual([...ck.optimizer!.keys()], ['head.bias.exp_avg']);
  for (const [k, t] of params) assert.deepEqual(ck.params.get(k)!.data, t.data);
});

test('foreign or damaged files are refused with a message naming the file', () => {
  assert.throws(() => parseCheckpoint(serializeSafetensors(params), 'w.safetensors'), /w\.safetensors: not a gatescope model/);
  assert.throws(() => parseCheckpoint(new Uint8Array(3), 'x.bin'), /x\.bin: too short/);
  const missing = new Map(params);
  missing.delete('head.bias');
  const bytes = serializeCheckpoint({ config: cfg, vocab, params: missing, engine: 'reference' });
  assert.throws(() => parseCheckpoint(bytes, 'm.safetensors'), /m\.safetensors: missing tensor head\.bias/);
});
