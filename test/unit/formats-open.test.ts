// One loader for every command: the safetensors / pickle sniffing decides by the whole header, vocabularies
// saved with torch.save are read without running anything, `trace --weights` takes every format diff and
// convert take (what the file records wins over a config's default; a contradicting config is refused), a
// Keras config that leaves the recurrent activation out is asked about, and whole models survive convert.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readTensorFile, looksLikeSafetensors } from '../../src/core/formats';
import { parseSafetensors, serializeSafetensors } from '../../src/core/formats/safetensors';
import { parseVocabularyBytes } from '../../src/core/data/vocabFile';
import { importModel } from '../../src/core/formats/model';
import { exportModel, kerasH5 } from '../../src/core/formats/export';
import { writeHdf5 } from '../../src/core/formats/hdf5';
import { loadModelFile } from '../../src/node/loadModelFile';
import { openModel } from '../../src/node/openModel';
import { run as trace } from '../../src/cli/trace';
import { rnnConfig } from '../../src/core/config';
import { initRnnParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { GATES } from '../../src/core/config';
import { serializeNpz } from '../../src/core/formats/npz';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { type FloatTensor, type TensorMap, fromArray } from '../../src/core/tensor';
import { Pickle, ptZip } from './fuzz-corpus';

const tmp = mkdtempSync(join(tmpdir(), 'gatescope-open-'));
const programs = resolve(__dirname, '../fixtures/programs');
const enc = new TextEncoder();

test('a safetensors file whose header length ends in 0x80 (or 0x7b) is read as safetensors, not as a pickle (or JSON)', async () => {
  const tensors: TensorMap = new Map([['w', fromArray('float32', [2], [1, 2])]]);
  let hit: Uint8Array | undefined;
  for (let pad = 0; pad < 300 && !hit; pad++) {
    const bytes = serializeSafetensors(tensors, { note: 'x'.repeat(pad) });
    if (bytes[0] === 0x80) hit = bytes;
  }
  assert.ok(hit, 'a header of length 0x..80');
  assert.ok(looksLikeSafetensors(hit!));
  const f = readTensorFile(hit!, 'w.safetensors');
  assert.equal(f.format, 'safetensors');
  assert.deepEqual([...f.tensors.get('w')!.data], [1, 2]);
  // Nor as JSON when the low byte is '{' (0x7b): the model import and trace --weights sniff the same way.
  // (writers that do not pad the header to 8 bytes give any length)
  const header = (pad: number): string => JSON.stringify({
    weight_ih_l0: { dtype: 'F32', shape: [4, 2], data_offsets: [0, 32] }, weight_hh_l0: { dtype: 'F32', shape: [4, 4], data_offsets: [32, 96] },
    __metadata__: { note: 'y'.repeat(pad) },
  });
  let pad = 0;
  while (header(pad).length % 256 !== 0x7b) pad++;
  const json = enc.encode(header(pad));
  const brace = new Uint8Array(8 + json.length + 96);
  new DataView(brace.buffer).setBigUint64(0, BigInt(json.length), true);
  brace.set(json, 8);
  brace.set(new Uint8Array(new Float32Array(24).fill(0.25).buffer), 8 + json.length);
  assert.equal(brace[0], 0x7b);
  const imported = await importModel(brace, 'w.bin', { nonlinearity: 'tanh' });
  assert.equal(imported.config.module, 'RNN');
  // A header that is not a JSON object is not one, whatever its length says.
  const fake = new Uint8Array(hit!);
  fake[8 + Number(new DataView(fake.buffer).getBigUint64(0, true)) - 1] = 0x41;
  assert.ok(!looksLikeSafetensors(fake));
});

/** An unknown class rebuilt by NEWOBJ + BUILD with a dict state: `fill` writes the dict's items. */
const record = (p: Pickle, module: string, name: string, fill: (p: Pickle) => void): Pickle => {
  p.global(module, name).emptyTuple().op(0x81).emptyDict().mark();
  fill(p);
  return p.setitems().build();
};
const strings = (p: Pickle, xs: readonly string[]): Pickle => { p.emptyList().mark(); for (const x of xs) p.str(x); return p.appends(); };

test('torch.save\'d vocabularies (torchtext Vocab old and new, a Dictionary, a list) are read as data', () => {
  const decode = (b: Uint8Array): string => new TextDecoder().decode(b);
  // torchtext <= 0.9: Vocab with freqs (a Counter), itos, stoi.
  const old = record(new Pickle().proto(), 'torchtext.vocab', 'Vocab', (p) => {
    p.str('freqs').global('collections', 'Counter').emptyDict().mark().str('a').int(2).setitems().tuple(1).reduce();
    strings(p.str('itos'), ['<unk>', '<pad>', 'a']);
    p.str('unk_index').int(0).str('stoi').emptyDict().mark().str('<unk>').int(0).str('<pad>').int(1).str('a').int(2).setitems();
    p.str('vectors').none();
  }).stop().finish();
  assert.deepEqual(parseVocabularyBytes(ptZip(old, {}), 'vocab.pt', decode), ['<unk>', '<pad>', 'a']);
  // torchtext >= 0.12: an nn.Module holding the C++ vocabulary, whose pickled state is (version, ints, itos, tensors).
  const modern = record(new Pickle().proto(), 'torchtext.vocab.vocab', 'Vocab', (p) => {
    p.str('training').bool(false).str('_parameters').global('collections', 'OrderedDict').emptyTuple().reduce();
    p.str('_modules').global('collections', 'OrderedDict').emptyTuple().reduce();
    p.str('vocab').global('torchtext._torchtext', 'Vocab').emptyTuple().op(0x81);
    p.mark().str('0.12.0').emptyList().mark().int(0).appends();
    strings(p, ['<unk>', 'the', 'cat']).emptyList().tupleMarked().build();
  }).stop().finish();
  assert.deepEqual(parseVocabularyBytes(ptZip(modern, {}), 'vocab.pt', decode), ['<unk>', 'the', 'cat']);
  // word_language_model's data.Dictionary, and a plain list.
  const dict = record(new Pickle().proto(), 'data', 'Dictionary', (p) => {
    p.str('word2idx').emptyDict().mark().str('x').int(0).str('<eos>').int(1).setitems();
    strings(p.str('idx2word'), ['x', '<eos>']);
  }).stop().finish();
  assert.deepEqual(parseVocabularyBytes(ptZip(dict, {}), 'dict.pt', decode), ['x', '<eos>']);
  assert.deepEqual(parseVocabularyBytes(ptZip(strings(new Pickle().proto(), ['a', 'b']).stop().finish(), {}), 'l.pt', decode), ['a', 'b']);
  // Calling anything is still refused, and nothing runs.
  const canary = join(tmp, 'CANARY');
  const evil = new Pickle().proto().global('os', 'system').str(`touch ${canary}`).tuple(1).reduce().stop().finish();
  assert.throws(() => parseVocabularyBytes(ptZip(evil, {}), 'evil.pt', decode), /refusing to load global os\.system/);
  assert.ok(!existsSync(canary));
  assert.throws(() => parseVocabularyBytes(ptZip(new Pickle().proto().int(3).stop().finish(), {}), 'n.pt', decode), /no token list/);
});

test('openModel: --vocab vocab.pt with a word_language_model whole module', async () => {
  const words = JSON.parse(readFileSync(join(programs, 'wlm_lstm/vocab.json'), 'utf8')) as string[];
  const file = join(tmp, 'vocab.pt');
  writeFileSync(file, ptZip(record(new Pickle().proto(), 'torchtext.vocab', 'Vocab', (p) => { strings(p.str('itos'), words); }).stop().finish(), {}));
  const { model, notes } = await openModel(join(programs, 'wlm_lstm/model.pt'), { vocabulary: { file } });
  assert.equal(model.vocab.kind, 'word');
  assert.equal(model.config.vocabSize, 442);
  assert.ok(notes.some((n) => /442 tokens from .*vocab\.pt/.test(n)));
});

function oneHotInputs(ids: number[], V: number, path: string): void {
  const x = new Float32Array(ids.length * V);
  ids.forEach((id, t) => { x[t * V + id] = 1; });
  writeFileSync(path, serializeSafetensors(new Map([['x', { dtype: 'float32', shape: [ids.length, 1, V], data: x }]])));
}

test('trace --weights takes a TensorFlow.js model: the recorded hard_sigmoid is used, a contradicting config refused', async () => {
  const d = join(programs, 'tfjs_lstm_text_generation');
  const want = parseSafetensors(readFileSync(join(d, 'expected.safetensors'))).tensors;
  const inputs = join(tmp, 'tfjs_in.safetensors'), out = join(tmp, 'tfjs_out.safetensors');
  oneHotInputs(Array.from(want.get('tokens')!.data as BigInt64Array, Number), 46, inputs);
  const cfg = join(tmp, 'tfjs.json');
  writeFileSync(cfg, JSON.stringify({ module: 'LSTM', input_size: 46, hidden_size: 24, num_layers: 2 }));
  await trace(['--weights', join(d, 'model.json'), '--config', cfg, '--inputs', inputs, '--out', out]);
  const got = parseSafetensors(readFileSync(out)).tensors;
  for (const l of [0, 1]) {
    const a = got.get(`trace_l${l}_h`)!.data as Float32Array, b = want.get(`h_l${l}`)!.data as Float32Array;
    let e = 0;
    for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
    assert.ok(e < 1e-6, `h_l${l}: ${e} (a logistic sigmoid puts it off by 8.8e-2)`);
  }
  writeFileSync(cfg, JSON.stringify({ module: 'LSTM', input_size: 46, hidden_size: 24, num_layers: 2, recurrent_activation: 'sigmoid' }));
  await assert.rejects(trace(['--weights', join(d, 'model.json'), '--config', cfg, '--inputs', inputs, '--out', out]), /recurrent_activation "sigmoid" contradicts .*model\.json, which records hard_sigmoid/);
  writeFileSync(cfg, JSON.stringify({ module: 'LSTM', input_size: 46, hidden_size: 32, num_layers: 2 }));
  await assert.rejects(trace(['--weights', join(d, 'model.json'), '--config', cfg, '--inputs', inputs, '--out', out]), /hidden_size 32, but .*model\.json holds a LSTM with hidden_size 24/);
});

test('trace --weights takes whole pickled modules, recurrentjs JSON and from-scratch npz (asking what square arrays do not show)', async () => {
  const out = join(tmp, 'o.safetensors'), cfg = join(tmp, 'c.json'), inputs = join(tmp, 'x.safetensors');
  // wlm_rnn_tanh/model.pt: the pickled nn.RNN records tanh; a config saying relu is refused.
  writeFileSync(inputs, serializeSafetensors(new Map([['x', fromArray('float32', [3, 1, 16], Array.from({ length: 48 }, (_, i) => Math.sin(i)))]])));
  writeFileSync(cfg, JSON.stringify({ module: 'RNN', input_size: 16, hidden_size: 16, num_layers: 2, nonlinearity: 'relu' }));
  await assert.rejects(trace(['--weights', join(programs, 'wlm_rnn_tanh/model.pt'), '--config', cfg, '--inputs', inputs, '--out', out]), /nonlinearity "relu" contradicts .*model\.pt, which records tanh/);
  writeFileSync(cfg, JSON.stringify({ module: 'RNN', input_size: 16, hidden_size: 16, num_layers: 2 }));
  await trace(['--weights', join(programs, 'wlm_rnn_tanh/model.pt'), '--config', cfg, '--inputs', inputs, '--out', out]);
  // recurrentjs' rnn generator records relu; layer sizes 20 and 12 are padded to 20.
  writeFileSync(inputs, serializeSafetensors(new Map([['x', fromArray('float64', [3, 1, 5], Array.from({ length: 15 }, (_, i) => Math.cos(i)))]])));
  writeFileSync(cfg, JSON.stringify({ module: 'RNN', input_size: 5, hidden_size: 20, num_layers: 2, dtype: 'float64' }));
  await trace(['--weights', join(programs, 'recurrentjs_rnn/model.json'), '--config', cfg, '--inputs', inputs, '--out', out]);
  assert.ok(parseSafetensors(readFileSync(out)).tensors.has('trace_l1_h'));
  // Square W / U arrays in an npz: the flags are required, and then the trace is PyTorch's.
  const sq = rnnConfig({ module: 'LSTM', inputSize: 4, hiddenSize: 4, dtype: 'float64' });
  const p = initRnnParameters(sq, createRng(3));
  const arrays: TensorMap = new Map();
  GATES.LSTM.forEach((g, k) => {
    const rows = (n: string): FloatTensor => ({ dtype: 'float64', shape: n.startsWith('bias') ? [4] : [4, 4], data: (p.get(n)!.data as Float64Array).slice(k * (n.startsWith('bias') ? 4 : 16), (k + 1) * (n.startsWith('bias') ? 4 : 16)) });
    arrays.set(`U_${g}`, rows('weight_ih_l0')); // U = input, W = recurrent, W x
    arrays.set(`W_${g}`, rows('weight_hh_l0'));
    const b = rows('bias_ih_l0'), bh = rows('bias_hh_l0');
    arrays.set(`b_${g}`, { ...b, data: b.data.map((v, j) => v + bh.data[j]) });
  });
  const npz = join(tmp, 'square.npz');
  writeFileSync(npz, serializeNpz(arrays));
  writeFileSync(inputs, serializeSafetensors(new Map([['x', fromArray('float64', [3, 1, 4], Array.from({ length: 12 }, (_, i) => Math.sin(i * 0.3)))]])));
  writeFileSync(cfg, JSON.stringify({ module: 'LSTM', input_size: 4, hidden_size: 4, dtype: 'float64' }));
  await assert.rejects(trace(['--weights', npz, '--config', cfg, '--inputs', inputs, '--out', out]), /same shape \(input size = hidden size\).*--input-weight W\|U/);
  await assert.rejects(trace(['--weights', npz, '--config', cfg, '--inputs', inputs, '--out', out, '--input-weight', 'U']), /every weight is square.*--orientation out-in\|in-out/);
  await trace(['--weights', npz, '--config', cfg, '--inputs', inputs, '--out', out, '--input-weight', 'U', '--orientation', 'out-in']);
  const ref = join(tmp, 'ref.safetensors'), refOut = join(tmp, 'ref_out.safetensors');
  writeFileSync(ref, serializeSafetensors(p));
  await trace(['--weights', ref, '--config', cfg, '--inputs', inputs, '--out', refOut]);
  const a = parseSafetensors(readFileSync(out)).tensors.get('output')!.data as Float64Array;
  const b = parseSafetensors(readFileSync(refOut)).tensors.get('output')!.data as Float64Array;
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-14));
});

