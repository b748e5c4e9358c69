// The fast path of "what did this prediction depend on" (src/core/saliency.ts) for one sequence: a forward over
// the window (run here from a start state, or taken from a trace window the fast engines computed), then a
// backward through the recurrent stack for the input gradients only (no parameter gradients), in typed-array
// loops. The same quantity as inputSaliency: ‖∂objective/∂input_t'‖₂ per position of the window.
import { type ModelConfig, taskOf } from './model';
import { GATES } from './config';
import type { FloatArray, FloatTensor, TensorMap } from './tensor';
import type { FastKernels } from './fast/kernels';
import { headBackward, headForward, logitsOf } from './reference/head';
import { elmanActivation, gateActivation } from './reference/activations';
import { type Saliency, type SaliencyOptions, SaliencyUnsupportedError, inputSaliency, saliencyUnsupportedReason } from './saliency';

type Floats = ArrayLike<number> & { [i: number]: number };

/** One layer's forward over the window's T steps. */
export interface SaliencyLayerForward {
  /** h for the step before the window, then each step: [(T + 1) * H]. */
  readonly h: Floats;
  /** LSTM: c, rows as h. */
  readonly c?: Floats;
  /** Gate activations [T, G, H] (LSTM i f g o, GRU r z n; absent for RNN). */
  readonly gates?: Floats;
}

export interface FastSaliencyOptions extends SaliencyOptions {
  /** The document position `options.state` is the state before (default: `start`); the forward runs from there. */
  readonly stateAt?: number;
  /** The window's forward, computed elsewhere (forwardFromTrace); `state` and `stateAt` are then unused. */
  readonly forward?: readonly SaliencyLayerForward[];
  /** The backward's matrix products on the fast kernels (made for the same cfg and weights); JS loops when absent. */
  readonly kernels?: KernelSaliency;
}

/** Why the fast path cannot run a model (then inputSaliency, the reference, does); undefined when it can. */
export function fastSaliencyUnsupportedReason(cfg: ModelConfig): string | undefined {
  const why = saliencyUnsupportedReason(cfg);
  if (why) return why;
  if (cfg.rnn.module === 'GRU' && cfg.rnn.gruReset === 'before') return 'the reset-before GRU runs on the reference';
  return undefined;
}

/** The fast path for float32 models it covers, else the reference (float64 stays on the exact reference path). */
export function attributePrediction(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>, ids: ArrayLike<number>, start: number,
  position: number, options: FastSaliencyOptions = {}): Saliency {
  if (cfg.rnn.dtype === 'float32' && fastSaliencyUnsupportedReason(cfg) === undefined) return fastInputSaliency(cfg, weights, ids, start, position, options);
  return inputSaliency(cfg, weights, ids, start, position, options);
}

/**
 * A trace window's tensors (trace_l{k}_h / _c / _gate_*, [T', 1, H], as DocumentTrace.window returns them) as the
 * saliency forward: `before` says whether its first row is the step before the window (else the state before
 * is zeros, the document's start).
 */
export function forwardFromTrace(cfg: ModelConfig, tensors: TensorMap, before: boolean): SaliencyLayerForward[] {
  const { numLayers: L, hiddenSize: H, module } = cfg.rnn;
  const gates = GATES[module];
  const G = gates.length;
  const get = (name: string): ArrayLike<number> => {
    const t = tensors.get(name);
    if (!t) throw new RangeError(`the trace window lacks ${name}`);
    return t.data as ArrayLike<number>;
  };
  const layers: SaliencyLayerForward[] = [];
  for (let l = 0; l < L; l++) {
    const h = get(`trace_l${l}_h`);
    const rows = h.length / H;
    const T = before ? rows - 1 : rows;
    const withRow0 = (a: ArrayLike<number>): Float64Array => {
      const out = new Float64Array((T + 1) * H);
      for (let k = 0; k < a.length; k++) out[(before ? 0 : H) + k] = a[k];
      return out;
    };
    const gs = G ? new Float64Array(T * G * H) : undefined;
    gates.forEach((g, gi) => {
      const a = get(`trace_l${l}_gate_${g}`);
      const skip = before ? H : 0;
      for (let t = 0; t < T; t++) for (let k = 0; k < H; k++) gs![(t * G + gi) * H + k] = a[skip + t * H + k];
    });
    layers.push({ h: withRow0(h), ...(module === 'LSTM' ? { c: withRow0(get(`trace_l${l}_c`)) } : {}), ...(gs ? { gates: gs } : {}) });
  }
  return layers;
}

