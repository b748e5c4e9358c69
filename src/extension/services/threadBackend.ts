// The Backend the extension uses: every computation runs on a worker thread (backendThread.ts), so the
// extension host only posts messages. The thread starts on first use and again after a crash.
import { Worker } from 'node:worker_threads';
import type { TensorMap } from '../../core/tensor';
import type { TrainRunEvent } from '../../node/trainRun';
import { type Backend, CancelledError, type LoadedModel, type ModelData, type PrepareOptions, type RemoteTrace, type SampleRequest, type TrainJob, type TrainOutcome, type TrainSpec } from './backend';
import type { FromThread, ToThread } from './threadProtocol';
import type { EngineComparison } from './engineCompare';

interface Pending {
  resolve(m: FromThread): void;
  reject(e: Error): void;
  onMessage?(m: FromThread): void;
}

export class ThreadBackend implements Backend {
  readonly description = 'worker thread';
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private disposed = false;

  constructor(private readonly scriptPath: string, private readonly log: (message: string) => void) {}

  private thread(): Worker {
    if (this.disposed) throw new Error('the compute thread was shut down');
    if (this.worker) return this.worker;
    const w = new Worker(this.scriptPath);
    w.on('message', (m: FromThread) => this.receive(m));
    w.on('error', (err: unknown) => this.crashed(w, err instanceof Error ? err : new Error(String(err))));
    w.on('exit', (code) => { if (code !== 0) this.crashed(w, new Error(`compute thread exited with code ${code}`)); });
    this.worker = w;
    return w;
  }

  private crashed(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    this.log(`compute thread stopped: ${err.message}`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private receive(m: FromThread): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'trainEvent' || m.type === 'progress') {
      p.onMessage?.(m);
      return;
    }
    this.pending.delete(m.id);
    if (m.type === 'failed') p.reject(m.cancelled ? new CancelledError() : new Error(m.message));
    else p.resolve(m);
  }

  private call(build: (id: number) => ToThread, onMessage?: (m: FromThread) => void): { id: number; result: Promise<FromThread> } {
    const id = this.nextId++;
    const result = new Promise<FromThread>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onMessage ? { onMessage } : {}) });
      try {
        this.thread().postMessage(build(id));
      } catch (err) {
        this.pending.delete(id);
        reject(err as Error);
      }
    });
    return { id, result };
  }

  private post(m: ToThread): void {
    this.worker?.postMessage(m);
  }

  train(spec: TrainSpec, onEvent: (event: TrainRunEvent) => void): TrainJob {
    const { id, result } = this.call((id) => ({ type: 'train', id, spec }), (m) => {
      if (m.type === 'trainEvent') onEvent(m.event);
    });
    const done = result.then((m): TrainOutcome => {
      if (m.type !== 'trained') throw new Error(`unexpected reply ${m.type}`);
      return m.outcome;
    });
    return { done, dispose: () => this.post({ type: 'cancel', id }) };
  }

  async sample(model: ModelData, request: SampleRequest): Promise<string> {
    const m = await this.call((id) => ({ type: 'sample', id, model, request })).result;
    if (m.type !== 'sampled') throw new Error(`unexpected reply ${m.type}`);
    return m.text;
  }

  async prepareTrace(model: ModelData, ids: Int32Array, checkpointEvery: number, options: PrepareOptions = {}): Promise<RemoteTrace> {
    let timer: ReturnType<typeof setInterval> | undefined;
    const { id, result } = this.call((id) => ({ type: 'prepareTrace', id, model, ids, checkpointEvery }), (m) => {
      if (m.type === 'progress') options.onProgress?.(m.done, m.total);
    });
    if (options.isCancelled) timer = setInterval(() => { if (options.isCancelled!()) this.post({ type: 'cancel', id }); }, 100);
    try {
      const m = await result;
      if (m.type !== 'traced') throw new Error(`unexpected reply ${m.type}`);
      return this.remoteTrace(m.traceId, m.length);
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  async loadModel(path: string): Promise<LoadedModel> {
    const m = await this.call((id) => ({ type: 'loadModel', id, path })).result;
    if (m.type !== 'loaded') throw new Error(`unexpected reply ${m.type}`);
    return m.model;
  }

  async compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison> {
    const m = await this.call((id) => ({ type: 'compareEngines', id, model, engines, steps })).result;
    if (m.type !== 'compared') throw new Error(`unexpected reply ${m.type}`);
    return m.comparison;
  }

  private remoteTrace(traceId: number, length: number): RemoteTrace {
    let closed = false;
    const worker = this.worker;
    return {
      length,
      window: async (start: number, end: number): Promise<TensorMap> => {
        if (closed) throw new Error('this trace was closed');
        const m = await this.call((id) => ({ type: 'traceWindow', id, traceId, start, end })).result;
        if (m.type !== 'window') throw new Error(`unexpected reply ${m.type}`);
        return m.tensors;
      },
      dispose: () => {
        closed = true;
        if (this.worker === worker) this.post({ type: 'disposeTrace', traceId });
      },
    };
  }

  dispose(): void {
    this.disposed = true;
    for (const p of this.pending.values()) p.reject(new Error('the compute thread was shut down'));
    this.pending.clear();
    void this.worker?.terminate();
    this.worker = undefined;
  }
}
