// Inference through a language model (one-hot tokens -> rnn -> linear head) with the readable reference
// rnnForward: used for sampling, tracing documents and gate statistics, whichever engine trained it.
import type { ModelConfig } from '../model';
import { directions } from '../config';
import { type FloatArray, type FloatTensor, type TensorMap, floatArray, toFloat } from '../tensor';
import { rnnForward } from '../reference/rnn';

/** Carried recurrent state: h (and c for LSTM), each [L*D, N, H]. */
export interface LmState {
  readonly h: FloatTensor;
  readonly c?: FloatTensor;
}

export interface LmForwardResult {
  /** [T, N, outputSize] unnormalised next-token scores, time-major. */
  readonly logits: FloatArray;
  readonly state: LmState;
  /** trace_l{k}_{h|c|gate_*}: [T, N, H] when requested. */
  readonly trace?: TensorMap;
}

/** The model's parameters split for rnnForward (names without `rnn.`) and the head. */
export interface LmWeights {
  readonly rnn: TensorMap;
  readonly headWeight: FloatArray; // [outputSize, D*H]
  readonly headBias: FloatArray; // [outputSize]
}

export function splitLmParameters(cfg: ModelConfig, params: TensorMap): LmWeights {
  const rnn: TensorMap = new Map();
  for (const [name, t] of params) if (name.startsWith('rnn.')) rnn.set(name.slice(4), t);
  const w = params.get('head.weight');
  const b = params.get('head.bias');
  if (!w || !b) throw new Error('model parameters lack head.weight / head.bias');
  return { rnn, headWeight: toFloat(w, cfg.rnn.dtype).data, headBias: toFloat(b, cfg.rnn.dtype).data };
}

/** One-hot [T, N, V] of time-major [T, N] ids. */
export function oneHot(cfg: ModelConfig, ids: ArrayLike<number>, T: number, N: number): FloatTensor {
  const V = cfg.vocabSize;
  const data = floatArray(cfg.rnn.dtype, T * N * V);
  for (let i = 0; i < T * N; i++) data[i * V + ids[i]] = 1;
  return { dtype: cfg.rnn.dtype, shape: [T, N, V], data };
}

export function zeroState(cfg: ModelConfig, N: number): LmState {
  const shape = [cfg.rnn.numLayers * directions(cfg.rnn), N, cfg.rnn.hiddenSize];
  const make = (): FloatTensor => ({ dtype: cfg.rnn.dtype, shape, data: floatArray(cfg.rnn.dtype, shape[0] * N * shape[2]) });
  return cfg.rnn.module === 'LSTM' ? { h: make(), c: make() } : { h: make() };
}

/** Runs time-major [T, N] ids from `state` (zeros when omitted). */
export function lmForward(
  cfg: ModelConfig, weights: LmWeights, ids: ArrayLike<number>, T: number, N: number,
  state?: LmState, options: { trace?: boolean } = {},
): LmForwardResult {
  const rnnCfg = { ...cfg.rnn, batchFirst: false };
  const r = rnnForward(rnnCfg, weights.rnn, { x: oneHot(cfg, ids, T, N), h0: state?.h, c0: state?.c }, { trace: options.trace });
  const width = directions(cfg.rnn) * cfg.rnn.hiddenSize;
  const O = cfg.outputSize;
  const logits = floatArray(cfg.rnn.dtype, T * N * O);
  const out = r.output.data;
  const W = weights.headWeight;
  for (let row = 0; row < T * N; row++) {
    const x = row * width;
    for (let o = 0; o < O; o++) {
      let s = weights.headBias[o];
      const w = o * width;
      for (let k = 0; k < width; k++) s += W[w + k] * out[x + k];
      logits[row * O + o] = s;
    }
  }
  return { logits, state: r.cN ? { h: r.hN, c: r.cN } : { h: r.hN }, ...(r.trace ? { trace: r.trace } : {}) };
}

/** log-softmax cross-entropy (nats) of row `row` of logits against `target`. */
export function crossEntropyAt(logits: FloatArray, O: number, row: number, target: number): number {
  let max = -Infinity;
  for (let o = 0; o < O; o++) max = Math.max(max, logits[row * O + o]);
  let sum = 0;
  for (let o = 0; o < O; o++) sum += Math.exp(logits[row * O + o] - max);
  return Math.log(sum) + max - logits[row * O + target];
}
