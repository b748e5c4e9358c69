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

test('a version-1 file (written before the general model: rnn config + vocabSize/outputSize) still loads as the char model', () => {
  const meta = {
    formatVersion: 1, gatescopeVersion: '0.1.0', vocabSize: cfg.vocabSize, outputSize: cfg.outputSize, vocab, tokenizer: 'char', engine: 'wasm-simd',
    config: { module: 'LSTM', input_size: cfg.vocabSize, hidden_size: 4, num_layers: 2, bidirectional: false, batch_first: false, bias: true, nonlinearity: null, dtype: 'float32' },
  };
  const ck = parseCheckpoint(serializeSafetensors(params, { format: 'pt', gatescope: JSON.stringify(meta) }), 'old.safetensors');
  assert.equal(ck.config.embedding, null);
  assert.equal(ck.config.readout, 'per_step');
  assert.equal(ck.config.headSequential, false);
  assert.deepEqual(ck.config.rnn, cfg.rnn);
  assert.deepEqual(ck.config, cfg);
  // Saved again, it is a version-2 file with the same tensors.
  const again = parseCheckpoint(serializeCheckpoint(ck));
  assert.deepEqual(again.config, cfg);
});

test('a classifier round-trips with its model description and class names; bad metadata is refused', () => {
  const words = buildVocabulary('good bad fine awful great\n', 'word');
  const c = modelConfigFor(words, { embeddingDim: 3, bidirectional: true, hiddenSize: 4, readout: 'max', head: '5,relu,dropout0.1' }, 3);
  const p = initialWeights(c, 2);
  const bytes = serializeCheckpoint({ config: c, vocab: words, params: p, engine: 'reference', labels: ['neg', 'neutral', 'pos'] });
  const names = [...parseSafetensors(bytes).tensors.keys()];
  assert.deepEqual(names.slice(0, 2), ['embedding.weight', 'rnn.weight_ih_l0']);
  assert.deepEqual(names.slice(-4), ['head.0.weight', 'head.0.bias', 'head.3.weight', 'head.3.bias']);
  const ck = parseCheckpoint(bytes);
  assert.deepEqual(ck.config, c);
  assert.deepEqual(ck.labels, ['neg', 'neutral', 'pos']);
  const bad = (edit: (m: Record<string, any>) => void): Uint8Array => {
    const file = parseSafetensors(bytes);
    const m = JSON.parse(file.metadata.gatescope);
    edit(m);
    return serializeSafetensors(file.tensors, { format: 'pt', gatescope: JSON.stringify(m) });
  };
  assert.throws(() => parseCheckpoint(bad((m) => { m.labels = ['a']; }), 'c.safetensors'), /c\.safetensors: labels must be 3 class names/);
  assert.throws(() => parseCheckpoint(bad((m) => { m.model.rnn.num_layers = 1e8; }), 'c.safetensors'), /c\.safetensors: num_layers must be/);
  assert.throws(() => parseCheckpoint(bad((m) => { m.model.head[0].type = 'Conv1d'; }), 'c.safetensors'), /unknown layer type "Conv1d"/);
  assert.throws(() => parseCheckpoint(bad((m) => { m.formatVersion = 3; }), 'c.safetensors'), /version 3 is not supported/);
});

test('hostile training state is refused before a --resume can use it', () => {
  const trained = (training: Record<string, unknown>, extra: Partial<Parameters<typeof serializeCheckpoint>[0]> = {}): Uint8Array => serializeCheckpoint({
    config: cfg, vocab, params, engine: 'reference', ...extra,
    training: {
      settings: { seqLen: 8, batchSize: 2, steps: 10, optimizer: { kind: 'adam', lr: 0.01 }, clip: 5, validationFraction: 0.1, evalEvery: 5, evalBatches: 0, shuffle: false, seed: 1, sampleEvery: 0, sampleLength: 10 },
      step: 3, window: 3, epoch: 0, rngState: [1, 2, 3, 4], lossHistory: [], validationHistory: [], elapsedSeconds: 1, data: { sources: [], tokens: 100 },
      ...training,
    } as never,
  });
  assert.equal(parseCheckpoint(trained({})).training!.step, 3);
  assert.throws(() => parseCheckpoint(trained({ window: -1 }), 'h.safetensors'), /h\.safetensors: training state: window must be an integer/);
  const nanLr = JSON.parse(JSON.stringify({ seqLen: 8, batchSize: 2, steps: 10, optimizer: { kind: 'adam', lr: null }, clip: 5, validationFraction: 0.1, evalEvery: 5, evalBatches: 0, shuffle: false, seed: 1, sampleEvery: 0, sampleLength: 10 }));
  assert.throws(() => parseCheckpoint(trained({ settings: nanLr })), /settings\.optimizer\.lr must be a finite number/);
  assert.throws(() => parseCheckpoint(trained({ rngState: [1, 2] })), /rngState must be four 32-bit integers/);
  const badBuffer = new Map([['head.bias.exp_avg', { dtype: 'float32' as const, shape: [3], data: new Float32Array(3) }]]);
  assert.throws(() => parseCheckpoint(trained({}, { optimizer: badBuffer })), /optimizer buffer head\.bias\.exp_avg has shape \[3\], expected \[\d+\]/);
  const badState = new Map([['h', { dtype: 'float32' as const, shape: [2, 5, 4], data: new Float32Array(40) }]]);
  assert.throws(() => parseCheckpoint(trained({}, { carried: badState })), /carried state h has shape \[2, 5, 4\], expected \[2, 5, 4\] with 1\.\.2 streams/);
  const mismatched = new Map([['h', { dtype: 'float32' as const, shape: [2, 1, 4], data: new Float32Array(8) }], ['c', { dtype: 'float32' as const, shape: [2, 2, 4], data: new Float32Array(16) }]]);
  assert.throws(() => parseCheckpoint(trained({}, { carried: mismatched })), /carried state c has shape \[2, 2, 4\], expected \[2, 1, 4\]/);
  const fewerStreams = new Map([['h', { dtype: 'float32' as const, shape: [2, 1, 4], data: new Float32Array(8) }]]);
  assert.equal(parseCheckpoint(trained({}, { carried: fewerStreams })).carried!.get('h')!.shape[1], 1, 'a small text carries fewer streams');
});
