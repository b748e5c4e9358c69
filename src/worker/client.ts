// Host-side client of the compute worker (plain Node, no vscode): spawns dist/worker.js and speaks
// src/protocol/worker.ts. Training is an AsyncIterable of progress with cancel(); a crashed worker
// rejects every pending request with a clear error.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type {
  HostRequest, SampledResult, TraceReadyResult, TraceWindowResult, TrainedResult, WorkerMessage, WorkerResult,
} from '../protocol/worker';
import type { TrainRequest, TrainRunEvent } from '../node/trainRun';
import type { SampleOptions } from '../core/sample';

export class WorkerRequestError extends Error {
  constructor(message: string, readonly kind: string) {
    super(message);
  }
}

export interface WorkerClientOptions {
  /** Defaults to worker.js next to the running bundle (dist/). */
  readonly workerPath?: string;
  readonly execArgv?: string[];
}

interface Pending {
  resolve(r: WorkerResult): void;
  reject(e: Error): void;
  onEvent?(m: WorkerMessage): void;
}

export interface TrainHandle extends AsyncIterable<TrainRunEvent> {
  /** Asks the run to stop after its current step; resolves once the checkpoint is saved. */
  cancel(): Promise<TrainedResult>;
  /** Resolves when the run ends (completed, cancelled, out of time); rejects on errors. */
  readonly result: Promise<TrainedResult>;
}

export class WorkerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;

  constructor(options: WorkerClientOptions = {}) {
    this.worker = new Worker(options.workerPath ?? join(__dirname, 'worker.js'), { execArgv: options.execArgv ?? [] });
    this.worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    this.worker.on('error', (e: Error) => this.fail(new Error(`gatescope worker crashed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`gatescope worker exited (code ${code})`)));
  }

  train(request: TrainRequest): TrainHandle {
    const flag = new SharedArrayBuffer(4);
    const queue: TrainRunEvent[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    const { id, promise } = this.request((id) => ({ type: 'train', id, request, cancelFlag: flag }), (m) => {
      if (m.type === 'trainEvent') {
        queue.push(m.event);
        wake?.();
      }
    });
    const result = promise.then((r) => r as TrainedResult).finally(() => {
      finished = true;
      wake?.();
    });
    result.catch(() => undefined); // observed through the iterator or `result`
    const client = this;
    return {
      result,
      cancel(): Promise<TrainedResult> {
        Atomics.store(new Int32Array(flag), 0, 1);
        if (!client.failure) client.worker.postMessage({ type: 'cancel', id } satisfies HostRequest);
        return result;
      },
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (queue.length) { yield queue.shift()!; continue; }
          if (finished) { await result; return; }
          await new Promise<void>((r) => { wake = r; });
          wake = null;
        }
      },
    };
  }

  async sample(modelPath: string, options: SampleOptions): Promise<SampledResult> {
    return (await this.request((id) => ({ type: 'sample', id, modelPath, options })).promise) as SampledResult;
  }

  async prepareTrace(modelPath: string, text: string, options: { checkpointEvery?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<TraceReadyResult> {
    const { promise } = this.request(
      (id) => ({ type: 'prepareTrace', id, modelPath, text, ...(options.checkpointEvery ? { checkpointEvery: options.checkpointEvery } : {}) }),
      (m) => { if (m.type === 'traceProgress') options.onProgress?.(m.done, m.total); },
    );
    return (await promise) as TraceReadyResult;
  }

  async traceWindow(traceId: number, start: number, end: number): Promise<TraceWindowResult> {
    return (await this.request((id) => ({ type: 'traceWindow', id, traceId, start, end })).promise) as TraceWindowResult;
  }

  async disposeTrace(traceId: number): Promise<void> {
    await this.request((id) => ({ type: 'disposeTrace', id, traceId })).promise;
  }

  /** Stops any run, then ends the worker. */
  async dispose(): Promise<void> {
    if (this.failure) return;
    try {
      await Promise.race([this.request((id) => ({ type: 'dispose', id })).promise, new Promise((r) => setTimeout(r, 1000))]);
    } catch { /* already gone */ }
    this.failure = new Error('gatescope worker was disposed');
    await this.worker.terminate();
  }

  private request(make: (id: number) => HostRequest, onEvent?: (m: WorkerMessage) => void): { id: number; promise: Promise<WorkerResult> } {
    const id = this.nextId++;
    const promise = new Promise<WorkerResult>((resolve, reject) => {
      if (this.failure) { reject(this.failure); return; }
      this.pending.set(id, { resolve, reject, onEvent });
      this.worker.postMessage(make(id));
    });
    return { id, promise };
  }

  private onMessage(m: WorkerMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    switch (m.type) {
      case 'trainEvent':
      case 'traceProgress':
        p.onEvent?.(m);
        return;
      case 'result':
        this.pending.delete(m.id);
        p.resolve(m.result);
        return;
      case 'error':
        this.pending.delete(m.id);
        p.reject(new WorkerRequestError(m.message, m.kind));
        return;
      default: {
        const never: never = m;
        throw new Error(`unknown worker message ${JSON.stringify(never)}`);
      }
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