interface LayerWeights {
  readonly wih: ArrayLike<number>; // [G*H, I]
  readonly whh: ArrayLike<number>; // [G*H, H]
  readonly bih?: ArrayLike<number>;
  readonly bhh?: ArrayLike<number>;
  readonly I: number;
}

function layerWeights(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>, l: number): LayerWeights {
  const get = (n: string): ArrayLike<number> => {
    const t = weights.get(`rnn.${n}_l${l}`);
    if (!t) throw new RangeError(`missing parameter rnn.${n}_l${l}`);
    return t.data as ArrayLike<number>;
  };
  const I = l === 0 ? cfg.rnn.inputSize : cfg.rnn.hiddenSize;
  return { wih: get('weight_ih'), whh: get('weight_hh'), ...(cfg.rnn.bias ? { bih: get('bias_ih'), bhh: get('bias_hh') } : {}), I };
}

/** out[oo + g] = Σ_k W[g, k] x[xo + k], W [rows, n] row-major. */
function gemv(W: ArrayLike<number>, rows: number, n: number, x: ArrayLike<number>, xo: number, out: Floats, oo = 0): void {
  for (let g = 0; g < rows; g++) {
    const o = g * n;
    let s = 0;
    for (let k = 0; k < n; k++) s += W[o + k] * x[xo + k];
    out[oo + g] = s;
  }
}

/** out[k] += Σ_g W[g, k] d[do + g], W [rows, n] row-major (rows scaled and added: contiguous reads). */
function gemvT(W: ArrayLike<number>, rows: number, n: number, d: ArrayLike<number>, dOff: number, out: Floats, outOff: number): void {
  for (let g = 0; g < rows; g++) {
    const v = d[dOff + g];
    if (v === 0) continue;
    const o = g * n;
    for (let k = 0; k < n; k++) out[outOff + k] += v * W[o + k];
  }
}

/**
 * The forward over document positions `from..to` from `state` (the state before `from`): every layer's h, c and
 * gates, keeping only the last `T` steps (the window) and the step before them.
 */
function runForward(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>, ids: ArrayLike<number>, from: number, to: number, T: number,
  state: SaliencyOptions['state']): SaliencyLayerForward[] {
  const { numLayers: L, hiddenSize: H, module } = cfg.rnn;
  const G = GATES[module].length || 1;
  const GH = G * H;
  const n = to - from + 1;
  const gate = gateActivation(cfg.rnn.recurrentActivation).f;
  const act = elmanActivation(cfg.rnn.nonlinearity).f;
  const emb = cfg.embedding ? (weights.get('embedding.weight')!.data as ArrayLike<number>) : undefined;
  const E = cfg.embedding?.embeddingDim ?? 0;
  const h0 = state?.h?.data as ArrayLike<number> | undefined, c0 = state?.c?.data as ArrayLike<number> | undefined;
  const layers: SaliencyLayerForward[] = [];
  let below: Float64Array | undefined; // the layer below's h [(n + 1) * H], row 0 the state
  const pre = new Float64Array(GH), hp = new Float64Array(GH);
  for (let l = 0; l < L; l++) {
    const w = layerWeights(cfg, weights, l);
    const h = new Float64Array((n + 1) * H);
    const c = module === 'LSTM' ? new Float64Array((n + 1) * H) : undefined;
    const gates = module === 'RNN' ? undefined : new Float64Array(n * GH);
    if (h0) for (let k = 0; k < H; k++) h[k] = h0[l * H + k];
    if (c && c0) for (let k = 0; k < H; k++) c[k] = c0[l * H + k];
    for (let t = 0; t < n; t++) {
      // The input projection: a column of W_ih (one-hot), W_ih · embedding row, or W_ih · h of the layer below.
      if (l > 0) gemv(w.wih, GH, H, below!, (t + 1) * H, pre);
      else if (emb) gemv(w.wih, GH, E, emb, ids[from + t] * E, pre);
      else for (let g = 0, id = ids[from + t]; g < GH; g++) pre[g] = w.wih[g * w.I + id];
      if (w.bih) for (let g = 0; g < GH; g++) pre[g] += w.bih[g];
      gemv(w.whh, GH, H, h, t * H, hp);
      if (w.bhh) for (let g = 0; g < GH; g++) hp[g] += w.bhh[g];
      const ho = (t + 1) * H, hPrev = t * H;
      if (module === 'LSTM') {
        const a = gates!, ao = t * GH;
        for (let k = 0; k < H; k++) {
          const i = gate(pre[k] + hp[k]), f = gate(pre[H + k] + hp[H + k]), g = Math.tanh(pre[2 * H + k] + hp[2 * H + k]), o = gate(pre[3 * H + k] + hp[3 * H + k]);
          a[ao + k] = i; a[ao + H + k] = f; a[ao + 2 * H + k] = g; a[ao + 3 * H + k] = o;
          const cc = f * c![hPrev + k] + i * g;
          c![ho + k] = cc;
          h[ho + k] = o * Math.tanh(cc);
        }
      } else if (module === 'GRU') {
        const a = gates!, ao = t * GH;
        for (let k = 0; k < H; k++) {
          const r = gate(pre[k] + hp[k]), z = gate(pre[H + k] + hp[H + k]);
          const nn = Math.tanh(pre[2 * H + k] + r * hp[2 * H + k]);
          a[ao + k] = r; a[ao + H + k] = z; a[ao + 2 * H + k] = nn;
          h[ho + k] = (1 - z) * nn + z * h[hPrev + k];
        }
      } else {
        for (let k = 0; k < H; k++) h[ho + k] = act(pre[k] + hp[k]);
      }
    }
    below = h;
    // Keep the window: the last T steps and the one before.
    const skip = n - T;
    layers.push({
      h: h.subarray(skip * H), ...(c ? { c: c.subarray(skip * H) } : {}), ...(gates ? { gates: gates.subarray(skip * GH) } : {}),
    });
  }
  return layers;
}

