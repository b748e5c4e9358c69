// The diff view's model, built from core/diff's structured report (the one canonical diff, also printed
// by `gatescope diff`): a row per tensor and per gate block, the verdict in words (the diagnosed layout
// mistake), the worst tensor's elementwise difference for the heatmap, and per-epoch (or per-step)
// series for the chart. Pure: no vscode, no DOM.
import { alignRecurrentPrefixes } from '../../core/diff/align';
import { type DiffReport, type TensorDiff, diffTensors, elementwiseDifference, epochSeries } from '../../core/diff/diff';
import type { TensorMap } from '../../core/tensor';
import { type DiffRow, type DiffViewModel, exactBuffer, float64Buffer } from '../../protocol/webview';

/** Extra series for the chart as plain arrays, e.g. per training step of two engines. */
export interface Trajectory {
  readonly label: string;
  readonly epochs: readonly number[];
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
}

export interface DiffViewInput {
  readonly title: string;
  /** Side A (the reference) and side B, as the diff report calls them. */
  readonly leftLabel: string;
  readonly rightLabel: string;
  readonly left: TensorMap;
  readonly right: TensorMap;
  /** Largest relative error ‖a−b‖/‖a‖ counted as equal; default: core's (1e-12 float64, else 1e-5). */
  readonly rtol?: number;
  /** Series for the chart; trajectory files (epoch{e}.<name>) get theirs from the report. */
  readonly trajectory?: Trajectory;
}

const EPOCH = /^epoch(\d+)\./;
/** Log-scale charts cannot show 0. */
const FLOOR = 1e-18;

export function diffView(input: DiffViewInput): DiffViewModel {
  const aligned = alignRecurrentPrefixes(input.left, input.right);
  const report = diffTensors(aligned.a, aligned.b, { rtol: input.rtol });
  const notes = [...(aligned.note ? [aligned.note] : []), ...report.notes];
  const worst = worstComparable(report);
  const series = input.trajectory ?? epochTrajectory(report);
  return {
    title: input.title, leftLabel: input.leftLabel, rightLabel: input.rightLabel, tolerance: report.rtol,
    verdict: verdictOf(report, input.leftLabel, input.rightLabel), ok: !report.differs, rows: rowsOf(report),
    ...(notes.length ? { notes } : {}),
    ...(worst ? { heatmap: heatmapOf(worst.name, aligned.a, aligned.b) } : {}),
    ...(series ? { trajectory: { label: series.label, epochs: float64Buffer(series.epochs), series: series.series.map((s) => ({ name: s.name, values: float64Buffer(s.values) })) } } : {}),
  };
}

/** One row per tensor, then one per gate block; for trajectories the last epoch and any epoch that differs. */
function rowsOf(r: DiffReport): DiffRow[] {
  const epochs = r.tensors.map((t) => EPOCH.exec(t.name)).filter((m) => m).map((m) => Number(m![1]));
  const last = epochs.length ? Math.max(...epochs) : undefined;
  const rows: DiffRow[] = [];
  for (const t of r.tensors) {
    const e = EPOCH.exec(t.name);
    if (e && Number(e[1]) !== last && !t.exceeds) continue;
    rows.push({ name: t.name, shape: t.shapeA, maxAbs: t.maxAbs, relError: t.relErr, ok: !t.exceeds });
    const G = t.gates?.length ?? 0;
    for (const g of t.gates ?? []) {
      rows.push({ name: `${t.name} [${g.gate}]`, shape: [t.shapeA[0] / G, ...t.shapeA.slice(1)], maxAbs: g.maxAbs, relError: g.relErr, ok: g.relErr <= r.rtol });
    }
  }
  return rows;
}

/**
 * The tensor for the heatmap, among those of equal shape on both sides: one that differs beyond rtol
 * before one that does not, a matrix before a vector (a vector makes a one-pixel-wide map), then the
 * largest relative error.
 */
function worstComparable(r: DiffReport): TensorDiff | undefined {
  const rank = (t: TensorDiff): [number, number, number] => [t.exceeds ? 1 : 0, t.shapeA.length >= 2 ? 1 : 0, t.relErr];
  const before = (x: TensorDiff, y: TensorDiff): boolean => {
    const [a, b] = [rank(x), rank(y)];
    const k = a.findIndex((v, i) => v !== b[i]);
    return k >= 0 && a[k] > b[k];
  };
  let worst: TensorDiff | undefined;
  for (const t of r.tensors) if (Number.isFinite(t.relErr) && (!worst || before(t, worst))) worst = t;
  return worst;
}

const exp = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));

function verdictOf(r: DiffReport, left: string, right: string): string {
  if (!r.differs) {
    const worst = r.tensors.length ? r.tensors.reduce((a, b) => (b.relErr > a.relErr ? b : a)) : undefined;
    return `${left} and ${right} agree: every tensor within relative error ${r.rtol.toExponential(0)}${worst ? ` (worst ${worst.name} ${exp(worst.relErr)})` : ''}.`;
  }
  const parts = r.diagnoses.map((d) => d.message);
  if (r.onlyInA.length) parts.push(`only in ${left} (A): ${r.onlyInA.join(', ')}`);
  if (r.onlyInB.length) parts.push(`only in ${right} (B): ${r.onlyInB.join(', ')}`);
  const explained = new Set(r.diagnoses.flatMap((d) => d.tensors));
  const rest = r.tensors.filter((t) => t.exceeds && !explained.has(t.name));
  if (rest.length) {
    const w = rest.reduce((a, b) => (b.relErr > a.relErr ? b : a));
    parts.push(`${rest.length} ${r.diagnoses.length ? 'other ' : ''}tensor(s) differ beyond ${r.rtol.toExponential(0)}, worst ${w.name} (relative error ${exp(w.relErr)}); no known layout mistake explains ${rest.length === 1 ? 'it' : 'them'}`);
  }
  return `${parts.join('; ')}.`;
}

function heatmapOf(name: string, a: TensorMap, b: TensorMap): NonNullable<DiffViewModel['heatmap']> {
  const ta = a.get(name)!;
  const diff = elementwiseDifference(ta, b.get(name)!);
  const rows = ta.shape[0] ?? 1;
  const cols = rows ? diff.length / rows : 0;
  return { name, rows, cols, data: exactBuffer(Float32Array.from(diff)) };
}

function epochTrajectory(r: DiffReport): Trajectory | undefined {
  const s = epochSeries(r);
  if (!s) return undefined;
  return {
    label: `Relative error per epoch (${s.epochs.length} epochs)`,
    epochs: s.epochs,
    series: s.series.map((x) => ({ name: x.name, values: x.relErr.map((v) => (Number.isNaN(v) ? v : Math.max(v, FLOOR))) })),
  };
}
