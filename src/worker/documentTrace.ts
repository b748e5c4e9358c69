// A model run over a whole document once, keeping the recurrent state every K tokens, so that any window
// [start, end) can later be recomputed from the nearest kept state in milliseconds: h, c and every gate per
// layer and timestep, plus the top-5 next-token predictions at each position.
// The sweep runs on the one-sequence kernels (src/core/fast/sweep.ts: the recurrent product as one row against
// weights kept in cache, no gates stored); the windows on the fast engines through traceLm (exact with one
// stream), gates included. Configurations the fast engines do not cover fall back to the reference lmForward.
// A document traced again after an edit starts from the earlier trace's states before the edit (createDocumentTrace).
import { isDeepStrictEqual } from 'node:util';
import { directions, GATES } from '../core/config';
import { encodeChars } from '../core/data/charVocab';
import { normalizeNewlines } from '../core/data/text';
import type { Vocabulary } from '../core/data/tokenizer';
import { encodeWords, splitWords } from '../core/data/wordVocab';
import type { ModelConfig } from '../core/model';
import type { TraceResumption } from '../protocol/worker';
import { type FastLmEngine, fastTraceUnsupportedReason } from '../core/fast/lmDriver';
import { traceTokens } from '../core/fast/trace';
import { CheckpointedStackTrace } from '../core/fast/bidiTrace';
import { SequenceSweep, canSweep } from '../core/fast/sweep';
import { createJsKernels } from '../core/fast/jsKernels';
import type { FastKernels } from '../core/fast/kernels';
import { createWasmKernels } from '../engines/wasm/wasmKernels';
import { createNativeFastKernels, createNativeLmEngine, nativeAvailability } from '../engines/native/index';
import { type FloatArray, type TensorMap, floatArray } from '../core/tensor';
import { type LmForwardResult, type LmState, type LmWeights, StreamReadout, classProbabilities, lmForward, softmaxRows, splitLmParameters } from '../core/train/lmForward';
import { type FoldedModel, foldEmbedding } from '../core/foldEmbedding';
import { kernelFoldProduct } from '../core/fast/foldProduct';
import { taskOf } from '../core/model';
import { createJsLmEngine } from '../engines/js';
import { createWasmLmEngine, wasmAvailability } from '../engines/wasm';

/** A model that can read documents: config, PyTorch-named parameters and its vocabulary. */
export interface TraceModel {
  readonly config: ModelConfig;
  readonly params: TensorMap;
  readonly vocab: Vocabulary;
}

export interface TraceWindowData {
  readonly start: number;
  readonly end: number;
  /** trace_l{k}[_reverse]_{h|c|gate_*}: [end - start, 1, H] in the model's dtype. */
  readonly tensors: TensorMap;
  /**
   * [T, TOP_K]: after reading token t, the most likely next tokens (language model) or classes (a `last`-readout
   * unidirectional classifier, had the sequence ended there) and their probabilities; empty for other classifiers.
   */
  readonly topIds: Int32Array;
  readonly topProbs: Float32Array;
}

export interface DocumentTrace {
  /** Tokens that can be windowed (a bidirectional model is traced in one piece, capped). */
  readonly length: number;
  readonly checkpointEvery: number;
  /** Units of preparation work in all (tokens for one sweep; bidirectional stacks sweep several times). */
  readonly work: number;
  /**
   * Windows starting before this token can be computed now: it grows while prepare() runs (a window needs
   * the checkpoint at its block start), and is `length` once prepared.
   */
  readonly available: number;
  /** Sweeps the document in slices; yields the work done (0..work) after each slice. */
  prepare(): Generator<number, void>;
  window(start: number, end: number): TraceWindowData;
  /** A classifier's class probabilities for the whole document as one sequence, once prepared; undefined for a language model. */
  prediction(): Float32Array | undefined;
  /** Where it started from the `previous` trace given to createDocumentTrace; absent where it could not. */
  readonly resumed?: TraceResumption;
  dispose(): void;
}

export const TOP_K = 5;
export const DEFAULT_CHECKPOINT_EVERY = 256;
/**
 * Bidirectional configs the fast kernels do not cover (reset-before GRU, dense inputs) are traced by the
 * reference in one piece (the reverse direction needs the whole sequence), so they are capped.
 */
