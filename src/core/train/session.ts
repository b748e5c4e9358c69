// A training run over an engine, for a language model (stateful truncated BPTT or random windows) or a
// sequence classifier (length-bucketed labelled sequences): clipping, step decay, periodic validation
// (with accuracy for classifiers), gate statistics and samples. Synchronous steps, pulled one at a time through
// a generator, so the caller decides between steps whether to go on (cancel) and when to checkpoint.
import type { LmBatch, LmEngine } from '../engine';
import type { ModelConfig } from '../model';
import type { TensorMap } from '../tensor';
import { type Checkpoint, type LossPoint, MAX_KEPT_SAMPLES, type TextSample, type TrainSettings, type TrainingState } from '../checkpoint';
import { createRng, type Rng } from '../random';
import type { Vocabulary } from '../data/tokenizer';
import { type NextTokenScorer, sampleText } from '../sample';
import { taskOf } from '../model';
import { type TrainingData, batchTokens } from './trainingData';
import { gateSaturation } from './gateStats';
import { splitLmParameters } from './lmForward';
import { learningRateAt } from './settings';
import { type TrainEvent, TrainingDivergedError } from './events';

export interface SessionInit {
  readonly engine: LmEngine;
  readonly vocab: Vocabulary;
  /** TokenStreamData for a language model, LabelledSequenceData for a classifier. */
  readonly data: TrainingData;
  /** Classifier: the class names, saved in the checkpoint. */
  readonly labels?: readonly string[];
  readonly settings: TrainSettings;
  readonly sources?: readonly string[];
  /** Continue from this checkpoint (its engine state must already be loaded, or pass it here). */
  readonly resume?: Checkpoint;
  /** How samples read the model (src/engines fastNextTokenScorer); undefined, or none given: the reference. */
  readonly scorer?: (config: ModelConfig, params: TensorMap) => NextTokenScorer | undefined;
}

export { DataTooSmallError } from './trainingData';

/**
 * Gate saturation is measured on this many validation streams × steps, with the traced reference forward:
 * 2 × 32 × H gate values per gate are plenty for a fraction, and keep it a few ms (4 × 64 cost 70 ms at H=128,
 * as much as the evaluation itself).
 */
const GATE_STREAMS = 2;
const GATE_STEPS = 32;
/** Samples during training are drawn at this temperature (char-rnn's usual). */
const SAMPLE_TEMPERATURE = 0.8;

export class TrainSession {
  readonly settings: TrainSettings;
  readonly config: ModelConfig;
  private readonly engine: LmEngine;
  private readonly scorer: SessionInit['scorer'];
  private readonly vocab: Vocabulary;
  private readonly data: TrainingData;
  private readonly labels: readonly string[] | undefined;
  private readonly sources: readonly string[];
  private rng: Rng;
  private stepsDone: number;
  private window: number;
  private epoch: number;
  private elapsed: number;
  private readonly lossHistory: LossPoint[];
  private readonly validationHistory: LossPoint[];
  private readonly samples: TextSample[];
  private lastGood: Checkpoint | null = null;

  constructor(init: SessionInit) {
    const s = init.settings;
    this.settings = s;
    this.engine = init.engine;
    this.scorer = init.scorer;
    this.config = init.engine.config;
    this.vocab = init.vocab;
    this.sources = init.sources ?? [];
    this.data = init.data;
    this.labels = init.labels;
    if (init.data.task !== taskOf(this.config)) throw new Error(`${init.data.task} data for a ${taskOf(this.config)} model`);
    const t = init.resume?.training;
    this.rng = createRng(s.seed, t?.rngState);
    this.stepsDone = t?.step ?? 0;
    this.window = t?.window ?? 0;
    this.epoch = t?.epoch ?? 0;
    this.elapsed = t?.elapsedSeconds ?? 0;
    this.lossHistory = [...(t?.lossHistory ?? [])];
    this.validationHistory = [...(t?.validationHistory ?? [])];
    this.samples = [...(t?.samples ?? [])];
    if (init.resume) this.restore(init.resume);
  }

  get step(): number {
    return this.stepsDone;
  }

  get done(): boolean {
    return this.stepsDone >= this.settings.steps;
  }

  /** Validation tokens (language model) or examples (classifier). */
  get validationTokens(): number {
    return this.data.validationSize;
  }

