// The contract every training engine implements: the readable reference (src/core/reference), the fast
// WASM engine and the TensorFlow.js engine. Engines are synchronous and run inside a worker thread;
// the host talks to that worker through src/protocol/worker.ts.
import type { ModelConfig } from './model';
import type { FloatDType, TensorMap } from './tensor';

export type OptimizerKind = 'sgd' | 'adam' | 'rmsprop' | 'adagrad';

/** PyTorch's optimizer arguments (torch.optim.SGD/Adam/RMSprop/Adagrad defaults when omitted). */
export interface OptimizerConfig {
  readonly kind: OptimizerKind;
  readonly lr: number;
  readonly momentum?: number; // sgd, rmsprop
  readonly dampening?: number; // sgd
  readonly nesterov?: boolean; // sgd
  readonly betas?: readonly [number, number]; // adam
  readonly eps?: number; // adam, rmsprop, adagrad
  readonly weightDecay?: number;
  readonly alpha?: number; // rmsprop
  readonly centered?: boolean; // rmsprop
  readonly lrDecay?: number; // adagrad
  readonly initialAccumulatorValue?: number; // adagrad
}

export interface ClipConfig {
  readonly maxNorm?: number; // torch.nn.utils.clip_grad_norm_ (global L2 norm)
  readonly value?: number; // torch.nn.utils.clip_grad_value_
}

export interface LmTrainOptions {
  readonly optimizer: OptimizerConfig;
  readonly clip?: ClipConfig;
  /** Carry the final hidden state (detached) into the next batch: stateful truncated BPTT. */
  readonly stateful: boolean;
}

/** Marks a language-model target that has no loss (padding), as F.cross_entropy's ignore_index. */
export const IGNORE_INDEX = -100;

/**
 * Row-major [batchSize, seqLen] token ids. Targets: for a language model (readout per_step) the next token
 * at every position, [batchSize * seqLen], IGNORE_INDEX where there is none; for a classifier the class of
 * each sequence, [batchSize]. Sequence b is its first lengths[b] tokens (pack_padded_sequence semantics:
 * the rest never reaches the model); every sequence is seqLen long when lengths is omitted.
 */
export interface LmBatch {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  readonly lengths?: Int32Array;
}

export interface Evaluation {
  /** Mean cross-entropy in nats per target token (per sequence for a classifier). */
  readonly loss: number;
  /** Classifier: the fraction of the batch whose arg-max class is the label. */
  readonly accuracy?: number;
}

export interface LmStepResult extends Evaluation {
  /** Global L2 norm of all gradients before clipping. */
  readonly gradNorm: number;
}

export interface LmEngine {
  readonly name: string; // 'reference' | 'wasm-simd' | 'wasm-relaxed' | 'js' | 'tfjs' ...
  readonly config: ModelConfig;
  readonly dtype: FloatDType;
  /** Forward + backward (BPTT over the window) + clipping + one optimizer step. */
  trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult;
  /** Loss (and a classifier's accuracy) without gradients; uses and advances a separate evaluation state. */
  evaluate(batch: LmBatch, stateful: boolean): Evaluation;
  /** Zeroes the carried training and evaluation states. */
  resetState(): void;
  /** The carried training state (`h`, and `c` for LSTM; [L*D, B, H]), saved so a resumed run continues exactly. */
  getCarriedState?(): TensorMap;
  setCarriedState?(state: TensorMap): void;
  /** Zeroes only the evaluation state, so each validation pass starts from zeros. */
  resetEvaluationState?(): void;
  getParameters(): TensorMap;
  setParameters(params: TensorMap): void;
  /** Optimizer buffers named `<param>.<buffer>` (e.g. `rnn.weight_ih_l0.exp_avg`) plus `step`. */
  getOptimizerState(): TensorMap;
  setOptimizerState(state: TensorMap): void;
  dispose(): void;
}
