// The run-history sidecar: encoding round trip, cut at a checkpoint's step, atomic coalesced writes, and a
// restored dashboard that gets its gradient-norm and saturation charts back from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrainingState } from '../../src/core/checkpoint';
import type { RunSummary } from '../../src/protocol/webview';
import { restoredHistory } from '../../src/extension/logic/restoredRun';
import { decodeRunHistory, encodeRunHistory, historySidecarPath, historyUpTo, type RunHistory } from '../../src/extension/logic/runHistory';
import { readRunHistoryFile, RunHistoryWriter, writeRunHistoryFile } from '../../src/extension/services/runHistoryFile';

const saturation = (step: number) => ({ step, entries: [{ layer: 0, reverse: false, gate: 'f', low: 0.01 * step, high: 0.5 }] });

const history = (upTo: number): RunHistory => ({
  runId: 'run-1',
  step: upTo,
  gradNorm: { steps: Float64Array.from({ length: upTo }, (_, i) => i + 1), values: Float64Array.from({ length: upTo }, (_, i) => 1 / (i + 3)) },
  saturation: [2, 4, 6].filter((s) => s <= upTo).map(saturation),
  samples: [{ step: upTo, temperature: 0.5, text: 'to be' }],
});

const training = (step: number): TrainingState => ({
  settings: {
    seqLen: 16, batchSize: 4, steps: 20, optimizer: { kind: 'adam', lr: 0.002 }, clip: 5, validationFraction: 0.1,
    evalEvery: 2, evalBatches: 0, shuffle: false, seed: 1, sampleEvery: 0, sampleLength: 50,
  },
  step, window: 3, epoch: 0, rngState: [1, 2], elapsedSeconds: 1.5,
  lossHistory: Array.from({ length: step }, (_, i) => ({ step: i + 1, loss: 4 - i * 0.1 })),
  validationHistory: [{ step: 2, loss: 3.9 }],
  data: { sources: ['a.txt'], tokens: 1000 },
});

const run: RunSummary = { runId: 'run-1', label: 'LSTM', status: 'cancelled', totalSteps: 20, checkpointPath: '/tmp/a.safetensors' };

test('a run history survives encoding exactly (float64 series, saturation, samples)', () => {
  const h = history(6);
  h.gradNorm.values[2] = Math.PI / 7; // not representable in short decimal
  const back = decodeRunHistory(encodeRunHistory(h), 'x.history.json');
  assert.deepEqual(back, h);
  assert.equal(historySidecarPath('/w/m.safetensors'), '/w/m.safetensors.history.json');
});

test('a damaged sidecar is refused naming the file and the problem', () => {
  assert.throws(() => decodeRunHistory('{', 'a.history.json'), /a\.history\.json: not JSON/);
  assert.throws(() => decodeRunHistory('{"version":9}', 'a.history.json'), /unsupported run history version 9/);
  const bad = JSON.parse(encodeRunHistory(history(4)));
  bad.gradNorm.values = Buffer.from([1, 2, 3]).toString('base64');
  assert.throws(() => decodeRunHistory(JSON.stringify(bad), 'a.history.json'), /gradNorm\.values is not a float64 series/);
  const short = JSON.parse(encodeRunHistory(history(4)));
  short.gradNorm.values = JSON.parse(encodeRunHistory(history(3))).gradNorm.values;
  assert.throws(() => decodeRunHistory(JSON.stringify(short), 'a.history.json'), /4 steps but 3 values/);
  const sat = JSON.parse(encodeRunHistory(history(4)));
  sat.saturation = [{ step: 2, entries: [{ layer: 0 }] }];
  assert.throws(() => decodeRunHistory(JSON.stringify(sat), 'a.history.json'), /malformed saturation/);
});

test('a history is cut at the checkpoint step', () => {
  const cut = historyUpTo(history(6), 4);
  assert.equal(cut.step, 4);
  assert.deepEqual([...cut.gradNorm.steps], [1, 2, 3, 4]);
  assert.deepEqual(cut.saturation.map((p) => p.step), [2, 4]);
  assert.deepEqual(cut.samples, []);
  const same = history(4);
  assert.equal(historyUpTo(same, 6), same, 'a history behind its checkpoint is kept whole');
});

test('a restored dashboard shows the gradient norms, saturation and samples of the sidecar', () => {
  const m = restoredHistory(run, training(5), [{ step: 1, temperature: 1, text: 'webview' }], undefined, history(6));
  assert.deepEqual([...new Float64Array(m.gradNorm.steps)], [1, 2, 3, 4, 5]);
  assert.deepEqual([...new Float64Array(m.gradNorm.values)], [1 / 3, 1 / 4, 1 / 5, 1 / 6, 1 / 7]);
  assert.deepEqual(m.saturation, [saturation(2), saturation(4)]);
  assert.equal(m.lastStep?.gradNorm, 1 / 7);
  assert.deepEqual(m.samples, [{ step: 1, temperature: 1, text: 'webview' }], 'the sidecar has no sample up to step 5: the webview\'s stay');
  const whole = restoredHistory(run, training(6), [], undefined, history(6));
  assert.deepEqual(whole.samples, history(6).samples);
  const without = restoredHistory(run, training(5), [], undefined, undefined);
  assert.equal(new Float64Array(without.gradNorm.steps).length, 0);
  assert.ok(Number.isNaN(without.lastStep!.gradNorm));
  assert.deepEqual(without.saturation, []);
});

test('the sidecar file is written atomically and read back; a missing one is no error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-history-'));
  try {
    const ck = join(dir, 'm.safetensors');
    assert.equal(await readRunHistoryFile(ck), undefined);
    await writeRunHistoryFile(ck, encodeRunHistory(history(6)));
    assert.deepEqual(await readRunHistoryFile(ck), history(6));
    assert.deepEqual(readdirSync(dir), ['m.safetensors.history.json'], 'no temp file left behind');
    writeFileSync(historySidecarPath(ck), '{"version":1}');
    await assert.rejects(readRunHistoryFile(ck), /m\.safetensors\.history\.json: runId or step missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the writer writes one at a time, the newest snapshot last, and reports failures', async () => {
  const written: number[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => { release = r; });
  const writer = new RunHistoryWriter(async (_path, encoded) => {
    if (!written.length) await gate;
    written.push(decodeRunHistory(encoded, 'x').step);
  });
  writer.save('/x', history(2));
  writer.save('/x', history(4)); // waits behind the first write...
  writer.save('/x', history(6)); // ...and is replaced by this one
  release();
  await writer.idle();
  assert.deepEqual(written, [2, 6]);
  const errors: string[] = [];
  const failing = new RunHistoryWriter(async () => { throw new Error('disk full'); }, (m) => errors.push(m));
  failing.save('/w/m.safetensors', history(2));
  await failing.idle();
  assert.deepEqual(errors, ['could not write the run history next to /w/m.safetensors: disk full']);
});