  /**
   * Runs until `settings.steps` or until `shouldStop()` says so (checked before every step). Throws
   * TrainingDivergedError on a NaN/Inf loss, after rolling the engine back to the last evaluation.
   */
  *run(shouldStop: () => boolean = () => false): Generator<TrainEvent, void> {
    const s = this.settings;
    if (!this.lastGood) this.lastGood = this.checkpoint();
    let sinceEval: number[] = [];
    let recent = { tokens: 0, seconds: 0, steps: 0 };
    while (!this.done && !shouldStop()) {
      const lr = learningRateAt(s, this.stepsDone);
      const batch = this.nextBatch();
      const t0 = performance.now();
      const r = this.engine.trainStep(batch, {
        optimizer: { ...s.optimizer, lr },
        clip: { ...(s.clip > 0 ? { maxNorm: s.clip } : {}), ...(s.clipValue ? { value: s.clipValue } : {}) },
        stateful: this.data.stateful,
      });
      const seconds = (performance.now() - t0) / 1000;
      this.stepsDone++;
      this.elapsed += seconds;
      if (!Number.isFinite(r.loss)) {
        const failedStep = this.stepsDone;
        const restored = this.lastGood!;
        this.restore(restored);
        throw new TrainingDivergedError(failedStep, r.loss, restored.training?.step ?? 0);
      }
      this.lossHistory.push({ step: this.stepsDone, loss: r.loss, ...(Number.isFinite(r.gradNorm) ? { gradNorm: r.gradNorm } : {}) });
      sinceEval.push(r.loss);
      const tokens = batchTokens(batch);
      recent = recent.steps >= 20 ? { steps: 1, tokens, seconds } : { steps: recent.steps + 1, tokens: recent.tokens + tokens, seconds: recent.seconds + seconds };
      yield {
        kind: 'step', step: this.stepsDone, totalSteps: s.steps, epoch: this.epoch, loss: r.loss, gradNorm: r.gradNorm, lr,
        tokensPerSecond: recent.tokens / Math.max(recent.seconds, 1e-9), elapsedSeconds: this.elapsed,
        ...(r.accuracy !== undefined ? { accuracy: r.accuracy } : {}),
      };
      if (s.evalEvery > 0 && (this.stepsDone % s.evalEvery === 0 || this.done)) {
        yield this.evaluate(sinceEval, this.done);
        sinceEval = [];
        this.lastGood = this.checkpoint();
      }
      if (s.sampleEvery > 0 && this.stepsDone % s.sampleEvery === 0 && this.data.task === 'lm') {
        const text = this.sample();
        this.samples.push({ step: this.stepsDone, temperature: SAMPLE_TEMPERATURE, text });
        if (this.samples.length > MAX_KEPT_SAMPLES) this.samples.shift();
        yield { kind: 'sample', step: this.stepsDone, temperature: SAMPLE_TEMPERATURE, text };
      }
    }
  }

  /** An evaluation now, unless the last one was at this step (e.g. when a time limit ends the run). */
  finalEvaluation(): TrainEvent | null {
    const last = this.validationHistory[this.validationHistory.length - 1];
    if (this.stepsDone === 0 || last?.step === this.stepsDone) return null;
    const since = this.lossHistory.filter((p) => p.step > (last?.step ?? 0)).map((p) => p.loss);
    return this.evaluate(since, true);
  }

  /** Mean validation loss over the whole validation split. */
  validationLoss(): number {
    return this.validation(true).loss;
  }

  /**
   * Validation batches an evaluation reads: `evalBatches` when set; otherwise, during the run, a bounded
   * prefix of the split (a forward pass costs about 0.4 of a training step, so 0.15 × evalEvery batches keep
   * evaluation near 6 % of the training time, at least 4 batches), and the whole split at the end.
   */
  private evaluationBatches(full: boolean): number {
    const s = this.settings;
    if (s.evalBatches > 0) return s.evalBatches;
    return full ? 0 : Math.max(4, Math.ceil(0.15 * s.evalEvery));
  }

