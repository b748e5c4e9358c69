// A training run over an engine: stateful truncated BPTT (or random windows), clipping, step decay,
// periodic validation with gate statistics and samples. Synchronous steps, pulled one at a time through
// a generator, so the caller decides between steps whether to go on (cancel) and when to checkpoint.
import type { LmBatch, LmEngine } from '../engine';
import type { ModelConfig } from '../model';
import type { Checkpoint, LossPoint, TrainSettings, TrainingState } from '../checkpoint';
import { createRng, type Rng } from '../random';
import type { Vocabulary } from '../data/tokenizer';
import { type TokenSplit, splitTrainValidation } from '../data/split';
import { type StreamLayout, minimumTokens, randomBatch, streamBatch, streamLayout } from '../data/streams';
import { sampleText } from '../sample';
import { gateSaturation } from './gateStats';
import { splitLmParameters } from './lmForward';
import { learningRateAt } from './settings';
import { type TrainEvent, TrainingDivergedError } from './events';

export interface SessionInit {
  readonly engine: LmEngine;
  readonly vocab: Vocabulary;
  readonly tokens: Int32Array; // the whole encoded text; split here
  readonly settings: TrainSettings;
  readonly sources?: readonly string[];
  /** Continue from this checkpoint (its engine state must already be loaded, or pass it here). */
  readonly resume?: Checkpoint;
}

export class DataTooSmallError extends Error {}

const GATE_STREAMS = 4;

export class TrainSession {
  readonly settings: TrainSettings;
  readonly config: ModelConfig;
  private readonly engine: LmEngine;
  private readonly vocab: Vocabulary;
  private readonly data: TokenSplit;
  private readonly layout: StreamLayout;
  private readonly validationLayout: StreamLayout | null;
  private readonly sources: readonly string[];
  private rng: Rng;
  private stepsDone: number;
  private window: number;
  private epoch: number;
  private elapsed: number;
  private readonly lossHistory: LossPoint[];
  private readonly validationHistory: LossPoint[];
  private lastGood: Checkpoint | null = null;

  constructor(init: SessionInit) {
    const s = init.settings;
    this.settings = s;
    this.engine = init.engine;
    this.config = init.engine.config;
    this.vocab = init.vocab;
    this.sources = init.sources ?? [];
    this.data = splitTrainValidation(init.tokens, s.validationFraction);
    const need = minimumTokens(s.batchSize, s.seqLen);
    if (this.data.train.length < need) {
      throw new DataTooSmallError(`training text has ${this.data.train.length} tokens after the validation split; ` +
        `batch ${s.batchSize} x sequence ${s.seqLen} needs at least ${need}`);
    }
    this.layout = streamLayout(this.data.train.length, s.batchSize, s.seqLen);
    const vb = Math.max(1, Math.min(s.batchSize, Math.floor((this.data.validation.length - 1) / s.seqLen)));
    this.validationLayout = this.data.validation.length >= minimumTokens(1, s.seqLen)
      ? streamLayout(this.data.validation.length, vb, s.seqLen) : null;
    const t = init.resume?.training;
    this.rng = createRng(s.seed, t?.rngState);
    this.stepsDone = t?.step ?? 0;
    this.window = t?.window ?? 0;
    this.epoch = t?.epoch ?? 0;
    this.elapsed = t?.elapsedSeconds ?? 0;
    this.lossHistory = [...(t?.lossHistory ?? [])];
    this.validationHistory = [...(t?.validationHistory ?? [])];
    if (init.resume) this.restore(init.resume);
  }

  get step(): number {
    return this.stepsDone;
  }

  get done(): boolean {
    return this.stepsDone >= this.settings.steps;
  }

  get validationTokens(): number {
    return this.data.validation.length;
  }

