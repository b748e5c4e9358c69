import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainingState } from '../../src/core/checkpoint';
import type { RunSummary } from '../../src/protocol/webview';
import { restoredHistory, restoredStatus, runToRestore } from '../../src/extension/logic/restoredRun';
import { parseViewState } from '../../src/extension/logic/viewState';

const training = (step: number, steps: number): TrainingState => ({
  settings: {
    seqLen: 16, batchSize: 4, steps, optimizer: { kind: 'adam', lr: 0.002 }, clip: 5, validationFraction: 0.1,
    evalEvery: 2, evalBatches: 0, shuffle: false, seed: 1, sampleEvery: 0, sampleLength: 50,
  },
  step, window: 3, epoch: 0, rngState: [1, 2], elapsedSeconds: 1.5,
  lossHistory: Array.from({ length: step }, (_, i) => ({ step: i + 1, loss: 4 - i * 0.5 })),
  validationHistory: [{ step: 2, loss: 3.9 }],
  data: { sources: ['a.txt'], tokens: 1000 },
});

const run: RunSummary = { runId: 'run-1', label: 'LSTM 1×64 on a.txt', status: 'cancelled', totalSteps: 20_000, engine: 'wasm', checkpointPath: '/tmp/a.safetensors' };

test('a restored run shows the checkpoint loss history, status and samples', () => {
  const samples = [{ step: 3, temperature: 0.5, text: 'to be' }];
  const m = restoredHistory(run, training(3, 20_000), samples);
  assert.equal(m.type, 'dashboardHistory');
  assert.deepEqual(m.run, { ...run, evalEvery: 2, sampleEvery: 0, clip: 5 }); // the schedule from the checkpoint's settings
  assert.deepEqual([...new Float64Array(m.train.steps)], [1, 2, 3]);
  assert.deepEqual([...new Float64Array(m.train.values)], [4, 3.5, 3]);
  assert.deepEqual([...new Float64Array(m.validation.values)], [3.9]);
  assert.equal(new Float64Array(m.gradNorm.steps).length, 0);
  assert.equal(m.lastStep?.step, 3);
  assert.equal(m.lastStep?.totalSteps, 20_000);
  assert.equal(m.lastStep?.loss, 3);
  assert.deepEqual(m.samples, samples);
});

test('a run that was training when the window went away ends where its checkpoint stops', () => {
  assert.equal(restoredStatus('training', training(3, 20)), 'cancelled');
  assert.equal(restoredStatus('training', training(20, 20)), 'done');
  assert.equal(restoredStatus('training', undefined), 'cancelled');
  assert.equal(restoredStatus('done', training(3, 20)), 'done');
  assert.equal(restoredStatus('failed', training(20, 20)), 'failed');
});

test('an unreadable checkpoint keeps the run, without curves, with the reason', () => {
  const m = restoredHistory({ ...run, status: 'training' }, undefined, [], '/tmp/a.safetensors: cannot read (ENOENT)');
  assert.equal(m.run.status, 'cancelled');
  assert.equal(m.run.error, '/tmp/a.safetensors: cannot read (ENOENT)');
  assert.equal(new Float64Array(m.train.values).length, 0);
  assert.equal(m.lastStep, undefined);
});

test('the dashboard view state keeps the run and its samples; malformed parts are dropped', () => {
  const s = { view: 'dashboard', smoothing: 0.3, logScale: true, run, samples: [{ step: 3, temperature: 0.8, text: 'x' }] };
  assert.deepEqual(parseViewState('dashboard', JSON.parse(JSON.stringify(s))), s);
  assert.deepEqual(parseViewState('dashboard', { view: 'dashboard', smoothing: 0.3, logScale: true, run: { runId: 1 }, samples: [{ text: 'x' }] }),
    { view: 'dashboard', smoothing: 0.3, logScale: true });
  const noPath = parseViewState('dashboard', { view: 'dashboard', run: { ...run, checkpointPath: '', status: 'bogus' } });
  assert.equal('run' in noPath, false);
  const kept = parseViewState('dashboard', { view: 'dashboard', run: { ...run, checkpointPath: 7 }, samples: [{ step: 1, temperature: 1, text: 'y' }, null] });
  assert.deepEqual(kept, { view: 'dashboard', smoothing: 0.6, logScale: false, run: { runId: 'run-1', label: run.label, status: 'cancelled', totalSteps: 20_000, engine: 'wasm' }, samples: [{ step: 1, temperature: 1, text: 'y' }] });
});

test('the host-remembered run fills in a checkpoint the webview state missed', () => {
  const stale: RunSummary = { ...run, status: 'training', checkpointPath: undefined };
  assert.equal(runToRestore(stale, run), run);
  assert.equal(runToRestore(undefined, run), run);
  assert.equal(runToRestore(run, undefined), run);
  const other: RunSummary = { ...run, runId: 'run-0', checkpointPath: '/tmp/old.safetensors' };
  assert.equal(runToRestore(run, other), run, 'a webview run with its own checkpoint is kept');
  assert.equal(runToRestore(stale, { ...run, checkpointPath: undefined }), stale);
});
