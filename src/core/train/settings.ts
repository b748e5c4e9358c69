// Training defaults (char-rnn's: Adam 2e-3, clip 5, 90/10 split) and the learning-rate schedule.
import type { TrainSettings } from '../checkpoint';

export const DEFAULT_SETTINGS: TrainSettings = {
  seqLen: 64,
  batchSize: 32,
  steps: 1000,
  optimizer: { kind: 'adam', lr: 2e-3 },
  clip: 5,
  validationFraction: 0.1,
  evalEvery: 250,
  evalBatches: 0,
  shuffle: false,
  seed: 1,
  sampleEvery: 0,
  sampleLength: 200,
};

export function trainSettings(overrides: Partial<TrainSettings> = {}): TrainSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

/** Step decay: the base rate times factor for every `every` steps done. */
export function learningRateAt(settings: TrainSettings, step: number): number {
  const base = settings.optimizer.lr;
  const d = settings.lrDecay;
  return d && d.every > 0 ? base * d.factor ** Math.floor(step / d.every) : base;
}
