// The Backend the extension uses: every computation runs in a worker (dist/worker.js) through the one
// host-side client (src/worker/client.ts), so the extension host only posts messages. Two workers, each
// started on first use and again after a crash:
//   - the compute worker: loading model files, tracing, sampling, comparing (files from anywhere are read
//     here; with a memory watch, see MemoryWatch);
//   - the training worker: one training run at a time, so that a hostile file opened while a run goes on
//     cannot take the run down with it.
// Both have a heap limit (resourceLimits): past it the worker dies, not the extension host. A crash rejects
// the worker's requests in flight with a WorkerCrashError and fires onDidCrash.
import type { TrainRunEvent } from '../../node/trainRun';
import type { TensorMap } from '../../core/tensor';
import type { ResourceLimits } from 'node:worker_threads';
import { type MemoryWatch, WorkerClient, WorkerCrashError, type WorkerClientOptions, WorkerRequestError } from '../../worker/client';
import type { EngineComparison, TraceReadyResult } from '../../protocol/worker';
import { Emitter } from '../lifecycle';
import { PreparationProgress } from '../logic/preparation';
import type { WorkerCrashInfo } from '../logic/workerLimits';
import {
  type Backend, CancelledError, type LoadModelOptions, type LoadedModel, type ModelData, type PrepareOptions, type RemoteTrace, type SampleRequest,
  type TrainJob, type TrainOutcome, type TrainSpec,
} from './backend';

/** How often PrepareOptions.isCancelled is polled while a document is being prepared. */
const CANCEL_POLL_MS = 100;

export interface WorkerLimits {
  readonly resourceLimits?: ResourceLimits;
  /** The compute worker's memory watch (the training worker has only its heap limit). */
  readonly memoryWatch?: MemoryWatch;
}

export interface WorkerBackendOptions extends Omit<WorkerClientOptions, 'onFailure' | 'name' | 'memoryWatch' | 'resourceLimits'>, WorkerLimits {
  readonly workerPath: string;
  /** Read each time a worker starts (a changed setting applies from the next start), over the fixed limits. */
  readonly limits?: () => WorkerLimits;
}

type Role = 'compute' | 'training';

export class WorkerBackend implements Backend {
  readonly description = 'worker threads';
  /** The compute worker's client (the training worker's is `trainer`). */
  private current: WorkerClient | undefined;
  private trainer: WorkerClient | undefined;
  private disposed = false;
  private readonly onDidCrashEmitter = new Emitter<WorkerCrashInfo>();
  readonly onDidCrash = this.onDidCrashEmitter.event;
  /** The worker trace behind each open RemoteTrace made here, for PrepareOptions.previous. */
  private readonly workerTraces = new WeakMap<RemoteTrace, { readonly client: WorkerClient; readonly traceId: number }>();

  constructor(private readonly options: WorkerBackendOptions, private readonly log: (message: string) => void) {}

  /** True while the compute worker is alive (it starts on the next request otherwise). */
  get computeAlive(): boolean {
    return !!this.current && !this.current.failed;
  }

  private client(role: Role = 'compute'): WorkerClient {
    if (this.disposed) throw new Error('the compute worker was shut down');
    const existing = role === 'compute' ? this.current : this.trainer;
    if (existing && !existing.failed) return existing;
    const { memoryWatch: watch, resourceLimits: limits, limits: live, ...rest } = this.options;
    const now = live?.() ?? {};
    const resourceLimits = now.resourceLimits ?? limits;
    const memoryWatch = now.memoryWatch ?? watch;
    const client = new WorkerClient({
      ...rest,
      name: `${role} worker`,
      ...(resourceLimits ? { resourceLimits } : {}),
      ...(role === 'compute' && memoryWatch ? { memoryWatch } : {}),
      onFailure: (e) => this.crashed(role, e),
    });
    if (role === 'compute') this.current = client;
    else this.trainer = client;
    return client;
  }

  private crashed(role: Role, e: WorkerCrashError): void {
    this.log(`${role} worker stopped: ${e.message}`);
    if (this.disposed) return;
    this.onDidCrashEmitter.fire({
      worker: role, reason: e.reason, operations: e.operations, message: e.message, ...(e.limitMb ? { limitMb: e.limitMb } : {}),
    });
  }

