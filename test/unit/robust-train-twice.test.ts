// Runs are never lost (issue 14): "Train" while a run trains asks (logic/trainTwice.ts), and stopping the
// current run waits for its checkpoint to be saved and registered before the new one starts; a cancelled
// run never replaces the model in use, a failed one is never registered (its last checkpoint is named);
// the training service never cancels a run implicitly. A stand-in Backend plays the worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BusyRun, KEEP_CURRENT, STOP_AND_START, answerOf, becomesCurrent, busyQuestion, decideStart, keptMessage,
} from '../../src/extension/logic/trainTwice';
import { TrainingBusyError, TrainingService, removeStaleTemps } from '../../src/extension/services/trainingService';
import { ModelStore } from '../../src/extension/services/modelStore';
import type { Backend, ModelData, TrainJob, TrainOutcome, TrainSpec } from '../../src/extension/services/backend';
import type { TrainRunEvent } from '../../src/node/trainRun';
import { Emitter } from '../../src/extension/lifecycle';
import type { WorkerCrashInfo } from '../../src/extension/logic/workerLimits';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';

const run = (over: Partial<BusyRun> = {}): BusyRun => ({ runId: 'r1', label: 'LSTM on a.txt', step: 120, totalSteps: 2000, stopping: false, ...over });

test('decideStart: start when idle, ask when busy, stop the run agreed to, never two stops at once', () => {
  assert.deepEqual(decideStart(undefined), { action: 'start' });
  assert.deepEqual(decideStart(undefined, 'r1'), { action: 'start' }, 'the run ended on its own meanwhile');
  assert.deepEqual(decideStart(run()), { action: 'ask', run: run() });
  assert.deepEqual(decideStart(run(), 'r1'), { action: 'stop-then-start', run: run() });
  assert.deepEqual(decideStart(run({ runId: 'r2' }), 'r1'), { action: 'ask', run: run({ runId: 'r2' }) }, 'another run started meanwhile: ask again');
  assert.deepEqual(decideStart(run({ stopping: true }), 'r1'), { action: 'stop-then-start', run: run({ stopping: true }) }, 'a Cancel meanwhile changes nothing');
  const stopping = decideStart(run({ stopping: true }));
  assert.equal(stopping.action, 'abort');
  assert.match((stopping as { message: string }).message, /LSTM on a\.txt is stopping for another run/);
});

test('the question names the run and its step; only the stop button stops it', () => {
  const q = busyQuestion(run(), 'GRU on b.txt');
  assert.equal(q.message, 'gatescope is training LSTM on a.txt (step 120/2000). Stop it and start training GRU on b.txt?');
  assert.match(q.detail, /saves its checkpoint first/);
  assert.equal(busyQuestion(run({ step: undefined }), undefined).message, 'gatescope is training LSTM on a.txt. Stop it and start a new run?');
  assert.equal(answerOf(STOP_AND_START), 'stop');
  assert.equal(answerOf(KEEP_CURRENT), 'keep');
  assert.equal(answerOf(undefined), 'keep', 'dismissing the question keeps the run');
  assert.match(keptMessage(run()), /kept training LSTM on a\.txt; the new run was not started/);
});

test('becomesCurrent: a completed run does; a cancelled one only when no model is in use; a failed one never', () => {
  assert.equal(becomesCurrent('done', true), true);
  assert.equal(becomesCurrent('done', false), true);
  assert.equal(becomesCurrent('cancelled', false), true);
  assert.equal(becomesCurrent('cancelled', true), false);
  assert.equal(becomesCurrent('failed', false), false);
});

/** A job the test ends: finish() completes it, dispose() cancels it (after a short save), fail() breaks it. */
class FakeJob implements TrainJob {
  readonly done: Promise<TrainOutcome>;
  private settle!: { resolve(o: TrainOutcome): void; reject(e: Error): void };
  cancelled = false;
  constructor(readonly spec: TrainSpec, readonly onEvent: (e: TrainRunEvent) => void) {
    this.done = new Promise((resolve, reject) => { this.settle = { resolve, reject }; });
  }
  save(step: number): void {
    this.onEvent({ kind: 'saved', path: this.spec.out, step });
  }
  finish(): void {
    this.save(10);
    this.settle.resolve({ status: 'done', path: this.spec.out, steps: 10, engine: 'fake' });
  }
  fail(message: string): void {
    this.settle.reject(new Error(message));
  }
  dispose(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    setTimeout(() => { this.save(5); this.settle.resolve({ status: 'cancelled', path: this.spec.out, steps: 5, engine: 'fake' }); }, 20);
  }
}

const TEXT = 'to be or not to be\n'.repeat(10);
const vocab = buildCharVocab(TEXT);
const config = modelConfigFor(vocab, { module: 'LSTM', hiddenSize: 4, numLayers: 1 });
const MODEL: ModelData = { config, params: initialWeights(config, 1), vocab };

