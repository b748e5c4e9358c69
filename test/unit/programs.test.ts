// Models written by real public programs (test/fixtures/programs, made by scripts/fixtures/make_all.sh
// running each program's own code): opened from the very file each program writes — a whole pickled module
// (torch.save(model)), min-char-rnn's npz with its own `chars`, recurrentjs' saveModel() JSON, a TensorFlow.js
// layers model — and traced over their probe text, gatescope reproduces the program's hidden states of every
// layer and its next-token probabilities, and greedy sampling its continuation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { type OpenModelOptions, openModel } from '../../src/node/openModel';
import { createDocumentTrace, encodeDocument } from '../../src/worker/documentTrace';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { sampleText } from '../../src/core/sample';
import type { FloatArray, TensorMap } from '../../src/core/tensor';
import { traceDocument } from '../../src/cli/traceDocument';
import { run as sample } from '../../src/cli/sample';
import type { CommandOutput } from '../../src/cli/train';

const root = resolve(__dirname, '../fixtures/programs');

/** max |a − b| / max |b|: float32 programs are exact to their own rounding only at the tensor's scale. */
function scaledError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}

/** Row-wise softmax in float64 (the float64 programs' probabilities are exact to 1e-12). */
function softmax(logits: ArrayLike<number>, C: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length / C; r++) {
    let max = -Infinity, sum = 0;
    for (let k = 0; k < C; k++) max = Math.max(max, logits[r * C + k]);
    for (let k = 0; k < C; k++) sum += (out[r * C + k] = Math.exp(logits[r * C + k] - max));
    for (let k = 0; k < C; k++) out[r * C + k] /= sum;
  }
  return out;
}

/** Rows [T, H] of `ours` cut to the program's [T, h] (recurrentjs layers narrower than the widest are padded); the rest must be 0. */
function firstColumns(ours: FloatArray, T: number, H: number, h: number): Float64Array {
  const out = new Float64Array(T * h);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < H; j++) {
      if (j < h) out[t * h + j] = ours[t * H + j];
      else assert.equal(ours[t * H + j], 0, `padded unit ${j} at step ${t} stays 0`);
    }
  }
  return out;
}

interface Case {
  readonly dir: string;
  readonly file: string;
  readonly options: (dir: string) => OpenModelOptions;
  /** float32 programs: 1e-5 of each tensor's scale; float64 programs: 1e-12. */
  readonly tol: number;
  /** What the program feeds first (recurrentjs: its START token, id 0, read as a line break). */
  readonly before?: string;
}

const vocabFile = (d: string): OpenModelOptions => ({ vocabulary: { file: join(d, 'vocab.json') } });
const cases: Case[] = [
  // Whole pickled modules: the module types give the model (an nn.RNN's mode included); the vocabulary is
  // the program's (word_language_model saves none; char-rnn.pytorch's is string.printable).
  ...['wlm_lstm', 'wlm_gru_tied', 'wlm_rnn_tanh'].map((dir): Case => ({ dir, file: 'model.pt', tol: 1e-5, options: vocabFile })),
  ...['char_rnn_gru', 'char_rnn_lstm'].map((dir): Case => ({ dir, file: 'model.pt', tol: 1e-5, options: () => ({ vocabulary: { rule: 'printable' } }) })),
  // Their state_dicts: an Elman RNN's nonlinearity is not in the weights.
  ...['wlm_lstm', 'wlm_gru_tied', 'wlm_rnn_tanh'].map((dir): Case => ({
    dir, file: 'state_dict.pt', tol: 1e-5,
    options: (d) => ({ ...vocabFile(d), hints: dir === 'wlm_rnn_tanh' ? { nonlinearity: 'tanh' } : {} }),
  })),
  ...['char_rnn_gru', 'char_rnn_lstm'].map((dir): Case => ({ dir, file: 'state_dict.pt', tol: 1e-5, options: () => ({ vocabulary: { rule: 'printable' } }) })),
  // Files that record their vocabulary: no flags at all.
  { dir: 'min_char_rnn', file: 'model.npz', tol: 1e-12, options: () => ({}) },
  { dir: 'recurrentjs_lstm', file: 'model.json', tol: 1e-12, options: () => ({}), before: '\n' },
  { dir: 'recurrentjs_rnn', file: 'model.json', tol: 1e-12, options: () => ({}), before: '\n' },
  // The tfjs example keeps its character set in memory only: vocab.json is it written out.
  { dir: 'tfjs_lstm_text_generation', file: 'model.json', tol: 1e-5, options: vocabFile },
];

const measured: string[] = [];

