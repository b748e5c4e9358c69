// A checkpoint write interrupted by killing the process leaves the previous checkpoint loadable (issue 14):
// a child node process writes a large checkpoint (first through writeModelFile, then serialised versions
// through writeFileAtomic: temp file, fsync, rename, src/node/atomicWrite.ts) over and over and is
// SIGKILLed in the middle of a write, several times. After each kill
// the file still parses as a checkpoint, holds a version the child finished (or the one it was finishing when
// the rename landed), and what the kill left behind is only hidden `.tmp` files, never something that looks
// like a model; the training service's cleanup (removeStaleTemps) removes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCheckpoint } from '../../src/core/checkpoint';
import { removeStaleTemps } from '../../src/extension/services/trainingService';

/** What "Open model…" lists as models (commands/modelCommands.ts MODEL_FILTERS). */
const MODEL_EXTENSIONS = ['safetensors', 'pt', 'pth', 'bin', 'h5', 'keras', 'onnx', 'json', 'npz', 'npy'];

const SRC = resolve(__dirname, '../../src');
const KILLS = 5;
/** Hidden size of the child's LSTM: weight_hh alone is 4H × H float32, about 31 MB. */
const HIDDEN = 1400;

const CHILD = `
import { writeModelFile } from ${JSON.stringify(join(SRC, 'node/modelFile'))};
import { writeFileAtomic } from ${JSON.stringify(join(SRC, 'node/atomicWrite'))};
import { serializeCheckpoint } from ${JSON.stringify(join(SRC, 'core/checkpoint'))};
import { buildCharVocab } from ${JSON.stringify(join(SRC, 'core/data/charVocab'))};
import { modelConfigFor } from ${JSON.stringify(join(SRC, 'core/train/model'))};
const [path, first] = process.argv.slice(2);
const vocab = buildCharVocab('abcdefghijklmnopqrstuvwxyz \\n');
const config = modelConfigFor(vocab, { module: 'LSTM', hiddenSize: ${HIDDEN}, numLayers: 1, dtype: 'float32' });
const H = ${HIDDEN}, V = config.vocabSize;
const t = (shape) => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) });
const params = new Map([
  ['rnn.weight_ih_l0', t([4 * H, V])], ['rnn.weight_hh_l0', t([4 * H, H])], ['rnn.bias_ih_l0', t([4 * H])], ['rnn.bias_hh_l0', t([4 * H])],
  ['head.weight', t([V, H])], ['head.bias', t([V])],
]);
const version = (k) => { params.get('head.bias').data[0] = k; return { config, vocab, params, engine: 'kill-test-' + k }; };
if (first === 'init') { writeModelFile(path, version(0)); process.exit(0); }
for (let k = Number(first); ; k++) {
  const bytes = serializeCheckpoint(version(k));
  process.stdout.write('start ' + k + '\\n'); // the write begins: open the temp file, write, fsync, rename
  writeFileAtomic(path, bytes);
  process.stdout.write('done ' + k + '\\n');
}
`;

interface Outcome { started: number; done: number; code: string | null }

/**
 * Runs the child from version `known + 1` (`known`: the version on disk) until it has started `starts`
 * writes, then kills it `delayMs` later.
 */
function runAndKill(childPath: string, model: string, known: number, starts: number, delayMs: number): Promise<Outcome> {
  const first = known + 1;
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childPath, model, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let started = known;
    let done = known;
    let err = '';
    let buffer = '';
    let armed = false;
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [what, k] = line.split(' ');
        if (what === 'start') started = Number(k);
        if (what === 'done') done = Number(k);
      }
      if (!armed && started >= first + starts - 1) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the writer ended by itself (${signal ?? _code}): ${err}`));
      else resolveRun({ started, done, code: signal });
    });
  });
}

test('killing the writer mid-write leaves the previous checkpoint loadable and no model-like temp files', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-kill-'));
  try {
    const childPath = join(dir, 'writer.ts');
    writeFileSync(childPath, CHILD);
    const model = join(dir, 'model.safetensors');
    await new Promise<void>((ok, fail) => {
      const init = spawn(process.execPath, ['--import', 'tsx', childPath, model, 'init'], { stdio: 'inherit' });
      init.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`init exited ${code}`))));
    });
    const size = readFileSync(model).length;
    assert.ok(size > 25 * 2 ** 20, `the checkpoint is large enough to be killed mid-write (${size} bytes)`);
    let known = 0;
    let midWrite = 0;
    // Until KILLS kills landed inside a write (a busy machine can delay one past its write), at most 4×KILLS tries.
    for (let i = 0; midWrite < KILLS && i < 4 * KILLS; i++) {
      // Kill during the first or second write of this run, 0-20 ms after it began (writing and syncing 31 MB
      // takes longer, so the kill lands inside the write nearly every time).
      const r = await runAndKill(childPath, model, known, 1 + (i % 2), (i * 7) % 21);
      const ck = parseCheckpoint(new Uint8Array(readFileSync(model)), model); // throws if half written
      const version = (ck.params.get('head.bias')!.data as Float32Array)[0];
      // A finished version, or the one being written when the rename landed just before the kill.
      assert.ok(version === r.done || version === r.started, `after kill ${i + 1}: version ${version}, finished ${r.done}, started ${r.started}`);
      assert.equal(ck.engine, `kill-test-${version}`);
      assert.equal(ck.params.get('rnn.weight_hh_l0')!.data.length, 4 * HIDDEN * HIDDEN);
      const left = readdirSync(dir).filter((f) => f !== 'model.safetensors' && f !== 'writer.ts');
      if (r.started > r.done && left.length) midWrite++; // killed between opening the temp file and the rename
      for (const f of left) {
        assert.match(f, /^\.model\.safetensors\.\d+\.\d+\.tmp$/, `unexpected file after the kill: ${f}`);
        assert.ok(!MODEL_EXTENSIONS.some((ext) => f.endsWith(`.${ext}`)), `${f} looks like a model`);
      }
      // What the extension does after a failed run: the leftovers of its writer go.
      assert.deepEqual(removeStaleTemps(model).sort(), left.sort());
      known = version;
    }
    assert.equal(midWrite, KILLS, `only ${midWrite} kills in ${4 * KILLS} tries landed inside a write`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