function setup(): { training: TrainingService; models: ModelStore; jobs: FakeJob[]; loaded: string[] } {
  const jobs: FakeJob[] = [];
  const loaded: string[] = [];
  const crash = new Emitter<WorkerCrashInfo>();
  const backend: Backend = {
    description: 'fake',
    train: (spec, onEvent) => { const j = new FakeJob(spec, onEvent); jobs.push(j); return j; },
    sample: async () => 'sampled',
    prepareTrace: () => Promise.reject(new Error('not here')),
    loadModel: () => Promise.reject(new Error('not here')),
    compareEngines: () => Promise.reject(new Error('not here')),
    readTensors: () => Promise.reject(new Error('not here')),
    onDidCrash: crash.event,
    dispose: () => crash.dispose(),
  };
  const models = new ModelStore();
  const training = new TrainingService(backend, models, {
    loadCheckpoint: async (p) => { loaded.push(p); return MODEL; },
    temperatures: () => [0.8],
    sampleLength: () => 5,
  });
  return { training, models, jobs, loaded };
}

const spec = (out: string): TrainSpec => ({ text: TEXT, out, settings: { steps: 10 } });

test('train twice: the second start is refused until the first is stopped, saved and registered; nothing is lost', async () => {
  const { training, models, jobs, loaded } = setup();
  const a = training.start(spec('/ws/a.safetensors'), 'A');
  assert.deepEqual(training.busy(), { runId: a.runId, label: 'A', stopping: false });
  assert.throws(() => training.start(spec('/ws/b.safetensors'), 'B'), TrainingBusyError, 'never cancels A implicitly');
  assert.equal(jobs.length, 1);
  assert.equal(a.status, 'training');
  // "Stop it and start the new run": stopAndWait resolves only once A's checkpoint is read and registered.
  const stopped = training.stopAndWait(a.runId);
  assert.equal(training.busy()?.stopping, true);
  await stopped;
  assert.equal(a.status, 'cancelled');
  assert.deepEqual(loaded, ['/ws/a.safetensors']);
  assert.equal(models.current?.id, '/ws/a.safetensors', 'nothing was in use: the cancelled run is');
  assert.equal(models.current?.label, 'A (cancelled)');
  assert.equal(training.busy(), undefined);
  const b = training.start(spec('/ws/b.safetensors'), 'B');
  assert.equal(training.busy()?.runId, b.runId);
  jobs[1].finish();
  await b.settled;
  assert.equal(models.current?.id, '/ws/b.safetensors', 'a completed run becomes the model in use');
  assert.deepEqual(models.models.map((m) => m.id), ['/ws/a.safetensors', '/ws/b.safetensors'], 'both runs kept');
  training.dispose();
});

test('a cancelled run never replaces the model in use; a failed one is never registered and names its last checkpoint', async () => {
  const { training, models, jobs } = setup();
  const a = training.start(spec('/ws/a.safetensors'), 'A');
  jobs[0].finish();
  await a.settled;
  assert.equal(models.current?.id, '/ws/a.safetensors');
  const c = training.start(spec('/ws/c.safetensors'), 'C');
  training.cancel();
  await c.settled;
  assert.equal(c.status, 'cancelled');
  assert.ok(models.get('/ws/c.safetensors'), 'the cancelled run is kept in the list');
  assert.equal(models.current?.id, '/ws/a.safetensors', 'but the fully trained model stays in use');
  const d = training.start(spec('/ws/d.safetensors'), 'D');
  jobs[2].save(40);
  jobs[2].fail('gatescope: training d.safetensors ran out of memory (limit 256 MB); the training worker was stopped and starts again for the next request');
  await d.settled;
  assert.equal(d.status, 'failed');
  assert.equal(d.error, 'training d.safetensors ran out of memory (limit 256 MB); the training worker was stopped and starts again for the next request. '
    + 'Its last checkpoint (step 40) is kept: /ws/d.safetensors');
  assert.equal(models.get('/ws/d.safetensors'), undefined);
  assert.equal(models.current?.id, '/ws/a.safetensors');
  // stopAndWait of a run that is not the current one does nothing.
  await training.stopAndWait('run-that-ended');
  training.dispose();
});

test('after a failed run, the temp files its interrupted write left next to the checkpoint are removed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-temps-'));
  try {
    const out = join(dir, 'm.safetensors');
    for (const f of ['m.safetensors', '.m.safetensors.123.456.tmp', '.m.safetensors.9.9.tmp', '.other.safetensors.1.1.tmp', 'm.safetensors.history.json']) writeFileSync(join(dir, f), 'x');
    assert.deepEqual(removeStaleTemps(out).sort(), ['.m.safetensors.123.456.tmp', '.m.safetensors.9.9.tmp']);
    assert.deepEqual(readdirSync(dir).sort(), ['.other.safetensors.1.1.tmp', 'm.safetensors', 'm.safetensors.history.json']);
    assert.deepEqual(removeStaleTemps(join(dir, 'missing-dir', 'x.safetensors')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
