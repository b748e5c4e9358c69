// The compute worker through its one client (src/worker/client.ts) and the extension's WorkerBackend on
// top of it: training with progress and cancel, sampling, windowed document traces equal to a full
// forward pass, model loading, engine comparison, and errors reported (not hung).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerClient, WorkerCrashError, WorkerRequestError } from '../../src/worker/client';
import type { TrainRunEvent } from '../../src/node/trainRun';
import { readModelFile } from '../../src/node/modelFile';
import { createDocumentTrace, encodeDocument } from '../../src/worker/documentTrace';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { modelConfigFor, initialWeights } from '../../src/core/train/model';
import { serializeCheckpoint } from '../../src/core/checkpoint';
import { sampleFast } from '../../src/engines';
import { CancelledError, type ModelData } from '../../src/extension/services/backend';
import { WorkerBackend } from '../../src/extension/services/workerBackend';
import { fixturePath } from '../fixtures';
import { workerScript } from '../workerScript';

const dir = mkdtempSync(join(tmpdir(), 'gatescope-worker-'));
const textPath = join(dir, 'play.txt');
writeFileSync(textPath, 'ROMEO:\nBut soft, what light through yonder window breaks?\n'.repeat(40));
const opts = { workerPath: workerScript(dir), execArgv: [] };
const model = join(dir, 'm.safetensors');

test('worker: train streams progress, sample, prepareTrace + traceWindow match the reference forward', async () => {
  const client = new WorkerClient(opts);
  try {
    const events: TrainRunEvent[] = [];
    const run = client.train({ textPaths: [textPath], out: model, engine: 'reference', model: { hiddenSize: 8 },
      settings: { steps: 4, seqLen: 8, batchSize: 4, evalEvery: 2 } });
    for await (const e of run) events.push(e);
    assert.deepEqual(await run.result, { kind: 'trained', reason: 'completed', step: 4, path: model, engine: 'reference' });
    assert.equal(events[0].kind, 'start');
    assert.equal(events.filter((e) => e.kind === 'step').length, 4);

    const s1 = await client.sample(model, { prime: 'RO', length: 20, seed: 3 });
    const s2 = await client.sample(model, { prime: 'RO', length: 20, seed: 3 });
    assert.equal(s1.text, s2.text);

    const doc = 'ROMEO:\r\nBut soft? 😀 what light';
    const progress: number[] = [];
    const ready = await client.prepareTrace(model, { text: doc }, { checkpointEvery: 4, onProgress: (d) => progress.push(d) });
    assert.equal(ready.tokens, Array.from(doc.replace(/\r\n/g, '\n')).length);
    assert.equal(progress.at(-1), ready.tokens);
    assert.equal(ready.unknown, 1); // the emoji is not in the vocabulary
    assert.equal(ready.offsets.length, ready.tokens + 1);
    assert.deepEqual(ready.gates, ['i', 'f', 'g', 'o']);
    assert.equal(ready.kind, 'tracePrepared');
    assert.equal(ready.task, 'lm');
    assert.equal(ready.prediction, undefined, 'a language model has no whole-document prediction');
    const w = await client.traceWindow(ready.traceId, 9, 15);
    // The same numbers from a plain forward pass over the whole prefix.
    const ck = readModelFile(model);
    const ids = encodeDocument(ck.vocab, doc).ids;
    const ref = lmForward(ck.config, splitLmParameters(ck.config, ck.params), ids, ids.length, 1, undefined, { trace: true });
    const h = w.tensors.get('trace_l0_h')!.data as Float32Array;
    const f = w.tensors.get('trace_l0_gate_f')!.data as Float32Array;
    assert.deepEqual(w.tensors.get('trace_l0_h')!.shape, [6, 1, 8]);
    const fRef = ref.trace!.get('trace_l0_gate_f')!.data as Float32Array;
    const hRef = ref.trace!.get('trace_l0_h')!.data as Float32Array;
    for (let t = 0; t < 6; t++) for (let j = 0; j < 8; j++) {
      assert.ok(Math.abs(h[t * 8 + j] - hRef[(9 + t) * 8 + j]) < 1e-6);
      assert.ok(Math.abs(f[t * 8 + j] - fRef[(9 + t) * 8 + j]) < 1e-6);
    }
    const probs = w.topProbs;
    assert.ok(probs[0] >= probs[1] && probs[1] >= probs[4] && probs[0] <= 1);
    // Top-1 is the argmax of the reference logits after reading token 9.
    const O = ck.config.outputSize;
    const row = Array.from(ref.logits.subarray(9 * O, 10 * O));
    assert.equal(w.topIds[0], row.indexOf(Math.max(...row)));
    await assert.rejects(client.traceWindow(ready.traceId, 5, 500), /outside the document/);
    await client.disposeTrace(ready.traceId);
    await assert.rejects(client.traceWindow(ready.traceId, 0, 2), /does not exist/);
    await assert.rejects(client.sample(textPath, { length: 3 }), /play\.txt: not a safetensors file/);
  } finally {
    await client.dispose();
  }
});