test('a Keras config without recurrent_activation is asked about (tfjs: its default, hard_sigmoid)', async () => {
  const m = await loadModelFile(resolve(__dirname, '../fixtures/formats/models/keras2_bigru_full.h5'));
  const spec = kerasH5(m);
  const config = JSON.parse(String(spec.attrs!.model_config)) as { config: { layers: { config: Record<string, unknown> & { layer?: { config: Record<string, unknown> } } }[] } };
  for (const l of config.config.layers) { delete l.config.recurrent_activation; if (l.config.layer) delete l.config.layer.config.recurrent_activation; }
  const bytes = await writeHdf5({ ...spec, attrs: { ...spec.attrs, model_config: JSON.stringify(config) } });
  await assert.rejects(importModel(bytes, 'full.h5'), /no recurrent_activation .*hard_sigmoid in TensorFlow\.js and Keras before 2\.4.*--recurrent-activation/);
  const given = await importModel(bytes, 'full.h5', { recurrentActivation: 'hard_sigmoid' });
  assert.equal(given.config.recurrentActivation, 'hard_sigmoid');
  const json = JSON.parse(readFileSync(resolve(__dirname, '../fixtures/formats/models/tfjs_lstm/model.json'), 'utf8'));
  delete json.modelTopology.config.layers[0].config.recurrent_activation;
  const shard = new Uint8Array(readFileSync(resolve(__dirname, '../fixtures/formats/models/tfjs_lstm/group1-shard1of1.bin')));
  const t = await importModel(enc.encode(JSON.stringify(json)), 'model.json', {}, () => shard);
  assert.equal(t.config.recurrentActivation, 'hard_sigmoid');
  assert.equal(t.source.recorded?.recurrentActivation, 'hard_sigmoid');
});

test('convert keeps a whole model: embedding, stack and head, in safetensors (with its description) and Keras .h5', async () => {
  const m = await loadModelFile(join(programs, 'wlm_lstm/model.pt'));
  assert.ok(m.model);
  const ids = [1, 5, 9, 2, 7];
  const logits = (cfg: NonNullable<typeof m.model>, params: TensorMap): Float32Array | Float64Array => lmForward(cfg, splitLmParameters(cfg, params), ids, ids.length, 1).logits;
  const want = logits(m.model!, m.params);
  for (const [format, name] of [['safetensors', 'x.safetensors'], ['keras-h5', 'x.h5']] as const) {
    const back = await importModel(await exportModel(m, format), name);
    assert.ok(back.model, `${format}: ${back.source.modelProblem}`);
    assert.deepEqual(back.model!.embedding, m.model!.embedding, format);
    const got = logits(back.model!, back.params);
    let e = 0;
    for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
    assert.ok(e < 1e-5, `${format}: logits differ by ${e}`);
  }
});