for (const c of cases) {
  test(`${c.dir}/${c.file}: states, next-token probabilities and the greedy continuation equal the program's`, async () => {
    const d = join(root, c.dir);
    const want = parseSafetensors(readFileSync(join(d, 'expected.safetensors'))).tensors;
    const { model } = await openModel(join(d, c.file), c.options(d));
    const probe = (c.before ?? '') + readFileSync(join(d, 'probe.txt'), 'utf8');
    const enc = encodeDocument(model.vocab, probe);
    assert.deepEqual(Array.from(enc.ids), Array.from(want.get('tokens')!.data as BigInt64Array, Number), 'token ids');
    const T = enc.ids.length, H = model.config.rnn.hiddenSize, V = model.config.vocabSize;
    assert.equal(model.config.rnn.dtype, want.get('probs')!.dtype === 'float64' ? 'float64' : 'float32', 'the program\'s dtype');
    const doc = createDocumentTrace({ ...model }, enc.ids, 16);
    for (const _ of doc.prepare()) { /* sweep */ }
    const w = doc.window(0, T);
    let worst = 0;
    for (let l = 0; l < model.config.rnn.numLayers; l++) {
      for (const s of model.config.rnn.module === 'LSTM' ? ['h', 'c'] : ['h']) {
        const expected = want.get(`${s}_l${l}`)!;
        const ours = w.tensors.get(`trace_l${l}_${s}`)!.data as FloatArray;
        assert.equal(ours.length, T * H);
        const err = scaledError(firstColumns(ours, T, H, expected.shape[1]), expected.data as FloatArray);
        worst = Math.max(worst, err);
        assert.ok(err <= c.tol, `${s}_l${l}: ${err}`);
      }
    }
    const probs = softmax(lmForward(model.config, splitLmParameters(model.config, model.params), enc.ids, T, 1).logits, V);
    const pErr = scaledError(probs, want.get('probs')!.data as FloatArray);
    assert.ok(pErr <= c.tol, `probs: ${pErr}`);
    const greedy = sampleText(model.config, model.params, model.vocab, { prime: probe, length: 20, temperature: 0 });
    assert.deepEqual(Array.from(greedy.ids), Array.from(want.get('greedy')!.data as BigInt64Array, Number), 'greedy continuation');
    doc.dispose();
    measured.push(`${c.dir}/${c.file}: states ${worst.toExponential(1)}, probs ${pErr.toExponential(1)}`);
  });
}

test('measured errors (scaled: max |a − b| / max |b| over every state tensor, and over the probabilities)', (t) => {
  for (const m of measured) t.diagnostic(m);
});

async function quietly(f: (io: CommandOutput) => Promise<number>): Promise<{ value: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const value = await f({ out: (s) => { stdout += s; }, err: (s) => { stderr += s; }, tty: false });
  return { value, stdout, stderr };
}

test('the CLI opens the programs\' own files: flags only for what the file does not record, and it says which', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'gatescope-programs-')), 'trace.safetensors');
  const p = (dir: string, f: string): string => join(root, dir, f);
  // torch.save(model) of word_language_model: the module tree gives everything but the vocabulary.
  const wlm = await quietly((io) => traceDocument([p('wlm_rnn_tanh', 'model.pt'), '--text', p('wlm_rnn_tanh', 'probe.txt'), '--out', out, '--vocab', p('wlm_rnn_tanh', 'vocab.json')], io));
  assert.equal(wlm.value, 0);
  assert.match(wlm.stderr, /RNN\(mode='RNN_TANH'\) from the pickled module: nonlinearity tanh/);
  const traced: TensorMap = parseSafetensors(readFileSync(out)).tensors;
  const want = parseSafetensors(readFileSync(p('wlm_rnn_tanh', 'expected.safetensors'))).tensors;
  assert.ok(scaledError(traced.get('trace_l1_h')!.data as Float32Array, want.get('h_l1')!.data as Float32Array) <= 1e-5);
  // A flag that contradicts the pickled module is refused.
  await assert.rejects(quietly((io) => traceDocument([p('wlm_rnn_tanh', 'model.pt'), '--text', p('wlm_rnn_tanh', 'probe.txt'), '--out', out, '--vocab', p('wlm_rnn_tanh', 'vocab.json'), '--nonlinearity', 'relu'], io)), /computes tanh, not the relu asked for/);
  // char-rnn.pytorch saves no vocabulary: the error asks for one, and names the program's rule for 100 tokens.
  await assert.rejects(quietly((io) => sample([p('char_rnn_gru', 'model.pt')], io)), /has no vocabulary: give --vocab FILE.*string\.printable.*--vocab-rule printable/);
  const s = await quietly((io) => sample([p('char_rnn_gru', 'model.pt'), '--vocab-rule', 'printable', '--prime', 'First Citizen:\nBefore we proceed any further, hear me speak.\n', '-n', '20', '--temperature', '0'], io));
  const greedy = Array.from(parseSafetensors(readFileSync(p('char_rnn_gru', 'expected.safetensors'))).tensors.get('greedy')!.data as BigInt64Array, Number);
  const printable = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c';
  assert.ok(s.stdout.endsWith(`${greedy.map((i) => printable[i]).join('')}\n`), s.stdout);
  // min-char-rnn's npz and recurrentjs' JSON carry their vocabulary: no flags.
  const mc = await quietly((io) => traceDocument([p('min_char_rnn', 'model.npz'), '--text', p('min_char_rnn', 'probe.txt'), '--out', out], io));
  assert.equal(mc.value, 0);
  assert.match(mc.stderr, /49 tokens from the file's "chars" array/);
  const rj = await quietly((io) => sample([p('recurrentjs_rnn', 'model.json'), '-n', '5', '--temperature', '0'], io));
  assert.equal(rj.value, 0);
  assert.match(rj.stderr, /RNN\(relu\)/);
  // tfjs: the recorded hard_sigmoid is used, and a flag contradicting it is refused.
  const tf = await quietly((io) => traceDocument([p('tfjs_lstm_text_generation', 'model.json'), '--text', p('tfjs_lstm_text_generation', 'probe.txt'), '--out', out, '--vocab', p('tfjs_lstm_text_generation', 'vocab.json')], io));
  assert.match(tf.stderr, /hard_sigmoid/);
  await assert.rejects(quietly((io) => traceDocument([p('tfjs_lstm_text_generation', 'model.json'), '--text', p('tfjs_lstm_text_generation', 'probe.txt'), '--out', out, '--vocab', p('tfjs_lstm_text_generation', 'vocab.json'), '--recurrent-activation', 'sigmoid'], io)), /records recurrent_activation hard_sigmoid, not the sigmoid asked for/);
});
