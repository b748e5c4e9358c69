// Host services on plain node (no VS Code): training run lifecycle, windowed tracing against a full
// forward pass, hover snapshots, LSTMVis span search. Document traces run in-process (the worker's
// DocumentTrace); the training service talks to the real compute worker through WorkerBackend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { modelConfigFor, initialWeights } from '../../src/core/train/model';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { readModelFile } from '../../src/node/modelFile';
import { encodeDocument } from '../../src/extension/logic/encodeDocument';
import { formatHover } from '../../src/extension/logic/hoverFormat';
import { WorkerBackend } from '../../src/extension/services/workerBackend';
import { createDocumentTrace } from '../../src/worker/documentTrace';
import { workerScript } from '../workerScript';
import { ModelStore } from '../../src/extension/services/modelStore';
import { TracedDocument, TraceService } from '../../src/extension/services/traceService';
import { TrainingService } from '../../src/extension/services/trainingService';
import { restoredHistory } from '../../src/extension/logic/restoredRun';
import type { ModelData, RemoteTrace } from '../../src/extension/services/backend';
import { PreparationProgress } from '../../src/extension/logic/preparation';

const TEXT = 'the quick brown fox jumps over the lazy dog.\n'.repeat(20);

function tinyModel(module: 'LSTM' | 'GRU' | 'RNN', numLayers = 1, dtype: 'float32' | 'float64' = 'float64'): ModelData {
  const vocab = buildCharVocab(TEXT);
  const config = modelConfigFor(vocab, { module, hiddenSize: 6, numLayers, dtype });
  return { config, params: initialWeights(config, 3), vocab };
}

/** The worker's document trace, in-process, behind the extension's RemoteTrace. */
function prepared(model: ModelData, ids: Int32Array, K: number): RemoteTrace {
  const doc = createDocumentTrace(model, ids, K);
  for (const _ of doc.prepare()) { /* sweep */ }
  const progress = new PreparationProgress(doc.length);
  progress.finish();
  return { length: doc.length, progress, window: async (start, end) => doc.window(start, end), prediction: () => doc.prediction(), dispose: () => doc.dispose() };
}

async function traced(model: ModelData, text: string, K: number, block: number): Promise<TracedDocument> {
  const enc = encodeDocument(model.vocab as { kind: 'char'; chars: string[] }, text);
  const remote = prepared(model, enc.ids, K);
  return new TracedDocument('mem:doc', 'trace-1', 'doc', 1, text, enc, 'm', model, remote,
    { blockSize: block, cacheBlocks: 4, checkpointEvery: K });
}

test('windowed trace equals one full reference forward pass (fast engines, checkpoints every K)', async () => {
  for (const [module, dtype, layers] of [['LSTM', 'float64', 2], ['GRU', 'float64', 2], ['RNN', 'float64', 1], ['LSTM', 'float32', 2], ['GRU', 'float32', 1]] as const) {
    const model = tinyModel(module, layers, dtype);
    const ids = encodeDocument(model.vocab as { kind: 'char'; chars: string[] }, TEXT.slice(0, 300)).ids;
    const full = lmForward(model.config, splitLmParameters(model.config, model.params), ids, ids.length, 1, undefined, { trace: true }).trace!;
    const remote = prepared(model, ids, 16);
    const got = (await remote.window(50, 250)).tensors; // spans blocks, starts and ends mid-block
    assert.deepEqual([...got.keys()].sort(), [...full.keys()].sort());
    for (const [name, t] of full) {
      const ref = t.data as Float64Array;
      const w = got.get(name)!.data as Float64Array;
      assert.equal(w.length, 200 * 6);
      let err = 0;
      for (let i = 0; i < w.length; i++) err = Math.max(err, Math.abs(w[i] - ref[50 * 6 + i]));
      assert.ok(err < (dtype === 'float64' ? 1e-12 : 1e-5), `${module} ${dtype} ${name}: max error ${err}`);
    }
    remote.dispose();
  }
});

test('a traced document assembles windows from cached blocks', async () => {
  const model = tinyModel('LSTM', 2);
  const text = TEXT.slice(0, 300);
  const doc = await traced(model, text, 16, 16);
  const ids = encodeDocument(model.vocab as { kind: 'char'; chars: string[] }, text).ids;
  const full = lmForward(model.config, splitLmParameters(model.config, model.params), ids, ids.length, 1, undefined, { trace: true }).trace!;
  const w = await doc.window({ layer: 1, direction: 0, tensor: 'gate_f' }, 7, 77);
  const ref = full.get('trace_l1_gate_f')!.data as Float64Array;
  let err = 0;
  for (let i = 0; i < w.length; i++) err = Math.max(err, Math.abs(w[i] - ref[7 * 6 + i]));
  assert.ok(err < 1e-6, `max error ${err}`); // Float32 transport to the webview
  assert.equal(doc.cache.size, 4); // blocks 0..4 of 16 steps, LRU of 4
  assert.equal(doc.tokenText(3), TEXT[3]);
  doc.dispose();
});