export const MAX_BIDIRECTIONAL_TOKENS = 20_000;

/** Tokens of a document a model can trace: all, except for bidirectional models on the reference. */
export function traceableTokens(config: ModelConfig, tokens: number): number {
  const onehot = { ...config, embedding: null, rnn: { ...config.rnn, inputSize: config.vocabSize } };
  return directions(config.rnn) === 2 && !fastBidirectional(onehot) ? Math.min(tokens, MAX_BIDIRECTIONAL_TOKENS) : tokens;
}

/** Models the fast token-stream traces run: a language model (one-hot or embedding input) with one Linear head. */
function fastTraceable(config: ModelConfig): boolean {
  return !config.headSequential && fastTraceUnsupportedReason(config) === undefined;
}

/** Bidirectional stacks the checkpointed fast trace (src/core/fast/bidiTrace.ts) runs. */
function fastBidirectional(config: ModelConfig): boolean {
  return directions(config.rnn) === 2 && fastTraceable({ ...config, rnn: { ...config.rnn, bidirectional: false } });
}
/**
 * Tokens per prepare() slice (rounded to whole K-blocks): between slices the worker answers window requests
 * and cancels, so a slice should take well under 100 ms. The fast trace starts with FIRST_SLICE_TOKENS (small: at
 * H=512 the 4096 it once was took 110-200 ms, a hover's whole budget) and then sizes each slice to take about
 * SLICE_MS (at most MAX_SLICE_TOKENS), growing it fourfold while a slice is too short to time.
 */
const FIRST_SLICE_TOKENS = 512;
const SLICE_MS = 25;
const MAX_SLICE_TOKENS = 32_768;

export interface EncodedDocument {
  readonly ids: Int32Array;
  /** UTF-16 offset of each token in the (CRLF-normalised) text, plus the end of the last one. */
  readonly offsets: Int32Array;
  /** Characters outside the vocabulary (read as the fallback token). */
  readonly unknown: number;
}

export function encodeDocument(vocab: Vocabulary, text: string): EncodedDocument {
  const clean = normalizeNewlines(text);
  if (vocab.kind === 'char') return encodeChars(vocab, clean);
  const { tokens, offsets } = splitWords(vocab.tokenizer, clean);
  return { ids: encodeWords(vocab, tokens), offsets, unknown: 0 };
}

/**
 * `previous`: an earlier trace of this document, before an edit. A forward sweep of the same model with the same K
 * keeps its states up to the first changed token and prepares only the rest; other traces ignore it (a
 * bidirectional one's reverse direction reads the future).
 */
export function createDocumentTrace(model: TraceModel, ids: Int32Array, checkpointEvery = DEFAULT_CHECKPOINT_EVERY, previous?: DocumentTrace): DocumentTrace {
  const K = Math.max(1, Math.floor(checkpointEvery));
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < model.config.vocabSize)) throw new RangeError(`token ${i} (id ${ids[i]}) is outside the vocabulary of ${model.config.vocabSize}`);
  }
  if (fastTraceable(model.config)) return new FastTrace(model, ids, K).resumeFrom(previous);
  // The bidirectional stack reads token ids one-hot: an embedding model as the equivalent one-hot model.
  if (fastBidirectional(model.config)) return new BidirectionalTrace(foldedModel(model), ids, K);
  const weights = splitLmParameters(model.config, model.params);
  if (directions(model.config.rnn) === 2) return new WholeTrace(model.config, weights, ids.subarray(0, MAX_BIDIRECTIONAL_TOKENS), K);
  return new ReferenceTrace(model.config, weights, ids, K, model).resumeFrom(previous);
}

/** Folds by the parameters folded: the worker keeps the host's models, so a re-trace after an edit finds its fold. */
const folds = new WeakMap<TensorMap, { readonly config: ModelConfig; readonly folded: FoldedModel }>();

/** An embedding model as the equivalent one-hot model (src/core/foldEmbedding.ts), folded on the fast kernels. */
function foldedModel(model: TraceModel): TraceModel {
  if (!model.config.embedding) return model;
  const kept = folds.get(model.params);
  if (kept?.config === model.config) return { ...model, ...kept.folded };
  const kernels = sweepKernels(model.config.rnn.dtype);
  let folded: FoldedModel;
  try {
    folded = foldEmbedding(model.config, model.params, kernelFoldProduct(kernels));
  } finally {
    kernels.dispose();
  }
  folds.set(model.params, { config: model.config, folded });
  return { ...model, ...folded };
}

