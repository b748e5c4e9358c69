// The one typed protocol between the extension host and gatescope's webviews (dashboard, trace, diff).
// Every message has a literal `type`; requests carry an `id` that the matching response echoes.
// Tensors travel as ArrayBuffers (exact slices), never as JSON number arrays.
// Pure module: no vscode, no DOM. Both sides import it; the guards check what arrives.
import type { GateSaturation } from '../core/train/gateStats';
import type { StepEvent, TrainEvent } from '../core/train/events';
import type { Task } from '../core/model';

export type { GateSaturation, StepEvent, TrainEvent, Task };

export type ViewKind = 'dashboard' | 'trace' | 'diff';
export const VIEW_KINDS: readonly ViewKind[] = ['dashboard', 'trace', 'diff'];

// ---------------------------------------------------------------- shared payloads

/** Gate saturation (fractions of i/f/o/r/z below 0.1 / above 0.9 per layer) at one evaluation. */
export interface SaturationPoint {
  readonly step: number;
  readonly entries: readonly GateSaturation[];
}

export interface ValidationCover {
  readonly batches: number;
  readonly of: number;
}

export interface SampleAtTemperature {
  readonly step: number;
  readonly temperature: number;
  readonly text: string;
}

export type RunStatus = 'training' | 'done' | 'cancelled' | 'failed';

export interface RunSummary {
  readonly runId: string;
  readonly label: string; // e.g. "LSTM 1×128 on notes.md"
  /** A run written by another program (a PyTorch script's run directory): it cannot be cancelled from here. */
  readonly external?: boolean;
  /** An external run: its run directory (followed again after a window reload). */
  readonly runDir?: string;
  readonly status: RunStatus;
  readonly totalSteps: number;
  readonly engine?: string;
  readonly checkpointPath?: string;
  readonly error?: string;
  /** lm: a language model (samples, loss per token); classify: a sequence classifier (accuracy, no samples). */
  readonly task?: Task;
  /** The model in one line (core/model.ts describeModel), once the run started. */
  readonly model?: string;
  /** A classifier's class names, once the run started. */
  readonly classes?: readonly string[];
  /** Timesteps are characters or words (a language model's loss in bits per char or per word). */
  readonly tokenLevel?: 'char' | 'word';
  /** Steps between evaluations (validation loss, gate saturation) and between samples (0: none while training). */
  readonly evalEvery?: number;
  readonly sampleEvery?: number;
  /** The gradient-norm clip (clip_grad_norm_), when clipping is on. */
  readonly clip?: number;
}

/** A complete series as two parallel Float64 buffers (steps, values). */
export interface SeriesBuffers {
  readonly steps: ArrayBuffer;
  readonly values: ArrayBuffer;
}

export interface TraceLayout {
  readonly traceId: string;
  readonly documentLabel: string;
  readonly module: 'LSTM' | 'GRU' | 'RNN';
  readonly length: number; // timesteps (tokens)
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly directions: 1 | 2;
  /** Per layer/direction tensor kinds: 'h', 'c', 'gate_i', ... */
  readonly tensors: readonly string[];
  /** lm (default): a language model; classify: a sequence classifier (its prediction comes in a tracePrediction message). */
  readonly task?: Task;
  /** Timesteps are characters (default) or words. */
  readonly tokenLevel?: 'char' | 'word';
  /** The model in one line (core/model.ts describeModel). */
  readonly model?: string;
}

export interface TensorSelector {
  readonly layer: number;
  readonly direction: 0 | 1;
  readonly tensor: string; // 'h' | 'c' | 'gate_i' ...
}

export interface SpanMatch {
  readonly start: number;
  readonly end: number; // exclusive
  readonly text: string;
  /** The rest of the words the span starts and ends inside of (shown around it, never cut mid-word). */
  readonly before?: string;
  readonly after?: string;
}

