// Isolation (issue 14): a worker that allocates until it dies takes down only itself. Its client rejects the
// requests in flight with a WorkerCrashError naming what ran out of memory and the limit; the extension's
// WorkerBackend reports it (onDidCrash) and starts a fresh worker for the next request; the training worker
// is a different one and goes on. Plus the memory watch (data outside the JS heap), the loaders' budgets
// derived from the limit, and the limits and messages the extension derives. A tiny stand-in worker speaks
// the protocol (the real one needs far more than the tiny heap limits that keep this fast).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerClient, WorkerCrashError, crashMessage, loadBudgetEnv, memoryVerdict } from '../../src/worker/client';
import { WorkerBackend } from '../../src/extension/services/workerBackend';
import type { WorkerCrashInfo } from '../../src/extension/logic/workerLimits';
import { crashNotice, memoryWatchFor, runFailureText, workerMemoryLimitMb } from '../../src/extension/logic/workerLimits';
import { DEFAULT_LOAD_LIMITS, LIMIT_ENV } from '../../src/core/formats/limits';
import type { TrainRunEvent } from '../../src/node/trainRun';

const dir = mkdtempSync(join(tmpdir(), 'gatescope-crash-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The stand-in worker: loadModel of a path with "bomb" allocates until the heap limit ends it; other loads
 * answer with what the worker was started with (limit, budgets from the environment); sample with prime
 * "hold" never answers (for the memory watch); train runs until cancelled.
 */
const FAKE = join(dir, 'fake-worker.cjs');
writeFileSync(FAKE, `
const { parentPort, workerData } = require('node:worker_threads');
const reply = (id, result) => parentPort.postMessage({ type: 'result', id, result });
parentPort.on('message', (m) => {
  switch (m.type) {
    case 'loadModel': {
      if (m.path.includes('bomb')) { const keep = []; for (;;) keep.push(new Array(1e5).fill({})); }
      const env = { limit: workerData.memoryLimitMb ?? null, tensors: process.env.${LIMIT_ENV.maxTensorBytes} ?? null,
        inflate: process.env.${LIMIT_ENV.maxInflateBytes} ?? null, threadId: require('node:worker_threads').threadId };
      return reply(m.id, { kind: 'loaded', model: { engine: JSON.stringify(env) } });
    }
    case 'sample':
      if (m.options.prime === 'hold') return; // stays in flight
      return reply(m.id, { kind: 'sampled', prime: m.options.prime, text: 'ok' });
    case 'train': {
      const flag = new Int32Array(m.cancelFlag);
      parentPort.postMessage({ type: 'trainEvent', id: m.id, event: { kind: 'saved', path: m.request.out, step: 2 } });
      const t = setInterval(() => {
        if (Atomics.load(flag, 0) !== 1) return;
        clearInterval(t);
        parentPort.postMessage({ type: 'trainEvent', id: m.id, event: { kind: 'done', reason: 'cancelled', step: 3, path: m.request.out } });
        reply(m.id, { kind: 'trained', reason: 'cancelled', step: 3, path: m.request.out, engine: 'fake' });
      }, 5);
      return;
    }
    case 'cancel': return;
    case 'dispose': return reply(m.id, { kind: 'disposed' });
    default: return parentPort.postMessage({ type: 'error', id: m.id, kind: 'internal', message: 'not in the stand-in: ' + m.type });
  }
});
`);

const TINY = { maxOldGenerationSizeMb: 16 };

test('a worker that allocates until it dies rejects its requests in flight with an out-of-memory error naming them', { timeout: 20_000 }, async () => {
  const failures: WorkerCrashError[] = [];
  const client = new WorkerClient({ workerPath: FAKE, resourceLimits: TINY, onFailure: (e) => failures.push(e) });
  const held = client.sample({ config: {}, params: new Map(), vocab: {} } as never, { prime: 'hold', length: 1 });
  const bomb = client.loadModel(join(dir, 'bomb.pt'));
  await assert.rejects(bomb, (e: unknown) => {
    assert.ok(e instanceof WorkerCrashError);
    assert.equal(e.reason, 'out-of-memory');
    assert.equal(e.limitMb, 16);
    assert.deepEqual(e.operations, ['sampling text', 'loading bomb.pt']);
    assert.equal(e.message, 'gatescope: sampling text (and 1 more request) ran out of memory (limit 16 MB); the compute worker was stopped and starts again for the next request');
    return true;
  });
  await assert.rejects(held, WorkerCrashError); // the same error for every request in flight
  assert.ok(client.failed);
  await assert.rejects(client.loadModel(join(dir, 'ok.pt')), /ran out of memory/); // a dead client refuses at once
  assert.equal(failures.length, 1, 'onFailure is told once');
  assert.equal(failures[0].worker, 'compute worker');
});

test('WorkerBackend: the compute worker dies alone, is reported, restarts for the next request; training goes on', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  const crashes: WorkerCrashInfo[] = [];
  const backend = new WorkerBackend({ workerPath: FAKE, limits: () => ({ resourceLimits: TINY }) }, (m) => logs.push(m));
  backend.onDidCrash((c) => crashes.push(c));
  try {
    const events: TrainRunEvent[] = [];
    const job = backend.train({ text: 'x', out: join(dir, 'run.safetensors'), settings: {} }, (e) => events.push(e));
    const first = JSON.parse((await backend.loadModel(join(dir, 'a.pt'))).engine!) as { limit: number; threadId: number };
    assert.equal(first.limit, 16);
    await assert.rejects(backend.loadModel(join(dir, 'bomb.safetensors')), (e: unknown) => e instanceof WorkerCrashError
      && /^gatescope: loading bomb\.safetensors ran out of memory \(limit 16 MB\); the compute worker was stopped and starts again/.test(e.message));
    assert.equal(crashes.length, 1);
    assert.deepEqual({ ...crashes[0], message: undefined }, {
      worker: 'compute', reason: 'out-of-memory', operations: ['loading bomb.safetensors'], limitMb: 16, message: undefined,
    });
    assert.match(logs.join('\n'), /compute worker stopped: gatescope: loading bomb\.safetensors ran out of memory/);
    // The next request gets a fresh worker, transparently.
    const again = JSON.parse((await backend.loadModel(join(dir, 'b.pt'))).engine!) as { threadId: number };
    assert.notEqual(again.threadId, first.threadId);
    assert.ok(backend.computeAlive);
    // The training worker was never touched: the run stops when asked and reports its checkpoint.
    job.dispose();
    const outcome = await job.done;
    assert.deepEqual(outcome, { status: 'cancelled', path: join(dir, 'run.safetensors'), steps: 3, engine: 'fake' });
    assert.deepEqual(events.map((e) => e.kind), ['saved', 'done']);
    assert.equal(crashes.length, 1);
  } finally {
    backend.dispose();
  }
});

test('a training worker that dies fails its run with the crash, and says where the last checkpoint is', { timeout: 20_000 }, async () => {
  const crashes: WorkerCrashInfo[] = [];
  const backend = new WorkerBackend({ workerPath: FAKE, resourceLimits: TINY }, () => undefined);
  backend.onDidCrash((c) => crashes.push(c));
  try {
    const out = join(dir, 'crash.safetensors');
    const events: TrainRunEvent[] = [];
    const job = backend.train({ text: 'x', out, settings: {} }, (e) => events.push(e));
    while (!events.length) await new Promise((r) => setTimeout(r, 5));
    await (backend as unknown as { trainer: { worker: { terminate(): Promise<number> } } }).trainer.worker.terminate();
    await assert.rejects(job.done, (e: unknown) => e instanceof WorkerCrashError && e.operations[0] === 'training crash.safetensors');
    assert.deepEqual(crashes.map((c) => [c.worker, c.reason]), [['training', 'exited']]);
    const saved = events[0] as Extract<TrainRunEvent, { kind: 'saved' }>;
    assert.equal(runFailureText(crashes[0].message, { path: saved.path, step: saved.step }),
      `training crash.safetensors was interrupted: the training worker stopped unexpectedly (exit code 1); it starts again for the next request. Its last checkpoint (step 2) is kept: ${out}`);
  } finally {
    backend.dispose();
  }
});

test('the memory watch ends a worker whose process grows past the allowance while it works', { timeout: 20_000 }, async () => {
  let rss = 1000;
  const client = new WorkerClient({
    workerPath: FAKE,
    memoryWatch: { maxGrowthBytes: 500 * 2 ** 20, minAvailableBytes: 0, minGrowthBytes: 0, intervalMs: 10, sample: () => ({ rss, available: 2 ** 40 }) },
  });
  const held = client.sample({ config: {}, params: new Map(), vocab: {} } as never, { prime: 'hold', length: 1 });
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!client.failed, 'no growth, no verdict');
  rss += 600 * 2 ** 20;
  await assert.rejects(held, (e: unknown) => e instanceof WorkerCrashError && e.reason === 'out-of-memory'
    && /sampling text ran out of memory: the process grew by 600 MB while it worked \(tensor data and WebAssembly live outside its JS heap\), more than the 500 MB allowed/.test(e.message));
  assert.ok(client.failed);
});

