// What did the prediction at position t depend on: the gradient of the predicted token's log-probability
// (language model) or of the predicted class's score (a `last`-readout classifier, had the text ended at t)
// with respect to the input at every earlier position t' of a window, as its L2 norm over the input's
// dimensions (the embedding vector, or the one-hot row). Backpropagation through the reference model.
import type { LmBatch } from './engine';
import { type ModelConfig, taskOf } from './model';
import { directions } from './config';
import { type FloatArray, type FloatTensor } from './tensor';
import { logitsOf } from './reference/head';
import { type ModelState, modelForward, modelGradients } from './reference/model';

export interface Saliency {
  /** Position of the window's first token; scores[i] is position start + i. */
  readonly start: number;
  readonly position: number;
  /** The token (language model) or class whose score was differentiated. */
  readonly predicted: number;
  readonly objective: 'log_prob' | 'class_score';
  /** ‖∂objective/∂input_t'‖₂ for t' = start..position. */
  readonly scores: Float64Array;
}

export class SaliencyUnsupportedError extends Error {}

export interface SaliencyOptions {
  /** Tokens before `position` that are differentiated (default 256); earlier ones enter through `state`. */
  readonly window?: number;
  /** The recurrent state before the window's first token (zeros when omitted), e.g. from a trace checkpoint. */
  readonly state?: ModelState;
  /** Differentiate this token / class instead of the arg-max. */
  readonly target?: number;
}

/** Whether a model's prediction at t depends only on tokens up to t (so the question is well posed). */
export function saliencyUnsupportedReason(cfg: ModelConfig): string | undefined {
  if (directions(cfg.rnn) === 2) return 'a bidirectional model\'s output at a token also depends on the tokens after it';
  if (taskOf(cfg) === 'classify' && cfg.readout !== 'last') return `a ${cfg.readout}-readout classifier predicts once for the whole text, not at each token`;
  return undefined;
}

/**
 * The prediction at document position `position`, attributed to the tokens `start..position` of the
 * document's `ids` (`options.state` is the state before `start`); `weights` as checkedModelParameters gives them.
 */
export function inputSaliency(cfg: ModelConfig, weights: ReadonlyMap<string, FloatTensor>, ids: ArrayLike<number>, start: number,
  position: number, options: SaliencyOptions = {}): Saliency {
  const why = saliencyUnsupportedReason(cfg);
  if (why) throw new SaliencyUnsupportedError(`cannot attribute a prediction to earlier tokens: ${why}`);
  const T = position - start + 1;
  if (!(Number.isInteger(start) && start >= 0 && Number.isInteger(T) && T >= 1 && position < ids.length)) {
    throw new RangeError(`positions ${start}..${position} are not inside the ${ids.length} tokens`);
  }
  const window = options.window ?? 256;
  if (T > window) throw new RangeError(`the window holds ${window} tokens, position ${position} is ${T - 1} after its start`);
  const batch: LmBatch = { batchSize: 1, seqLen: T, inputs: Int32Array.from({ length: T }, (_, i) => ids[start + i]), targets: new Int32Array(0) };
  // The per-step head gives the language model's next-token scores, and a `last` classifier's class scores had the text ended there.
  const stepCfg: ModelConfig = { ...cfg, readout: 'per_step' };
  const fwd = modelForward(stepCfg, weights, batch, { state: options.state, forBackward: true });
  const logits = logitsOf(fwd.head);
  const O = cfg.outputSize;
  const row = (T - 1) * O;
  let predicted = options.target ?? 0;
  if (options.target === undefined) for (let k = 1; k < O; k++) if (logits[row + k] > logits[row + predicted]) predicted = k;
  if (!(predicted >= 0 && predicted < O)) throw new RangeError(`target ${predicted} is outside 0..${O - 1}`);
  const dLogits: FloatArray = new (logits instanceof Float64Array ? Float64Array : Float32Array)(logits.length);
  const lm = taskOf(cfg) === 'lm';
  if (lm) {
    // ∂ log softmax(z)[k] / ∂z = onehot(k) − softmax(z).
    let max = -Infinity, sum = 0;
    for (let k = 0; k < O; k++) max = Math.max(max, logits[row + k]);
    for (let k = 0; k < O; k++) sum += Math.exp(logits[row + k] - max);
    for (let k = 0; k < O; k++) dLogits[row + k] = -Math.exp(logits[row + k] - max) / sum;
  }
  dLogits[row + predicted] += 1;
  const { inputs } = modelGradients(stepCfg, weights, fwd, dLogits, { parameters: false });
  const I = cfg.rnn.inputSize;
  const scores = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let k = 0; k < I; k++) s += inputs[t * I + k] ** 2;
    scores[t] = Math.sqrt(s);
  }
  return { start, position, predicted, objective: lm ? 'log_prob' : 'class_score', scores };
}