test('worker: cancel stops the run between steps and saves a checkpoint of the step it stopped at', async () => {
  const client = new WorkerClient(opts);
  try {
    const out = join(dir, 'c.safetensors');
    const run = client.train({ textPaths: [textPath], out, engine: 'reference', model: { hiddenSize: 8 },
      settings: { steps: 100000, seqLen: 8, batchSize: 4, evalEvery: 1000 } });
    let steps = 0;
    for await (const e of run) if (e.kind === 'step' && ++steps === 3) break;
    const r = await run.cancel();
    assert.equal(r.reason, 'cancelled');
    assert.ok(r.step >= 3 && r.step < 100000, `stopped at step ${r.step}`);
    assert.equal(readModelFile(out).training!.step, r.step);
  } finally {
    await client.dispose();
  }
});

test('worker: a trace answers windows the sweep has passed while it prepares; disposing it cancels', { timeout: 30_000 }, async () => {
  const client = new WorkerClient(opts);
  try {
    const m = memoryModel();
    const ids = new Int32Array(400_000).map((_, i) => (i * 7) % m.config.vocabSize);
    let started: ((id: number) => void) | undefined;
    const traceId = new Promise<number>((r) => { started = r; });
    const availability: number[] = [];
    let finished = false;
    const prepared = client.prepareTrace(m, { ids }, {
      checkpointEvery: 64, onStarted: (ready) => started!(ready.traceId), onProgress: (_d, _t, a) => availability.push(a),
    });
    prepared.then(() => { finished = true; }, () => { finished = true; });
    const id = await traceId;
    const w = await client.traceWindow(id, 10, 74); // the first block's state is the initial one
    assert.deepEqual(w.tensors.get('trace_l1_h')!.shape, [64, 1, 16]);
    await assert.rejects(client.traceWindow(id, 399_000, 399_010), /not prepared yet/);
    while (availability.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.ok(!finished, 'the windows came back before the preparation ended');
    assert.ok(availability.every((a, i) => i === 0 || a >= availability[i - 1]));
    const mid = availability.at(-1)! - 100;
    const local = createDocumentTrace(m, ids.subarray(0, mid + 10), 64);
    for (const _ of local.prepare()) { /* sweep */ }
    const wa = (await client.traceWindow(id, mid, mid + 10)).tensors.get('trace_l1_c')!.data as Float32Array;
    const wb = local.window(mid, mid + 10).tensors.get('trace_l1_c')!.data as Float32Array;
    for (let i = 0; i < wb.length; i++) assert.ok(Math.abs(wa[i] - wb[i]) < 1e-5);
    await client.disposeTrace(id);
    await assert.rejects(prepared, (e) => e instanceof WorkerRequestError && e.kind === 'cancelled');
  } finally {
    await client.dispose();
  }
});

test('worker crash rejects pending requests with a clear error', async () => {
  const failures: string[] = [];
  const client = new WorkerClient({ ...opts, onFailure: (e) => failures.push(e.message) });
  const p = client.prepareTrace(join(dir, 'missing.safetensors'), { text: 'x' });
  await assert.rejects(p, /missing\.safetensors: cannot read/);
  const slow = client.sample(model, { length: 100000 });
  await (client as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await assert.rejects(slow, (e) => e instanceof WorkerCrashError && e.reason === 'exited' && e.operations[0] === 'sampling text'
    && /^gatescope: sampling text was interrupted: the compute worker stopped unexpectedly \(exit code 1\); it starts again/.test(e.message));
  await assert.rejects(client.sample(model, { length: 1 }), /compute worker/);
  assert.ok(client.failed);
  assert.equal(failures.length, 1);
});

const TEXT = 'all the world is a stage, and all the men and women merely players.\n'.repeat(40);

function memoryModel(): ModelData {
  const vocab = buildCharVocab(TEXT);
  const config = modelConfigFor(vocab, { module: 'LSTM', hiddenSize: 16, numLayers: 2, dtype: 'float32' });
  return { config, params: initialWeights(config, 5), vocab };
}

test('WorkerBackend: traces and samples exactly like in-process, cancels, loads models, compares engines', { timeout: 60_000 }, async () => {
  const logs: string[] = [];
  const backend = new WorkerBackend(opts, (m) => logs.push(m));
  try {
    const m = memoryModel();
    const ids = Int32Array.from(TEXT.slice(0, 1000), (ch) => (m.vocab as { chars: readonly string[] }).chars.indexOf(ch));
    const progress: number[] = [];
    const remote = await backend.prepareTrace(m, ids, 64);
    remote.progress.onDidChange((p) => progress.push(p.done));
    assert.equal(remote.length, 1000);
    await remote.progress.finished;
    assert.equal(progress.at(-1), 1000);
    assert.equal(remote.progress.current.state, 'ready');
    const local = createDocumentTrace(m, ids, 64);
    for (const _ of local.prepare()) { /* sweep */ }
    const [wa, wb] = [(await remote.window(100, 300)).tensors, local.window(100, 300).tensors];
    assert.deepEqual([...wa.keys()], [...wb.keys()]);
    for (const [k, t] of wb) {
      const x = wa.get(k)!.data as Float32Array;
      const y = t.data as Float32Array;
      assert.equal(x.length, y.length);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-5, `${k}[${i}]: ${x[i]} vs ${y[i]}`);
    }
    const req = { prime: 'all ', length: 30, temperature: 0.7, seed: 3 };
    assert.equal(await backend.sample(m, req), sampleFast(m.config, m.params, m.vocab, req).generated);
    remote.dispose();
    await assert.rejects(remote.window(0, 10), /closed/);
    const long = new Int32Array(2_000_000).map((_, i) => ids[i % ids.length]);
    const t0 = performance.now();
    const cancelled = await backend.prepareTrace(m, long, 64, { isCancelled: () => performance.now() - t0 > 150 });
    await assert.rejects(cancelled.progress.finished, (e) => e instanceof CancelledError);
    assert.equal(cancelled.progress.current.state, 'cancelled');
    await assert.rejects(cancelled.window(0, 10), /does not exist/); // the worker dropped it
    await assert.rejects(backend.sample({ ...m, params: new Map() }, req), /head|missing|lack/);
    const cmp = await backend.compareEngines(m, ['reference', 'js'], 2);
    assert.equal(cmp.paramError.length, 2);
    assert.ok(cmp.paramError.every((e) => e < 1e-4), `engines diverge: ${cmp.paramError}`);
    assert.ok(cmp.left.has('rnn.weight_hh_l1') && cmp.right.has('head.weight'));
    await assert.rejects(backend.compareEngines(m, ['reference', 'nope'], 1), /not available/);
    const pt = await backend.loadModel(fixturePath('lstm_1l_f64/weights.pt'));
    assert.equal(pt.imported?.config.module, 'LSTM');
    assert.equal(pt.data, undefined);
    const ckPath = join(dir, 'mem.safetensors');
    writeFileSync(ckPath, serializeCheckpoint({ config: m.config, vocab: m.vocab, params: m.params, engine: 'test' }));
    const ck = await backend.loadModel(ckPath);
    assert.equal(ck.engine, 'test');
    assert.deepEqual(ck.data?.vocab, m.vocab);
    await assert.rejects(backend.loadModel(join(dir, 'missing.pt')), /missing\.pt/);
    assert.deepEqual(logs, []);
    // A crashed worker is replaced on the next request.
    await (backend as unknown as { current: { worker: { terminate(): Promise<number> } } }).current.worker.terminate();
    assert.equal(await backend.sample(m, req), sampleFast(m.config, m.params, m.vocab, req).generated);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /compute worker stopped: gatescope: the compute worker stopped unexpectedly \(exit code 1\); it starts again/);
  } finally {
    backend.dispose();
  }
});