test('a cold hover computes only the block it falls in and names the top predictions', async () => {
  const model = tinyModel('LSTM');
  const big = TEXT.repeat(50); // 45k chars
  const doc = await traced(model, big, 256, 256);
  const t = doc.tokenAt(30_001);
  const snap = await doc.hoverSnapshot(t, 0, 4, 5);
  assert.equal(doc.cache.size, 1); // one 256-step block from the nearest checkpoint, not the document
  assert.equal(snap.position, 30_001);
  assert.equal(snap.predictions.length, 5);
  const total = snap.predictions.reduce((s, p) => s + p.probability, 0);
  assert.ok(total > 0 && total <= 1);
  assert.deepEqual([...snap.tensors.keys()], ['h', 'c', 'gate_i', 'gate_f', 'gate_g', 'gate_o']);
  assert.match(formatHover(snap), /t = 30,001 of 45,000/);
  doc.dispose();
});

test('findSpans finds the selected span itself among the matches', async () => {
  const model = tinyModel('LSTM');
  const doc = await traced(model, TEXT, 32, 64);
  const sel = { layer: 0, direction: 0 as const, tensor: 'gate_f' };
  const r = await doc.findSpans(sel, 10, 14, 0.0, 10_000); // threshold 0 on a sigmoid gate: every unit is on
  assert.deepEqual(r.units, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(r.matches.map((m) => [m.start, m.end]), [[0, doc.length]]);
  const service = new TraceService();
  service.set(doc);
  assert.equal(service.byTraceId('trace-1'), doc);
  service.removeModel('m');
  assert.equal(service.all.length, 0);
  service.dispose();
});

test('a training run reports steps, writes its checkpoint, registers the model and samples it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-ext-'));
  try {
    const backend = new WorkerBackend({ workerPath: workerScript(dir) }, (m) => assert.fail(m));
    const models = new ModelStore();
    const training = new TrainingService(backend, models, {
      loadCheckpoint: async (p) => readModelFile(p),
      temperatures: () => [0.5, 1],
      sampleLength: () => 20,
    });
    const out = join(dir, 'm.safetensors');
    const changes: string[] = [];
    training.onDidChangeRuns((s) => changes.push(s.status));
    const run = training.start({ text: TEXT, out, engine: 'reference', model: { module: 'GRU', hiddenSize: 8, numLayers: 1 },
      settings: { steps: 6, seqLen: 8, batchSize: 2, evalEvery: 3, sampleEvery: 0 } }, 'GRU test');
    assert.ok(training.isTraining);
    const outcome = await run.finished;
    assert.equal(outcome?.status, 'done');
    await run.settled; // checkpoint read, model registered, samples taken
    assert.equal(run.train.length, 6);
    assert.equal(run.validation.length, 2);
    assert.ok(run.saturation.length === 2 && run.saturation[0].entries.length > 0);
    assert.equal(models.current?.path, out);
    assert.equal(models.current?.data?.config.rnn.module, 'GRU');
    assert.deepEqual(run.samples.map((s) => s.temperature), [0.5, 1]);
    assert.ok(changes.includes('done'));
    // A reloaded window's dashboard redraws the run from its checkpoint alone: the gradient norms, the gate
    // saturation, and the samples (those taken after the run, which the webview remembers, joined).
    const restored = restoredHistory(run.summary(), readModelFile(out).training, run.samples);
    assert.deepEqual([...new Float64Array(restored.gradNorm.values)], [...run.gradNorm.values()]);
    assert.deepEqual(restored.saturation, run.saturation);
    assert.deepEqual(restored.samples, run.samples);
    // A second run starts (the first is finished); cancel stops it, and its partial model does not replace the
    // fully trained one as current.
    const run2 = training.start({ text: TEXT, out: join(dir, 'm2.safetensors'), engine: 'reference', model: { module: 'LSTM', hiddenSize: 4, numLayers: 1 },
      settings: { steps: 10_000, seqLen: 8, batchSize: 2, evalEvery: 1000, sampleEvery: 0 } }, 'LSTM long');
    setTimeout(() => training.cancel(), 30);
    const o2 = await run2.finished;
    assert.equal(o2?.status, 'cancelled');
    assert.ok(run2.train.length < 10_000);
    await run2.settled; // the cancelled run's checkpoint is still sampled
    assert.equal(models.current?.path, out);
    assert.ok(models.get(join(dir, 'm2.safetensors')), 'the cancelled run is kept in the list');
    // The dashboard learns the schedule (first evaluation, clip line); the tree's "Remove from list" drops ended runs.
    assert.deepEqual([run.summary().evalEvery, run.summary().sampleEvery, run.summary().clip, run.summary().tokenLevel], [3, 0, 5, undefined]);
    assert.ok(training.remove(run2.runId));
    assert.deepEqual(training.runs.map((r) => r.runId), [run.runId]);
    assert.equal(training.latest, run);
    assert.equal(training.remove('no-such-run'), false);
    training.dispose();
    models.dispose();
    backend.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
