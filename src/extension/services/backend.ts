// What the extension needs from the compute side (training, sampling, windowed tracing), as one
// interface. The implementation talks to the compute worker (workerBackend.ts over src/worker/client.ts);
// keeping the extension behind this seam lets the host logic be tested without VS Code.
import type { TensorMap } from '../../core/tensor';
import type { TrainSettings } from '../../core/checkpoint';
import type { TrainRequest, TrainRunEvent } from '../../node/trainRun';
import type { IDisposable } from '../lifecycle';
import type { EngineComparison, LoadedModel, ModelData } from '../../protocol/worker';

export type { EngineComparison, LoadedModel, ModelData } from '../../protocol/worker';

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

/** A document prepared for windowed tracing (states checkpointed every K tokens in the worker). */
export interface RemoteTrace extends IDisposable {
  readonly length: number;
  /** trace_l{k}[_reverse]_{h|c|gate_*} tensors [end - start, 1, H] for timesteps start..end. */
  window(start: number, end: number): Promise<TensorMap>;
}

export interface SampleRequest {
  readonly prime: string;
  readonly length: number;
  readonly temperature: number;
  readonly seed: number;
}

export interface PrepareOptions {
  /** Called now and then with tokens processed so far. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Polled between chunks; when true, preparation stops with a CancelledError. */
  readonly isCancelled?: () => boolean;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

export interface Backend extends IDisposable {
  /** Human-readable description, e.g. "worker thread, engine wasm-relaxed". */
  readonly description: string;
  train(spec: TrainSpec, onEvent: (event: TrainRunEvent) => void): TrainJob;
  sample(model: ModelData, request: SampleRequest): Promise<string>;
  prepareTrace(model: ModelData, ids: Int32Array, checkpointEvery: number, options?: PrepareOptions): Promise<RemoteTrace>;
  /** Reads and parses a model file (any format the importers know) off the extension host. */
  loadModel(path: string): Promise<LoadedModel>;
  /** Trains two engines side by side from the model's weights (see src/worker/engineCompare.ts). */
  compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison>;
}