test('WorkerBackend: a re-trace after an edit passes the earlier trace and keeps its states up to the edit', { timeout: 60_000 }, async () => {
  const backend = new WorkerBackend(opts, () => undefined);
  try {
    const m = memoryModel();
    const ids = new Int32Array(50_000).map((_, i) => (i * 7 + (i >> 5)) % m.config.vocabSize);
    const before = await backend.prepareTrace(m, ids, 64);
    await before.progress.finished;
    assert.equal(before.resumed, undefined);
    const edited = ids.slice();
    edited[40_000] = (edited[40_000] + 1) % m.config.vocabSize;
    const progress: number[] = [];
    // The model is sent again (a new copy in the worker): it matches by value.
    const after = await backend.prepareTrace(m, edited, 64, { previous: before });
    after.progress.onDidChange((p) => progress.push(p.done));
    assert.deepEqual(after.resumed, { tokens: 40_000 - (40_000 % 64), firstChange: 40_000 });
    before.dispose(); // as the host does once the new trace has started
    await after.progress.finished;
    assert.ok(progress[0] >= 39_936, `progress starts at the reused tokens: ${progress[0]}`);
    const local = createDocumentTrace(m, edited, 64);
    for (const _ of local.prepare()) { /* sweep */ }
    for (const start of [100, 39_990, 45_000]) {
      const wa = (await after.window(start, start + 64)).tensors.get('trace_l1_c')!.data as Float32Array;
      const wb = local.window(start, start + 64).tensors.get('trace_l1_c')!.data as Float32Array;
      for (let i = 0; i < wb.length; i++) assert.ok(Math.abs(wa[i] - wb[i]) < 1e-5, `${start}: ${wa[i]} vs ${wb[i]}`);
    }
    // A closed trace is not passed on (its worker trace is gone).
    const again = await backend.prepareTrace(m, edited, 64, { previous: before });
    assert.equal(again.resumed, undefined);
    for (const t of [after, again]) t.dispose();
  } finally {
    backend.dispose();
  }
});

