// The one host-side client of the compute worker (plain Node, no vscode; the extension's WorkerBackend
// wraps it): spawns dist/worker.js and speaks src/protocol/worker.ts. Training is an AsyncIterable of
// progress with cancel(); a crashed worker rejects every pending request with a WorkerCrashError naming
// what it was doing.
//
// Isolation: a worker started with `resourceLimits` dies alone when its JS heap passes the limit (Node ends
// the thread, not the process). Tensor data, inflated archives and WebAssembly memory live outside that
// heap: the worker is started with the loaders' budgets capped by its limit (loadBudgetEnv), and an
// optional memory watch ends the worker when the process grows past what the limit allows while it works,
// or when the machine is about to run out of memory because of it.
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { freemem } from 'node:os';
import { basename, join } from 'node:path';
import type {
  EngineComparison, HostRequest, LoadModelOptions, LoadedModel, ModelData, ModelOnWire, ModelSource, SampledResult, TraceInput, TracePreparedResult, TraceReadyResult,
  SaliencyResult, TraceWindowResult, TrainedResult, WorkerData, WorkerMessage, WorkerResult,
} from '../protocol/worker';
import type { TensorMap } from '../core/tensor';
import { DEFAULT_LOAD_LIMITS, LIMIT_ENV, type LoadLimits } from '../core/formats/limits';
import type { TrainRequest, TrainRunEvent } from '../node/trainRun';
import type { SampleOptions } from '../core/sample';
import { KeptKeys } from './keptModels';

export class WorkerRequestError extends Error {
  constructor(message: string, readonly kind: string) {
    super(message);
  }
}

/** out-of-memory: past its heap limit or the memory watch; crashed: an uncaught error; exited: it ended unasked. */
export type WorkerCrashReason = 'out-of-memory' | 'crashed' | 'exited';

/** The worker died: every request in flight rejects with this (and onFailure gets it once). */
export class WorkerCrashError extends Error {
  constructor(
    message: string,
    readonly reason: WorkerCrashReason,
    /** What the worker was doing, e.g. "loading bomb.pt" (empty when idle). */
    readonly operations: readonly string[],
    /** Its heap limit in MB, when it had one. */
    readonly limitMb: number | undefined,
    /** Which worker ("compute worker", "training worker"). */
    readonly worker: string,
  ) {
    super(message);
  }
}

/**
 * The one-line message of a WorkerCrashError: what was going on and what happened to it, and that the worker
 * restarts ("gatescope: loading bomb.pt ran out of memory (limit 8192 MB); the compute worker was stopped and
 * starts again for the next request").
 */
export function crashMessage(worker: string, reason: WorkerCrashReason, operations: readonly string[], limitMb: number | undefined, detail = ''): string {
  const more = operations.length - 1;
  const doing = operations.length ? `${operations[0]}${more > 0 ? ` (and ${more} more request${more > 1 ? 's' : ''})` : ''}` : '';
  const restart = 'starts again for the next request';
  if (reason === 'out-of-memory') {
    const what = `ran out of memory${limitMb ? ` (limit ${limitMb} MB)` : ''}${detail ? `: ${detail}` : ''}`;
    return doing ? `gatescope: ${doing} ${what}; the ${worker} was stopped and ${restart}` : `gatescope: the ${worker} ${what}; it ${restart}`;
  }
  const what = reason === 'crashed' ? `crashed${detail ? `: ${detail}` : ''}` : `stopped unexpectedly${detail ? ` (${detail})` : ''}`;
  return `gatescope: ${doing ? `${doing} ${reason === 'crashed' ? 'failed' : 'was interrupted'}: ` : ''}the ${worker} ${what}; it ${restart}`;
}

/**
 * The memory watch: while the worker has requests in flight, the process's resident memory is sampled;
 * the worker is ended when it grew by more than `maxGrowthBytes` since the worker got busy, or when the
 * machine has less than `minAvailableBytes` left and the process grew by at least `minGrowthBytes` (so the
 * shortage is likely ours, not another program's).
 */
