// Variable-length sequence classification data: padded [T, N] (time-major) id batches with lengths, as
// rnnForward takes them (its `lengths` picks each sequence's final state at its own last step).

export interface LabelledSequence {
  readonly ids: ArrayLike<number>;
  readonly label: number;
}

export interface PaddedBatch {
  /** Longest sequence in the batch. */
  readonly maxLen: number;
  readonly batchSize: number;
  /** [maxLen, batchSize] time-major token ids; padding positions hold `padId`. */
  readonly ids: Int32Array;
  readonly lengths: number[];
  readonly labels: Float64Array;
}

export function padBatch(sequences: readonly LabelledSequence[], padId = 0): PaddedBatch {
  const N = sequences.length;
  const lengths = sequences.map((s) => s.ids.length);
  if (lengths.some((l) => l < 1)) throw new RangeError('every sequence needs at least one token');
  const maxLen = Math.max(...lengths);
  const ids = new Int32Array(maxLen * N).fill(padId);
  sequences.forEach((s, n) => {
    for (let t = 0; t < s.ids.length; t++) ids[t * N + n] = s.ids[t];
  });
  return { maxLen, batchSize: N, ids, lengths, labels: Float64Array.from(sequences, (s) => s.label) };
}

/** One-hot [T, N, V] inputs of a padded batch (padding rows stay zero). */
export function oneHotTimeMajor(batch: PaddedBatch, vocabSize: number, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const { maxLen: T, batchSize: N } = batch;
  const out = dtype === 'float64' ? new Float64Array(T * N * vocabSize) : new Float32Array(T * N * vocabSize);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      if (t < batch.lengths[n]) out[(t * N + n) * vocabSize + batch.ids[t * N + n]] = 1;
    }
  }
  return out;
}

/** Consecutive batches of `batchSize` in order (the last one may be smaller). */
export function* batchesOf<T>(items: readonly T[], batchSize: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += batchSize) yield items.slice(i, i + batchSize);
}
