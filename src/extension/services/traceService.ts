// Traced documents: a document's tokens prepared in the worker (states checkpointed every K tokens),
// with a host-side cache of timestep blocks so hovers and the trace view's scrolling rarely wait.
import { directions, GATES, suffix } from '../../core/config';
import { describeModel, taskOf } from '../../core/model';
import { tokenText } from '../../core/data/tokenizer';
import type { TensorMap } from '../../core/tensor';
import type { SpanMatch, TensorSelector, TraceLayout } from '../../protocol/webview';
import { Disposable, Emitter } from '../lifecycle';
import type { DocumentEncoding } from '../logic/encodeDocument';
import type { HoverSnapshot, PredictionKind } from '../logic/hoverFormat';
import { type Prediction, classNames, predictionKind, rowPredictions, topClasses } from '../logic/predictions';
import { SpanScanner, unitsOnOverSpan, spanSnippet } from '../logic/spans';
import { tokenAtOffset } from '../logic/tokens';
import { blocksCovering, WindowCache } from '../logic/windowCache';
import type { PreparationProgress } from '../logic/preparation';
import type { ModelData, RemoteTrace, SaliencyResult, TraceBlock } from './backend';

export interface TraceOptions {
  readonly blockSize: number;
  readonly cacheBlocks: number;
  readonly checkpointEvery: number;
}

export class TracedDocument extends Disposable {
  readonly cache: WindowCache<TraceBlock>;
  readonly layout: TraceLayout;
  /** What the per-token predictions mean for this model (next token, classes had the text ended, none). */
  readonly predicting: PredictionKind;
  /** A classifier's class names (label order); empty for a language model. */
  readonly classes: readonly string[];
  /** Tokens from here on changed in the editor since the trace was taken (length: none did). */
  private stale: number;
  /** The worker's K (a re-trace starts from this trace's states only with the same). */
  readonly checkpointEvery: number;

  constructor(
    readonly key: string,
    readonly traceId: string,
    readonly label: string,
    readonly version: number,
    readonly text: string,
    readonly encoding: DocumentEncoding,
    readonly modelId: string,
    readonly model: ModelData,
    /** The worker's trace (a later trace of this document after an edit can start from it). */
    readonly remote: RemoteTrace,
    options: TraceOptions,
  ) {
    super();
    this.checkpointEvery = options.checkpointEvery;
    this.register(remote);
    // A block waits until the worker's sweep has passed its start (the trace is usable while it prepares).
    this.cache = new WindowCache(options.blockSize, options.cacheBlocks, async (r) => {
      await remote.progress.whenAvailable(r.start);
      return remote.window(r.start, r.end);
    });
    this.register({ dispose: () => this.cache.clear() });
    const rnn = model.config.rnn;
    this.layout = {
      traceId,
      documentLabel: label,
      module: rnn.module,
      length: remote.length,
      hiddenSize: rnn.hiddenSize,
      numLayers: rnn.numLayers,
      directions: directions(rnn) as 1 | 2,
      tensors: ['h', ...(rnn.module === 'LSTM' ? ['c'] : []), ...GATES[rnn.module].map((g) => `gate_${g}`)],
      task: taskOf(model.config),
      tokenLevel: model.vocab.kind,
      model: describeModel(model.config),
    };
    this.predicting = predictionKind(model.config);
    this.classes = this.layout.task === 'classify' ? classNames(model.labels, model.config.outputSize) : [];
    this.stale = remote.length;
  }

  get length(): number {
    return this.layout.length;
  }

  get progress(): PreparationProgress {
    return this.remote.progress;
  }

  /** Whether timestep t can be shown now (its block's checkpoint is prepared). */
  isAvailable(t: number): boolean {
    return this.remote.progress.isAvailable(Math.floor(t / this.cache.blockSize) * this.cache.blockSize);
  }

  /** The first token whose trace no longer matches the editor's text (length when all do). */
  get staleFrom(): number {
    return this.stale;
  }

  /**
   * The editor text changed from UTF-16 offset `offset` on: tokens before it keep their values (a
   * unidirectional model reads only the past), a bidirectional trace is stale everywhere (its reverse
   * direction reads the future).
   */
  noteEdit(offset: number): void {
    const t = offset >= this.encoding.offsets[this.length] ? this.length : Math.max(0, tokenAtOffset(this.encoding.offsets, offset));
    this.stale = Math.min(this.stale, this.layout.directions === 2 ? 0 : t);
  }

