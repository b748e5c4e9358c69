// Inference through any model with the readable reference (reference/model.ts) over time-major token
// streams: used for sampling, tracing documents and gate statistics, whichever engine trained it.
// A language model predicts the next token at every step. A classifier predicts once per sequence; with
// the `last` readout and one direction, the scores after step t are also exactly what it would predict had
// the sequence ended there (h_t of the last layer is then h_n[-1]).
import { directions } from '../config';
import type { LmBatch } from '../engine';
import { type ModelConfig, featureWidth, taskOf } from '../model';
import { type FloatArray, type FloatTensor, type TensorMap } from '../tensor';
import { headForward, logitsOf } from '../reference/head';
import { type ModelState, checkedModelParameters, finalState, modelForward } from '../reference/model';

/** Carried recurrent state: h (and c for LSTM), each [L*D, N, H]. */
export type LmState = ModelState & { readonly h: FloatTensor };

export interface LmForwardResult {
  /**
   * [T, N, outputSize] time-major scores after each step: next-token scores (language model), or a
   * `last`-readout unidirectional classifier's class scores had the sequence ended there; empty otherwise.
   */
  readonly logits: FloatArray;
  /** Classifier: [N, outputSize] class scores of each whole stream (the readout over all T steps). */
  readonly sequenceLogits?: FloatArray;
  /** The last layer's output [T, N, D*H]: what the readout reads. */
  readonly output: FloatArray;
  readonly state: LmState;
  /** trace_l{k}_{h|c|gate_*}: [T, N, H] when requested. */
  readonly trace?: TensorMap;
}

/** The model's parameters, checked and in its dtype, ready for lmForward. */
export type LmWeights = ReadonlyMap<string, FloatTensor>;

export function splitLmParameters(cfg: ModelConfig, params: TensorMap): LmWeights {
  return checkedModelParameters(cfg, params);
}

/** Whether lmForward's per-step scores mean something for this model (see the file comment). */
export function hasStepScores(cfg: ModelConfig): boolean {
  return taskOf(cfg) === 'lm' || (cfg.readout === 'last' && directions(cfg.rnn) === 1);
}

/** Runs time-major [T, N] ids from `state` (zeros when omitted). */
export function lmForward(
  cfg: ModelConfig, weights: LmWeights, ids: ArrayLike<number>, T: number, N: number,
  state?: ModelState, options: { trace?: boolean } = {},
): LmForwardResult {
  const inputs = new Int32Array(T * N);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) inputs[n * T + t] = ids[t * N + n];
  const batch: LmBatch = { batchSize: N, seqLen: T, inputs, targets: new Int32Array(0) };
  const perStep = modelForward({ ...cfg, readout: 'per_step' }, weights, batch, { state, trace: options.trace });
  const output = perStep.features;
  const out = (logits: FloatArray, sequenceLogits?: FloatArray): LmForwardResult => ({
    logits, output, state: finalState(perStep) as LmState, ...(sequenceLogits ? { sequenceLogits } : {}),
    ...(perStep.rnn.trace ? { trace: perStep.rnn.trace } : {}),
  });
  if (taskOf(cfg) === 'lm') return out(logitsOf(perStep.head));
  const sequence = headForward(cfg, (name) => weights.get(name)!.data, readoutOver(cfg, perStep.rnn.hN.data, output, T, N), N);
  return out(hasStepScores(cfg) ? logitsOf(perStep.head) : new Float64Array(0), logitsOf(sequence));
}

/** A classifier's readout over full-length streams: [N, D*H] from h_n or the output. */
function readoutOver(cfg: ModelConfig, hN: FloatArray, output: FloatArray, T: number, N: number): FloatArray {
  if (cfg.readout !== 'last') {
    const acc = new StreamReadout(cfg, N);
    acc.add(output, T);
    return acc.features();
  }
  const W = featureWidth(cfg), H = cfg.rnn.hiddenSize, D = directions(cfg.rnn), L = cfg.rnn.numLayers;
  const f = new (output instanceof Float64Array ? Float64Array : Float32Array)(N * W);
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) f.set(hN.subarray((((L - 1) * D + d) * N + n) * H, (((L - 1) * D + d) * N + n + 1) * H), n * W + d * H);
  }
  return f;
}

/** The mean or max readout of N streams read in consecutive pieces (a document swept block by block). */
export class StreamReadout {
  private readonly acc: Float64Array;
  private steps = 0;

  constructor(private readonly cfg: ModelConfig, private readonly N: number) {
    if (cfg.readout !== 'mean' && cfg.readout !== 'max') throw new RangeError(`StreamReadout is for mean and max readouts, not ${cfg.readout}`);
    this.acc = new Float64Array(N * featureWidth(cfg)).fill(cfg.readout === 'max' ? -Infinity : 0);
  }

  /** output: [T, N, D*H] time-major, the next T steps. */
  add(output: FloatArray, T: number): void {
    const W = featureWidth(this.cfg), max = this.cfg.readout === 'max';
    for (let t = 0; t < T; t++) for (let i = 0; i < this.N * W; i++) {
      const v = output[t * this.N * W + i];
      this.acc[i] = max ? Math.max(this.acc[i], v) : this.acc[i] + v;
    }
    this.steps += T;
  }

  features(): Float64Array {
    return this.cfg.readout === 'max' ? this.acc.slice() : this.acc.map((v) => v / this.steps);
  }
}

/** Softmax of the head's scores for rows of readout features [rows, D*H]. */
export function classProbabilities(cfg: ModelConfig, weights: LmWeights, features: FloatArray, rows: number): Float32Array {
  return softmaxRows(logitsOf(headForward(cfg, (name) => weights.get(name)!.data, features, rows)), cfg.outputSize);
}

export function softmaxRows(logits: FloatArray, C: number): Float32Array {
  const rows = logits.length / C, out = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity, sum = 0;
    for (let k = 0; k < C; k++) max = Math.max(max, logits[r * C + k]);
    for (let k = 0; k < C; k++) sum += Math.exp(logits[r * C + k] - max);
    for (let k = 0; k < C; k++) out[r * C + k] = Math.exp(logits[r * C + k] - max) / sum;
  }
  return out;
}

/** log-softmax cross-entropy (nats) of row `row` of logits against `target`. */
export function crossEntropyAt(logits: FloatArray, O: number, row: number, target: number): number {
  let max = -Infinity;
  for (let o = 0; o < O; o++) max = Math.max(max, logits[row * O + o]);
  let sum = 0;
  for (let o = 0; o < O; o++) sum += Math.exp(logits[row * O + o] - max);
  return Math.log(sum) + max - logits[row * O + target];
}
