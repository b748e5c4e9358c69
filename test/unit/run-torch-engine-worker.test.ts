// The extension's training path with the torch engine: the bundled worker (dist/worker.js, as the
// extension starts it) trains through python/gatescope's trainer, which it finds next to dist/, and a
// Python without torch fails the run with one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkerClient } from '../../src/worker/client';

const WORKER = resolve(__dirname, '../../dist/worker.js');
const PYTHON = '/usr/bin/python3';
const skip = !existsSync(WORKER) ? 'dist/worker.js is not built (npm run build)'
  : spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0 ? `${PYTHON} has no torch` : false;

const TEXT = 'to be or not to be, that is the question. '.repeat(40);

test('the bundled worker trains on the torch engine; a Python without torch is one line', { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-torch-worker-'));
  const client = new WorkerClient({ workerPath: WORKER });
  try {
    const settings = { steps: 4, batchSize: 4, seqLen: 16, evalEvery: 1000, sampleEvery: 0 };
    const model = { module: 'LSTM' as const, hiddenSize: 8, numLayers: 1 };
    const run = client.train({ text: TEXT, out: join(dir, 'm.safetensors'), engine: 'torch', torch: { python: PYTHON }, model, settings });
    const kinds = new Set<string>();
    for await (const e of run) kinds.add(e.kind);
    const done = await run.result;
    assert.match(done.engine, /^torch-cpu/);
    assert.equal(done.step, 4);
    assert.ok(existsSync(done.path));
    assert.ok(kinds.has('start') && kinds.has('done'), [...kinds].join());

    const bad = client.train({ text: TEXT, out: join(dir, 'n.safetensors'), engine: 'torch', torch: { python: join(dir, 'no-such-python') }, model, settings });
    await assert.rejects(bad.result, (e: Error) => /torch engine/i.test(e.message) && !e.message.includes('\n    at '));
  } finally {
    await client.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
