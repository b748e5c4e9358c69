// The contract every training engine implements: the readable reference (src/core/reference), the fast
// WASM engine and the TensorFlow.js engine. Engines are synchronous and run inside a worker thread;
// the host talks to that worker through src/protocol/worker.ts.
import type { RnnConfig } from './config';
import type { FloatDType, TensorMap } from './tensor';

/**
 * A token language model / classifier body: one-hot tokens -> nn.LSTM/GRU/RNN -> nn.Linear head.
 * Parameters use the PyTorch state_dict names of
 *   class CharModel(nn.Module): rnn = nn.LSTM(vocab, H, ...); head = nn.Linear(D*H, outputs)
 * i.e. `rnn.weight_ih_l0`, ..., `head.weight` [outputs, D*H], `head.bias` [outputs].
 * The one-hot input makes `rnn.weight_ih_l0` a [G*H, vocab] lookup table (engines gather rows).
 */
export interface LmConfig {
  readonly rnn: RnnConfig; // rnn.inputSize === vocabSize, batchFirst ignored (batches are [B, T])
  readonly vocabSize: number;
  readonly outputSize: number; // vocabSize for a language model
}

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

/** Row-major [batchSize, seqLen] token ids; targets are the next tokens. */
export interface LmBatch {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
}

export interface LmStepResult {
  /** Mean cross-entropy in nats per target token. */
  readonly loss: number;
  /** Global L2 norm of all gradients before clipping. */
  readonly gradNorm: number;
}

export interface LmEngine {
  readonly name: string; // 'reference' | 'wasm-simd' | 'wasm-relaxed' | 'js' | 'tfjs' ...
  readonly config: LmConfig;
  readonly dtype: FloatDType;
  /** Forward + backward (BPTT over the window) + clipping + one optimizer step. */
  trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult;
  /** Mean cross-entropy without gradients; uses and advances a separate evaluation state. */
  evaluate(batch: LmBatch, stateful: boolean): number;
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