  /** The document text of token t (a word model's token includes the gap after the word). */
  tokenText(t: number): string {
    return this.text.slice(this.encoding.offsets[t], this.encoding.offsets[t + 1]);
  }

  /** Token t as the views show it: a character, or a word up to the gap after it (which may hold dropped quotes). */
  tokenLabel(t: number): string {
    const text = this.tokenText(t);
    return this.layout.tokenLevel === 'word' ? /^\S*/.exec(text)![0] || text : text;
  }

  /** Where token t ends in the document for highlighting (a word without the gap after it). */
  tokenEnd(t: number): number {
    return this.encoding.offsets[t] + this.tokenLabel(t).length;
  }

  /** A classifier's class probabilities for the whole document, highest first; undefined until prepared (and for a language model). */
  prediction(k = Infinity): Prediction[] | undefined {
    const p = this.remote.prediction();
    return p && this.classes.length ? topClasses(p, this.classes, Math.min(k, this.classes.length)) : undefined;
  }

  /** The raw class probabilities (label order) of prediction(). */
  predictionProbabilities(): Float32Array | undefined {
    return this.classes.length ? this.remote.prediction() : undefined;
  }

  /**
   * What the prediction at token t depended on over the `window` tokens up to it (the worker's saliency; the
   * latest answer is kept); undefined where the backend does not offer it.
   */
  saliency(t: number, window: number): Promise<SaliencyResult> | undefined {
    if (!this.remote.saliency) return undefined;
    if (this.lastSaliency?.t !== t || this.lastSaliency.window !== window) {
      const promise = this.remote.saliency(t, window);
      this.lastSaliency = { t, window, promise };
      promise.catch(() => { if (this.lastSaliency?.promise === promise) this.lastSaliency = undefined; });
    }
    return this.lastSaliency.promise;
  }

  private lastSaliency: { readonly t: number; readonly window: number; readonly promise: Promise<SaliencyResult> } | undefined;

  tokenAt(offset: number): number {
    const t = tokenAtOffset(this.encoding.offsets, offset);
    return t < this.length ? t : -1;
  }

  /** Why timestep t has no values to show right now (edited text, not prepared yet), or undefined. */
  unavailableNote(t: number): string | undefined {
    if (t >= this.stale) {
      return this.layout.directions === 2
        ? '_gatescope: the document changed since it was traced (a bidirectional model reads the whole text); run “gatescope: Trace active document” again._'
        : '_gatescope: the text changed here since it was traced; run “gatescope: Trace active document” again (only the part from the first edit is redone)._';
    }
    if (this.isAvailable(t)) return undefined;
    const p = this.progress;
    if (p.current.state !== 'preparing') return `_gatescope: tracing was ${p.current.state}._`;
    return `_gatescope: preparing the trace… ${Math.floor(100 * p.fraction)}% — this position shows once the preparation gets here._`;
  }