test('worker: a model is sent whole once, then by key while the worker keeps it; dropped ones are sent again', async () => {
  const client = new WorkerClient(opts);
  // What each request carried: the model's key, and whether its weights went with it.
  const carried: string[] = [];
  const worker = (client as unknown as { worker: { postMessage(m: { model?: unknown }): void } }).worker;
  const post = worker.postMessage.bind(worker);
  worker.postMessage = (m) => {
    if (m.model && typeof m.model === 'object') carried.push(`${(m.model as { key: number }).key}${'data' in m.model ? '+data' : ''}`);
    post(m);
  };
  try {
    const models = [memoryModel(), memoryModel(), memoryModel()];
    models.forEach((m, i) => { (m.params.get('rnn.weight_hh_l0')!.data as Float32Array)[0] += i + 1; }); // three different models
    const order = [0, 0, 1, 0, 2, 1, 0];
    for (const i of order) {
      const m = models[i];
      const got = await client.sample(m, { prime: 'RO', length: 12, temperature: 0 });
      assert.equal(got.text, sampleFast(m.config, m.params, m.vocab, { prime: 'RO', length: 12, temperature: 0 }).generated, `model ${i}`);
    }
    // Keys 1, 2, 3 for models 0, 1, 2; two kept: model 2's arrival drops model 1 (used before model 0), model 1's
    // return drops model 0, so model 0 is sent again.
    assert.deepEqual(carried, ['1+data', '1', '2+data', '1', '3+data', '2+data', '1+data']);
    const ids = encodeDocument(models[0].vocab, TEXT.slice(0, 300)).ids;
    const first = await client.prepareTrace(models[0], { ids }, { checkpointEvery: 64 });
    const edited = ids.slice();
    edited[250] = (edited[250] + 1) % models[0].config.vocabSize;
    const again = await client.prepareTrace(models[0], { ids: edited }, { checkpointEvery: 64, resumeFrom: first.traceId });
    assert.equal(carried.at(-1), '1', 'the re-trace names the kept model');
    assert.deepEqual(again.resumed, { tokens: 192, firstChange: 250 });
  } finally {
    await client.dispose();
  }
});
