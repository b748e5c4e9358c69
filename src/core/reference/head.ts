// nn.Linear head + softmax cross-entropy (mean over targets), forward and backward, on time-major rows.
import type { FloatArray } from '../tensor';

export interface HeadParams {
  readonly weight: FloatArray; // [outputs, inputs]
  readonly bias: FloatArray; // [outputs]
  readonly inputs: number;
  readonly outputs: number;
}

/** logits[r] = W features[r] + b for each row r. */
export function linearForward(head: HeadParams, features: FloatArray, rows: number, logits: FloatArray): void {
  const { weight, bias, inputs: I, outputs: O } = head;
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < O; o++) {
      let s = bias[o];
      for (let i = 0; i < I; i++) s += weight[o * I + i] * features[r * I + i];
      logits[r * O + o] = s;
    }
  }
}

/**
 * Mean cross-entropy of softmax(logits) against targets; when dLogits is given, writes
 * ∂loss/∂logits = (softmax − onehot) / rows into it.
 */
export function softmaxCrossEntropy(logits: FloatArray, targets: ArrayLike<number>, rows: number, classes: number,
  dLogits?: FloatArray): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[base + k]);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[base + k] - max);
    const logSum = Math.log(sum) + max;
    total += logSum - logits[base + targets[r]];
    if (dLogits) {
      for (let k = 0; k < classes; k++) dLogits[base + k] = Math.exp(logits[base + k] - logSum) / rows;
      dLogits[base + targets[r]] -= 1 / rows;
    }
  }
  return total / rows;
}

/** Accumulates dW, db and writes dFeatures for dLogits. */
export function linearBackward(head: HeadParams, features: FloatArray, dLogits: FloatArray, rows: number,
  dWeight: FloatArray, dBias: FloatArray, dFeatures: FloatArray): void {
  const { weight, inputs: I, outputs: O } = head;
  dFeatures.fill(0);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < O; o++) {
      const d = dLogits[r * O + o];
      if (d === 0) continue;
      dBias[o] += d;
      for (let i = 0; i < I; i++) {
        dWeight[o * I + i] += d * features[r * I + i];
        dFeatures[r * I + i] += d * weight[o * I + i];
      }
    }
  }
}
