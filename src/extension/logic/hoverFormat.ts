// The hover over a traced token: gate means, the top units by magnitude with unicode bars, and what the
// model predicts there: the next token (language model), the classes had the text ended here (a `last`-readout
// unidirectional classifier) or the whole document's classes (other classifiers). Pure: takes the numbers,
// returns Markdown; every piece of document or file text goes through logic/markdown.ts (a code span).
import { bar, level, paddedBar, signed, signedBar } from './bars';
import { formatCount } from './formatCount';
import { codeSpan, escapeMarkdown } from './markdown';
import type { Prediction } from './predictions';
import { visibleChar } from './tokens';

export interface HoverSnapshot {
  readonly module: 'LSTM' | 'GRU' | 'RNN';
  readonly layer: number;
  readonly numLayers: number;
  readonly direction: 0 | 1;
  readonly position: number; // token index
  readonly length: number; // tokens in the trace
  readonly char: string;
  /** Per-unit values at this timestep: 'h', 'c', 'gate_i', ... each of length hiddenSize. */
  readonly tensors: ReadonlyMap<string, ArrayLike<number>>;
  readonly predictions: readonly Prediction[];
  /** What `predictions` are (default next-token); `document` with no predictions: not prepared yet. */
  readonly predicting?: PredictionKind;
  readonly topUnits: number;
  /** The "depends on" line (logic/saliency.ts), shown under the predictions. */
  readonly dependsOn?: string;
}

/**
 * next-token: a language model's next token; classes-if-ended: a classifier's classes had the text ended at
 * this token; document: a classifier's prediction for the whole document (the same at every token).
 */
export type PredictionKind = 'next-token' | 'classes-if-ended' | 'document';

const PREDICTION_TITLES: Record<PredictionKind, string> = {
  'next-token': 'next token:',
  'classes-if-ended': 'classes if the text ended here:',
  document: 'prediction for the whole document:',
};

/** Display order: gates first (as the cell computes them), then c and h. */
export function hoverColumns(tensors: ReadonlyMap<string, ArrayLike<number>>): string[] {
  const gates = [...tensors.keys()].filter((k) => k.startsWith('gate_'));
  return [...gates, ...['c', 'h'].filter((k) => tensors.has(k))];
}

function columnTitle(name: string): string {
  return name.startsWith('gate_') ? name.slice(5) : name;
}

/** Units sorted by |h| (the unit's output), largest first; ties by index. */
export function topUnitsByMagnitude(h: ArrayLike<number>, count: number): number[] {
  return Array.from({ length: h.length }, (_, i) => i)
    .sort((a, b) => Math.abs(h[b]) - Math.abs(h[a]) || a - b)
    .slice(0, Math.max(0, count));
}

function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return v.length ? s / v.length : 0;
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}

/** A code span that holds any text (see logic/markdown.ts, the one escaping helper of hovers and tooltips). */
export const code = codeSpan;

const NBSP = '\u00a0';

/** Tanh-valued (signed) columns: c, h and the candidates g/n get a bar that shows the sign; sigmoid gates one from 0. */
const SIGNED_COLUMNS = new Set(['c', 'h', 'gate_g', 'gate_n']);

/** One table cell: the value and its bar in one code span of no-break spaces, so that a cell never wraps. */
function cell(column: string, v: number, scale: number): string {
  const b = SIGNED_COLUMNS.has(column) ? signedBar(v, scale, 2) : paddedBar(v, scale, 3);
  return code(`${signed(v)}${NBSP}${b}`);
}

/** Compact, in reading order: where (layer 1-based, t), what the model predicts, then gate means and the top units. */
export function formatHover(s: HoverSnapshot): string {
  const h = s.tensors.get('h');
  if (!h) throw new Error('hover snapshot has no hidden state h');
  const columns = hoverColumns(s.tensors);
  const layer = `layer ${s.layer + 1}${s.numLayers > 1 ? ` of ${s.numLayers}` : ''}${s.direction === 1 ? ' · reverse' : ''}`;
  const lines: string[] = [];
  lines.push(`**gatescope** ${escapeMarkdown(s.module)} · ${layer} · t = ${formatCount(s.position)} of ${formatCount(s.length)} · ${code(visibleChar(s.char))}`);
  const kind = s.predicting ?? 'next-token';
  if (s.predictions.length && kind === 'next-token') {
    // One line: the likeliest next tokens, most likely first (the hover stays short).
    lines.push('', `${PREDICTION_TITLES[kind]} ${s.predictions.map((p) => `${code(visibleChar(p.token))} ${(p.probability * 100).toFixed(1)}%`).join(' · ')}`);
  } else if (s.predictions.length) {
    lines.push('', PREDICTION_TITLES[kind]);
    lines.push('');
    for (const p of s.predictions) lines.push(`- ${code(p.token)} ${(p.probability * 100).toFixed(1)}% ${bar(p.probability, 1, 10)}`);
  } else if (kind === 'document') {
    lines.push('', `${PREDICTION_TITLES.document} _shown once the whole document is traced._`);
  }
  if (s.dependsOn) lines.push('', s.dependsOn);
  lines.push('');
  const gateMeans = columns.filter((c) => c.startsWith('gate_')).map((c) => {
    const m = mean(s.tensors.get(c)!);
    // Sigmoid gates live in [0, 1]; tanh candidates in [-1, 1].
    const unit = c === 'gate_g' || c === 'gate_n' ? (m + 1) / 2 : m;
    return `${columnTitle(c)} ${level(unit)} ${m.toFixed(2)}`;
  });
  if (gateMeans.length) lines.push(`mean gates: ${gateMeans.join(' · ')}`, '');
  const units = topUnitsByMagnitude(h, s.topUnits);
  const scales = new Map(columns.map((c) => [c, Math.max(1e-12, c === 'c' ? maxAbs(s.tensors.get(c)!) : 1)]));
  lines.push(`| unit | ${columns.map(columnTitle).join(' | ')} |`);
  lines.push(`|---:|${columns.map(() => ':---').join('|')}|`);
  for (const u of units) {
    lines.push(`| ${u} | ${columns.map((c) => cell(c, s.tensors.get(c)![u], scales.get(c)!)).join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * The hover past the traced part of a document: one line instead of nothing (a long document is traced up
 * to gatescope.maxTraceLength tokens).
 */
export function pastTraceNote(traced: number, unit: 'char' | 'word' = 'char'): string {
  const what = unit === 'word' ? 'words' : 'characters';
  return `_gatescope: the trace covers the first ${formatCount(traced)} ${what} of this document; raise the setting gatescope.maxTraceLength and trace again to see this part._`;
}
