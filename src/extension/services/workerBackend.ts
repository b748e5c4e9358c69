// The Backend the extension uses: every computation runs in the compute worker (dist/worker.js) through
// the one host-side client (src/worker/client.ts), so the extension host only posts messages. The worker
// starts on first use and again after a crash.
import type { TrainRunEvent } from '../../node/trainRun';
import { WorkerClient, type WorkerClientOptions, WorkerRequestError } from '../../worker/client';
import type { EngineComparison, TraceReadyResult } from '../../protocol/worker';
import { PreparationProgress } from '../logic/preparation';
import {
  type Backend, CancelledError, type LoadedModel, type ModelData, type PrepareOptions, type RemoteTrace, type SampleRequest,
  type TrainJob, type TrainOutcome, type TrainSpec,
} from './backend';

/** How often PrepareOptions.isCancelled is polled while a document is being prepared. */
const CANCEL_POLL_MS = 100;

export class WorkerBackend implements Backend {
  readonly description = 'worker thread';
  private current: WorkerClient | undefined;
  private disposed = false;

  constructor(private readonly options: WorkerClientOptions & { readonly workerPath: string }, private readonly log: (message: string) => void) {}

  private client(): WorkerClient {
    if (this.disposed) throw new Error('the compute worker was shut down');
    if (this.current && !this.current.failed) return this.current;
    const client = new WorkerClient({ ...this.options, onFailure: (e) => this.log(`compute worker stopped: ${e.message}`) });
    this.current = client;
    return client;
  }

  train(spec: TrainSpec, onEvent: (event: TrainRunEvent) => void): TrainJob {
    const run = this.client().train(spec);
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
    return new Promise<RemoteTrace>((resolve, reject) => {
      const poll = options.isCancelled ? setInterval(() => { if (options.isCancelled!()) abort.abort(); }, CANCEL_POLL_MS) : undefined;
      const onStarted = (ready: TraceReadyResult): void => {
        const p = new PreparationProgress(ready.tokens);
        progress = p;
        let closed = false;
        resolve({
          length: ready.tokens,
          progress: p,
          window: async (start, end) => {
            if (closed) throw new Error('this trace was closed');
            const w = await client.traceWindow(ready.traceId, start, end);
            return { tensors: w.tensors, topIds: w.topIds, topProbs: w.topProbs };
          },
          prediction: () => prediction,
          dispose: () => {
            if (closed) return;
            closed = true;
            p.dispose(); // an unfinished preparation is cancelled: the worker drops the trace either way
            if (!client.failed) client.disposeTrace(ready.traceId).catch(() => undefined);
          },
        });
      };
      client.prepareTrace(model, { ids }, { checkpointEvery, signal: abort.signal, onStarted, onProgress: (d, t, a) => progress?.update(d, t, a) })
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

  loadModel(path: string): Promise<LoadedModel> {
    return this.client().loadModel(path);
  }

  compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison> {
    return this.client().compareEngines(model, engines, steps);
  }

  dispose(): void {
    this.disposed = true;
    void this.current?.dispose();
    this.current = undefined;
  }
}
