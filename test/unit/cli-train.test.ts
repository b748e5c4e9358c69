import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommandOutput, run as train } from '../../src/cli/train';
import { run as sample } from '../../src/cli/sample';
import { UsageError } from '../../src/cli/errors';
import { readModelFile } from '../../src/node/modelFile';

const dir = mkdtempSync(join(tmpdir(), 'gatescope-cli-train-'));
const textPath = join(dir, 'play.txt');
writeFileSync(textPath, 'ROMEO:\r\nBut soft, what light through yonder window breaks?\r\n'.repeat(20));
const small = ['--hidden', '8', '--seq', '8', '--batch', '4', '--eval-every', '3', '--engine', 'reference'];

/** Runs a command capturing what it prints. */
async function quietly(f: (io: CommandOutput) => Promise<number>): Promise<{ value: number; stdout: string }> {
  let stdout = '';
  const value = await f({ out: (s) => { stdout += s; }, err: () => undefined, tty: false });
  return { value, stdout };
}

test('train writes a model that samples reproducibly; CRLF never enters the vocabulary', async () => {
  const out = join(dir, 'm.safetensors');
  const { value } = await quietly((io) => train(['--text', textPath, '--out', out, '--steps', '6', ...small], io));
  assert.equal(value, 0);
  const ck = readModelFile(out);
  assert.equal(ck.training!.step, 6);
  assert.ok(ck.vocab.kind === 'char' && !ck.vocab.chars.includes('\r'));
  const a = await quietly((io) => sample([out, '--prime', 'ROMEO:', '-n', '30', '--seed', '4'], io));
  const b = await quietly((io) => sample([out, '--prime', 'ROMEO:', '-n', '30', '--seed', '4'], io));
  assert.equal(a.stdout, b.stdout);
  assert.ok(a.stdout.startsWith('ROMEO:'));
});

test('CLI: N steps + --resume N steps == 2N steps (reference engine, exact)', async () => {
  const full = join(dir, 'full.safetensors'), half = join(dir, 'half.safetensors');
  await quietly((io) => train(['--text', textPath, '--out', full, '--steps', '8', ...small], io));
  await quietly((io) => train(['--text', textPath, '--out', half, '--steps', '4', ...small], io));
  await quietly((io) => train(['--text', textPath, '--out', half, '--steps', '4', '--resume', ...small], io));
  const a = readModelFile(full), b = readModelFile(half);
  for (const [k, t] of a.params) assert.deepEqual(b.params.get(k)!.data, t.data, k);
  assert.deepEqual(a.training!.lossHistory, b.training!.lossHistory);
});

test('word-level training with --words', async () => {
  const out = join(dir, 'w.safetensors');
  await quietly((io) => train(['--text', textPath, '--out', out, '--steps', '2', '--words', '--hidden', '4', '--seq', '4', '--batch', '2', '--engine', 'reference'], io));
  const ck = readModelFile(out);
  assert.ok(ck.vocab.kind === 'word' && ck.vocab.words[0] === '<unk>' && ck.vocab.words.includes('romeo'));
});

test('bad inputs: one-line errors, nothing written or lost', async () => {
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  const binary = join(dir, 'blob.bin');
  writeFileSync(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
  const out = join(dir, 'never.safetensors');
  await assert.rejects(train(['--text', empty, '--out', out]), (e: Error) => e instanceof UsageError && /empty\.txt is empty/.test(e.message));
  await assert.rejects(train(['--text', binary, '--out', out]), (e: Error) => e instanceof UsageError && /blob\.bin binary: contains a NUL byte/.test(e.message));
  assert.equal(existsSync(out), false);
  await assert.rejects(train(['--text', textPath, '--out', join(dir, 'no/such/dir/m.safetensors'), ...small]), /cannot write/);
  const locked = join(dir, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o500);
  if (process.getuid?.() !== 0) await assert.rejects(train(['--text', textPath, '--out', join(locked, 'm.safetensors'), ...small]), /cannot write/);
  await assert.rejects(train(['--text', textPath, '--out', out, '--model', 'transformer']), /--model must be lstm, gru, rnn or rnn-relu/);
  await assert.rejects(train(['--text', textPath, '--out', out, '--lr=-1']), /--lr must be a number >= 0/);

  // Resuming on text with characters the model never saw is refused, and the model file is untouched.
  const model = join(dir, 'm.safetensors');
  const before = readFileSync(model);
  const other = join(dir, 'other.txt');
  writeFileSync(other, 'Zebras quack: §§§\n'.repeat(50));
  await assert.rejects(train(['--text', other, '--out', model, '--resume', ...small]), /vocabulary mismatch: the text has \d+ character\(s\)/);
  assert.deepEqual(readFileSync(model), before);
  await assert.rejects(sample([textPath]), /play\.txt: unrecognised tensor file/);
});
