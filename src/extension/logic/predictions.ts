// What a model predicts at one timestep: the worker's top-k rows (next tokens, or a classifier's classes had
// the text ended there), a classifier's class probabilities for the whole document, or (headLogits) the
// distribution computed on the host from a hidden state and an nn.Linear head ([V, D*H] × [D*H]: microseconds).
import { type ModelConfig, taskOf } from '../../core/model';
import { hasStepScores } from '../../core/train/lmForward';
import type { PredictionKind } from './hoverFormat';

export interface Prediction {
  readonly id: number;
  readonly token: string;
  readonly probability: number;
}

export interface Head {
  readonly weight: ArrayLike<number>; // [outputs, inputs] row-major
  readonly bias?: ArrayLike<number>; // [outputs]
  readonly outputs: number;
  readonly inputs: number;
}

export function headLogits(head: Head, input: ArrayLike<number>): Float64Array {
  if (input.length !== head.inputs) throw new Error(`head expects ${head.inputs} inputs, got ${input.length}`);
  const out = new Float64Array(head.outputs);
  for (let o = 0; o < head.outputs; o++) {
    let s = head.bias ? head.bias[o] : 0;
    const row = o * head.inputs;
    for (let i = 0; i < head.inputs; i++) s += head.weight[row + i] * input[i];
    out[o] = s;
  }
  return out;
}

/** Softmax over logits (max-subtracted), then the k most likely ids. */
export function topK(logits: ArrayLike<number>, k: number, tokenName: (id: number) => string): Prediction[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  const p = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  const ids = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  return ids.slice(0, Math.max(0, k)).map((id) => ({ id, token: tokenName(id), probability: p[id] / sum }));
}

/** What a trace's per-token predictions mean for this model (see PredictionKind). */
export function predictionKind(config: ModelConfig): PredictionKind {
  if (taskOf(config) === 'lm') return 'next-token';
  return hasStepScores(config) ? 'classes-if-ended' : 'document';
}

/** A classifier's class names: the checkpoint's labels, or `class i` when it has none (imported, old). */
export function classNames(labels: readonly string[] | undefined, count: number): string[] {
  return labels && labels.length === count ? [...labels] : Array.from({ length: count }, (_, i) => `class ${i}`);
}

/**
 * Row `row` of the worker's top-k arrays ([T, width], highest first) as predictions; `outputs` bounds the
 * entries that are real (a model with fewer outputs than the width leaves the rest zero). Empty arrays: none.
 */
export function rowPredictions(topIds: Int32Array, topProbs: Float32Array, rows: number, row: number, outputs: number, k: number, name: (id: number) => string): Prediction[] {
  if (!topIds.length || rows <= 0 || row < 0 || row >= rows) return [];
  const width = topIds.length / rows;
  const n = Math.min(width, outputs, Math.max(0, k));
  const out: Prediction[] = [];
  for (let j = 0; j < n; j++) {
    const id = topIds[row * width + j];
    out.push({ id, token: name(id), probability: topProbs[row * width + j] });
  }
  return out;
}

/** The k most likely classes of a probability vector, highest first (ties: lower id first). */
export function topClasses(probabilities: ArrayLike<number>, names: readonly string[], k: number): Prediction[] {
  const ids = Array.from({ length: probabilities.length }, (_, i) => i).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return ids.slice(0, Math.max(0, k)).map((id) => ({ id, token: names[id] ?? `class ${id}`, probability: probabilities[id] }));
}
