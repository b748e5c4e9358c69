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

/**
 * How often an interactive run of `steps` steps evaluates (and saves its checkpoint) and samples: about 20
 * evaluations and 5 samples a run, so the dashboard has points early and evaluation stays a small share
 * (each mid-run evaluation reads a bounded prefix of the validation split: session.ts).
 */
export function runCadence(steps: number): Pick<TrainSettings, 'evalEvery' | 'sampleEvery'> {
  return { evalEvery: Math.max(10, Math.round(steps / 20)), sampleEvery: Math.max(50, Math.round(steps / 5)) };
}

/** Step decay: the base rate times factor for every `every` steps done. */
export function learningRateAt(settings: TrainSettings, step: number): number {
  const base = settings.optimizer.lr;
  const d = settings.lrDecay;
  return d && d.every > 0 ? base * d.factor ** Math.floor(step / d.every) : base;
}