export interface DiffRow {
  readonly name: string; // tensor, or tensor/gate ("weight_ih_l0 [f]")
  readonly shape: readonly number[];
  /** B's shape when it differs from A's (a transposed file, an architecture mismatch). */
  readonly shapeB?: readonly number[];
  readonly maxAbs: number;
  readonly relError: number;
  readonly ok: boolean;
  /** An input of an io/trace file: shown, never a difference. */
  readonly input?: boolean;
  /** How the quantity was formed when it is not a stored tensor ("bias_ih + bias_hh"). */
  readonly derived?: string;
  /** A per-gate row of the tensor above it. */
  readonly gate?: string;
}

/** What to change on one side, in that side's own names (core/diff/verdict.ts). */
export interface DiffChange {
  readonly side: 'A' | 'B';
  readonly label: string;
  readonly items: readonly string[];
}

/**
 * src/extension/logic/diffView.ts builds it from core/diff's equivalence report (the one `gatescope diff`
 * prints): left is side A, right side B. A failed comparison is a model with `error` and nothing to show.
 */
export interface DiffViewModel {
  readonly title: string;
  readonly leftLabel: string;
  readonly rightLabel: string;
  /** The rtol of the report: relative error ‖a−b‖/‖a‖ counted as equal. */
  readonly tolerance: number;
  /** The headline: EQUIVALENT / DIFFERENT / NOTHING IN COMMON and why, in words. */
  readonly verdict: string;
  /** Not different (EQUIVALENT; NOTHING IN COMMON unless strict). */
  readonly ok: boolean;
  readonly status?: 'equivalent' | 'different' | 'disjoint' | 'error';
  /** What each side holds, in one line ("embedding 65×16; LSTM, 1 layer × 6, one direction (input 16)"). */
  readonly structure?: { readonly a: string; readonly b: string };
  /** When the architectures differ: each side's stack (and head), and nothing is compared tensor by tensor. */
  readonly architecture?: { readonly a: string; readonly b: string };
  /** Which side to change and how. */
  readonly changes?: readonly DiffChange[];
  /** Why files spelled differently compute the same thing. */
  readonly why?: readonly string[];
  /** What only one side holds (listed; a difference only with strict). */
  readonly notCompared?: readonly string[];
  /** The comparison failed (a file could not be read): the message, shown instead of a result. */
  readonly error?: string;
  readonly rows: readonly DiffRow[];
  /** What the diff could not check or had to adjust, and each side's import notes. */
  readonly notes?: readonly string[];
  /**
   * Elementwise difference (right - left) of the worst matrix, as Float32 row-major [rows, cols]; `gates`:
   * its gate blocks in order, stacked along rows (PyTorch's [G*H, in]) or along columns (an [in, G*H] file).
   */
  readonly heatmap?: {
    readonly name: string; readonly rows: number; readonly cols: number; readonly data: ArrayBuffer;
    readonly gates?: readonly string[]; readonly gateAxis?: 'rows' | 'cols';
  };
  /** Per-epoch (or per-step) series, e.g. each tensor's relative error: Float64 buffers, one per series. */
  readonly trajectory?: { readonly label: string; readonly epochs: ArrayBuffer; readonly series: readonly { readonly name: string; readonly values: ArrayBuffer }[] };
}

/** A probed module of an external run: what its probe files trace. */
export interface RunProbedModule {
  readonly name: string;
  readonly layers: number;
  readonly directions: 1 | 2;
  /** h, c, gate_i, ... */
  readonly kinds: readonly string[];
}

export interface RunDiffRow {
  readonly name: string;
  readonly relErr: number;
  readonly ok: boolean;
  readonly gates?: readonly { readonly gate: string; readonly relErr: number }[];
}

/** Two watched modules compared at one snapshot (src/core/run/moduleDiff.ts). */
export interface RunModuleDiff {
  readonly tag: string;
  readonly step: number | null;
  readonly a: string;
  readonly b: string;
  readonly ok: boolean;
  readonly verdict: string;
  readonly changes: readonly string[];
  readonly maxRelErr: number;
  readonly weights: readonly RunDiffRow[];
  readonly traces: readonly RunDiffRow[];
}