test('memoryVerdict: past the allowance, or the machine nearly out of memory because of us', () => {
  const w = { maxGrowthBytes: 1000, minAvailableBytes: 100, minGrowthBytes: 200 };
  assert.equal(memoryVerdict(w, 999, 10_000), undefined);
  assert.match(memoryVerdict(w, 1001, 10_000)!, /more than/);
  assert.equal(memoryVerdict(w, 150, 50), undefined, 'little growth: the shortage is not ours');
  assert.match(memoryVerdict(w, 250, 50)!, /the machine had only/);
});

test('loaders budgets come from the memory limit (half each for tensors and inflated archives); the user environment wins', async () => {
  const GiB = 2 ** 30;
  assert.deepEqual(loadBudgetEnv(8192, {}), {
    [LIMIT_ENV.maxInflateBytes]: String(Math.min(DEFAULT_LOAD_LIMITS.maxInflateBytes, 4 * GiB)),
    [LIMIT_ENV.maxTensorBytes]: String(Math.min(DEFAULT_LOAD_LIMITS.maxTensorBytes, 4 * GiB)),
    [LIMIT_ENV.maxExpandedBytes]: String(Math.min(DEFAULT_LOAD_LIMITS.maxExpandedBytes, 4 * GiB)),
  });
  const small = loadBudgetEnv(1024, { [LIMIT_ENV.maxTensorBytes]: '123' });
  assert.equal(small[LIMIT_ENV.maxInflateBytes], String(512 * 2 ** 20));
  assert.equal(small[LIMIT_ENV.maxTensorBytes], undefined, 'set by the user: kept');
  // The worker is started with them.
  const client = new WorkerClient({ workerPath: FAKE, resourceLimits: { maxOldGenerationSizeMb: 64 } });
  try {
    const env = JSON.parse((await client.loadModel(join(dir, 'x.pt'))).engine!) as Record<string, unknown>;
    assert.equal(env.limit, 64);
    assert.equal(env.tensors, String(32 * 2 ** 20));
    assert.equal(env.inflate, String(32 * 2 ** 20));
  } finally {
    await client.dispose();
  }
});

