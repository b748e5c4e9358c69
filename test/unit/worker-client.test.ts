import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkerClient } from '../../src/worker/client';
import type { TrainRunEvent } from '../../src/node/trainRun';
import { readModelFile } from '../../src/node/modelFile';
import { DocumentTrace } from '../../src/worker/documentTrace';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';

const dir = mkdtempSync(join(tmpdir(), 'gatescope-worker-'));
const textPath = join(dir, 'play.txt');
writeFileSync(textPath, 'ROMEO:\nBut soft, what light through yonder window breaks?\n'.repeat(40));
// The worker entry runs from source through tsx's require hook (the bundle is dist/worker.js).
const bootstrap = join(dir, 'worker-bootstrap.cjs');
writeFileSync(bootstrap, `require(${JSON.stringify(require.resolve('tsx/cjs'))});\nrequire(${JSON.stringify(resolve(__dirname, '../../src/worker/main.ts'))});\n`);
const opts = { workerPath: bootstrap, execArgv: [] };
const model = join(dir, 'm.safetensors');

test('worker: train streams progress, sample, prepareTrace + traceWindow match the reference forward', async () => {
  const client = new WorkerClient(opts);
  try {
    const events: TrainRunEvent[] = [];
    const run = client.train({ textPaths: [textPath], out: model, engine: 'reference', model: { hiddenSize: 8 },
      settings: { steps: 4, seqLen: 8, batchSize: 4, evalEvery: 2 } });
    for await (const e of run) events.push(e);
    assert.deepEqual(await run.result, { kind: 'trained', reason: 'completed', step: 4, path: model });
    assert.equal(events[0].kind, 'start');
    assert.equal(events.filter((e) => e.kind === 'step').length, 4);

    const s1 = await client.sample(model, { prime: 'RO', length: 20, seed: 3 });
    const s2 = await client.sample(model, { prime: 'RO', length: 20, seed: 3 });
    assert.equal(s1.text, s2.text);

    const doc = 'ROMEO:\r\nBut soft? 😀 what light';
    const progress: number[] = [];
    const ready = await client.prepareTrace(model, doc, { checkpointEvery: 4, onProgress: (d) => progress.push(d) });
    assert.equal(ready.tokens, Array.from(doc.replace(/\r\n/g, '\n')).length);
    assert.equal(ready.unknown, 1); // the emoji is not in the vocabulary
    assert.deepEqual(ready.gates, ['i', 'f', 'g', 'o']);
    const w = await client.traceWindow(ready.traceId, 9, 15);
    // The same numbers from a plain forward pass over the whole prefix.
    const ck = readModelFile(model);
    const trace = new DocumentTrace(ck, doc, 4);
    const ref = lmForward(ck.config, splitLmParameters(ck.config, ck.params), trace.ids, trace.length, 1, undefined, { trace: true });
    const h = new Float32Array(w.layers[0].h);
    const fRef = ref.trace!.get('trace_l0_gate_f')!.data as Float32Array;
    const hRef = ref.trace!.get('trace_l0_h')!.data as Float32Array;
    const f = new Float32Array(w.layers[0].gates.f);
    for (let t = 0; t < 6; t++) for (let j = 0; j < 8; j++) {
      assert.ok(Math.abs(h[t * 8 + j] - hRef[(9 + t) * 8 + j]) < 1e-6);
      assert.ok(Math.abs(f[t * 8 + j] - fRef[(9 + t) * 8 + j]) < 1e-6);
    }
    const probs = new Float32Array(w.topProbs);
    assert.ok(probs[0] >= probs[1] && probs[1] >= probs[4] && probs[0] <= 1);
    await assert.rejects(client.traceWindow(ready.traceId, 5, 500), /outside the document/);
    await assert.rejects(client.sample(textPath, { length: 3 }), /play\.txt: not a safetensors file/);
  } finally {
    await client.dispose();
  }
});

test('worker: cancel returns quickly and saves a checkpoint', async () => {
  const client = new WorkerClient(opts);
  try {
    const out = join(dir, 'c.safetensors');
    const run = client.train({ textPaths: [textPath], out, engine: 'reference', model: { hiddenSize: 8 },
      settings: { steps: 100000, seqLen: 8, batchSize: 4, evalEvery: 1000 } });
    let steps = 0;
    for await (const e of run) if (e.kind === 'step' && ++steps === 3) break;
    const t0 = performance.now();
    const r = await run.cancel();
    const ms = performance.now() - t0;
    assert.equal(r.reason, 'cancelled');
    assert.ok(ms < 100, `cancel took ${ms.toFixed(1)} ms`);
    assert.equal(readModelFile(out).training!.step, r.step);
  } finally {
    await client.dispose();
  }
});

test('worker crash rejects pending requests with a clear error', async () => {
  const client = new WorkerClient(opts);
  const p = client.prepareTrace(join(dir, 'missing.safetensors'), 'x');
  await assert.rejects(p, /missing\.safetensors: cannot read/);
  const slow = client.sample(model, { length: 100000 });
  await (client as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await assert.rejects(slow, /gatescope worker (crashed|exited)/);
  await assert.rejects(client.sample(model, { length: 1 }), /gatescope worker/);
});
