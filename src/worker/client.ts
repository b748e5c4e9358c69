// The one host-side client of the compute worker (plain Node, no vscode; the extension's WorkerBackend
// wraps it): spawns dist/worker.js and speaks src/protocol/worker.ts. Training is an AsyncIterable of
// progress with cancel(); a crashed worker rejects every pending request with a clear error.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type {
  EngineComparison, HostRequest, LoadedModel, ModelData, ModelSource, SampledResult, TraceInput, TracePreparedResult, TraceReadyResult,
  TraceWindowResult, TrainedResult, WorkerMessage, WorkerResult,
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
  /** Told when the worker crashes or exits unasked (not after dispose()). */
  readonly onFailure?: (error: Error) => void;
}

export interface PrepareTraceOptions {
  readonly checkpointEvery?: number;
  /** The trace exists and can be windowed (before `available`) while it prepares. */
  readonly onStarted?: (ready: TraceReadyResult) => void;
  /** done/total: preparation work; available: windows starting before this token can be asked for now. */
  readonly onProgress?: (done: number, total: number, available: number) => void;
  readonly signal?: AbortSignal;
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

  private readonly onFailure: ((error: Error) => void) | undefined;

  constructor(options: WorkerClientOptions = {}) {
    this.onFailure = options.onFailure;
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

  /** `model`: a checkpoint path (read in the worker) or the model itself. */
  async sample(model: ModelSource, options: SampleOptions): Promise<SampledResult> {
    return (await this.request((id) => ({ type: 'sample', id, model, options })).promise) as SampledResult;
  }

  /**
   * Sweeps the document, keeping states every K tokens; resolves when done (with a classifier's prediction for
   * the whole document), and an aborted `signal` rejects with kind 'cancelled'. The trace can be windowed
   * from onStarted on (traceWindow before `available`).
   */
  async prepareTrace(model: ModelSource, input: TraceInput, options: PrepareTraceOptions = {}): Promise<TracePreparedResult> {
    const { id, promise } = this.request(
      (id) => ({ type: 'prepareTrace', id, model, input, ...(options.checkpointEvery ? { checkpointEvery: options.checkpointEvery } : {}) }),
      (m) => {
        if (m.type === 'traceStarted') options.onStarted?.(m.ready);
        if (m.type === 'traceProgress') options.onProgress?.(m.done, m.total, m.available);
      },
    );
    const cancel = (): void => { if (!this.failure) this.worker.postMessage({ type: 'cancel', id } satisfies HostRequest); };
    options.signal?.addEventListener('abort', cancel, { once: true });
    if (options.signal?.aborted) cancel();
    try {
      return (await promise) as TracePreparedResult;
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  }

  async traceWindow(traceId: number, start: number, end: number): Promise<TraceWindowResult> {
    return (await this.request((id) => ({ type: 'traceWindow', id, traceId, start, end })).promise) as TraceWindowResult;
  }

  async disposeTrace(traceId: number): Promise<void> {
    await this.request((id) => ({ type: 'disposeTrace', id, traceId })).promise;
  }

  /** Reads and parses a model file (any format the importers know) in the worker. */
  async loadModel(path: string): Promise<LoadedModel> {
    const r = await this.request((id) => ({ type: 'loadModel', id, path })).promise;
    return (r as Extract<WorkerResult, { kind: 'loaded' }>).model;
  }

  /** Trains two engines side by side from the model's weights (src/worker/engineCompare.ts). */
  async compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison> {
    const r = await this.request((id) => ({ type: 'compareEngines', id, model, engines, steps })).promise;
    return (r as Extract<WorkerResult, { kind: 'compared' }>).comparison;
  }

  /** True once the worker crashed, exited or was disposed: every request now rejects. */
  get failed(): boolean {
    return this.failure !== null;
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
      case 'traceStarted':
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
    this.onFailure?.(e);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