/** What the dashboard shows of an external run besides its loss charts (sent whenever its structure changes). */
export interface ExternalRunInfo {
  readonly dir: string;
  readonly phase: 'waiting' | 'running' | 'ended' | 'stopped';
  /** "running, step 120", "stopped at step 120, no end record". */
  readonly outcome: string;
  /** Watched modules in one line each ("mine: LSTM 3→4, 1 layer (MyLSTM, mapped)"). */
  readonly modules: readonly string[];
  readonly probed: readonly RunProbedModule[];
  /** In the order they were written; `probe`: it has a probe file. */
  readonly snapshots: readonly { readonly tag: string; readonly step: number | null; readonly epoch?: number; readonly probe: boolean }[];
  /** Scalars the loss charts do not show (lr, accuracy, ...), complete. */
  readonly scalars: readonly { readonly name: string; readonly series: SeriesBuffers }[];
  /** Per snapshot, when two modules are watched. */
  readonly diffs: readonly RunModuleDiff[];
  readonly notes: readonly string[];
}

// ---------------------------------------------------------------- host -> webview

export interface InitMessage { readonly type: 'init'; readonly view: ViewKind; readonly theme: 'light' | 'dark' | 'high-contrast' }
export interface DashboardResetMessage { readonly type: 'dashboardReset'; readonly run: RunSummary }
/** Everything the dashboard shows for a run; sent after "ready" and when a view comes back. */
export interface DashboardHistoryMessage {
  readonly type: 'dashboardHistory';
  readonly run: RunSummary;
  readonly train: SeriesBuffers;
  readonly validation: SeriesBuffers;
  readonly gradNorm: SeriesBuffers;
  /** Classifier: the fraction of each step's batch classified right (absent or empty for a language model). */
  readonly accuracy?: SeriesBuffers;
  /** Classifier: the fraction of the validation examples classified right, per evaluation. */
  readonly validationAccuracy?: SeriesBuffers;
  readonly lastStep?: StepEvent;
  /** What the latest validation figure covers: batches read, of all in the split (a live run's; unknown when restored). */
  readonly validationCover?: ValidationCover;
  readonly saturation: readonly SaturationPoint[];
  readonly samples: readonly SampleAtTemperature[];
}
/** One live training event (step, eval or sample), as the trainer reports it. */
export interface TrainEventMessage { readonly type: 'trainEvent'; readonly runId: string; readonly event: TrainEvent }
/** Live training events in order, batched by the host (at most about 10 messages a second). */
export interface TrainEventsMessage { readonly type: 'trainEvents'; readonly runId: string; readonly events: readonly TrainEvent[] }
export interface RunStatusMessage { readonly type: 'runStatus'; readonly run: RunSummary }
export interface TraceLayoutMessage { readonly type: 'traceLayout'; readonly layout: TraceLayout }
/**
 * How far the worker's preparation of a trace got (sent after traceLayout and as it advances): blocks
 * starting before `available` can be requested now, later ones once it grows.
 */
