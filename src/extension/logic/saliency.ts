// "What did this prediction depend on", as the editor shows it: the top contributing earlier positions for the
// hover, and the intensity bucket of each position's highlight. Pure: takes the worker's scores
// (‖∂objective/∂input_t'‖₂ for t' = start..position, src/core/saliency.ts), returns numbers and Markdown.
import { codeSpan, escapeMarkdown } from './markdown';
import { formatCount } from './formatCount';
import { visibleChar } from './tokens';

/** Highlight intensities (decoration types): bucket 1 is the faintest, SALIENCY_BUCKETS the strongest. */
export const SALIENCY_BUCKETS = 4;
/** Positions whose score is below this fraction of the window's largest are not highlighted. */
export const SALIENCY_FLOOR = 0.05;

export interface Contribution {
  /** Document token index. */
  readonly position: number;
  /** How many tokens before the predicting one (0: the token itself). */
  readonly back: number;
  readonly score: number;
  /** score / the sum of the window's scores. */
  readonly share: number;
}

/** The `k` positions with the largest scores, largest first (ties: the nearer one first). */
export function topContributions(scores: ArrayLike<number>, start: number, position: number, k = 5): Contribution[] {
  let sum = 0;
  for (let i = 0; i < scores.length; i++) if (Number.isFinite(scores[i])) sum += scores[i];
  const order = Array.from({ length: scores.length }, (_, i) => i).filter((i) => Number.isFinite(scores[i]) && scores[i] > 0);
  order.sort((a, b) => scores[b] - scores[a] || b - a);
  return order.slice(0, Math.max(0, k)).map((i) => ({ position: start + i, back: position - (start + i), score: scores[i], share: sum > 0 ? scores[i] / sum : 0 }));
}

/**
 * The highlight bucket of a score, relative to the window's largest: 0 (none, below SALIENCY_FLOOR) or
 * 1..buckets, by equal steps of the square root (gradient norms span orders of magnitude; the root keeps the
 * fainter ones visible).
 */
export function saliencyBucket(score: number, max: number, buckets = SALIENCY_BUCKETS): number {
  if (!(max > 0) || !(score > 0) || !Number.isFinite(score)) return 0;
  const r = Math.min(1, score / max);
  if (r < SALIENCY_FLOOR) return 0;
  return Math.max(1, Math.min(buckets, Math.ceil(Math.sqrt(r) * buckets)));
}

/** Token indices per bucket (index 0 unused): what each decoration type highlights. */
export function bucketPositions(scores: ArrayLike<number>, start: number, buckets = SALIENCY_BUCKETS): number[][] {
  let max = 0;
  for (let i = 0; i < scores.length; i++) if (Number.isFinite(scores[i])) max = Math.max(max, scores[i]);
  const out: number[][] = Array.from({ length: buckets + 1 }, () => []);
  for (let i = 0; i < scores.length; i++) {
    const b = saliencyBucket(scores[i], max, buckets);
    if (b) out[b].push(start + i);
  }
  return out;
}

/** A share as the hover shows it: 41%, 3.2%, <0.1%. */
export function formatShare(share: number): string {
  const p = share * 100;
  if (p >= 10) return `${Math.round(p)}%`;
  if (p >= 0.1) return `${p.toFixed(1)}%`;
  return '<0.1%';
}

/**
 * The hover's "depends on" line: the top positions as the token, how far back (t−3; "t" the token itself) and
 * the share of the window's gradient norm.
 */
export function formatDependsOn(top: readonly Contribution[], tokenLabel: (t: number) => string, window: number, objective: 'log_prob' | 'class_score'): string {
  if (!top.length) return '_depends on: no earlier token has a gradient here._';
  const what = objective === 'log_prob' ? 'log p of the predicted token' : 'the predicted class score';
  const items = top.map((c) => `${codeSpan(visibleChar(tokenLabel(c.position)))} ${c.back === 0 ? 't' : `t−${formatCount(c.back)}`} ${formatShare(c.share)}`);
  return `depends on: ${items.join(' · ')}  \n_‖∂ ${what} / ∂ input‖ over the last ${formatCount(window)} tokens, highlighted in the editor_`;
}

/** The hover's one line for a model whose prediction cannot be attributed to earlier tokens. */
export function formatSaliencyUnsupported(reason: string): string {
  const r = reason.replace(/^cannot attribute a prediction to earlier tokens: /, '');
  return `_depends on: not shown: ${escapeMarkdown(r)}._`;
}