function checkWindow(start: number, end: number, length: number): void {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= length)) {
    throw new RangeError(`trace window [${start}, ${end}) is outside the document's ${length} tokens`);
  }
}

/** Top-K next tokens (softmax over each row of logits [T, O]). */
export function topPredictions(logits: ArrayLike<number>, T: number, O: number): { topIds: Int32Array; topProbs: Float32Array } {
  if (logits.length < T * O) return { topIds: new Int32Array(0), topProbs: new Float32Array(0) }; // no per-step scores
  const topIds = new Int32Array(T * TOP_K);
  const topProbs = new Float32Array(T * TOP_K);
  const k = Math.min(TOP_K, O);
  const best = new Int32Array(k);
  for (let t = 0; t < T; t++) {
    const row = t * O;
    let max = -Infinity;
    for (let o = 0; o < O; o++) if (logits[row + o] > max) max = logits[row + o];
    let sum = 0;
    for (let o = 0; o < O; o++) sum += Math.exp(logits[row + o] - max);
    let n = 0; // insertion into a short sorted list: highest first, lower id on ties
    for (let o = 0; o < O; o++) {
      const v = logits[row + o];
      if (n === k && v <= logits[row + best[k - 1]]) continue;
      let j = n < k ? n++ : k - 1;
      while (j > 0 && logits[row + best[j - 1]] < v) { best[j] = best[j - 1]; j--; }
      best[j] = o;
    }
    for (let j = 0; j < k; j++) {
      topIds[t * TOP_K + j] = best[j];
      topProbs[t * TOP_K + j] = Math.exp(logits[row + best[j]] - max) / sum;
    }
  }
  return { topIds, topProbs };
}

type FastState = { readonly h: FloatArray; readonly c?: FloatArray };

/** A model as given to createDocumentTrace. */
type ModelOrigin = Pick<TraceModel, 'config' | 'params'>;

/**
 * The same weights. The worker keeps the models the host sent (src/worker/keptModels.ts), so a re-trace usually
 * passes the very same object; a model sent again after it was dropped arrives as a new copy, compared by value.
 */
function sameModel(a: ModelOrigin, b: ModelOrigin): boolean {
  return (a.config === b.config && a.params === b.params) || (isDeepStrictEqual(a.config, b.config) && isDeepStrictEqual(a.params, b.params));
}