export interface TraceProgressMessage {
  readonly type: 'traceProgress';
  readonly traceId: string;
  readonly state: 'preparing' | 'ready' | 'cancelled' | 'failed';
  readonly done: number;
  readonly total: number;
  readonly available: number;
}
/** A classifier's prediction for the whole traced document, sent once its trace is prepared. */
export interface TracePredictionMessage {
  readonly type: 'tracePrediction';
  readonly traceId: string;
  /** Class names in label order. */
  readonly classes: readonly string[];
  /** Float32 [classes.length]: the class probabilities. */
  readonly probabilities: ArrayBuffer;
}
/** What the prediction at `position` (the editor's cursor) depended on: the trace view's "depends on" row. */
export interface TraceSaliencyMessage {
  readonly type: 'traceSaliency';
  readonly traceId: string;
  readonly position: number;
  /** Position of the first score. */
  readonly start: number;
  /** Float32 [position - start + 1]: ‖∂objective/∂input_t‖₂ for t = start..position. */
  readonly scores: ArrayBuffer;
  /** Why there are no scores for this model (one line). */
  readonly unsupported?: string;
}
export interface WindowResponse {
  readonly type: 'window';
  readonly id: number;
  readonly traceId: string;
  readonly selector: TensorSelector;
  readonly start: number;
  readonly end: number;
  /** The text under timesteps start..end, one string per token (a character, or a word without the gap after it). */
  readonly tokens: readonly string[];
  /** Float32 row-major [end - start, hiddenSize]. */
  readonly data: ArrayBuffer;
}
export interface FindSpansResponse {
  readonly type: 'spans';
  readonly id: number;
  readonly units: readonly number[];
  readonly matches: readonly SpanMatch[];
  readonly scanned: number;
}
export interface ErrorResponse { readonly type: 'error'; readonly id?: number; readonly message: string }
export interface DiffReportMessage { readonly type: 'diffReport'; readonly report: DiffViewModel }
/** Scroll the trace view to a timestep; with a span, select it (an editor selection) for LSTMVis search. */
export interface RevealMessage { readonly type: 'reveal'; readonly position: number; readonly span?: { readonly start: number; readonly end: number } }

/** An external run's structure: modules, snapshots, the other scalars, diffs, how it stands. */
export interface RunInfoMessage { readonly type: 'runInfo'; readonly runId: string; readonly info: ExternalRunInfo }
/** Scalar points an external run appended since the last message (as its events.jsonl grows). */
export interface RunScalarsMessage {
  readonly type: 'runScalars';
  readonly runId: string;
  readonly points: readonly { readonly name: string; readonly step: number; readonly value: number }[];
}
/** Which trace of which snapshot's probe (a request and its answer name it alike). */
export interface RunProbeSelector {
  readonly id: number;
  readonly runId: string;
  readonly tag: string;
  readonly module: string;
  readonly layer: number;
  readonly reverse: boolean;
  readonly tensor: string;
}
/** The answer to requestRunProbe: one trace of one snapshot's probe, probe row `row`, as a [rows, cols] heatmap. */
export interface RunProbeResponse extends RunProbeSelector {
  readonly type: 'runProbe';
  readonly rows: number;
  readonly cols: number;
  readonly maxAbs: number;
  /** Float32 row-major [rows (timesteps), cols (units)]. */
  readonly data: ArrayBuffer;
  /** One string per timestep (the probe's text, else its token ids). */
  readonly tokens: readonly string[];
}

export type ToWebviewMessage =
  | InitMessage
  | DashboardResetMessage
  | DashboardHistoryMessage
  | TrainEventMessage
  | TrainEventsMessage
  | RunStatusMessage
  | TraceLayoutMessage
  | TraceProgressMessage
  | TracePredictionMessage
  | TraceSaliencyMessage
  | WindowResponse
  | FindSpansResponse
  | ErrorResponse
  | DiffReportMessage
  | RevealMessage
  | RunInfoMessage
  | RunScalarsMessage
  | RunProbeResponse;

// ---------------------------------------------------------------- webview -> host

export interface ReadyMessage { readonly type: 'ready'; readonly view: ViewKind }
export interface WindowRequest {
  readonly type: 'requestWindow';
  readonly id: number;
  readonly traceId: string;
  readonly selector: TensorSelector;
  readonly start: number;
  readonly end: number;
}
export interface SelectUnitMessage { readonly type: 'selectUnit'; readonly traceId: string; readonly selector: TensorSelector; readonly unit: number | null }
export interface FindSpansRequest {
  readonly type: 'findSpans';
  readonly id: number;
  readonly traceId: string;
  readonly selector: TensorSelector;
  readonly start: number;
  readonly end: number;
  readonly threshold: number;
}
export interface RevealInEditorMessage { readonly type: 'revealInEditor'; readonly traceId: string; readonly position: number }
export interface CancelRunMessage { readonly type: 'cancelRun'; readonly runId: string }
export interface WebviewErrorMessage { readonly type: 'webviewError'; readonly message: string }
export interface RunProbeRequest extends RunProbeSelector {
  readonly type: 'requestRunProbe';
  readonly row: number;
}

