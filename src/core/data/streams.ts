// Language-model batches, char-rnn style: the token sequence is cut into B contiguous streams; batch k
// holds window k (T tokens) of every stream, so the hidden state at the end of one batch is the right
// starting state for the next (stateful truncated BPTT). Alternatively, independent windows at random
// offsets (shuffle), for which the state must not be carried.
import type { LmBatch } from '../engine';
import type { Rng } from '../random';

export interface StreamLayout {
  readonly batchSize: number;
  readonly seqLen: number;
  /** Tokens per stream usable as inputs (each needs its next token as target). */
  readonly streamLen: number;
  /** Windows per pass over the data (an epoch). */
  readonly windowsPerEpoch: number;
}

export function streamLayout(tokens: number, batchSize: number, seqLen: number): StreamLayout {
  const streamLen = Math.floor((tokens - 1) / batchSize);
  const windowsPerEpoch = Math.floor(streamLen / seqLen);
  return { batchSize, seqLen, streamLen, windowsPerEpoch };
}

/** Smallest token count that yields one batch. */
export function minimumTokens(batchSize: number, seqLen: number): number {
  return batchSize * seqLen + 1;
}

/** Window `w` of every stream: inputs tokens[s*L + w*T + t], targets the token after each. */
export function streamBatch(tokens: Int32Array, layout: StreamLayout, window: number): LmBatch {
  const { batchSize: B, seqLen: T, streamLen } = layout;
  if (window < 0 || window >= layout.windowsPerEpoch) throw new RangeError(`window ${window} out of range`);
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = b * streamLen + window * T;
    inputs.set(tokens.subarray(start, start + T), b * T);
    targets.set(tokens.subarray(start + 1, start + T + 1), b * T);
  }
  return { batchSize: B, seqLen: T, inputs, targets };
}

/** B independent windows starting at uniformly random offsets. */
export function randomBatch(tokens: Int32Array, batchSize: number, seqLen: number, rng: Rng): LmBatch {
  const inputs = new Int32Array(batchSize * seqLen);
  const targets = new Int32Array(batchSize * seqLen);
  const starts = tokens.length - seqLen; // a start s needs s + seqLen < tokens.length
  for (let b = 0; b < batchSize; b++) {
    const s = rng.int(starts);
    inputs.set(tokens.subarray(s, s + seqLen), b * seqLen);
    targets.set(tokens.subarray(s + 1, s + seqLen + 1), b * seqLen);
  }
  return { batchSize, seqLen, inputs, targets };
}