  train(spec: TrainSpec, onEvent: (event: TrainRunEvent) => void): TrainJob {
    const run = this.client('training').train(spec);
    const done = (async (): Promise<TrainOutcome> => {
      for await (const event of run) onEvent(event);
      const r = await run.result;
      return { status: r.reason === 'cancelled' ? 'cancelled' : 'done', path: r.path, steps: r.step, engine: r.engine };
    })();
    return { done, dispose: () => { run.cancel().catch(() => undefined); } };
  }

  async sample(model: ModelData, r: SampleRequest): Promise<string> {
    const out = await this.client().sample(model, { prime: r.prime, length: r.length, temperature: r.temperature, seed: r.seed });
    return out.text;
  }

  prepareTrace(model: ModelData, ids: Int32Array, checkpointEvery: number, options: PrepareOptions = {}): Promise<RemoteTrace> {
    const client = this.client();
    const abort = new AbortController();
    let progress: PreparationProgress | undefined;
    let prediction: Float32Array | undefined;
    // Only a trace still open in this same worker (a restarted one numbers its traces anew).
    const previous = options.previous && this.workerTraces.get(options.previous);
    const resumeFrom = previous?.client === client ? previous.traceId : undefined;
    return new Promise<RemoteTrace>((resolve, reject) => {
      const poll = options.isCancelled ? setInterval(() => { if (options.isCancelled!()) abort.abort(); }, CANCEL_POLL_MS) : undefined;
      const onStarted = (ready: TraceReadyResult): void => {
        const p = new PreparationProgress(ready.tokens);
        progress = p;
        let closed = false;
        const remote: RemoteTrace = {
          length: ready.tokens,
          progress: p,
          window: async (start, end) => {
            if (closed) throw new Error('this trace was closed');
            const w = await client.traceWindow(ready.traceId, start, end);
            return { tensors: w.tensors, topIds: w.topIds, topProbs: w.topProbs };
          },
          prediction: () => prediction,
          saliency: async (position, window) => {
            if (closed) throw new Error('this trace was closed');
            return client.saliency(ready.traceId, position, window);
          },
          ...(ready.resumed ? { resumed: ready.resumed } : {}),
          dispose: () => {
            if (closed) return;
            closed = true;
            this.workerTraces.delete(remote);
            p.dispose(); // an unfinished preparation is cancelled: the worker drops the trace either way
            if (!client.failed) client.disposeTrace(ready.traceId).catch(() => undefined);
          },
        };
        this.workerTraces.set(remote, { client, traceId: ready.traceId });
        resolve(remote);
      };
      client.prepareTrace(model, { ids }, {
        checkpointEvery, signal: abort.signal, onStarted, onProgress: (d, t, a) => progress?.update(d, t, a), ...(options.what ? { what: options.what } : {}),
        ...(resumeFrom !== undefined ? { resumeFrom } : {}),
      })
        .then((done) => {
          prediction = done.prediction;
          progress?.finish();
        }, (e: unknown) => {
          const err = e instanceof WorkerRequestError && e.kind === 'cancelled' ? new CancelledError() : e instanceof Error ? e : new Error(String(e));
          progress?.fail(err);
          reject(err); // only when the trace never started
        })
        .finally(() => { if (poll) clearInterval(poll); });
    });
  }

  loadModel(path: string, options?: LoadModelOptions): Promise<LoadedModel> {
    return this.client().loadModel(path, options);
  }

  readTensors(path: string): Promise<TensorMap> {
    return this.client().readTensors(path);
  }

  compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison> {
    return this.client().compareEngines(model, engines, steps);
  }

  dispose(): void {
    this.disposed = true;
    void this.current?.dispose();
    void this.trainer?.dispose();
    this.current = undefined;
    this.trainer = undefined;
    this.onDidCrashEmitter.dispose();
  }
}

/** Whether an error is a worker crash (already reported through onDidCrash: do not notify twice). */
export function isWorkerCrash(e: unknown): e is WorkerCrashError {
  return e instanceof WorkerCrashError;
}
