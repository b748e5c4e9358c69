// A Backend that computes on the extension host's own thread, in small slices that yield to the event
// loop between them. It is the fallback when the worker bundle is missing and what the host-logic unit
// tests run on; the worker backend (workerBackend.ts) is the one the extension uses normally, because a
// single training step of a large model can take longer than the host's 50 ms budget.
import { directions } from '../../core/config';
import { sampleText } from '../../core/sample';
import type { TensorMap } from '../../core/tensor';
import { type LmState, type LmWeights, lmForward, splitLmParameters } from '../../core/train/lmForward';
import { trainToFile } from '../../node/trainRun';
import { type Backend, CancelledError, type LoadedModel, type ModelData, type PrepareOptions, type RemoteTrace, type SampleRequest, type TrainJob, type TrainOutcome, type TrainSpec } from './backend';
import type { TrainRunEvent } from '../../node/trainRun';
import { fastTraceSupported, prepareFastTrace } from './fastTrace';
import { compareEngines, type EngineComparison } from './engineCompare';
import { readModel } from './modelFiles';

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Bidirectional models need the whole sequence for the reverse direction: traced in one piece, capped. */
const MAX_BIDIRECTIONAL_TOKENS = 20_000;

export class InHostBackend implements Backend {
  readonly description = 'extension host (no worker)';
  private disposed = false;

  train(spec: TrainSpec, onEvent: (event: TrainRunEvent) => void): TrainJob {
    let stop = false;
    const done = (async (): Promise<TrainOutcome> => {
      let engine = '';
      let steps = 0;
      let reason: 'completed' | 'cancelled' | 'time' = 'completed';
      for await (const e of trainToFile(spec, () => stop || this.disposed)) {
        if (e.kind === 'start') engine = e.engine;
        if (e.kind === 'step') steps = e.step;
        if (e.kind === 'done') reason = e.reason;
        onEvent(e);
      }
      return { status: reason === 'cancelled' ? 'cancelled' : 'done', path: spec.out, steps, engine };
    })();
    return { done, dispose: () => { stop = true; } };
  }

  async sample(model: ModelData, r: SampleRequest): Promise<string> {
    await yieldToEventLoop();
    return sampleText(model.config, model.params, model.vocab, { prime: r.prime, length: r.length, temperature: r.temperature, seed: r.seed }).generated;
  }

  async prepareTrace(model: ModelData, ids: Int32Array, checkpointEvery: number, options: PrepareOptions = {}): Promise<RemoteTrace> {
    const cfg = model.config;
    if (fastTraceSupported(cfg)) return prepareFastTrace(model, ids, checkpointEvery, options);
    const weights = splitLmParameters(cfg, model.params);
    if (directions(cfg.rnn) === 2) {
      const n = Math.min(ids.length, MAX_BIDIRECTIONAL_TOKENS);
      const { trace } = lmForward(cfg, weights, ids.subarray(0, n), n, 1, undefined, { trace: true });
      return new WholeTrace(trace!, n);
    }
    const K = Math.max(1, checkpointEvery);
    const checkpoints: (LmState | undefined)[] = [undefined];
    let state: LmState | undefined;
    for (let a = 0; a + K < ids.length; a += K) {
      state = lmForward(cfg, weights, ids.subarray(a, a + K), K, 1, state).state;
      checkpoints.push(state);
      options.onProgress?.(a + K, ids.length);
      await yieldToEventLoop();
      if (options.isCancelled?.() || this.disposed) throw new CancelledError();
    }
    return new CheckpointedTrace(cfg, weights, ids, K, checkpoints);
  }

  loadModel(path: string): Promise<LoadedModel> {
    return readModel(path);
  }

  compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison> {
    return compareEngines(model, engines, steps);
  }

  dispose(): void {
    this.disposed = true;
  }
}

/** Slices rows start..end of every [T, 1, H] trace tensor (time-major, N = 1). */
function sliceRows(trace: TensorMap, from: number, to: number): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, t] of trace) {
    const H = t.shape[t.shape.length - 1];
    const data = (t.data as Float32Array | Float64Array).slice(from * H, to * H);
    out.set(name, { dtype: t.dtype, shape: [to - from, 1, H], data });
  }
  return out;
}

class CheckpointedTrace implements RemoteTrace {
  constructor(
    private readonly cfg: ModelData['config'],
    private readonly weights: LmWeights,
    private readonly ids: Int32Array,
    private readonly K: number,
    private readonly checkpoints: (LmState | undefined)[],
  ) {}

  get length(): number {
    return this.ids.length;
  }

  async window(start: number, end: number): Promise<TensorMap> {
    if (!(start >= 0 && end <= this.ids.length && end > start)) throw new Error(`window ${start}..${end} is outside 0..${this.ids.length}`);
    await yieldToEventLoop(); // one block per event-loop turn: several requested together do not add up
    const c = Math.floor(start / this.K);
    const a = c * this.K;
    const { trace } = lmForward(this.cfg, this.weights, this.ids.subarray(a, end), end - a, 1, this.checkpoints[c], { trace: true });
    return sliceRows(trace!, start - a, end - a);
  }

  dispose(): void {
    this.checkpoints.length = 0;
  }
}

class WholeTrace implements RemoteTrace {
  constructor(private trace: TensorMap, readonly length: number) {}

  async window(start: number, end: number): Promise<TensorMap> {
    if (!(start >= 0 && end <= this.length && end > start)) throw new Error(`window ${start}..${end} is outside 0..${this.length}`);
    return sliceRows(this.trace, start, end);
  }

  dispose(): void {
    this.trace = new Map();
  }
}