/**
 * inputSaliency's quantity by the fast path: the forward from `options.state` (before `options.stateAt`, default
 * `start`) or `options.forward`, then the input gradients alone, in double precision whatever the model's dtype.
 */
export function fastInputSaliency(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>, ids: ArrayLike<number>, start: number,
  position: number, options: FastSaliencyOptions = {}): Saliency {
  const why = fastSaliencyUnsupportedReason(cfg);
  if (why) throw new SaliencyUnsupportedError(`cannot attribute a prediction to earlier tokens: ${why}`);
  const T = position - start + 1;
  const stateAt = options.stateAt ?? start;
  if (!(Number.isInteger(start) && start >= 0 && Number.isInteger(T) && T >= 1 && position < ids.length && Number.isInteger(stateAt) && stateAt >= 0 && stateAt <= start)) {
    throw new RangeError(`positions ${start}..${position} are not inside the ${ids.length} tokens`);
  }
  const window = options.window ?? 256;
  if (T > window) throw new RangeError(`the window holds ${window} tokens, position ${position} is ${T - 1} after its start`);
  const { numLayers: L, hiddenSize: H, module } = cfg.rnn;
  const G = GATES[module].length || 1;
  const GH = G * H;
  const fwd = options.forward ?? runForward(cfg, weights, ids, stateAt, position, T, options.state);
  if (fwd.length !== L || fwd[0].h.length !== (T + 1) * H) throw new RangeError(`the forward holds ${fwd[0]?.h.length / H - 1} steps, the window ${T}`);

  // The head on the last step's top-layer output, and ∂objective/∂logits.
  const headCfg: ModelConfig = { ...cfg, readout: 'per_step' };
  const param = (name: string): FloatArray => {
    const t = weights.get(name);
    if (!t) throw new RangeError(`missing parameter ${name}`);
    return t.data as FloatArray;
  };
  const top = fwd[L - 1].h;
  const features = new Float64Array(H);
  for (let k = 0; k < H; k++) features[k] = top[T * H + k];
  const head = headForward(headCfg, param, features, 1);
  const logits = logitsOf(head);
  const O = cfg.outputSize;
  let predicted = options.target ?? 0;
  if (options.target === undefined) for (let k = 1; k < O; k++) if (logits[k] > logits[predicted]) predicted = k;
  if (!(predicted >= 0 && predicted < O)) throw new RangeError(`target ${predicted} is outside 0..${O - 1}`);
  const dLogits = new Float64Array(O);
  const lm = taskOf(cfg) === 'lm';
  if (lm) {
    let max = -Infinity, sum = 0;
    for (let k = 0; k < O; k++) max = Math.max(max, logits[k]);
    for (let k = 0; k < O; k++) sum += Math.exp(logits[k] - max);
    for (let k = 0; k < O; k++) dLogits[k] = -Math.exp(logits[k] - max) / sum;
  }
  dLogits[predicted] += 1;
  const scratch = new Map<string, FloatArray>();
  const grad = (name: string): FloatArray => {
    let g = scratch.get(name);
    if (!g) scratch.set(name, (g = new Float64Array(param(name).length)));
    return g;
  };
  const dTop = headBackward(headCfg, param, grad, head, dLogits);

  // Backward through the stack, top layer first: dOut [T, H] is ∂objective/∂(this layer's h_t) from above.
  const gateAct = gateActivation(cfg.rnn.recurrentActivation).dfFromOutput;
  const elman = elmanActivation(cfg.rnn.nonlinearity).dfFromOutput;
  let dOut: Float64Array = new Float64Array(T * H);
  for (let k = 0; k < H; k++) dOut[(T - 1) * H + k] = dTop[k];
  const scores = new Float64Array(T);
  const ops = options.kernels?.ops(cfg, weights) ?? jsOps(cfg, weights);
  const dh = new Float64Array(H), dc = new Float64Array(H);
  for (let l = L - 1; l >= 0; l--) {
    const { h, c, gates } = fwd[l];
    const buf = ops.begin(l, T);
    const dG = buf.dG, dGh = buf.dGh;
    // GRU: hn = W_hn h_{t-1} + b_hn for every step (the reset gate multiplies it; a trace does not keep it).
    const hn = module === 'GRU' ? ops.hn(l, h, T) : undefined;
    dh.fill(0);
    dc.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      const ho = (t + 1) * H, hPrev = t * H, ao = t * GH, go = buf.dGOff + t * GH, gh = buf.dGhOff;
      for (let k = 0; k < H; k++) dh[k] += dOut[t * H + k];
      if (module === 'LSTM') {
        const a = gates!;
        for (let k = 0; k < H; k++) {
          const i = a[ao + k], f = a[ao + H + k], g = a[ao + 2 * H + k], o = a[ao + 3 * H + k];
          const tc = Math.tanh(c![ho + k]);
          const d = dh[k];
          const dcc = dc[k] + d * o * (1 - tc * tc);
          dG[go + k] = dcc * g * gateAct(i);
          dG[go + H + k] = dcc * c![hPrev + k] * gateAct(f);
          dG[go + 2 * H + k] = dcc * i * (1 - g * g);
          dG[go + 3 * H + k] = d * tc * gateAct(o);
          dc[k] = dcc * f;
        }
        ops.recurrent(l, false, t, dh, false);
      } else if (module === 'GRU') {
        const a = gates!;
        for (let k = 0; k < H; k++) {
          const r = a[ao + k], z = a[ao + H + k], nn = a[ao + 2 * H + k];
          const d = dh[k];
          const dpn = d * (1 - z) * (1 - nn * nn);
          const dpr = dpn * hn![hPrev + k] * gateAct(r);
          const dpz = d * (h[hPrev + k] - nn) * gateAct(z);
          dG[go + k] = dpr; dG[go + H + k] = dpz; dG[go + 2 * H + k] = dpn;
          dGh[gh + k] = dpr; dGh[gh + H + k] = dpz; dGh[gh + 2 * H + k] = dpn * r;
          dh[k] = d * z; // the direct path to h_{t-1}
        }
        ops.recurrent(l, true, t, dh, true);
      } else {
        for (let k = 0; k < H; k++) dG[go + k] = dh[k] * elman(h[ho + k]);
        ops.recurrent(l, false, t, dh, false);
      }
    }
    // Rows of dX are ∂/∂(this layer's input at t): the layer below's output, or the embedding / one-hot row.
    const dX = ops.inputGrads(l, T);
    if (l > 0) {
      dOut = dX;
      continue;
    }
    const I = dX.length / T;
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let k = 0; k < I; k++) s += dX[t * I + k] ** 2;
      scores[t] = Math.sqrt(s);
    }
  }
  return { start, position, predicted, objective: lm ? 'log_prob' : 'class_score', scores };
}

