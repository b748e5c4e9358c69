// Entry of the compute thread (bundled to dist/backend-thread.js): serves the Backend interface over
// worker_threads messages, so training steps and trace recomputation never run on the extension host.
import { parentPort } from 'node:worker_threads';
import { CancelledError, type RemoteTrace, type TrainJob } from './backend';
import { InHostBackend } from './inHostBackend';
import type { FromThread, ToThread } from './threadProtocol';

if (!parentPort) throw new Error('backendThread must run in a worker thread');
const port = parentPort;
const backend = new InHostBackend();
const jobs = new Map<number, TrainJob>();
const cancelled = new Set<number>();
const traces = new Map<number, RemoteTrace>();
let nextTraceId = 1;

function send(m: FromThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function fail(id: number, err: unknown): void {
  send({ type: 'failed', id, message: err instanceof Error ? err.message : String(err), cancelled: err instanceof CancelledError });
}

async function handle(m: ToThread): Promise<void> {
  switch (m.type) {
    case 'train': {
      const job = backend.train(m.spec, (event) => send({ type: 'trainEvent', id: m.id, event }));
      jobs.set(m.id, job);
      try {
        send({ type: 'trained', id: m.id, outcome: await job.done });
      } finally {
        jobs.delete(m.id);
      }
      break;
    }
    case 'sample':
      send({ type: 'sampled', id: m.id, text: await backend.sample(m.model, m.request) });
      break;
    case 'prepareTrace': {
      const remote = await backend.prepareTrace(m.model, m.ids, m.checkpointEvery, {
        onProgress: (done, total) => send({ type: 'progress', id: m.id, done, total }),
        isCancelled: () => cancelled.has(m.id),
      });
      const traceId = nextTraceId++;
      traces.set(traceId, remote);
      send({ type: 'traced', id: m.id, traceId, length: remote.length });
      break;
    }
    case 'traceWindow': {
      const remote = traces.get(m.traceId);
      if (!remote) throw new Error(`trace ${m.traceId} is gone`);
      const tensors = await remote.window(m.start, m.end);
      const buffers = [...new Set([...tensors.values()].map((t) => t.data.buffer as ArrayBuffer))];
      send({ type: 'window', id: m.id, tensors }, buffers);
      break;
    }
    case 'compareEngines':
      send({ type: 'compared', id: m.id, comparison: await backend.compareEngines(m.model, m.engines, m.steps) });
      break;
    case 'loadModel':
      send({ type: 'loaded', id: m.id, model: await backend.loadModel(m.path) });
      break;
    case 'disposeTrace':
      traces.get(m.traceId)?.dispose();
      traces.delete(m.traceId);
      break;
    case 'cancel':
      cancelled.add(m.id);
      jobs.get(m.id)?.dispose();
      break;
    default: {
      const never: never = m;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
}

port.on('message', (m: ToThread) => {
  handle(m).catch((err: unknown) => {
    if ('id' in m) fail(m.id, err);
  }).finally(() => {
    if ('id' in m && m.type !== 'cancel') cancelled.delete(m.id);
  });
});
