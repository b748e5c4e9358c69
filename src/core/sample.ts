// Sampling text from a language model: prime, then one token at a time with temperature, top-k or
// greedy choice, from a seeded generator so the same seed gives the same sample.
import { type ModelConfig, taskOf } from './model';
import type { TensorMap } from './tensor';
import { createRng, type Rng } from './random';
import { type Vocabulary, decodeTokens, encodeText } from './data/tokenizer';
import { type LmState, lmForward, splitLmParameters } from './train/lmForward';

export interface SampleOptions {
  readonly prime?: string;
  readonly length: number; // tokens to generate
  /** Softmax temperature; 0 means greedy (always the most likely token). Default 1. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  readonly topK?: number;
  readonly seed?: number;
}

export interface SampleResult {
  readonly prime: string;
  readonly generated: string;
  readonly ids: Int32Array;
}

/**
 * Picks a token from unnormalised scores. Temperature 0 is greedy; top-k keeps the k best (ties by the
 * lower id, so results do not depend on sort stability).
 */
export function chooseToken(logits: ArrayLike<number>, rng: Rng, temperature = 1, topK = 0): number {
  const V = logits.length;
  let order = Array.from({ length: V }, (_, i) => i);
  if (temperature === 0 || (topK > 0 && topK < V)) {
    order.sort((a, b) => logits[b] - logits[a] || a - b);
    if (temperature === 0) return order[0];
    order = order.slice(0, topK);
  }
  const t = temperature;
  let max = -Infinity;
  for (const i of order) max = Math.max(max, logits[i] / t);
  const weights = order.map((i) => Math.exp(logits[i] / t - max));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rng.uniform() * total;
  for (let k = 0; k < order.length; k++) {
    u -= weights[k];
    if (u < 0) return order[k];
  }
  return order[order.length - 1];
}

/**
 * The first input when there is no prime: a newline for char models that know it (text starts after a
 * line break), `<eos>` for word_language_model's words, else token 0.
 */
function startToken(vocab: Vocabulary): number {
  if (vocab.kind === 'char') {
    const nl = vocab.chars.indexOf('\n');
    return nl >= 0 ? nl : 0;
  }
  const eos = vocab.tokenizer === 'whitespace_eos' ? vocab.words.indexOf('<eos>') : -1;
  return eos >= 0 ? eos : 0;
}

/** A language model read token by token: the scores of the next token. */
export interface NextTokenScorer {
  /** Reads `ids` on from the state the last call left (zeros at the first); the scores after the last of them. */
  next(ids: Int32Array): ArrayLike<number>;
  dispose?(): void;
}

/** The reference forward (lmForward, the model's dtype), its state carried from call to call. */
export function referenceScorer(cfg: ModelConfig, params: TensorMap): NextTokenScorer {
  const weights = splitLmParameters(cfg, params);
  const O = cfg.outputSize;
  let state: LmState | undefined;
  return {
    next(ids) {
      const r = lmForward(cfg, weights, ids, ids.length, 1, state);
      state = r.state;
      return r.logits.subarray((ids.length - 1) * O, ids.length * O);
    },
  };
}

/** `scorer`: how the model is run (default the reference; src/engines fastNextTokenScorer for the fast kernels). */
export function sampleText(cfg: ModelConfig, params: TensorMap, vocab: Vocabulary, options: SampleOptions, scorer?: NextTokenScorer): SampleResult {
  if (taskOf(cfg) !== 'lm') throw new RangeError('sampling needs a language model; this model is a sequence classifier');
  const temperature = options.temperature ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
  // Made after the checks: a classifier or a bad temperature is refused before any weights are read.
  const model = scorer ?? referenceScorer(cfg, params);
  const rng = createRng(options.seed ?? 0);
  const prime = options.prime ?? '';
  let primeIds = prime ? encodeText(vocab, prime) : Int32Array.of(startToken(vocab));
  // A prime is the start of a line, not a whole one: no <eos> unless it ends with a newline.
  if (prime && vocab.kind === 'word' && vocab.tokenizer === 'whitespace_eos' && !prime.endsWith('\n') && primeIds.length > 1) primeIds = primeIds.subarray(0, -1);
  // Prime in one pass, then one token at a time.
  let last = model.next(primeIds);
  const out = new Int32Array(options.length);
  for (let i = 0; i < options.length; i++) {
    const id = chooseToken(last, rng, temperature, options.topK ?? 0);
    out[i] = id;
    last = model.next(Int32Array.of(id));
  }
  return { prime, generated: decodeTokens(vocab, out), ids: out };
}