  /**
   * Validation loss (mean per window of the streams; per example for a classifier) and a classifier's
   * accuracy over `full` the whole split or the bounded subsample; NaN without validation data.
   */
  validation(full: boolean): { loss: number; accuracy?: number; batches: number; of: number } {
    const all = this.data.validationBatches(0).length;
    const batches = this.data.validationBatches(this.evaluationBatches(full));
    if (!batches.length) return { loss: NaN, batches: 0, of: all };
    const cover = { batches: batches.length, of: all };
    this.engine.resetEvaluationState?.();
    if (this.data.stateful) {
      let total = 0;
      for (const b of batches) total += this.engine.evaluate(b, true).loss;
      return { loss: total / batches.length, ...cover };
    }
    let loss = 0, correct = 0, n = 0;
    for (const b of batches) {
      const e = this.engine.evaluate(b, false);
      loss += e.loss * b.batchSize;
      correct += (e.accuracy ?? 0) * b.batchSize;
      n += b.batchSize;
    }
    return this.data.task === 'classify' ? { loss: loss / n, accuracy: correct / n, ...cover } : { loss: loss / n, ...cover };
  }

  sample(length = this.settings.sampleLength, seed = this.settings.seed + this.stepsDone): string {
    const params = this.engine.getParameters();
    const scorer = this.scorer?.(this.config, params);
    try {
      return sampleText(this.config, params, this.vocab, { length, temperature: SAMPLE_TEMPERATURE, seed }, scorer).generated;
    } finally {
      scorer?.dispose?.();
    }
  }

  /** The run as a checkpoint: weights, optimizer state, carried state, position, histories. */
  checkpoint(): Checkpoint {
    const carried = this.engine.getCarriedState?.();
    const training: TrainingState = {
      settings: this.settings, step: this.stepsDone, window: this.window, epoch: this.epoch, rngState: this.rng.state(),
      lossHistory: [...this.lossHistory], validationHistory: [...this.validationHistory], samples: [...this.samples], elapsedSeconds: this.elapsed,
      data: { sources: this.sources, tokens: this.data.trainSize + this.data.validationSize },
    };
    return {
      config: this.config, vocab: this.vocab, params: this.engine.getParameters(), ...(this.labels ? { labels: this.labels } : {}),
      optimizer: this.engine.getOptimizerState(), ...(carried?.size ? { carried } : {}), training, engine: this.engine.name,
    };
  }

  private restore(ck: Checkpoint): void {
    this.engine.setParameters(ck.params);
    if (ck.optimizer) this.engine.setOptimizerState(ck.optimizer);
    this.engine.resetState();
    if (ck.carried && this.engine.setCarriedState) this.engine.setCarriedState(ck.carried);
    const t = ck.training;
    if (t) {
      this.stepsDone = t.step;
      this.rng = createRng(this.settings.seed, t.rngState);
      this.window = t.window;
      this.epoch = t.epoch;
      this.lossHistory.length = 0;
      this.lossHistory.push(...t.lossHistory);
      this.validationHistory.length = 0;
      this.validationHistory.push(...t.validationHistory);
      this.samples.length = 0;
      this.samples.push(...(t.samples ?? []));
    }
  }

  private nextBatch(): LmBatch {
    if (this.settings.shuffle && this.data.task === 'lm') return this.data.batch(this.epoch, this.window, this.rng);
    if (this.window >= this.data.batchesPerEpoch) {
      // A new pass (streams restart from their beginning, or the examples are reshuffled): no state carries over.
      this.window = 0;
      this.epoch++;
      this.engine.resetState();
    }
    return this.data.batch(this.epoch, this.window++, this.rng);
  }

  private evaluate(sinceEval: number[], full: boolean): TrainEvent {
    const v = this.validation(full);
    const gateSaturation = this.gateStatistics();
    this.validationHistory.push({
      step: this.stepsDone, loss: v.loss, ...(v.accuracy !== undefined ? { accuracy: v.accuracy } : {}), ...(gateSaturation.length ? { saturation: gateSaturation } : {}),
    });
    return {
      kind: 'eval', step: this.stepsDone,
      trainLoss: sinceEval.reduce((a, b) => a + b, 0) / Math.max(1, sinceEval.length),
      validationLoss: v.loss, validationBits: v.loss / Math.LN2, gateSaturation,
      validationBatches: v.batches, validationBatchesTotal: v.of,
      ...(v.accuracy !== undefined ? { validationAccuracy: v.accuracy } : {}),
    };
  }

  private gateStatistics() {
    const { ids, T, N } = this.data.probe(Math.min(this.settings.seqLen, GATE_STEPS), GATE_STREAMS);
    if (T < 1) return [];
    return gateSaturation(this.config, splitLmParameters(this.config, this.engine.getParameters()), ids, T, N);
  }
}
