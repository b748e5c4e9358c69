// Fast forward-with-trace over a long token sequence: per-timestep h, c and gates of every layer,
// delivered chunk by chunk (a 1M-token trace of all gates would not fit in memory at once).
import type { FloatArray } from '../tensor';
import type { FastLmEngine, FastTraceLayer } from './lmDriver';

export interface LmTraceChunk {
  /** Step index (within each stream) of this chunk's first step. */
  readonly start: number;
  readonly steps: number;
  readonly streams: number;
  /** Heap views, time-major [steps, streams, H] (gates [steps, streams, G*H]); valid only inside onChunk. */
  readonly layers: readonly FastTraceLayer[];
  /** [steps, streams, outputSize] next-token scores (empty when options.scores is false). */
  readonly logits: FloatArray;
}

export interface LmTraceOptions {
  /**
   * Cut the tokens into this many contiguous streams traced side by side (each from the initial state):
   * much faster for long documents, but each stream after the first starts fresh. 1 (default) is exact.
   */
  readonly streams?: number;
  /** Next-token scores for every step (default true); false for a sweep that only needs the states. */
  readonly scores?: boolean;
  /** Steps per chunk (default 256). */
  readonly chunkSteps?: number;
  /** Initial state [L, streams, H] (h, and c for LSTM); zeros when omitted. */
  readonly h0?: ArrayLike<number>;
  readonly c0?: ArrayLike<number>;
  readonly onChunk: (chunk: LmTraceChunk) => void;
}

/** Runs `tokens` through the engine's model; returns the final state [L, streams, H]. */
export function traceTokens(engine: FastLmEngine, tokens: ArrayLike<number>, options: LmTraceOptions): { h: FloatArray; c?: FloatArray } {
  const S = options.streams ?? 1;
  const chunk = options.chunkSteps ?? 256;
  if (!Number.isInteger(S) || S < 1) throw new RangeError(`streams must be a positive integer, got ${S}`);
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunkSteps must be a positive integer, got ${chunk}`);
  if (tokens.length === 0 || tokens.length % S !== 0) {
    throw new RangeError(`${tokens.length} tokens cannot be cut into ${S} equal non-empty streams`);
  }
  const perStream = tokens.length / S;
  let first = true;
  for (let start = 0; start < perStream; start += chunk) {
    const T = Math.min(chunk, perStream - start);
    const window = new Int32Array(S * T); // row-major [stream, step]
    for (let s = 0; s < S; s++) for (let t = 0; t < T; t++) window[s * T + t] = tokens[s * perStream + start + t];
    const carried = first ? (options.h0 ? { h: options.h0, c: options.c0 } : 'zero' as const) : 'carry' as const;
    const w = engine.traceWindow(window, S, T, carried, options.scores ?? true);
    first = false;
    options.onChunk({ start, steps: T, streams: S, layers: w.layers, logits: w.logits });
  }
  return engine.traceState();
}