test('the extension derives generous limits from the machine, and says what happened in one notification', () => {
  const GiB = 2 ** 30;
  assert.equal(workerMemoryLimitMb(0, 64 * GiB), 8192);
  assert.equal(workerMemoryLimitMb(undefined, 8 * GiB), 4096);
  assert.equal(workerMemoryLimitMb(0, 256 * 2 ** 20), 256, 'never below the floor');
  assert.equal(workerMemoryLimitMb(20_000, 16 * GiB), 16_384, 'a setting is capped by the machine');
  assert.equal(workerMemoryLimitMb(100, 16 * GiB), 256);
  const watch = memoryWatchFor(8192, 16 * GiB);
  assert.equal(watch.maxGrowthBytes, 12 * GiB, 'at most three quarters of the machine');
  assert.equal(memoryWatchFor(1024, 64 * GiB).maxGrowthBytes, 2.5 * GiB);
  assert.equal(memoryWatchFor(1024, 64 * GiB, 'linux').minAvailableBytes, 3.2 * GiB);
  assert.equal(memoryWatchFor(1024, 64 * GiB, 'darwin').minAvailableBytes, 0, 'macOS reports free pages only: no such rule');
  const message = crashMessage('compute worker', 'out-of-memory', ['loading bomb.pt'], 8192);
  assert.equal(message, 'gatescope: loading bomb.pt ran out of memory (limit 8192 MB); the compute worker was stopped and starts again for the next request');
  const n = crashNotice({ worker: 'compute', reason: 'out-of-memory', operations: ['loading bomb.pt'], limitMb: 8192, message }, 2);
  assert.equal(n.message, `${message}. 2 traced documents were closed: trace again to see them. If the model really needs more memory, raise gatescope.workerMemoryLimitMb.`);
  assert.ok(n.offerSetting);
  assert.equal(crashMessage('compute worker', 'crashed', [], undefined, 'boom'), 'gatescope: the compute worker crashed: boom; it starts again for the next request');
  assert.equal(crashNotice({ worker: 'compute', reason: 'crashed', operations: [], message: 'x' }, 0).offerSetting, false);
  assert.equal(runFailureText('gatescope: boom', undefined), 'boom');
});