export interface MemoryWatch {
  readonly maxGrowthBytes: number;
  readonly minAvailableBytes: number;
  readonly minGrowthBytes: number;
  readonly intervalMs?: number;
  /** Samples (default: process RSS and os.freemem()). */
  readonly sample?: () => { readonly rss: number; readonly available: number };
}

/** Why the watch ends the worker now, or undefined. */
export function memoryVerdict(w: MemoryWatch, growth: number, available: number): string | undefined {
  const mb = (b: number): string => `${Math.round(b / 2 ** 20)} MB`;
  if (growth > w.maxGrowthBytes) {
    return `the process grew by ${mb(growth)} while it worked (tensor data and WebAssembly live outside its JS heap), more than the ${mb(w.maxGrowthBytes)} allowed`;
  }
  if (available < w.minAvailableBytes && growth >= w.minGrowthBytes) {
    return `the machine had only ${mb(available)} of memory left after the process grew by ${mb(growth)} while it worked`;
  }
  return undefined;
}

/** The loaders' byte budgets that hold data outside the JS heap (typed arrays, inflated archive members). */
const OFF_HEAP_BUDGETS: readonly (keyof LoadLimits)[] = ['maxInflateBytes', 'maxTensorBytes', 'maxExpandedBytes'];

/**
 * The environment that keeps a worker's loaders within its memory limit: inflated archives and tensors get
 * at most half the limit each (their default when that is smaller). A budget the environment already sets
 * is the user's choice and kept.
 */
export function loadBudgetEnv(memoryLimitMb: number, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const half = Math.floor((memoryLimitMb * 2 ** 20) / 2);
  const out: Record<string, string> = {};
  for (const key of OFF_HEAP_BUDGETS) {
    const name = LIMIT_ENV[key];
    if (env[name] === undefined || env[name] === '') out[name] = String(Math.min(DEFAULT_LOAD_LIMITS[key], half));
  }
  return out;
}

export interface WorkerClientOptions {
  /** Defaults to worker.js next to the running bundle (dist/). */
  readonly workerPath?: string;
  readonly execArgv?: string[];
  /** Told once when the worker crashes or exits unasked (not after dispose()). */
  readonly onFailure?: (error: WorkerCrashError) => void;
  /** V8 limits of the worker's isolate: past maxOldGenerationSizeMb the worker dies, not the process. */
  readonly resourceLimits?: ResourceLimits;
  /** Ends the worker when memory outside its heap runs away (see MemoryWatch). */
  readonly memoryWatch?: MemoryWatch;
  /** How messages name it (default "compute worker"). */
  readonly name?: string;
}

export interface PrepareTraceOptions {
  readonly checkpointEvery?: number;
  /** An earlier trace of this document (before an edit) to keep the states of: see TraceReadyResult.resumed. */
  readonly resumeFrom?: number;
  /** The trace exists and can be windowed (before `available`) while it prepares. */
  readonly onStarted?: (ready: TraceReadyResult) => void;
  /** done/total: preparation work; available: windows starting before this token can be asked for now. */
  readonly onProgress?: (done: number, total: number, available: number) => void;
  readonly signal?: AbortSignal;
  /** What is traced, for crash messages ("tracing notes.txt"). */
  readonly what?: string;
}

interface Pending {
  resolve(r: WorkerResult): void;
  reject(e: Error): void;
  onEvent?(m: WorkerMessage): void;
  /** What the request does, for crash messages ("loading model.pt"). */
  readonly what: string;
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
  private readonly name: string;
  private readonly limitMb: number | undefined;
  private readonly onFailure: ((error: WorkerCrashError) => void) | undefined;
  private readonly watch: MemoryWatch | undefined;
  private watchTimer: ReturnType<typeof setInterval> | undefined;
  private watchBaseline = 0;
  /** Keys of the models sent to this worker, and which of them it keeps (mirrored: src/worker/keptModels.ts). */
  private readonly modelKeys = new WeakMap<ModelData, number>();
  private nextModelKey = 1;
  private readonly keptModels = new KeptKeys();