/** The matrix products of the backward, on JS loops or on the fast kernels. */
interface BackwardOps {
  /** One layer's buffers: its pre-activation gate gradients, rows [T, G*H] at dGOff; GRU's hidden part (one row) at dGhOff. */
  begin(l: number, T: number): { dG: Floats; dGOff: number; dGh: Floats; dGhOff: number };
  /** GRU: W_hn h_{t-1} + b_hn for t < T, [T, H], from rows 0..T-1 of h. */
  hn(l: number, h: ArrayLike<number>, T: number): ArrayLike<number>;
  /** dh = (or += when accumulating) W_hh^T · (dG row t, or the dGh row when `hidden`). */
  recurrent(l: number, hidden: boolean, t: number, dh: Float64Array, accumulate: boolean): void;
  /** dX [T, I] = dG · W_ih. */
  inputGrads(l: number, T: number): Float64Array;
}

function gateRows(cfg: ModelConfig): number {
  return (GATES[cfg.rnn.module].length || 1) * cfg.rnn.hiddenSize;
}

function jsOps(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>): BackwardOps {
  const H = cfg.rnn.hiddenSize, GH = gateRows(cfg);
  const layers = Array.from({ length: cfg.rnn.numLayers }, (_, l) => layerWeights(cfg, weights, l));
  let dG = new Float64Array(0);
  const dGh = new Float64Array(GH);
  return {
    begin(_l, T) {
      if (dG.length < T * GH) dG = new Float64Array(T * GH);
      return { dG, dGOff: 0, dGh, dGhOff: 0 };
    },
    hn(l, h, T) {
      const w = layers[l];
      const whn = (w.whh as FloatArray).subarray(2 * H * H, 3 * H * H);
      const out = new Float64Array(T * H);
      for (let t = 0; t < T; t++) {
        gemv(whn, H, H, h, t * H, out, t * H);
        if (w.bhh) for (let k = 0; k < H; k++) out[t * H + k] += w.bhh[2 * H + k];
      }
      return out;
    },
    recurrent(l, hidden, t, dh, accumulate) {
      if (!accumulate) dh.fill(0);
      gemvT(layers[l].whh, GH, H, hidden ? dGh : dG, hidden ? 0 : t * GH, dh, 0);
    },
    inputGrads(l, T) {
      const { wih, I } = layers[l];
      const dX = new Float64Array(T * I);
      for (let t = 0; t < T; t++) gemvT(wih, GH, I, dG, t * GH, dX, t * I);
      return dX;
    },
  };
}