export type FromWebviewMessage =
  | ReadyMessage
  | WindowRequest
  | SelectUnitMessage
  | FindSpansRequest
  | RevealInEditorMessage
  | CancelRunMessage
  | WebviewErrorMessage
  | RunProbeRequest;

// ---------------------------------------------------------------- guards

const TO_WEBVIEW_TYPES: ReadonlySet<string> = new Set<ToWebviewMessage['type']>([
  'init', 'dashboardReset', 'dashboardHistory', 'trainEvent', 'trainEvents', 'runStatus', 'traceLayout', 'traceProgress', 'tracePrediction', 'traceSaliency', 'window', 'spans',
  'error', 'diffReport', 'reveal', 'runInfo', 'runScalars', 'runProbe',
]);

function record(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

export function isTensorSelector(x: unknown): x is TensorSelector {
  return record(x) && isInt(x.layer) && x.layer >= 0 && (x.direction === 0 || x.direction === 1) && isStr(x.tensor);
}

function isRange(x: Record<string, unknown>): boolean {
  return isInt(x.start) && isInt(x.end) && x.start >= 0 && x.end >= x.start;
}

/** Validates a message from a webview (which is untrusted content): a full shape check per type. */
export function isFromWebviewMessage(x: unknown): x is FromWebviewMessage {
  if (!record(x) || !isStr(x.type)) return false;
  const type = x.type as FromWebviewMessage['type'];
  switch (type) {
    case 'ready':
      return VIEW_KINDS.includes(x.view as ViewKind);
    case 'requestWindow':
      return isInt(x.id) && isStr(x.traceId) && isTensorSelector(x.selector) && isRange(x);
    case 'selectUnit':
      return isStr(x.traceId) && isTensorSelector(x.selector) && (x.unit === null || (isInt(x.unit) && x.unit >= 0));
    case 'findSpans':
      return isInt(x.id) && isStr(x.traceId) && isTensorSelector(x.selector) && isRange(x) && typeof x.threshold === 'number' && Number.isFinite(x.threshold);
    case 'revealInEditor':
      return isStr(x.traceId) && isInt(x.position) && x.position >= 0;
    case 'cancelRun':
      return isStr(x.runId);
    case 'webviewError':
      return isStr(x.message);
    case 'requestRunProbe':
      return isInt(x.id) && isStr(x.runId) && isStr(x.tag) && isStr(x.module) && isInt(x.layer) && x.layer >= 0
        && typeof x.reverse === 'boolean' && isStr(x.tensor) && isInt(x.row) && x.row >= 0;
    default: {
      const never: never = type;
      void never;
      return false;
    }
  }
}

/** Cheap check on the webview side: the host is trusted, so the type tag is enough. */
export function isToWebviewMessage(x: unknown): x is ToWebviewMessage {
  return record(x) && isStr(x.type) && TO_WEBVIEW_TYPES.has(x.type);
}

/** Exhaustiveness helper for switches over message unions. */
export function assertNever(x: never, what = 'message'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}

// ---------------------------------------------------------------- ArrayBuffer helpers

/** Exactly the bytes of a typed-array view (views may share a larger pooled buffer). */
export function exactBuffer(view: ArrayBufferView): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = view;
  if (buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength) return buffer;
  const copy = new ArrayBuffer(byteLength);
  new Uint8Array(copy).set(new Uint8Array(buffer, byteOffset, byteLength));
  return copy;
}

export function float64Buffer(values: ArrayLike<number>): ArrayBuffer {
  return exactBuffer(Float64Array.from(values as ArrayLike<number>));
}
