// The one typed protocol between a host (the extension, the CLI, tests: src/worker/client.ts) and the
// compute worker (src/worker/main.ts, bundled to dist/worker.js). Every request carries an id; replies
// name it. Structured clone carries Maps and typed arrays; trace buffers are transferred, not copied.
import type { ModelConfig, Task } from '../core/model';
import type { TensorMap } from '../core/tensor';
import type { Vocabulary } from '../core/data/tokenizer';
import type { ImportedModel } from '../core/layouts/model';
import type { SampleOptions } from '../core/sample';
import type { TrainRequest, TrainRunEvent } from '../node/trainRun';
import type { OpenQuestion } from '../node/openModel';
import type { ComparableFile } from '../node/compareFiles';

export type { OpenQuestion } from '../node/openModel';
export type { ComparableFile } from '../node/compareFiles';

/**
 * A model that can be traced (and, a language model, sampled): config, PyTorch-named parameters and its
 * vocabulary; a classifier also its class names (the checkpoint's `labels`, in label order).
 */
export interface ModelData {
  readonly config: ModelConfig;
  readonly params: TensorMap;
  readonly vocab: Vocabulary;
  readonly labels?: readonly string[];
}

/** A gatescope checkpoint on disk (read by the worker), or a model the host already holds. */
export type ModelSource = string | ModelData;

/**
 * A ModelSource as it crosses: a path; a model with the key the worker keeps it under; or that key alone, for a
 * model sent before and still kept (the worker keeps the KEPT_MODELS last used: src/worker/keptModels.ts).
 */
export type ModelOnWire = string | { readonly key: number; readonly data?: ModelData };

/** Models the worker keeps for requests to name by key: a re-trace after an edit sends none of its weights again. */
export const KEPT_MODELS = 2;

/** A document as text (tokenised in the worker, with offsets) or as token ids. */
export type TraceInput = { readonly text: string } | { readonly ids: Int32Array };

/**
 * Answers to what a model file does not record, as the CLI flags that give them (`{ 'gate-order':
 * 'i,f,o,g', vocab: '/path/vocab.json' }`): src/cli/openFlags.ts maps them, so every command takes the same.
 */
export type OpenAnswers = Readonly<Record<string, string | readonly string[]>>;

export interface LoadModelOptions {
  readonly answers?: OpenAnswers;
  /** Read the file as one side of a comparison (src/node/compareFiles.ts), not as a model to run. */
  readonly compareAs?: 'A' | 'B';
}

/**
 * A model file as read by the worker: a model to run (with vocabulary: traceable), imported weights
 * (comparisons only), a question the file leaves open (asked, then loaded again with the answer), or one
 * side of a comparison.
 */
export interface LoadedModel {
  readonly data?: ModelData;
  readonly imported?: ImportedModel;
  readonly engine?: string;
  /** Last training loss saved in a checkpoint. */
  readonly loss?: number;
  /** What was read and how (the model, the importer's notes, the vocabulary's origin). */
  readonly notes?: readonly string[];
  /** What the file does not record: no `data` until it is answered (`imported` when the weights alone load). */
  readonly question?: OpenQuestion;
  readonly comparable?: ComparableFile;
}

/** Two engines trained side by side from the same weights on the same batches (src/worker/engineCompare.ts). */
export interface EngineComparison {
  readonly leftName: string;
  readonly rightName: string;
  readonly left: TensorMap;
  readonly right: TensorMap;
  readonly leftLosses: number[];
  readonly rightLosses: number[];
  /** Worst relative error ‖a−b‖/‖a‖ (core/diff's measure) over all parameters after each step. */
  readonly paramError: number[];
}

/** What a worker is started with (its `workerData`). */
export interface WorkerData {
  /** The worker's heap limit (resourceLimits.maxOldGenerationSizeMb): the loaders' budgets stay within it. */
  readonly memoryLimitMb?: number;
}

export type HostRequest =
  /** `cancelFlag`: Int32Array(1) over a SharedArrayBuffer; the training loop stops when it becomes 1. */
  | { readonly type: 'train'; readonly id: number; readonly request: TrainRequest; readonly cancelFlag: SharedArrayBuffer }
  /**
   * Stops the train or prepareTrace request `id` (a cancelled preparation fails with kind 'cancelled').
   * A trace is usable from 'traceStarted' on (traceWindow before its `available` token); disposing it
   * cancels its preparation.
   */
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'sample'; readonly id: number; readonly model: ModelOnWire; readonly options: SampleOptions }
  /**
   * `resumeFrom`: an earlier trace in this worker of the same document before an edit; a forward trace of the same
   * model and K keeps its states up to the first changed token (see TraceReadyResult.resumed).
   */
  | { readonly type: 'prepareTrace'; readonly id: number; readonly model: ModelOnWire; readonly input: TraceInput; readonly checkpointEvery?: number; readonly resumeFrom?: number }
  | { readonly type: 'traceWindow'; readonly id: number; readonly traceId: number; readonly start: number; readonly end: number }
  /** What the prediction at `position` depended on: the input-gradient norms of the `window` tokens up to it. */
  | { readonly type: 'saliency'; readonly id: number; readonly traceId: number; readonly position: number; readonly window: number }
  | { readonly type: 'disposeTrace'; readonly id: number; readonly traceId: number }
  | { readonly type: 'loadModel'; readonly id: number; readonly path: string; readonly options?: LoadModelOptions }
  /** The tensors of a tensor file (safetensors, npz, .pt state_dict...), read and parsed in the worker. */
  | { readonly type: 'readTensors'; readonly id: number; readonly path: string }
  | { readonly type: 'compareEngines'; readonly id: number; readonly model: ModelOnWire; readonly engines: readonly [string, string]; readonly steps: number }
  | { readonly type: 'dispose'; readonly id: number };

