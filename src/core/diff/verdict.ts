// The verdict of ./equivalence.ts in words, for a learner: one headline (EQUIVALENT / DIFFERENT /
// NOTHING IN COMMON), what to change on which side, why differing files still compute the same thing,
// and what was not compared. Shared by `gatescope diff` and the diff view.
import type { ModelDiffReport, Side } from './equivalence';

export interface VerdictText {
  readonly headline: string;
  /** One group per side to change: its label and the changes, in that side's own names. */
  readonly changes: { readonly side: Side; readonly label: string; readonly items: string[] }[];
  /** Why files that are spelled differently compute the same thing (also for parts of a DIFFERENT pair). */
  readonly why: string[];
  /** What only one side holds (not compared unless strict). */
  readonly notCompared: string[];
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function indices(label: string, xs: readonly number[] | undefined): string {
  if (!xs || !xs.length) return '';
  if (xs.length > 6) return ` (${label}s ${xs[0]}–${xs[xs.length - 1]}, ${xs.length} of them)`;
  return ` (${label}${xs.length > 1 ? 's' : ''} ${xs.join(', ')})`;
}

export function verdictText(r: ModelDiffReport, labels: { readonly a: string; readonly b: string } = { a: 'file A', b: 'file B' }): VerdictText {
  const snapLabel = r.epochs?.[0]?.label ?? 'epoch';
  const counted = r.unmatched.filter((u) => u.role !== 'input');
  let headline: string;
  if (r.status === 'different') {
    const f = r.findings[0];
    headline = r.architecture
      ? `DIFFERENT: different architectures — A: ${r.architecture.a}; B: ${r.architecture.b}`
      : `DIFFERENT: ${f.message}${indices(snapLabel, f.indices)}`;
    if (r.findings.length > 1) headline += ` (and ${plural(r.findings.length - 1, 'other finding')})`;
  } else if (r.status === 'disjoint') {
    headline = `${r.differs ? 'DIFFERENT (--strict): ' : ''}NOTHING IN COMMON: A and B hold no tensor that both compute (A: ${r.structure.a}; B: ${r.structure.b})`;
  } else if (r.differs) {
    headline = `DIFFERENT (--strict): what both hold agrees, but ${plural(counted.reduce((s, u) => s + Math.max(1, u.names.length), 0), 'tensor')} only one side holds`;
  } else {
    const what = r.epochs ? `the same ${plural(r.epochs.length, snapLabel)}` : 'the same function';
    headline = `EQUIVALENT: A and B compute ${what} (${plural(r.compared, 'quantity', 'quantities')} equal within rtol ${r.rtol})`;
  }
  const bySide = new Map<Side, string[]>();
  for (const f of r.findings) {
    if (!bySide.has(f.side)) bySide.set(f.side, []);
    const item = `${f.change}${indices(snapLabel, f.indices)}`;
    if (!bySide.get(f.side)!.includes(item)) bySide.get(f.side)!.push(item);
  }
  const changes = [...bySide].map(([side, items]) => ({ side, label: side === 'A' ? labels.a : labels.b, items }));
  const why = r.equivalences.map((e) => e.message);
  const notCompared = r.unmatched.map((u) => `only in ${u.side}: ${u.summary}`);
  return { headline, changes, why, notCompared };
}
