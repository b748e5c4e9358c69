// What a training step costs, to say how long a run will take before it starts: multiply-adds per token
// (every weight of the recurrent stack and of a per-token head used once forward and about twice backward;
// an embedding is a row lookup), and a machine's rate measured on an earlier run.
import type { RnnModule } from '../config';
import { GATES } from '../config';

export interface CostShape {
  readonly module: RnnModule;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly bidirectional?: boolean;
  /** Width of the first layer's input (vocabulary for one-hot, the embedding dimension otherwise). */
  readonly inputSize: number;
  /** Outputs of a head applied at every token (a language model's vocabulary); 0 for a classifier's once-per-text head. */
  readonly perTokenOutputs: number;
}

/** Multiply-adds per token of one training step (forward + backward ≈ 3 × forward). */
export function trainingMultiplyAddsPerToken(s: CostShape): number {
  const G = GATES[s.module].length;
  const D = s.bidirectional ? 2 : 1;
  let forward = 0;
  for (let l = 0; l < s.numLayers; l++) {
    const input = l === 0 ? s.inputSize : s.hiddenSize * D;
    forward += D * G * s.hiddenSize * (input + s.hiddenSize);
  }
  forward += s.hiddenSize * D * s.perTokenOutputs;
  return 3 * forward;
}

/** Seconds for `steps` steps of `tokensPerStep` tokens at `multiplyAddsPerSecond`. */
export function estimatedSeconds(s: CostShape, steps: number, tokensPerStep: number, multiplyAddsPerSecond: number): number {
  return (steps * tokensPerStep * trainingMultiplyAddsPerToken(s)) / multiplyAddsPerSecond;
}