export interface TrainedResult {
  readonly kind: 'trained';
  readonly reason: 'completed' | 'cancelled' | 'time';
  readonly step: number;
  readonly path: string;
  readonly engine: string;
}

export interface SampledResult {
  readonly kind: 'sampled';
  readonly prime: string;
  readonly text: string;
}

export interface TraceReadyResult {
  readonly kind: 'traceReady';
  readonly traceId: number;
  /** Tokens that can be windowed. */
  readonly tokens: number;
  /** UTF-16 offsets of the tokens (+ end); empty for word models and for ids input. */
  readonly offsets: Int32Array;
  readonly unknown: number;
  readonly checkpointEvery: number;
  /** Token id -> display text, to label top-k predictions. */
  readonly vocabulary: readonly string[];
  readonly module: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly gates: readonly string[];
  /** lm: windows carry next-token predictions; classify: see TraceWindowResult and TracePreparedResult. */
  readonly task: Task;
  /** Where the trace took states from the `resumeFrom` trace (its progress starts at `tokens`); absent where it could not. */
  readonly resumed?: TraceResumption;
}

export interface TraceResumption {
  /** Tokens whose preparation came from the earlier trace (a multiple of K; preparation starts here). */
  readonly tokens: number;
  /** The first token where the two documents differ (the shorter one's length where one extends the other). */
  readonly firstChange: number;
}

/** The answer to prepareTrace once the whole document is swept: the trace as started, plus its prediction. */
export interface TracePreparedResult extends Omit<TraceReadyResult, 'kind'> {
  readonly kind: 'tracePrepared';
  /** A classifier's class probabilities for the whole document (outputSize of them); absent for a language model. */
  readonly prediction?: Float32Array;
}

export interface TraceWindowResult {
  readonly kind: 'traceWindow';
  readonly start: number;
  readonly end: number;
  /** trace_l{k}[_reverse]_{h|c|gate_*}: [end - start, 1, H] in the model's dtype. */
  readonly tensors: TensorMap;
  /**
   * [T, 5] after each token: the next-token predictions (language model), the top classes had the text ended
   * there (a `last`-readout unidirectional classifier); empty (length 0) for other classifiers.
   */
  readonly topIds: Int32Array;
  readonly topProbs: Float32Array;
}

/** The answer to a saliency request (src/core/saliency.ts); `unsupported` (one line) for models it does not cover. */
export interface SaliencyResult {
  readonly kind: 'saliency';
  readonly position: number;
  /** Position of scores[0]; scores[i] = ‖∂objective/∂input_{start+i}‖₂ for start + i ≤ position. */
  readonly start: number;
  readonly scores: Float32Array;
  /** The token (language model) or class whose score was differentiated. */
  readonly predicted: number;
  readonly objective: 'log_prob' | 'class_score';
  /** The worker's compute time (trace window + backward), milliseconds. */
  readonly computeMs: number;
  readonly unsupported?: string;
}

export type WorkerResult =
  | TrainedResult | SampledResult | TracePreparedResult | TraceWindowResult | SaliencyResult
  | { readonly kind: 'loaded'; readonly model: LoadedModel }
  | { readonly kind: 'tensors'; readonly tensors: TensorMap }
  | { readonly kind: 'compared'; readonly comparison: EngineComparison }
  | { readonly kind: 'disposed' };

/** input: the user's data or files are wrong; diverged: NaN loss; cancelled: stopped on request; internal: a bug. */
export type WorkerErrorKind = 'input' | 'diverged' | 'cancelled' | 'internal';

export type WorkerMessage =
  | { readonly type: 'trainEvent'; readonly id: number; readonly event: TrainRunEvent }
  /** A prepareTrace request's trace exists: windows before `available` can be asked for while it prepares. */
  | { readonly type: 'traceStarted'; readonly id: number; readonly ready: TraceReadyResult }
  /** done/total: preparation work; available: windows starting before this token can be computed now. */
  | { readonly type: 'traceProgress'; readonly id: number; readonly done: number; readonly total: number; readonly available: number }
  | { readonly type: 'result'; readonly id: number; readonly result: WorkerResult }
  | { readonly type: 'error'; readonly id: number; readonly kind: WorkerErrorKind; readonly message: string };
