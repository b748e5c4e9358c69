// A trained model run over a whole document once, keeping the recurrent state every K tokens, so that
// any window [start, end) can later be recomputed from the nearest checkpoint in milliseconds: h, c and
// every gate per layer and timestep, plus the top-5 next-token predictions at each position.
import type { Checkpoint } from '../core/checkpoint';
import { encodeChars } from '../core/data/charVocab';
import { normalizeNewlines } from '../core/data/text';
import { encodeText, tokenText } from '../core/data/tokenizer';
import { type StepState, LmStepper } from '../core/train/stepper';
import { toFloat } from '../core/tensor';

export interface LayerWindow {
  readonly layer: number;
  /** [T, H] float32, T = end - start. */
  readonly h: Float32Array;
  readonly c?: Float32Array;
  /** Gate name (i, f, g, o / r, z, n) -> [T, H]. */
  readonly gates: Record<string, Float32Array>;
}

export interface TraceWindowData {
  readonly start: number;
  readonly end: number;
  readonly hiddenSize: number;
  readonly layers: readonly LayerWindow[];
  /** [T, TOP_K]: after reading token t, the most likely next tokens and their probabilities. */
  readonly topIds: Int32Array;
  readonly topProbs: Float32Array;
}

export const TOP_K = 5;
/** Longest recomputation a window may need, in ms: K is chosen so K steps take about this long. */
const WARMUP_BUDGET_MS = 20;

export type TraceModel = Pick<Checkpoint, 'config' | 'params' | 'vocab'>;

export class DocumentTrace {
  readonly ids: Int32Array;
  /** UTF-16 offset of each token in the (CRLF-normalised) text, plus the end; empty for word models. */
  readonly offsets: Int32Array;
  readonly unknown: number;
  readonly checkpointEvery: number;
  private readonly stepper: LmStepper;
  private readonly checkpoints: StepState[] = [];
  private readonly headW: Float64Array;
  private readonly headB: Float64Array;
  private frontier: StepState;
  private done = 0;

  constructor(readonly model: TraceModel, text: string, checkpointEvery?: number) {
    const clean = normalizeNewlines(text);
    if (model.vocab.kind === 'char') {
      const enc = encodeChars(model.vocab, clean);
      this.ids = enc.ids;
      this.offsets = enc.offsets;
      this.unknown = enc.unknown;
    } else {
      this.ids = encodeText(model.vocab, clean);
      this.offsets = new Int32Array(0);
      this.unknown = 0;
    }
    this.stepper = new LmStepper(model.config, model.params);
    this.headW = toFloat(model.params.get('head.weight')!, 'float64').data as Float64Array;
    this.headB = toFloat(model.params.get('head.bias')!, 'float64').data as Float64Array;
    this.checkpointEvery = checkpointEvery ?? this.measureCheckpointInterval();
    this.frontier = this.stepper.zeroState();
    this.checkpoints.push(this.stepper.cloneState(this.frontier));
  }

  get length(): number {
    return this.ids.length;
  }

  /** Tokens already swept (checkpoints exist up to here). */
  get prepared(): number {
    return this.done;
  }

  /** Sweeps the document in chunks; yields the number of tokens done after each chunk. */
  *prepare(chunk = 4096): Generator<number, void> {
    const K = this.checkpointEvery;
    while (this.done < this.ids.length) {
      const stop = Math.min(this.ids.length, this.done + chunk);
      for (; this.done < stop; this.done++) {
        this.stepper.step(this.ids[this.done], this.frontier);
        if ((this.done + 1) % K === 0) this.checkpoints.push(this.stepper.cloneState(this.frontier));
      }
      yield this.done;
    }
  }

  window(start: number, end: number): TraceWindowData {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= this.ids.length)) {
      throw new RangeError(`trace window [${start}, ${end}) is outside the document's ${this.ids.length} tokens`);
    }
    const K = this.checkpointEvery;
    const s = this.stepper;
    const { L, H, G } = s;
    const k = Math.min(Math.floor(start / K), this.checkpoints.length - 1);
    const state = s.cloneState(this.checkpoints[k]);
    for (let t = k * K; t < start; t++) s.step(this.ids[t], state);
    const T = end - start;
    const layers: LayerWindow[] = Array.from({ length: L }, (_, layer) => ({
      layer, h: new Float32Array(T * H), ...(state.c ? { c: new Float32Array(T * H) } : {}),
      gates: Object.fromEntries(s.gateNames.map((g) => [g, new Float32Array(T * H)])),
    }));
    const topIds = new Int32Array(T * TOP_K);
    const topProbs = new Float32Array(T * TOP_K);
    const rec = s.newRecord();
    const logits = new Float64Array(this.headB.length);
    for (let t = 0; t < T; t++) {
      s.step(this.ids[start + t], state, rec);
      for (let l = 0; l < L; l++) {
        const lw = layers[l];
        lw.h.set(rec.h.subarray(l * H, (l + 1) * H), t * H);
        if (lw.c) lw.c.set(rec.c!.subarray(l * H, (l + 1) * H), t * H);
        s.gateNames.forEach((g, gi) => lw.gates[g].set(rec.gates.subarray((l * G + gi) * H, (l * G + gi + 1) * H), t * H));
      }
      this.topPredictions(s.top(state), logits, topIds.subarray(t * TOP_K, (t + 1) * TOP_K), topProbs.subarray(t * TOP_K, (t + 1) * TOP_K));
    }
    return { start, end, hiddenSize: H, layers, topIds, topProbs };
  }

  /** Display text of a token id (for hovers). */
  token(id: number): string {
    return tokenText(this.model.vocab, id);
  }

  private topPredictions(h: Float64Array, logits: Float64Array, ids: Int32Array, probs: Float32Array): void {
    const O = logits.length, W = h.length;
    let max = -Infinity;
    for (let o = 0; o < O; o++) {
      let v = this.headB[o];
      for (let k = 0; k < W; k++) v += this.headW[o * W + k] * h[k];
      logits[o] = v;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let o = 0; o < O; o++) sum += Math.exp(logits[o] - max);
    const order = Array.from({ length: O }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
    for (let j = 0; j < Math.min(TOP_K, O); j++) {
      ids[j] = order[j];
      probs[j] = Math.exp(logits[order[j]] - max) / sum;
    }
  }

  /** K such that recomputing up to K tokens stays within the warm-up budget (16..256, a power of two). */
  private measureCheckpointInterval(): number {
    const st = this.stepper.zeroState();
    const n = 32;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) this.stepper.step(this.ids[i % Math.max(1, this.ids.length)] ?? 0, st);
    const perToken = (performance.now() - t0) / n;
    let K = 256;
    while (K > 16 && K * perToken > WARMUP_BUDGET_MS) K /= 2;
    return K;
  }
}