/**
 * The backward's matrix products on the fast kernels (native or WASM GEMMs, one row per step for the recurrence,
 * one GEMM per layer for the input gradients): the weights are copied into the kernels' heap and packed once, so
 * keep one per model and its weights (a document's trace) and dispose it with them.
 */
export class KernelSaliency {
  private readonly layers: { packedWhh: number; packedWih: number; whnT: number; I: number; bhn?: ArrayLike<number> }[] = [];
  private readonly base: number;

  constructor(private readonly kernels: FastKernels, private readonly cfg: ModelConfig, private readonly weights: ReadonlyMap<string, FloatTensor>) {
    const { hiddenSize: H, numLayers: L, module } = cfg.rnn;
    const GH = gateRows(cfg);
    const ws = Array.from({ length: L }, (_, l) => layerWeights(cfg, weights, l));
    let need = 0;
    for (const w of ws) need += kernels.packedSize(GH, H) + kernels.packedSize(GH, w.I) + (module === 'GRU' ? H * H : 0);
    const scratch = Math.max(...ws.map((w) => GH * Math.max(H, w.I)));
    kernels.ensure(need + scratch);
    let at = 0;
    const heap = kernels.heap();
    const tmp = need; // raw copies are packed from here
    for (const w of ws) {
      const packedWhh = at; at += kernels.packedSize(GH, H);
      const packedWih = at; at += kernels.packedSize(GH, w.I);
      const whnT = at; at += module === 'GRU' ? H * H : 0;
      heap.set(w.whh as FloatArray, tmp);
      kernels.packB(GH, H, tmp, H, packedWhh);
      if (module === 'GRU') kernels.transpose(tmp + 2 * H * H, H, H, whnT);
      heap.set(w.wih as FloatArray, tmp);
      kernels.packB(GH, w.I, tmp, w.I, packedWih);
      this.layers.push({ packedWhh, packedWih, whnT, I: w.I, ...(w.bhh ? { bhn: (w.bhh as FloatArray).subarray(2 * H, 3 * H) } : {}) });
    }
    this.base = at;
  }

