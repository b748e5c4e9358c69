// What the extension needs from the compute side (training, sampling, windowed tracing), as one
// interface. The implementation talks to the compute worker (workerBackend.ts over src/worker/client.ts);
// keeping the extension behind this seam lets the host logic be tested without VS Code.
import type { TensorMap } from '../../core/tensor';
import type { TrainSettings } from '../../core/checkpoint';
import type { TrainRequest, TrainRunEvent } from '../../node/trainRun';
import type { Event, IDisposable } from '../lifecycle';
import type { PreparationProgress } from '../logic/preparation';
import type { WorkerCrashInfo } from '../logic/workerLimits';

export { PreparationCancelledError as CancelledError } from '../logic/preparation';
import type { EngineComparison, LoadModelOptions, LoadedModel, ModelData, SaliencyResult, TraceResumption } from '../../protocol/worker';

export type { EngineComparison, LoadModelOptions, LoadedModel, ModelData, SaliencyResult, TraceResumption } from '../../protocol/worker';

/** What to train: the shared run description (text, output checkpoint path, model shape, settings). */
export type TrainSpec = TrainRequest & { readonly out: string; readonly settings: Partial<TrainSettings> };

export interface TrainOutcome {
  readonly status: 'done' | 'cancelled';
  /** The checkpoint written by the run. */
  readonly path: string;
  readonly steps: number;
  readonly engine: string;
}

/** A running training job. dispose() cancels it; `done` then resolves with status 'cancelled'. */
export interface TrainJob extends IDisposable {
  readonly done: Promise<TrainOutcome>;
}

/** Timesteps start..end of a trace. */
export interface TraceBlock {
  /** trace_l{k}[_reverse]_{h|c|gate_*} tensors [end - start, 1, H]. */
  readonly tensors: TensorMap;
  /**
   * [end - start, 5] after each token: the next-token predictions (language model) or the top classes had the
   * text ended there (a `last`-readout unidirectional classifier); empty for other classifiers.
   */
  readonly topIds: Int32Array;
  readonly topProbs: Float32Array;
}

/**
 * A document being prepared for windowed tracing (states checkpointed every K tokens in the worker). It is
 * usable at once: windows starting before progress.current.available can be asked for while it prepares.
 * dispose() also cancels an unfinished preparation.
 */
export interface RemoteTrace extends IDisposable {
  readonly length: number;
  readonly progress: PreparationProgress;
  window(start: number, end: number): Promise<TraceBlock>;
  /** A classifier's class probabilities for the whole document once prepared; undefined before, and for a language model. */
  prediction(): Float32Array | undefined;
  /** What the prediction at `position` depended on, over the `window` tokens up to it (absent: not offered). */
  saliency?(position: number, window: number): Promise<SaliencyResult>;
  /** Where preparation started from PrepareOptions.previous's states; absent where it started from scratch. */
  readonly resumed?: TraceResumption;
}

export interface SampleRequest {
  readonly prime: string;
  readonly length: number;
  readonly temperature: number;
  readonly seed: number;
}

export interface PrepareOptions {
  /** Polled while preparing; when true, preparation stops (progress fails with PreparationCancelledError). */
  readonly isCancelled?: () => boolean;
  /** What is traced, for the message should the worker die ("tracing notes.txt"). */
  readonly what?: string;
  /**
   * This document's trace before an edit (same model, same K): its states up to the first changed token are kept,
   * so only the rest is prepared. Dispose it only once the new trace has started (prepareTrace resolved).
   */
  readonly previous?: RemoteTrace;
}

export interface Backend extends IDisposable {
  /** Human-readable description, e.g. "worker thread, engine wasm-relaxed". */
  readonly description: string;
  train(spec: TrainSpec, onEvent: (event: TrainRunEvent) => void): TrainJob;
  sample(model: ModelData, request: SampleRequest): Promise<string>;
  /** Resolves as soon as the worker has the trace (preparation goes on; see RemoteTrace.progress). */
  prepareTrace(model: ModelData, ids: Int32Array, checkpointEvery: number, options?: PrepareOptions): Promise<RemoteTrace>;
  /**
   * Reads and parses a model file (any format the importers know) off the extension host: with the answers
   * to what it does not record, or as one side of a comparison.
   */
  loadModel(path: string, options?: LoadModelOptions): Promise<LoadedModel>;
  /** Trains two engines side by side from the model's weights (see src/worker/engineCompare.ts). */
  compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison>;
  /** Reads a tensor file's tensors off the extension host (e.g. per-epoch weights for a comparison). */
  readTensors(path: string): Promise<TensorMap>;
  /**
   * A worker died (out of memory, crashed): its requests in flight were rejected with `message`; the next
   * request starts a fresh one. Traces of the compute worker are gone; a training run fails (its last
   * checkpoint stays on disk).
   */
  readonly onDidCrash: Event<WorkerCrashInfo>;
}