  /** Float32 [end - start, H] of one tensor, assembled from cached blocks. */
  async window(selector: TensorSelector, start: number, end: number): Promise<Float32Array> {
    const H = this.layout.hiddenSize;
    const name = traceTensorName(selector);
    const lo = Math.max(0, start);
    const hi = Math.min(end, this.length);
    const out = new Float32Array(Math.max(0, hi - lo) * H);
    const blocks = blocksCovering(lo, hi, this.cache.blockSize, this.length);
    const maps = await Promise.all(blocks.map((b) => this.cache.get(b)));
    blocks.forEach((b, k) => {
      const t = maps[k].tensors.get(name);
      if (!t) throw new Error(`trace has no tensor ${name}`);
      const from = Math.max(lo, b.start);
      const to = Math.min(hi, b.end);
      const src = t.data as ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> };
      out.set(src.subarray((from - b.start) * H, (to - b.start) * H), (from - lo) * H);
    });
    return out;
  }

  /** All tensors of every layer at timestep t, and the block's predictions there (loads the block if needed). */
  private async step(t: number): Promise<{ values: TensorMap; block: TraceBlock; row: number; rows: number }> {
    const [b] = blocksCovering(t, t + 1, this.cache.blockSize, this.length);
    if (!b) throw new Error(`timestep ${t} is outside the trace (length ${this.length})`);
    const block = await this.cache.get(b);
    const H = this.layout.hiddenSize;
    const row = t - b.start;
    const values: TensorMap = new Map();
    for (const [name, tensor] of block.tensors) {
      const data = tensor.data as Float32Array | Float64Array;
      values.set(name, { dtype: tensor.dtype, shape: [H], data: data.subarray(row * H, (row + 1) * H) });
    }
    return { values, block, row, rows: b.end - b.start };
  }

  /** All tensors of every layer at timestep t (loads the block if needed). */
  async stepValues(t: number): Promise<TensorMap> {
    return (await this.step(t)).values;
  }

  /**
   * What the hover shows at timestep t for one layer (direction 0), with the top-k predictions: next tokens
   * (language model), the classes had the text ended here, or the whole document's classes (see PredictionKind).
   */
  async hoverSnapshot(t: number, layer: number, topUnits: number, topPredictions: number): Promise<HoverSnapshot> {
    const { values, block, row, rows } = await this.step(t);
    const rnn = this.model.config.rnn;
    const L = Math.min(Math.max(0, layer), rnn.numLayers - 1);
    const tensors = new Map<string, ArrayLike<number>>();
    for (const kind of this.layout.tensors) {
      const v = values.get(traceTensorName({ layer: L, direction: 0, tensor: kind }));
      if (v) tensors.set(kind, v.data as ArrayLike<number>);
    }
    const { vocab, config } = this.model;
    const name = this.layout.task === 'lm' ? (id: number) => tokenText(vocab, id) : (id: number) => this.classes[id] ?? `class ${id}`;
    let predicting = this.predicting;
    let predictions = predicting === 'document' ? [] : rowPredictions(block.topIds, block.topProbs, rows, row, config.outputSize, topPredictions, name);
    if (!predictions.length && this.layout.task === 'classify') {
      predicting = 'document'; // no per-token scores for this model: the whole document's classes
      predictions = this.prediction(topPredictions) ?? [];
    }
    return {
      module: rnn.module, layer: L, numLayers: rnn.numLayers, direction: 0, position: t, length: this.length,
      char: this.tokenLabel(t), tensors, topUnits, predictions, predicting,
    };
  }

  /**
   * LSTMVis: units above `threshold` over all of [start, end), then the spans of the first `maxScan`
   * timesteps where those units are all on together.
   */
  async findSpans(selector: TensorSelector, start: number, end: number, threshold: number, maxScan: number): Promise<{ units: number[]; matches: SpanMatch[]; scanned: number }> {
    const H = this.layout.hiddenSize;
    const span = await this.window(selector, start, end);
    const units = unitsOnOverSpan(span, H, 0, end - start, threshold);
    const scanner = new SpanScanner(units, H, threshold, Math.max(1, Math.floor((end - start) / 2)));
    const limit = Math.min(this.length, maxScan);
    const step = this.cache.blockSize;
    for (let t = 0; t < limit && units.length && !scanner.full; t += step) {
      scanner.feed(t, await this.window(selector, t, Math.min(limit, t + step)));
    }
    const matches = units.length ? scanner.finish() : [];
    const off = this.encoding.offsets;
    return { units, matches: matches.map((m) => ({ ...m, ...spanSnippet(this.text, off[m.start], off[m.end]) })), scanned: limit };
  }
}

export function traceTensorName(s: TensorSelector): string {
  return `trace${suffix(s.layer, s.direction === 1)}_${s.tensor}`;
}

/** The traced documents, one per editor document (re-tracing a document replaces its trace). */
export class TraceService extends Disposable {
  private readonly docs = new Map<string, TracedDocument>();
  private readonly onDidChangeEmitter = this.register(new Emitter<TracedDocument | undefined>());
  readonly onDidChange = this.onDidChangeEmitter.event;

  constructor() {
    super();
    this.register({ dispose: () => { for (const d of this.docs.values()) d.dispose(); this.docs.clear(); } });
  }

  get all(): readonly TracedDocument[] {
    return [...this.docs.values()];
  }

  get(key: string): TracedDocument | undefined {
    return this.docs.get(key);
  }

  byTraceId(traceId: string): TracedDocument | undefined {
    return [...this.docs.values()].find((d) => d.traceId === traceId);
  }

  set(doc: TracedDocument): void {
    this.docs.get(doc.key)?.dispose();
    this.docs.set(doc.key, doc);
    this.onDidChangeEmitter.fire(doc);
  }

  remove(key: string): void {
    const d = this.docs.get(key);
    if (!d) return;
    d.dispose();
    this.docs.delete(key);
    this.onDidChangeEmitter.fire(undefined);
  }

  /** The model changed or went away: its traces are stale. */
  removeModel(modelId: string): void {
    for (const d of [...this.docs.values()]) if (d.modelId === modelId) this.remove(d.key);
  }
}