  /** The ops for `cfg` and `weights`, which must be those this was made for. */
  ops(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>): BackwardOps {
    if (cfg.rnn !== this.cfg.rnn && JSON.stringify(cfg.rnn) !== JSON.stringify(this.cfg.rnn)) throw new Error('KernelSaliency was made for another model');
    if (weights !== this.weights) throw new Error('KernelSaliency was made for other weights');
    const k = this.kernels, H = this.cfg.rnn.hiddenSize, GH = gateRows(this.cfg);
    let heap = k.heap();
    let dGOff = 0, dGhOff = 0, dhOff = 0, dXOff = 0, hOff = 0, hnOff = 0;
    return {
      begin: (l, T) => {
        const I = this.layers[l].I;
        dGOff = this.base; dGhOff = dGOff + T * GH; dhOff = dGhOff + GH; dXOff = dhOff + H; hOff = dXOff + T * I; hnOff = hOff + T * H;
        k.ensure(hnOff + T * H);
        heap = k.heap();
        return { dG: heap, dGOff, dGh: heap, dGhOff };
      },
      hn: (l, h, T) => {
        const { whnT, bhn } = this.layers[l];
        for (let i = 0; i < T * H; i++) heap[hOff + i] = h[i];
        k.gemm(T, H, H, hOff, H, 1, whnT, H, hnOff, H, false);
        const out = new Float64Array(T * H);
        for (let i = 0; i < T * H; i++) out[i] = heap[hnOff + i] + (bhn ? bhn[i % H] : 0);
        return out;
      },
      recurrent: (l, hidden, t, dh, accumulate) => {
        k.gemmPacked(1, H, GH, hidden ? dGhOff : dGOff + t * GH, GH, 1, this.layers[l].packedWhh, dhOff, H, false);
        if (accumulate) for (let i = 0; i < H; i++) dh[i] += heap[dhOff + i];
        else for (let i = 0; i < H; i++) dh[i] = heap[dhOff + i];
      },
      inputGrads: (l, T) => {
        const { packedWih, I } = this.layers[l];
        k.gemmPacked(T, I, GH, dGOff, GH, 1, packedWih, dXOff, I, false);
        return Float64Array.from(heap.subarray(dXOff, dXOff + T * I));
      },
    };
  }

  dispose(): void {
    this.kernels.dispose();
  }
}

/**
 * The saliency of the prediction at `position` of a traced document, over the `window` tokens up to it: the
 * forward from `traceWindow(from, to)` (a DocumentTrace window: recomputed from its nearest state checkpoint, h, c
 * and gates of every layer), then the fast backward (float32) or the reference from the window's start state
 * (float64, and what the fast path does not cover).
 */
export function documentSaliency(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>, ids: ArrayLike<number>, position: number,
  window: number, traceWindow: (from: number, to: number) => TensorMap, kernels?: KernelSaliency): Saliency {
  const why = saliencyUnsupportedReason(cfg);
  if (why) throw new SaliencyUnsupportedError(`cannot attribute a prediction to earlier tokens: ${why}`);
  if (!(Number.isInteger(window) && window >= 1)) throw new RangeError(`saliency window ${window} is not a positive integer`);
  if (!(Number.isInteger(position) && position >= 0 && position < ids.length)) throw new RangeError(`position ${position} is outside the ${ids.length} tokens`);
  const start = Math.max(0, position - window + 1);
  if (cfg.rnn.dtype === 'float32' && fastSaliencyUnsupportedReason(cfg) === undefined) {
    const forward = forwardFromTrace(cfg, traceWindow(start > 0 ? start - 1 : 0, position + 1), start > 0);
    return fastInputSaliency(cfg, weights, ids, start, position, { window, forward, ...(kernels ? { kernels } : {}) });
  }
  if (start === 0) return inputSaliency(cfg, weights, ids, 0, position, { window });
  const { numLayers: L, hiddenSize: H, dtype, module } = cfg.rnn;
  const before = traceWindow(start - 1, start);
  const stack = (kind: 'h' | 'c'): FloatTensor => {
    const data = dtype === 'float64' ? new Float64Array(L * H) : new Float32Array(L * H);
    for (let l = 0; l < L; l++) data.set((before.get(`trace_l${l}_${kind}`)!.data as FloatArray).subarray(0, H), l * H);
    return { dtype, shape: [L, 1, H], data };
  };
  return inputSaliency(cfg, weights, ids, start, position, { window, state: { h: stack('h'), ...(module === 'LSTM' ? { c: stack('c') } : {}) } });
}
