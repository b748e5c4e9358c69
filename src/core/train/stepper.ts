// Token-at-a-time inference for a trained language model, written for speed rather than generality:
// the one-hot input is a column gather, state lives in Float64Arrays, and gate activations can be
// recorded per step. Used to sweep long documents (trace checkpoints every K tokens) and to answer
// trace windows quickly. Unidirectional models only (a bidirectional state depends on the future).
import type { ModelConfig } from '../model';
import { GATES, gateBlocks, suffix } from '../config';
import { type TensorMap, toFloat } from '../tensor';

interface LayerWeights {
  readonly wIh: Float64Array; // [G*H, in]
  readonly wHh: Float64Array; // [G*H, H]
  readonly bias: Float64Array; // b_ih + b_hh, except GRU's n block (kept apart: r multiplies b_hn)
  readonly bHn: Float64Array | null; // GRU b_hh of the n block
  readonly inSize: number;
}

/** h (and c) of every layer, [L, H] flat; copy with `cloneState`. */
export interface StepState {
  readonly h: Float64Array;
  readonly c: Float64Array | null;
}

/** What one step records for the trace: per layer h, c and every gate (GATES order), [L][...H]. */
export interface StepRecord {
  readonly h: Float64Array; // [L, H]
  readonly c: Float64Array | null; // [L, H]
  readonly gates: Float64Array; // [L, G, H]
}

export class UnsupportedModelError extends Error {}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const hardSigmoid = (x: number): number => Math.min(1, Math.max(0, 0.2 * x + 0.5));

export class LmStepper {
  readonly L: number;
  readonly H: number;
  readonly G: number;
  readonly gateNames: readonly string[];
  private readonly layers: LayerWeights[] = [];
  private readonly pre: Float64Array;
  private readonly hn: Float64Array; // GRU: W_hn h + b_hn
  private readonly xBuf: Float64Array;
  private readonly gate: (x: number) => number;

  constructor(readonly cfg: ModelConfig, params: TensorMap) {
    const r = cfg.rnn;
    if (r.bidirectional) throw new UnsupportedModelError('a bidirectional model cannot be traced token by token');
    this.L = r.numLayers;
    this.H = r.hiddenSize;
    this.G = gateBlocks(r.module);
    this.gateNames = GATES[r.module];
    this.gate = r.recurrentActivation === 'hard_sigmoid' ? hardSigmoid : sigmoid;
    const get = (name: string): Float64Array => {
      const t = params.get(`rnn.${name}`);
      if (!t) throw new UnsupportedModelError(`missing parameter rnn.${name}`);
      return toFloat(t, 'float64').data as Float64Array;
    };
    const GH = this.G * this.H;
    for (let l = 0; l < this.L; l++) {
      const s = suffix(l, false);
      const bias = new Float64Array(GH);
      let bHn: Float64Array | null = null;
      if (r.bias) {
        const bIh = get(`bias_ih${s}`), bHh = get(`bias_hh${s}`);
        for (let k = 0; k < GH; k++) bias[k] = bIh[k] + bHh[k];
        if (r.module === 'GRU') {
          bHn = bHh.slice(2 * this.H, 3 * this.H);
          for (let k = 2 * this.H; k < GH; k++) bias[k] = bIh[k];
        }
      } else if (r.module === 'GRU') bHn = new Float64Array(this.H);
      this.layers.push({ wIh: get(`weight_ih${s}`), wHh: get(`weight_hh${s}`), bias, bHn, inSize: l === 0 ? r.inputSize : this.H });
    }
    this.pre = new Float64Array(GH);
    this.hn = new Float64Array(this.H);
    this.xBuf = new Float64Array(this.H);
  }

  zeroState(): StepState {
    return { h: new Float64Array(this.L * this.H), c: this.cfg.rnn.module === 'LSTM' ? new Float64Array(this.L * this.H) : null };
  }

  cloneState(s: StepState): StepState {
    return { h: s.h.slice(), c: s.c ? s.c.slice() : null };
  }

  newRecord(): StepRecord {
    return {
      h: new Float64Array(this.L * this.H), c: this.cfg.rnn.module === 'LSTM' ? new Float64Array(this.L * this.H) : null,
      gates: new Float64Array(this.L * this.G * this.H),
    };
  }

