// What a training run reports, one discriminated union for the CLI, the worker protocol and the UI.
import type { GateSaturation } from './gateStats';

export interface StepEvent {
  readonly kind: 'step';
  readonly step: number; // steps done, 1-based after the first
  readonly totalSteps: number;
  readonly epoch: number;
  readonly loss: number; // nats per token
  readonly gradNorm: number; // before clipping
  readonly lr: number;
  readonly tokensPerSecond: number; // over the recent steps
  readonly elapsedSeconds: number;
  /** Classifier: the fraction of the batch classified right. */
  readonly accuracy?: number;
}

export interface EvalEvent {
  readonly kind: 'eval';
  readonly step: number;
  readonly trainLoss: number; // mean of the steps since the previous evaluation
  readonly validationLoss: number; // nats per token
  readonly validationBits: number; // bits per token (per char for char models)
  /** Classifier: the fraction of the validation examples classified right. */
  readonly validationAccuracy?: number;
  /** What the figures cover: validation batches read, of all in the split (a bounded subsample during a run, all at its end). */
  readonly validationBatches: number;
  readonly validationBatchesTotal: number;
  readonly gateSaturation: readonly GateSaturation[];
}

export interface SampleEvent {
  readonly kind: 'sample';
  readonly step: number;
  readonly temperature: number;
  readonly text: string;
}

export type TrainEvent = StepEvent | EvalEvent | SampleEvent;

/** The loss stopped being a number: training stops, and the model keeps its last finite weights. */
export class TrainingDivergedError extends Error {
  constructor(readonly step: number, readonly loss: number, readonly restoredStep: number) {
    super(`training diverged: loss became ${loss} at step ${step}; the model was rolled back to step ${restoredStep} (try a lower --lr or --clip)`);
  }
}
