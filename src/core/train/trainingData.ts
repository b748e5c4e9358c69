// What a training run reads, for both tasks: a language model's token stream (char-rnn style contiguous
// streams with carried state, or random windows) and a classifier's labelled sequences (length-bucketed,
// reshuffled every epoch). Batches are a pure function of (epoch, window) and the data RNG, so a resumed
// run continues exactly.
import type { LmBatch } from '../engine';
import type { TrainSettings } from '../checkpoint';
import type { Rng } from '../random';
import { type TokenSplit, splitTrainValidation } from '../data/split';
import { type StreamLayout, minimumTokens, randomBatch, streamBatch, streamLayout } from '../data/streams';
import { bucketBatches, splitExamples } from '../data/classification';

export class DataTooSmallError extends Error {}

export interface TrainingData {
  readonly task: 'lm' | 'classify';
  /** Training tokens (lm) or examples (classify), and the validation split's. */
  readonly trainSize: number;
  readonly validationSize: number;
  /** Carry the recurrent state from one batch to the next (stateful truncated BPTT). */
  readonly stateful: boolean;
  readonly batchesPerEpoch: number;
  batch(epoch: number, window: number, rng: Rng): LmBatch;
  /** The validation batches (the first `limit`, 0 = all); evaluated with carried state when `stateful`. */
  validationBatches(limit: number): LmBatch[];
  /** Time-major [T, N] tokens for gate statistics. */
  probe(maxSteps: number, streams: number): { ids: Int32Array; T: number; N: number };
}

/** Tokens that take part in a batch (its valid positions). */
export function batchTokens(batch: LmBatch): number {
  if (!batch.lengths) return batch.batchSize * batch.seqLen;
  let n = 0;
  for (const l of batch.lengths) n += l;
  return n;
}

export class TokenStreamData implements TrainingData {
  readonly task = 'lm';
  readonly stateful: boolean;
  private readonly split: TokenSplit;
  private readonly layout: StreamLayout;
  private readonly validationLayout: StreamLayout | null;

  constructor(tokens: Int32Array, private readonly settings: TrainSettings) {
    const s = settings;
    this.split = splitTrainValidation(tokens, s.validationFraction);
    const need = minimumTokens(s.batchSize, s.seqLen);
    if (this.split.train.length < need) {
      throw new DataTooSmallError(`training text has ${this.split.train.length} tokens after the validation split; ` +
        `batch ${s.batchSize} x sequence ${s.seqLen} needs at least ${need}`);
    }
    this.layout = streamLayout(this.split.train.length, s.batchSize, s.seqLen);
    const vb = Math.max(1, Math.min(s.batchSize, Math.floor((this.split.validation.length - 1) / s.seqLen)));
    this.validationLayout = this.split.validation.length >= minimumTokens(1, s.seqLen)
      ? streamLayout(this.split.validation.length, vb, s.seqLen) : null;
    this.stateful = !s.shuffle;
  }

  get trainSize(): number {
    return this.split.train.length;
  }

  get validationSize(): number {
    return this.split.validation.length;
  }

  get batchesPerEpoch(): number {
    return this.layout.windowsPerEpoch;
  }

  batch(_epoch: number, window: number, rng: Rng): LmBatch {
    const s = this.settings;
    return s.shuffle ? randomBatch(this.split.train, s.batchSize, s.seqLen, rng) : streamBatch(this.split.train, this.layout, window);
  }

  validationBatches(limit: number): LmBatch[] {
    const v = this.validationLayout;
    if (!v) return [];
    const n = limit > 0 ? Math.min(limit, v.windowsPerEpoch) : v.windowsPerEpoch;
    return Array.from({ length: n }, (_, w) => streamBatch(this.split.validation, v, w));
  }

  probe(maxSteps: number, streams: number): { ids: Int32Array; T: number; N: number } {
    const src = this.split.validation.length > maxSteps * streams + 1 ? this.split.validation : this.split.train;
    const T = Math.min(maxSteps, Math.floor((src.length - 1) / streams));
    const ids = new Int32Array(T * streams);
    const stride = Math.floor(src.length / streams);
    for (let t = 0; t < T; t++) for (let n = 0; n < streams; n++) ids[t * streams + n] = src[n * stride + t];
    return { ids, T, N: streams };
  }
}

export interface LabelledSequences {
  readonly sequences: readonly Int32Array[];
  /** Class of each sequence. */
  readonly labels: Int32Array;
}

export class LabelledSequenceData implements TrainingData {
  readonly task = 'classify';
  readonly stateful = false;
  private readonly train: LabelledSequences;
  private readonly validation: LabelledSequences;
  private readonly validationSet: LmBatch[];
  private cached: { epoch: number; batches: LmBatch[] } | undefined;

  constructor(data: LabelledSequences, private readonly settings: TrainSettings) {
    const split = splitExamples(data.sequences.length, settings.validationFraction, settings.seed);
    const pick = (idx: readonly number[]): LabelledSequences => ({
      sequences: idx.map((i) => data.sequences[i]), labels: Int32Array.from(idx, (i) => data.labels[i]),
    });
    this.train = pick(split.train);
    this.validation = pick(split.validation);
    if (this.train.sequences.length < 1) throw new DataTooSmallError('no training examples after the validation split');
    this.validationSet = this.validation.sequences.length
      ? bucketBatches(this.validation.sequences, this.validation.labels, { batchSize: settings.batchSize, shuffle: false }) : [];
  }

  get trainSize(): number {
    return this.train.sequences.length;
  }

  get validationSize(): number {
    return this.validation.sequences.length;
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.train.sequences.length / this.settings.batchSize);
  }

  batch(epoch: number, window: number): LmBatch {
    if (this.cached?.epoch !== epoch) {
      this.cached = {
        epoch, batches: bucketBatches(this.train.sequences, this.train.labels, { batchSize: this.settings.batchSize, seed: this.settings.seed, epoch }),
      };
    }
    return this.cached.batches[window % this.cached.batches.length];
  }

  validationBatches(limit: number): LmBatch[] {
    return limit > 0 ? this.validationSet.slice(0, limit) : this.validationSet;
  }

  probe(maxSteps: number, streams: number): { ids: Int32Array; T: number; N: number } {
    // The first few validation (else training) sequences, cut to their common length.
    const src = (this.validation.sequences.length >= streams ? this.validation : this.train).sequences.slice(0, streams);
    const T = Math.max(1, Math.min(maxSteps, ...src.map((s) => s.length)));
    const N = src.length;
    const ids = new Int32Array(T * N);
    for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) ids[t * N + n] = src[n][t];
    return { ids, T, N };
  }
}