  constructor(options: WorkerClientOptions = {}) {
    this.onFailure = options.onFailure;
    this.name = options.name ?? 'compute worker';
    this.limitMb = options.resourceLimits?.maxOldGenerationSizeMb;
    this.watch = options.memoryWatch;
    const workerData: WorkerData = { ...(this.limitMb ? { memoryLimitMb: this.limitMb } : {}) };
    this.worker = new Worker(options.workerPath ?? join(__dirname, 'worker.js'), {
      execArgv: options.execArgv ?? [], workerData,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      ...(this.limitMb ? { env: { ...process.env, ...loadBudgetEnv(this.limitMb, process.env) } } : {}),
    });
    this.worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    this.worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') this.crash('out-of-memory');
      else this.crash('crashed', e.message.split('\n')[0]);
    });
    this.worker.on('exit', (code) => this.crash('exited', `exit code ${code}`));
  }

  train(request: TrainRequest): TrainHandle {
    const flag = new SharedArrayBuffer(4);
    const queue: TrainRunEvent[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    const { id, promise } = this.request(`training ${basename(request.out)}`, (id) => ({ type: 'train', id, request, cancelFlag: flag }), (m) => {
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
    const m = this.modelOnWire(model);
    return (await this.request('sampling text', (id) => ({ type: 'sample', id, model: m.wire, options }), undefined, m.posted).promise) as SampledResult;
  }

  /**
   * Sweeps the document, keeping states every K tokens; resolves when done (with a classifier's prediction for
   * the whole document), and an aborted `signal` rejects with kind 'cancelled'. The trace can be windowed
   * from onStarted on (traceWindow before `available`).
   */
  async prepareTrace(model: ModelSource, input: TraceInput, options: PrepareTraceOptions = {}): Promise<TracePreparedResult> {
    const m = this.modelOnWire(model);
    const { id, promise } = this.request(
      options.what ?? 'tracing a document',
      (id) => ({
        type: 'prepareTrace', id, model: m.wire, input,
        ...(options.checkpointEvery ? { checkpointEvery: options.checkpointEvery } : {}),
        ...(options.resumeFrom !== undefined ? { resumeFrom: options.resumeFrom } : {}),
      }),
      (e) => {
        if (e.type === 'traceStarted') options.onStarted?.(e.ready);
        if (e.type === 'traceProgress') options.onProgress?.(e.done, e.total, e.available);
      },
      m.posted,
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
    return (await this.request('reading a trace window', (id) => ({ type: 'traceWindow', id, traceId, start, end })).promise) as TraceWindowResult;
  }

  /** What the prediction at `position` depended on, over the `window` tokens up to it (src/core/saliency.ts). */
  async saliency(traceId: number, position: number, window: number): Promise<SaliencyResult> {
    return (await this.request('attributing a prediction', (id) => ({ type: 'saliency', id, traceId, position, window })).promise) as SaliencyResult;
  }

  async disposeTrace(traceId: number): Promise<void> {
    await this.request('closing a trace', (id) => ({ type: 'disposeTrace', id, traceId })).promise;
  }

  /** Reads and parses a model file (any format the importers know) in the worker. */
  async loadModel(path: string, options?: LoadModelOptions): Promise<LoadedModel> {
    const r = await this.request(`loading ${basename(path)}`, (id) => ({ type: 'loadModel', id, path, ...(options ? { options } : {}) })).promise;
    return (r as Extract<WorkerResult, { kind: 'loaded' }>).model;
  }

  /** Reads a tensor file (safetensors, npz, .pt state_dict, ...) in the worker: its tensors by name. */
  async readTensors(path: string): Promise<TensorMap> {
    const r = await this.request(`reading ${basename(path)}`, (id) => ({ type: 'readTensors', id, path })).promise;
    return (r as Extract<WorkerResult, { kind: 'tensors' }>).tensors;
  }

  /** Trains two engines side by side from the model's weights (src/worker/engineCompare.ts). */
  async compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison> {
    const m = this.modelOnWire(model);
    const r = await this.request(`comparing ${engines[0]} with ${engines[1]}`, (id) => ({ type: 'compareEngines', id, model: m.wire, engines, steps }), undefined, m.posted).promise;
    return (r as Extract<WorkerResult, { kind: 'compared' }>).comparison;
  }

  /** True once the worker crashed, exited or was disposed: every request now rejects. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** What the requests in flight do ("loading model.pt", "training m.safetensors"), oldest first. */
  get inFlight(): string[] {
    return [...this.pending.values()].map((p) => p.what);
  }

  /** Stops any run, then ends the worker. */
  async dispose(): Promise<void> {
    if (this.failure) return;
    try {
      await Promise.race([this.request('shutting down', (id) => ({ type: 'dispose', id })).promise, new Promise((r) => setTimeout(r, 1000))]);
    } catch { /* already gone */ }
    this.failure = new Error(`the gatescope ${this.name} was shut down`);
    this.stopWatch();
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    await this.worker.terminate();
  }

  /**
   * A model sent whole the first time, then by its key while the worker keeps it (the same ModelData object:
   * models are never changed in place). `posted` records the use once the request is on its way.
   */
  private modelOnWire(model: ModelSource): { readonly wire: ModelOnWire; readonly posted?: () => void } {
    if (typeof model === 'string') return { wire: model };
    let key = this.modelKeys.get(model);
    if (key === undefined) this.modelKeys.set(model, key = this.nextModelKey++);
    const k = key;
    return { wire: this.keptModels.has(k) ? { key: k } : { key: k, data: model }, posted: () => { this.keptModels.use(k); } };
  }

  private request(what: string, make: (id: number) => HostRequest, onEvent?: (m: WorkerMessage) => void, posted?: () => void): { id: number; promise: Promise<WorkerResult> } {
    const id = this.nextId++;
    const promise = new Promise<WorkerResult>((resolve, reject) => {
      if (this.failure) { reject(this.failure); return; }
      this.pending.set(id, { resolve, reject, onEvent, what });
      this.startWatch();
      this.worker.postMessage(make(id));
      posted?.();
    });
    return { id, promise };
  }

  private measure(): { rss: number; available: number } {
    return this.watch?.sample?.() ?? { rss: process.memoryUsage.rss(), available: freemem() };
  }

  /** Samples memory while requests are in flight (the baseline: when the worker got busy). */
  private startWatch(): void {
    const w = this.watch;
    if (!w || this.watchTimer) return;
    this.watchBaseline = this.measure().rss;
    this.watchTimer = setInterval(() => {
      if (this.pending.size === 0) { this.stopWatch(); return; }
      const now = this.measure();
      const why = memoryVerdict(w, now.rss - this.watchBaseline, now.available);
      if (why) {
        this.crash('out-of-memory', why);
        void this.worker.terminate();
      }
    }, w.intervalMs ?? 250);
    this.watchTimer.unref();
  }

  private stopWatch(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
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
        if (this.pending.size === 0) this.stopWatch();
        p.resolve(m.result);
        return;
      case 'error':
        this.pending.delete(m.id);
        if (this.pending.size === 0) this.stopWatch();
        p.reject(new WorkerRequestError(m.message, m.kind));
        return;
      default: {
        const never: never = m;
        throw new Error(`unknown worker message ${JSON.stringify(never)}`);
      }
    }
  }

  /** The worker died (or the watch ends it): reject everything in flight with one error naming it. */
  private crash(reason: WorkerCrashReason, detail = ''): void {
    if (this.failure) return;
    const ops = this.inFlight.filter((w) => w !== 'shutting down');
    const e = new WorkerCrashError(crashMessage(this.name, reason, ops, this.limitMb, detail), reason, ops, this.limitMb, this.name);
    this.failure = e;
    this.stopWatch();
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.onFailure?.(e);
  }
}