/** The first index where a and b differ, or the shorter one's length. */
function firstDifference(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** A single forward sweep that keeps a state every `checkpointEvery` tokens: states[b] starts block b. */
abstract class SweptTrace<S> {
  /** Never mutated once kept (a resumed trace shares them with the one it resumed from). */
  protected abstract readonly states: S[];
  protected abstract ids: Int32Array;
  protected done = 0;
  abstract readonly checkpointEvery: number;
  /** The model as given to createDocumentTrace (FastTrace runs a folded copy of it). */
  protected abstract readonly origin: ModelOrigin;
  resumed?: TraceResumption;

  /**
   * Starts from `previous`'s states where it is the same kind of trace, of the same model and K: state b (before
   * token b*K) depends on the tokens before it only, so it holds while b*K <= the first changed token.
   */
  resumeFrom(previous: DocumentTrace | undefined): this {
    if (!(previous instanceof SweptTrace) || previous.constructor !== this.constructor || previous.checkpointEvery !== this.checkpointEvery
      || !previous.states.length || !sameModel(previous.origin, this.origin)) return this;
    const old = previous as SweptTrace<S>;
    const K = this.checkpointEvery;
    const firstChange = firstDifference(old.ids, this.ids);
    // Prepared, still valid, and at a block start inside the document (the only states a sweep keeps).
    const last = Math.min(old.states.length - 1, Math.floor(firstChange / K), Math.max(0, Math.ceil(this.ids.length / K) - 1));
    this.states.length = 0;
    for (let b = 0; b <= last; b++) this.states.push(old.states[b]);
    this.done = last * K;
    this.resumed = { tokens: this.done, firstChange };
    return this;
  }

  get length(): number {
    return this.ids.length;
  }

  get work(): number {
    return this.ids.length;
  }

  get available(): number {
    return this.done >= this.ids.length ? this.ids.length : Math.min(this.ids.length, this.states.length * this.checkpointEvery);
  }
}

/**
 * The fast engines: one sweep (SequenceSweep, else traceLm) keeps states [L, 1, H] every K tokens; windows are recomputed from
 * the nearest state on an engine kept for the trace (native, else WASM, for float32 when
 * available, else the js engine), as creating one per window would cost more than the window itself.
 */
class FastTrace extends SweptTrace<FastState> implements DocumentTrace {
  protected readonly states: FastState[] = [];
  private engine: FastLmEngine | undefined;
  /** The sweep once made; false where it cannot run. */
  private sweep: SequenceSweep | false | undefined;

  protected readonly origin: ModelOrigin;

  constructor(private readonly model: TraceModel, protected ids: Int32Array, readonly checkpointEvery: number) {
    super();
    this.origin = model;
    const { numLayers: L, hiddenSize: H, dtype, module } = model.config.rnn;
    this.states.push({ h: floatArray(dtype, L * H), ...(module === 'LSTM' ? { c: floatArray(dtype, L * H) } : {}) });
  }

  /**
   * Resumed from a trace of the same weights: its engine serves this trace's windows (each call starts from the
   * state it is given), and so does its sweep once its own preparation is over (a sweep carries its state from
   * one slice to the next). Making them again costs a word model a few hundred milliseconds (tables of V rows).
   */
  override resumeFrom(previous: DocumentTrace | undefined): this {
    super.resumeFrom(previous);
    if (!this.resumed || !(previous instanceof FastTrace)) return this;
    this.engine = previous.engine;
    previous.engine = undefined;
    if (previous.done >= previous.ids.length) {
      this.sweep = previous.sweep;
      previous.sweep = undefined;
    }
    return this;
  }

  /** One engine for the sweep and the windows (windows asked between slices run on it too). */
  private fastEngine(): FastLmEngine {
    const { config, params } = this.model;
    const float32 = config.rnn.dtype === 'float32';
    // One native thread: a single stream's steps (B = 1) are too small to share (measured 6.4 -> 5.4 µs/step).
    this.engine ??= float32 && nativeAvailability().available ? createNativeLmEngine(config, params, { threads: 1, inference: true })
      : float32 && wasmAvailability().available ? createWasmLmEngine(config, params, { inference: true }) : createJsLmEngine(config, params, { inference: true });
    return this.engine;
  }

  /**
   * The one-sequence sweep (src/core/fast/sweep.ts) on its own kernels (native with its two threads, else
   * WASM, else js); undefined where those kernels lack it (then the engine's batched path sweeps).
   */
  private sweeper(): SequenceSweep | undefined {
    if (this.sweep !== undefined) return this.sweep || undefined;
    const { rnn } = this.model.config;
    let kernels: FastKernels | undefined;
    try {
      kernels = sweepKernels(rnn.dtype);
      const { config, params } = this.model;
      const embedding = config.embedding ? params.get('embedding.weight')?.data as ArrayLike<number> | undefined : undefined;
      const tokens = config.embedding ? embedding !== undefined : rnn.inputSize === config.vocabSize;
      this.sweep = tokens && canSweep(kernels) ? new SequenceSweep(rnn, kernels, params, 'rnn.', embedding ? { embedding } : {}) : false;
    } catch {
      this.sweep = false;
    }
    if (!this.sweep) kernels?.dispose();
    return this.sweep || undefined;
  }

  *prepare(): Generator<number, void> {
    const K = this.checkpointEvery;
    const n = this.ids.length;
    const { numLayers: L, hiddenSize: H, dtype } = this.model.config.rnn;
    // The first slice by count (its time is not known yet, and it builds the sweep); then sized by time.
    let slice = K * Math.max(1, Math.floor(FIRST_SLICE_TOKENS / K));
    const sweep = this.sweeper();
    // From the last kept state: the initial one, or where a resumed trace (resumeFrom) takes over.
    const last = this.states.at(-1);
    if (sweep && last) sweep.setState(last.h, last.c);
    while (this.done < n) {
      const from = this.done;
      const to = Math.min(n, from + slice);
      // Only states at a block start inside the document are ever needed.
      const from0 = this.states[this.states.length - 1];
      const t0 = performance.now();
      if (sweep && to - from > 0 && from + K < n) {
        // Whole blocks only: the state at a block start after the last one inside the document is never needed.
        const upto = Math.min(to, from + Math.floor((n - 1 - from) / K) * K);
        const kept = sweep.advance(this.ids.subarray(from, upto), K);
        for (const state of kept) this.states.push(state);
      } else if (to - from > 0 && from + K < n) {
        traceTokens(this.fastEngine(), this.ids.subarray(from, to), {
          chunkSteps: K, scores: false, h0: from0.h, ...(from0.c ? { c0: from0.c } : {}),
          onChunk: (chunk) => {
            const end = from + chunk.start + chunk.steps;
            if (chunk.steps !== K || end >= n) return;
            const last = (a: FloatArray, l: number, into: FloatArray): void => into.set(a.subarray((chunk.steps - 1) * H, chunk.steps * H), l * H);
            const h = floatArray(dtype, L * H);
            const c = chunk.layers[0].c ? floatArray(dtype, L * H) : undefined;
            chunk.layers.forEach((layer, l) => {
              last(layer.h, l, h);
              if (c) last(layer.c!, l, c);
            });
            this.states.push(c ? { h, c } : { h });
          },
        });
      }
      this.done = to;
      // The next slice sized to take about SLICE_MS here and now (the model's size, the machine's load).
      const ms = performance.now() - t0;
      const wanted = ms > 0.5 ? (SLICE_MS * (to - from)) / ms : 4 * slice;
      if (to - from >= K) slice = K * Math.max(1, Math.min(Math.floor(MAX_SLICE_TOKENS / K), Math.round(wanted / K)));
      yield to;
    }
    this.fastEngine(); // made now, so the first hover does not wait for it
  }

  window(start: number, end: number): TraceWindowData {
    checkWindow(start, end, this.ids.length);
    const K = this.checkpointEvery;
    const b = Math.floor(start / K);
    if (b >= this.states.length) throw new RangeError(`trace window [${start}, ${end}) is not prepared yet`);
    const a = b * K;
    const { hiddenSize: H, module, dtype } = this.model.config.rnn;
    const O = this.model.config.outputSize;
    const gates = GATES[module];
    const G = gates.length;
    const T = end - start;
    const tensors: TensorMap = new Map();
    const make = (name: string): FloatArray => {
      const data = floatArray(dtype, T * H);
      tensors.set(name, { dtype, shape: [T, 1, H], data });
      return data;
    };
    const logits = new Float64Array(T * O);
    let outs: { h: FloatArray; c?: FloatArray; gates: FloatArray[] }[] | undefined;
    const s = this.states[b];
    traceTokens(this.fastEngine(), this.ids.subarray(a, end), {
      chunkSteps: Math.min(end - a, 4 * K), h0: s.h, ...(s.c ? { c0: s.c } : {}),
      onChunk: (chunk) => {
        outs ??= chunk.layers.map((layer, l) => ({
          h: make(`trace_l${l}_h`), ...(layer.c ? { c: make(`trace_l${l}_c`) } : {}),
          gates: gates.map((g) => make(`trace_l${l}_gate_${g}`)),
        }));
        const c0 = chunk.start + a; // global index of the chunk's first step
        const lo = Math.max(start, c0), hi = Math.min(end, c0 + chunk.steps);
        if (lo >= hi) return;
        chunk.layers.forEach((layer, l) => {
          const o = outs![l];
          o.h.set(layer.h.subarray((lo - c0) * H, (hi - c0) * H), (lo - start) * H);
          if (o.c) o.c.set(layer.c!.subarray((lo - c0) * H, (hi - c0) * H), (lo - start) * H);
          for (let t = lo; t < hi; t++) {
            for (let g = 0; g < G; g++) o.gates[g].set(layer.gates.subarray(((t - c0) * G + g) * H, ((t - c0) * G + g + 1) * H), (t - start) * H);
          }
        });
        logits.set(chunk.logits.subarray((lo - c0) * O, (hi - c0) * O), (lo - start) * O);
      },
    });
    return { start, end, tensors, ...topPredictions(logits, T, O) };
  }

  prediction(): undefined {
    return undefined; // language models only (fastTraceable)
  }

  dispose(): void {
    this.states.length = 0;
    this.ids = new Int32Array(0);
    this.engine?.dispose();
    this.engine = undefined;
    if (this.sweep) this.sweep.dispose();
    this.sweep = undefined;
  }
}

/**
 * Kernels for the one-sequence sweep: native with the addon's two threads, else WASM SIMD with its helper thread
 * (float32), else js.
 */
function sweepKernels(dtype: ModelConfig['rnn']['dtype']): FastKernels {
  if (dtype === 'float32') {
    const native = nativeAvailability();
    if (native.available) return createNativeFastKernels(native.threads ?? 1);
    const wasm = wasmAvailability();
    // Two threads where a shared memory and a second core exist (the sweep times one against two).
    if (wasm.available) return wasm.threads === 2 ? createWasmKernels(`${wasm.variant!}-mt`, 2) : createWasmKernels(wasm.variant!, 1);
  }
  return createJsKernels(dtype);
}

/** The kernels the fast engines would run on here: native (float32), WASM SIMD (float32), else js. */
function traceKernels(dtype: ModelConfig['rnn']['dtype']): FastKernels {
  if (dtype === 'float32') {
    if (nativeAvailability().available) return createNativeFastKernels(1); // B = 1: one thread
    const wasm = wasmAvailability();
    if (wasm.available) return createWasmKernels(wasm.variant!, 1);
  }
  return createJsKernels(dtype);
}

/**
 * Bidirectional (and multi-layer bidirectional) stacks on the fast kernels: forward and reverse sweeps keep
 * every layer's states at block boundaries (layer 0's on the one-sequence sweep, each direction in turn); a
 * window is recomputed from the states around it (exact).
 * Windows wait for the whole preparation: the reverse direction's state comes from the document's end.
 */
class BidirectionalTrace implements DocumentTrace {
  private stack: CheckpointedStackTrace | undefined;

  constructor(private readonly model: TraceModel, ids: Int32Array, readonly checkpointEvery: number) {
    const { config, params } = model;
    const kernels = traceKernels(config.rnn.dtype);
    const rnn: TensorMap = new Map([...params].filter(([k]) => k.startsWith('rnn.')).map(([k, v]) => [k.slice(4), v]));
    const weight = params.get('head.weight'), bias = params.get('head.bias');
    if (!weight || !bias) throw new Error('model parameters lack head.weight / head.bias');
    this.stack = new CheckpointedStackTrace(config.rnn, kernels, rnn, { kind: 'tokens', ids }, {
      checkpointEvery, sweepKernels: () => sweepKernels(config.rnn.dtype),
      head: { weight: weight.data as ArrayLike<number>, bias: bias.data as ArrayLike<number>, outputs: config.outputSize },
    });
    this.length = ids.length;
  }

  readonly length: number;

  get work(): number {
    return this.stack?.work ?? 0;
  }

  get available(): number {
    return this.stack?.available ?? 0;
  }

  prepare(): Generator<number, void> {
    if (!this.stack) throw new Error('this trace was disposed');
    return this.stack.prepare();
  }

  window(start: number, end: number): TraceWindowData {
    checkWindow(start, end, this.length);
    if (!this.stack) throw new Error('this trace was disposed');
    const w = this.stack.window(start, end);
    return { start, end, tensors: w.tensors, ...topPredictions(w.logits!, end - start, this.model.config.outputSize) };
  }

  prediction(): undefined {
    return undefined; // language models only (fastTraceable)
  }

  dispose(): void {
    this.stack?.dispose();
    this.stack = undefined;
  }
}

/** Rows from..to of every [T, 1, H] trace tensor (time-major, N = 1). */
function sliceRows(trace: TensorMap, from: number, to: number): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, t] of trace) {
    const H = t.shape[t.shape.length - 1];
    out.set(name, { dtype: t.dtype, shape: [to - from, 1, H], data: (t.data as FloatArray).slice(from * H, to * H) });
  }
  return out;
}