  /** Feeds one token, updating `state` in place; fills `record` when given. */
  step(id: number, state: StepState, record?: StepRecord): void {
    const { H, G } = this;
    const module = this.cfg.rnn.module;
    const pre = this.pre;
    for (let l = 0; l < this.L; l++) {
      const w = this.layers[l];
      const h = state.h.subarray(l * H, (l + 1) * H);
      // pre = bias + W_ih x (+ W_hh h for every block but GRU's n)
      if (l === 0) {
        const wIh = w.wIh, bias = w.bias, inSize = w.inSize;
        for (let r = 0; r < G * H; r++) pre[r] = bias[r] + wIh[r * inSize + id];
      } else {
        const x = this.xBuf;
        x.set(state.h.subarray((l - 1) * H, l * H));
        pre.set(w.bias);
        addMatVec(pre, w.wIh, G * H, w.inSize, x);
      }
      addMatVec(pre, w.wHh, module === 'GRU' ? 2 * H : G * H, H, h);
      const gates = record ? record.gates.subarray(l * G * H, (l + 1) * G * H) : null;
      if (module === 'LSTM') {
        const c = state.c!.subarray(l * H, (l + 1) * H);
        for (let j = 0; j < H; j++) {
          const i = this.gate(pre[j]), f = this.gate(pre[H + j]), g = Math.tanh(pre[2 * H + j]), o = this.gate(pre[3 * H + j]);
          const cj = f * c[j] + i * g;
          c[j] = cj;
          h[j] = o * Math.tanh(cj);
          if (gates) { gates[j] = i; gates[H + j] = f; gates[2 * H + j] = g; gates[3 * H + j] = o; }
        }
      } else if (module === 'GRU') {
        const resetAfter = this.cfg.rnn.gruReset === 'after';
        const hn = this.hn;
        const rg = new Float64Array(H);
        for (let j = 0; j < H; j++) rg[j] = this.gate(pre[j]);
        for (let j = 0; j < H; j++) {
          let s = 0;
          const row = (2 * H + j) * H;
          if (resetAfter) for (let k = 0; k < H; k++) s += w.wHh[row + k] * h[k];
          else for (let k = 0; k < H; k++) s += w.wHh[row + k] * (rg[k] * h[k]);
          hn[j] = s + w.bHn![j];
        }
        for (let j = 0; j < H; j++) {
          const r = rg[j], z = this.gate(pre[H + j]);
          const n = Math.tanh(pre[2 * H + j] + (resetAfter ? r * hn[j] : hn[j]));
          h[j] = (1 - z) * n + z * h[j];
          if (gates) { gates[j] = r; gates[H + j] = z; gates[2 * H + j] = n; }
        }
      } else {
        const relu = this.cfg.rnn.nonlinearity === 'relu';
        for (let j = 0; j < H; j++) h[j] = relu ? Math.max(0, pre[j]) : Math.tanh(pre[j]);
      }
      if (record) {
        record.h.set(h, l * H);
        if (record.c) record.c.set(state.c!.subarray(l * H, (l + 1) * H), l * H);
      }
    }
  }

  /** The top layer's h of a state (what the head reads). */
  top(state: StepState): Float64Array {
    return state.h.subarray((this.L - 1) * this.H, this.L * this.H);
  }
}

/** out[r] += W[r, :] · x for r < rows; four rows at a time share each load of x[k] (about 2x faster). */
function addMatVec(out: Float64Array, W: Float64Array, rows: number, cols: number, x: Float64Array): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const a = r * cols, b = a + cols, c = b + cols, d = c + cols;
    for (let k = 0; k < cols; k++) {
      const v = x[k];
      s0 += W[a + k] * v;
      s1 += W[b + k] * v;
      s2 += W[c + k] * v;
      s3 += W[d + k] * v;
    }
    out[r] += s0;
    out[r + 1] += s1;
    out[r + 2] += s2;
    out[r + 3] += s3;
  }
  for (; r < rows; r++) {
    let s0 = 0;
    const a = r * cols;
    for (let k = 0; k < cols; k++) s0 += W[a + k] * x[k];
    out[r] += s0;
  }
}
