// Models written by real public programs (test/fixtures/programs, made by scripts/fixtures/make_all.sh
// running each program's own code): traced over their probe text, gatescope reproduces the program's
// hidden states of every layer and its next-token probabilities, and greedy sampling its continuation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { type OpenModelOptions, openModel } from '../../src/node/openModel';
import { createDocumentTrace, encodeDocument } from '../../src/worker/documentTrace';
import { lmForward, softmaxRows, splitLmParameters } from '../../src/core/train/lmForward';
import { sampleText } from '../../src/core/sample';
import type { FloatArray } from '../../src/core/tensor';

const root = resolve(__dirname, '../fixtures/programs');

/** max |a − b| / max |b|: float32 programs are exact to their own rounding only at the tensor's scale. */
function scaledError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}

interface Case {
  readonly dir: string;
  readonly file: string;
  readonly options: (dir: string) => OpenModelOptions;
  readonly tol: number;
}

const cases: Case[] = [
  ...['wlm_lstm', 'wlm_gru_tied', 'wlm_rnn_tanh'].map((dir): Case => ({
    dir, file: 'state_dict.pt', tol: 1e-5,
    options: (d) => ({ vocabulary: { file: join(d, 'vocab.json') }, hints: dir === 'wlm_rnn_tanh' ? { nonlinearity: 'tanh' } : {} }),
  })),
  ...['char_rnn_gru', 'char_rnn_lstm'].map((dir): Case => ({ dir, file: 'state_dict.pt', tol: 1e-5, options: () => ({ vocabulary: { rule: 'printable' } }) })),
];

for (const c of cases) {
  test(`${c.dir}: states, next-token probabilities and the greedy continuation equal the program's`, () => {
    const d = join(root, c.dir);
    const want = parseSafetensors(readFileSync(join(d, 'expected.safetensors'))).tensors;
    const { model } = openModel(join(d, c.file), c.options(d));
    const probe = readFileSync(join(d, 'probe.txt'), 'utf8');
    const enc = encodeDocument(model.vocab, probe);
    assert.deepEqual(Array.from(enc.ids), Array.from(want.get('tokens')!.data as BigInt64Array, Number), 'token ids');
    const T = enc.ids.length, H = model.config.rnn.hiddenSize, V = model.config.vocabSize;
    const doc = createDocumentTrace({ ...model }, enc.ids, 16);
    for (const _ of doc.prepare()) { /* sweep */ }
    const w = doc.window(0, T);
    for (let l = 0; l < model.config.rnn.numLayers; l++) {
      for (const s of model.config.rnn.module === 'LSTM' ? ['h', 'c'] : ['h']) {
        const ours = w.tensors.get(`trace_l${l}_${s}`)!.data as FloatArray;
        const err = scaledError(ours, want.get(`${s}_l${l}`)!.data as Float32Array);
        assert.ok(err <= c.tol, `${s}_l${l}: ${err}`);
        assert.equal(ours.length, T * H);
      }
    }
    const probs = softmaxRows(lmForward(model.config, splitLmParameters(model.config, model.params), enc.ids, T, 1).logits, V);
    assert.ok(scaledError(probs, want.get('probs')!.data as Float32Array) <= c.tol, 'probs');
    const greedy = sampleText(model.config, model.params, model.vocab, { prime: probe, length: 20, temperature: 0 });
    assert.deepEqual(Array.from(greedy.ids), Array.from(want.get('greedy')!.data as BigInt64Array, Number), 'greedy continuation');
    doc.dispose();
  });
}