/** Reference lmForward with states kept every K tokens (configurations the fast engines lack). */
class ReferenceTrace extends SweptTrace<LmState | undefined> implements DocumentTrace {
  protected readonly states: (LmState | undefined)[] = [undefined];
  private predicted: Float32Array | undefined;

  constructor(
    private readonly cfg: ModelConfig, private readonly weights: LmWeights, protected ids: Int32Array, readonly checkpointEvery: number,
    protected readonly origin: ModelOrigin,
  ) {
    super();
  }

  *prepare(): Generator<number, void> {
    const K = this.checkpointEvery;
    const slice = K * Math.max(1, Math.floor(1024 / K));
    while (this.done < this.ids.length) {
      const to = Math.min(this.ids.length, this.done + slice);
      for (let a = this.done; a < to; a += K) {
        if (a + K >= this.ids.length) break;
        this.states.push(lmForward(this.cfg, this.weights, this.ids.subarray(a, a + K), K, 1, this.states[a / K]).state);
      }
      this.done = to;
      yield to;
    }
  }

  window(start: number, end: number): TraceWindowData {
    checkWindow(start, end, this.ids.length);
    const b = Math.floor(start / this.checkpointEvery);
    if (b >= this.states.length) throw new RangeError(`trace window [${start}, ${end}) is not prepared yet`);
    const a = b * this.checkpointEvery;
    const r = lmForward(this.cfg, this.weights, this.ids.subarray(a, end), end - a, 1, this.states[b], { trace: true });
    const O = this.cfg.outputSize;
    return { start, end, tensors: sliceRows(r.trace!, start - a, end - a), ...topPredictions(r.logits.subarray((start - a) * O), end - start, O) };
  }

