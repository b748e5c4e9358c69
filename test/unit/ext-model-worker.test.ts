// A sequence classifier end to end through the real compute worker (plain node): the extension's training
// service trains it from a CSV (accuracy series, class names, no samples), the worker hands its class names
// back with the model, and a traced document's prediction crosses the protocol (WorkerClient's
// 'tracePrepared' result, WorkerBackend's RemoteTrace.prediction) equal to the in-process trace's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerClient } from '../../src/worker/client';
import { createDocumentTrace, encodeDocument } from '../../src/worker/documentTrace';
import { encodeVocabularyDocument } from '../../src/extension/logic/encodeDocument';
import { ModelStore } from '../../src/extension/services/modelStore';
import { TrainingService } from '../../src/extension/services/trainingService';
import { WorkerBackend } from '../../src/extension/services/workerBackend';
import { workerScript } from '../workerScript';

const topics: Record<string, string[]> = { sports: ['game', 'team', 'win', 'coach'], tech: ['chip', 'cloud', 'phone', 'code'] };

function writeCsv(path: string): void {
  const rows = ['text,label'];
  for (let i = 0; i < 80; i++) {
    const label = i % 2 ? 'tech' : 'sports';
    const words = Array.from({ length: 3 + (i % 5) }, (_, k) => topics[label][(i + k) % 4]);
    rows.push(`${words.join(' ')} today,${label}`);
  }
  writeFileSync(path, rows.join('\n') + '\n');
}

test('a classifier trained, loaded and traced through the worker: accuracy, class names, prediction', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-ext-classifier-'));
  const backend = new WorkerBackend({ workerPath: workerScript(dir) }, (m) => assert.fail(m));
  const models = new ModelStore();
  const samples: number[] = [];
  const training = new TrainingService(backend, models, {
    loadCheckpoint: async (p) => (await backend.loadModel(p)).data!,
    temperatures: () => { samples.push(1); return [0.8]; },
    sampleLength: () => 20,
  });
  try {
    const csv = join(dir, 'news.csv');
    writeCsv(csv);
    const out = join(dir, 'news.safetensors');
    const run = training.start({
      classify: { path: csv }, out, engine: 'reference', level: 'word',
      model: { module: 'GRU', hiddenSize: 6, embeddingDim: 4, readout: 'last' },
      settings: { steps: 6, batchSize: 8, evalEvery: 3, sampleEvery: 0, optimizer: { kind: 'adam', lr: 0.02 } },
    }, 'GRU classifier');
    assert.equal(run.summary().task, 'classify');
    const outcome = await run.finished;
    assert.equal(outcome?.status, 'done', run.error ?? '');
    await run.settled;
    assert.equal(run.accuracy.length, 6);
    assert.equal(run.validationAccuracy.length, 2);
    assert.ok([...run.accuracy.values()].every((a) => a >= 0 && a <= 1));
    assert.deepEqual(run.summary().classes, ['sports', 'tech']);
    assert.match(run.summary().model ?? '', /^Embedding\(\d+→4\) → GRU 1×6 → last → Linear\(6→2\)$/);
    assert.deepEqual(run.samples, [], 'a classifier is not sampled');
    assert.deepEqual(samples, []);
    const model = models.current?.data;
    assert.ok(model, 'the trained model is registered');
    assert.deepEqual(model.labels, ['sports', 'tech'], 'class names come back with the model');

    // The prediction crosses the protocol, equal to the in-process trace's.
    const text = 'the team will win the game today';
    const enc = encodeVocabularyDocument(model.vocab, text);
    const local = createDocumentTrace(model, enc.ids, 4);
    for (const _ of local.prepare()) { /* sweep */ }
    const expected = local.prediction()!;
    assert.equal(expected.length, 2);
    const remote = await backend.prepareTrace(model, enc.ids, 4);
    assert.equal(remote.prediction(), undefined, 'not before the sweep ends');
    await remote.progress.finished;
    assert.deepEqual([...remote.prediction()!], [...expected]);
    const w = await remote.window(0, enc.ids.length);
    assert.equal(w.topIds.length, enc.ids.length * 5, 'a last-readout classifier scores every token');
    const lastRow = (enc.ids.length - 1) * 5;
    assert.ok(Math.abs(w.topProbs[lastRow] - Math.max(...expected)) < 1e-6, 'had the text ended at its end: the prediction');
    remote.dispose();

    const client = new WorkerClient({ workerPath: workerScript(dir) });
    try {
      const loaded = await client.loadModel(out);
      assert.deepEqual(loaded.data?.labels, ['sports', 'tech']);
      const done = await client.prepareTrace(out, { text }, { checkpointEvery: 4 });
      assert.equal(done.kind, 'tracePrepared');
      assert.equal(done.task, 'classify');
      assert.deepEqual([...done.offsets], [...encodeDocument(model.vocab, text).offsets]);
      assert.deepEqual([...done.prediction!], [...expected]);
      const sent = await client.prepareTrace({ config: model.config, params: model.params, vocab: model.vocab }, { ids: enc.ids });
      assert.deepEqual([...sent.prediction!], [...expected], 'a classifier sent as data, as ids');
    } finally {
      await client.dispose();
    }
  } finally {
    training.dispose();
    models.dispose();
    backend.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
