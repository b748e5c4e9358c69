// `gatescope train --data` trains a sequence classifier from the files users have: it reports accuracy,
// saves the class names in the model, resumes exactly, `trace` gives the text's prediction, `sample`
// explains that a classifier cannot be sampled, and bad input gets one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommandOutput, run as train } from '../../src/cli/train';
import { run as sample } from '../../src/cli/sample';
import { traceDocument } from '../../src/cli/traceDocument';
import { readModelFile } from '../../src/node/modelFile';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { describeModel } from '../../src/core/model';

const dir = mkdtempSync(join(tmpdir(), 'gatescope-cli-classify-'));
const topics: Record<string, string[]> = {
  sports: ['game', 'team', 'win', 'score', 'coach'],
  world: ['war', 'minister', 'election', 'border', 'treaty'],
  tech: ['software', 'chip', 'startup', 'phone', 'cloud'],
};
let seed = 1;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const rows: string[] = ['text,label'];
for (let i = 0; i < 240; i++) {
  const label = Object.keys(topics)[i % 3];
  const words = Array.from({ length: 4 + Math.floor(rand() * 20) }, () => (rand() < 0.5 ? topics[label][Math.floor(rand() * 5)] : 'the'));
  rows.push(`"${words.join(' ')}, really",${label}`);
}
const csv = join(dir, 'news.csv');
writeFileSync(csv, rows.join('\n') + '\n');
const small = ['--words', '--embedding', '6', '--hidden', '8', '--batch', '16', '--eval-every', '3', '--engine', 'reference', '--dtype', 'float64', '--lr', '0.02'];

async function quietly(f: (io: CommandOutput) => Promise<number>): Promise<{ value: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const value = await f({ out: (s) => { stdout += s; }, err: (s) => { stderr += s; }, tty: false });
  return { value, stdout, stderr };
}

test('train --data: a bidirectional embedding classifier with an MLP head, accuracy reported, classes saved', async () => {
  const out = join(dir, 'cls.safetensors');
  const r = await quietly((io) => train(['--data', csv, '--out', out, '--steps', '6', '--bidirectional', '--readout', 'mean', '--head', '5,relu,dropout0.1', ...small], io));
  assert.equal(r.value, 0);
  assert.match(r.stderr, /240 examples in 3 classes/);
  assert.match(r.stderr, /model: Embedding\(\d+→6\) → LSTM 1×8 bidirectional → mean → Linear\(16→5\)-ReLU-Dropout\(0\.1\)-Linear\(5→3\)/);
  assert.match(r.stderr, /val accuracy \d+\.\d+%/);
  const ck = readModelFile(out);
  assert.deepEqual(ck.labels, ['sports', 'tech', 'world']);
  assert.equal(ck.config.readout, 'mean');
  assert.equal(ck.config.embedding?.paddingIdx, 1, 'word level: <pad> is padding_idx');
  assert.ok(ck.training!.validationHistory.every((p) => p.accuracy !== undefined && p.accuracy >= 0 && p.accuracy <= 1));
  assert.equal(describeModel(ck.config).includes('bidirectional'), true);
});

test('train --data: N steps + --resume N steps == 2N steps exactly', async () => {
  const full = join(dir, 'full.safetensors'), half = join(dir, 'half.safetensors');
  const args = ['--data', csv, '--readout', 'last'];
  await quietly((io) => train([...args, '--out', full, '--steps', '8', ...small], io));
  await quietly((io) => train([...args, '--out', half, '--steps', '4', ...small], io));
  await quietly((io) => train([...args, '--out', half, '--steps', '4', '--resume', ...small], io));
  const a = readModelFile(full), b = readModelFile(half);
  assert.equal(b.training!.step, 8);
  for (const [name, t] of a.params) assert.deepEqual(b.params.get(name)!.data, t.data, name);
  assert.deepEqual(b.training!.lossHistory, a.training!.lossHistory);
});

test('a folder of class folders trains; trace gives the text\'s prediction; sample refuses a classifier', async () => {
  const root = join(dir, 'reviews');
  for (const [label, words] of [['neg', 'awful bad boring'], ['pos', 'great good lovely']] as const) {
    mkdirSync(join(root, label), { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(root, label, `${i}.txt`), `${words} ${'film '.repeat(i % 4)}`);
  }
  const out = join(dir, 'reviews.safetensors');
  const r = await quietly((io) => train(['--data', root, '--out', out, '--steps', '4', '--model', 'gru', ...small], io));
  assert.equal(r.value, 0, r.stderr);
  assert.deepEqual(readModelFile(out).labels, ['neg', 'pos']);
  const doc = join(dir, 'doc.txt');
  writeFileSync(doc, 'a great and lovely film');
  const traced = join(dir, 'trace.safetensors');
  const t = await quietly((io) => traceDocument([out, '--text', doc, '--out', traced], io));
  assert.equal(t.value, 0);
  assert.match(t.stdout, /prediction: (neg|pos) \d\.\d{3}, (neg|pos) \d\.\d{3}/);
  const file = parseSafetensors(readFileSync(traced));
  const probs = file.tensors.get('class_probs')!.data as Float32Array;
  assert.ok(Math.abs(probs[0] + probs[1] - 1) < 1e-6);
  assert.deepEqual(JSON.parse(file.metadata.labels), ['neg', 'pos']);
  assert.ok(file.tensors.has('top_ids'), 'last readout, one direction: per-step classes');
  // Two classes: two columns, both classes at every step, the last step's the prediction for the whole text.
  const stepIds = file.tensors.get('top_ids')!, stepProbs = file.tensors.get('top_probs')!.data as Float32Array;
  assert.deepEqual(stepIds.shape, [5, 2]);
  for (let t = 0; t < 5; t++) assert.deepEqual([...(stepIds.data as Int32Array).subarray(2 * t, 2 * t + 2)].sort(), [0, 1]);
  const lastTop = (stepIds.data as Int32Array)[8];
  assert.ok(Math.abs(stepProbs[8] - probs[lastTop]) < 1e-6);
  const offsets = file.tensors.get('offsets')!.data as Int32Array;
  assert.deepEqual(Array.from(offsets), [0, 2, 8, 12, 19, 23], 'word offsets');
  await assert.rejects(quietly((io) => sample([out], io)), /is a sequence classifier .*sampling needs a language model/);
});

test('bad classification input: one line naming the problem', async () => {
  const out = join(dir, 'never.safetensors');
  const one = join(dir, 'one.csv');
  writeFileSync(one, 'text,label\nhello there,a\ngood day,a\n');
  const cases: Array<[string[], RegExp]> = [
    [['--data', join(dir, 'missing.csv')], /missing\.csv/],
    [['--data', one], /only one class/],
    [['--data', csv, '--readout', 'per_step'], /a classifier reads out last, mean or max/],
    [['--text', csv, '--readout', 'max'], /is for a classifier: give --data/],
    [['--data', csv, '--text', csv], /not both/],
    [['--data', csv, '--head', '12,gelu'], /--head: head layer "gelu"/],
    [['--data', csv, '--text-column', 'body'], /body/],
    [['--data', csv, '--clip-value', 'x'], /--clip-value must be a number/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(quietly((io) => train([...args, '--out', out, '--steps', '1', '--engine', 'reference'], io)), message, args.join(' '));
  }
});