  prediction(): Float32Array | undefined {
    if (taskOf(this.cfg) !== 'classify' || this.done < this.ids.length || !this.ids.length) return undefined;
    this.predicted ??= this.predictWhole();
    return this.predicted;
  }

  /** `last`: the final state, from the last kept one; mean / max: the readout accumulated block by block. */
  private predictWhole(): Float32Array {
    const K = this.checkpointEvery, n = this.ids.length;
    if (this.cfg.readout === 'last') {
      const b = this.states.length - 1;
      const r = lmForward(this.cfg, this.weights, this.ids.subarray(b * K), n - b * K, 1, this.states[b]);
      return classProbabilities(this.cfg, this.weights, this.readout(r), 1);
    }
    const acc = new StreamReadout(this.cfg, 1);
    for (let b = 0; b * K < n; b++) {
      const to = Math.min(n, (b + 1) * K);
      acc.add(lmForward(this.cfg, this.weights, this.ids.subarray(b * K, to), to - b * K, 1, this.states[b]).output, to - b * K);
    }
    return classProbabilities(this.cfg, this.weights, acc.features(), 1);
  }

  private readout(r: LmForwardResult): FloatArray {
    // h_n[-1] of a unidirectional stack: the last step's output.
    const W = this.cfg.rnn.hiddenSize;
    return r.output.subarray(r.output.length - W);
  }

