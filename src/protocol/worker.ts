// The one typed protocol between the host (extension or CLI, src/worker/client.ts) and the compute
// worker (src/worker/main.ts). Every request carries an id; replies name it. Tensors travel as
// transferred ArrayBuffers.
import type { TrainRequest, TrainRunEvent } from '../node/trainRun';
import type { SampleOptions } from '../core/sample';

export type HostRequest =
  /** `cancelFlag`: Int32Array(1) over a SharedArrayBuffer; the training loop stops when it becomes 1. */
  | { readonly type: 'train'; readonly id: number; readonly request: TrainRequest; readonly cancelFlag: SharedArrayBuffer }
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'sample'; readonly id: number; readonly modelPath: string; readonly options: SampleOptions }
  | { readonly type: 'prepareTrace'; readonly id: number; readonly modelPath: string; readonly text: string; readonly checkpointEvery?: number }
  | { readonly type: 'traceWindow'; readonly id: number; readonly traceId: number; readonly start: number; readonly end: number }
  | { readonly type: 'disposeTrace'; readonly id: number; readonly traceId: number }
  | { readonly type: 'dispose'; readonly id: number };

export interface TrainedResult {
  readonly kind: 'trained';
  readonly reason: 'completed' | 'cancelled' | 'time';
  readonly step: number;
  readonly path: string;
}

export interface SampledResult {
  readonly kind: 'sampled';
  readonly prime: string;
  readonly text: string;
}

export interface TraceReadyResult {
  readonly kind: 'traceReady';
  readonly traceId: number;
  readonly tokens: number;
  /** Int32 UTF-16 offsets of the tokens (+ end); empty for word models. */
  readonly offsets: ArrayBuffer;
  readonly unknown: number;
  readonly checkpointEvery: number;
  /** Token id -> display text, to label top-k predictions. */
  readonly vocabulary: readonly string[];
  readonly module: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly gates: readonly string[];
}

export interface LayerWindowMessage {
  readonly layer: number;
  readonly h: ArrayBuffer; // Float32 [T, H]
  readonly c?: ArrayBuffer;
  readonly gates: Readonly<Record<string, ArrayBuffer>>;
}

export interface TraceWindowResult {
  readonly kind: 'traceWindow';
  readonly start: number;
  readonly end: number;
  readonly hiddenSize: number;
  readonly layers: readonly LayerWindowMessage[];
  readonly topIds: ArrayBuffer; // Int32 [T, 5]
  readonly topProbs: ArrayBuffer; // Float32 [T, 5]
}

export type WorkerResult = TrainedResult | SampledResult | TraceReadyResult | TraceWindowResult | { readonly kind: 'disposed' };

/** input: the user's data or files are wrong; diverged: NaN loss; internal: a bug. */
export type WorkerErrorKind = 'input' | 'diverged' | 'internal';

export type WorkerMessage =
  | { readonly type: 'trainEvent'; readonly id: number; readonly event: TrainRunEvent }
  | { readonly type: 'traceProgress'; readonly id: number; readonly done: number; readonly total: number }
  | { readonly type: 'result'; readonly id: number; readonly result: WorkerResult }
  | { readonly type: 'error'; readonly id: number; readonly kind: WorkerErrorKind; readonly message: string };