  /**
   * Runs until `settings.steps` or until `shouldStop()` says so (checked before every step). Throws
   * TrainingDivergedError on a NaN/Inf loss, after rolling the engine back to the last evaluation.
   */
  *run(shouldStop: () => boolean = () => false): Generator<TrainEvent, void> {
    const s = this.settings;
    const tokensPerStep = s.batchSize * s.seqLen;
    if (!this.lastGood) this.lastGood = this.checkpoint();
    let sinceEval: number[] = [];
    let recent = { steps: 0, seconds: 0 };
    while (!this.done && !shouldStop()) {
      const lr = learningRateAt(s, this.stepsDone);
      const batch = this.nextBatch();
      const t0 = performance.now();
      const r = this.engine.trainStep(batch, {
        optimizer: { ...s.optimizer, lr },
        ...(s.clip > 0 ? { clip: { maxNorm: s.clip } } : {}),
        stateful: !s.shuffle,
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
      this.lossHistory.push({ step: this.stepsDone, loss: r.loss });
      sinceEval.push(r.loss);
      recent = recent.steps >= 20 ? { steps: 1, seconds } : { steps: recent.steps + 1, seconds: recent.seconds + seconds };
      yield {
        kind: 'step', step: this.stepsDone, totalSteps: s.steps, epoch: this.epoch, loss: r.loss, gradNorm: r.gradNorm, lr,
        tokensPerSecond: (recent.steps * tokensPerStep) / Math.max(recent.seconds, 1e-9), elapsedSeconds: this.elapsed,
      };
      if (s.evalEvery > 0 && (this.stepsDone % s.evalEvery === 0 || this.done)) {
        yield this.evaluate(sinceEval);
        sinceEval = [];
        this.lastGood = this.checkpoint();
      }
      if (s.sampleEvery > 0 && this.stepsDone % s.sampleEvery === 0) {
        yield { kind: 'sample', step: this.stepsDone, text: this.sample() };
      }
    }
  }

  /** An evaluation now, unless the last one was at this step (e.g. when a time limit ends the run). */
  finalEvaluation(): TrainEvent | null {
    const last = this.validationHistory[this.validationHistory.length - 1];
    if (this.stepsDone === 0 || last?.step === this.stepsDone) return null;
    const since = this.lossHistory.filter((p) => p.step > (last?.step ?? 0)).map((p) => p.loss);
    return this.evaluate(since);
  }

  /** Mean validation loss over the validation streams (all windows, or the first evalBatches). */
  validationLoss(): number {
    if (!this.validationLayout) return NaN;
    const n = this.settings.evalBatches > 0
      ? Math.min(this.settings.evalBatches, this.validationLayout.windowsPerEpoch) : this.validationLayout.windowsPerEpoch;
    this.engine.resetEvaluationState?.();
    let total = 0;
    for (let w = 0; w < n; w++) total += this.engine.evaluate(streamBatch(this.data.validation, this.validationLayout, w), true).loss;
    return total / n;
  }

  sample(length = this.settings.sampleLength, seed = this.settings.seed + this.stepsDone): string {
    return sampleText(this.config, this.engine.getParameters(), this.vocab, { length, temperature: 0.8, seed }).generated;
  }

  /** The run as a checkpoint: weights, optimizer state, carried state, position, histories. */
  checkpoint(): Checkpoint {
    const carried = this.engine.getCarriedState?.();
    const training: TrainingState = {
      settings: this.settings, step: this.stepsDone, window: this.window, epoch: this.epoch, rngState: this.rng.state(),
      lossHistory: [...this.lossHistory], validationHistory: [...this.validationHistory], elapsedSeconds: this.elapsed,
      data: { sources: this.sources, tokens: this.data.train.length + this.data.validation.length },
    };
    return {
      config: this.config, vocab: this.vocab, params: this.engine.getParameters(),
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
    }
  }

  private nextBatch(): LmBatch {
    const s = this.settings;
    if (s.shuffle) return randomBatch(this.data.train, s.batchSize, s.seqLen, this.rng);
    if (this.window >= this.layout.windowsPerEpoch) {
      // A new pass starts at the beginning of every stream: the carried state no longer fits.
      this.window = 0;
      this.epoch++;
      this.engine.resetState();
    }
    return streamBatch(this.data.train, this.layout, this.window++);
  }

  private evaluate(sinceEval: number[]): TrainEvent {
    const validationLoss = this.validationLoss();
    this.validationHistory.push({ step: this.stepsDone, loss: validationLoss });
    return {
      kind: 'eval', step: this.stepsDone,
      trainLoss: sinceEval.reduce((a, b) => a + b, 0) / Math.max(1, sinceEval.length),
      validationLoss, validationBits: validationLoss / Math.LN2, gateSaturation: this.gateStatistics(),
    };
  }

  private gateStatistics() {
    const src = this.data.validation.length > this.settings.seqLen * GATE_STREAMS + 1 ? this.data.validation : this.data.train;
    const T = Math.min(this.settings.seqLen, Math.floor((src.length - 1) / GATE_STREAMS));
    const ids = new Int32Array(T * GATE_STREAMS);
    const stride = Math.floor(src.length / GATE_STREAMS);
    for (let t = 0; t < T; t++) for (let n = 0; n < GATE_STREAMS; n++) ids[t * GATE_STREAMS + n] = src[n * stride + t];
    return gateSaturation(this.config, splitLmParameters(this.config, this.engine.getParameters()), ids, T, GATE_STREAMS);
  }
}