  dispose(): void {
    this.states.length = 0;
    this.ids = new Int32Array(0);
    this.predicted = undefined;
  }
}

/** Bidirectional: the reverse direction needs the whole sequence, so it is traced at once. */
class WholeTrace implements DocumentTrace {
  private trace: TensorMap | undefined;
  private logits: FloatArray | undefined;
  private predicted: Float32Array | undefined;

  constructor(private readonly cfg: ModelConfig, private readonly weights: LmWeights, private readonly ids: Int32Array, readonly checkpointEvery: number) {}

  get length(): number {
    return this.ids.length;
  }

  get work(): number {
    return this.ids.length;
  }

  get available(): number {
    return this.trace ? this.ids.length : 0;
  }

  *prepare(): Generator<number, void> {
    if (!this.ids.length) return;
    const r = lmForward(this.cfg, this.weights, this.ids, this.ids.length, 1, undefined, { trace: true });
    this.trace = r.trace!;
    this.logits = r.logits;
    if (r.sequenceLogits) this.predicted = softmaxRows(r.sequenceLogits, this.cfg.outputSize);
    yield this.ids.length;
  }

  prediction(): Float32Array | undefined {
    return this.predicted;
  }

  window(start: number, end: number): TraceWindowData {
    checkWindow(start, end, this.ids.length);
    if (!this.trace || !this.logits) throw new RangeError('the trace is not prepared yet');
    const O = this.cfg.outputSize;
    return { start, end, tensors: sliceRows(this.trace, start, end), ...topPredictions(this.logits.subarray(start * O), end - start, O) };
  }

  dispose(): void {
    this.trace = undefined;
    this.logits = undefined;
    this.predicted = undefined;
  }
}
