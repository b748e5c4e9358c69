// The diff view's model, built from core/diff's equivalence report (the one `gatescope diff` prints):
// the verdict for a learner (EQUIVALENT / DIFFERENT, which side to change and how, in that side's own
// names; why differently spelled files still agree; what only one side holds), a row per compared
// quantity and per gate block, the worst matrix's elementwise difference with its gate blocks for the
// heatmap, and per-epoch (or per-step) series for the chart. Pure: no vscode, no DOM.
import { type ComparedTensor, type ModelDiffReport, type SideInfo, compareModels } from '../../core/diff/equivalence';
import { epochSeries } from '../../core/diff/diff';
import { transposeFlat, values } from '../../core/diff/metrics';
import { verdictText } from '../../core/diff/verdict';
import type { Tensor, TensorMap } from '../../core/tensor';
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
  /** What each file records beyond its tensors (src/node/compareFiles.ts reads it); default: a state_dict's. */
  readonly leftInfo?: SideInfo;
  readonly rightInfo?: SideInfo;
  /** Largest relative error ‖a−b‖/‖a‖ counted as equal; default: core's (1e-12 float64, else 1e-5). */
  readonly rtol?: number;
  /** Tensors only one side holds make the verdict DIFFERENT too (as `gatescope diff --strict`). */
  readonly strict?: boolean;
  /** Notes to show after the report's own (each side's import notes). */
  readonly notes?: readonly string[];
  /** Series for the chart; trajectory files (epoch{e}.<name>) get theirs from the report. */
  readonly trajectory?: Trajectory;
}

const SNAPSHOT = /^([a-z]+)(\d+)\./;
/** Log-scale charts cannot show 0. */
const FLOOR = 1e-18;

export function diffView(input: DiffViewInput): DiffViewModel {
  const label = (side: 'A' | 'B', info: SideInfo | undefined, name: string): SideInfo => ({ ...info, label: info?.label ?? `file ${side} (${name})` });
  const infoA = label('A', input.leftInfo, input.leftLabel);
  const infoB = label('B', input.rightInfo, input.rightLabel);
  const report = compareModels(input.left, input.right, infoA, infoB, { rtol: input.rtol, strict: input.strict });
  return diffViewOf(report, input, { a: infoA.label!, b: infoB.label! });
}

/** The view of a report already made (e.g. by src/node/compareFiles.ts's compareComparable). */
export function diffViewOf(report: ModelDiffReport, input: Omit<DiffViewInput, 'leftInfo' | 'rightInfo' | 'rtol' | 'strict'>, labels: { readonly a: string; readonly b: string }): DiffViewModel {
  const v = verdictText(report, labels);
  const notes = [...report.notes, ...(input.notes ?? []).filter((n) => !report.notes.includes(n))];
  const heatmap = heatmapOf(report, input.left, input.right);
  const series = input.trajectory ?? epochTrajectory(report);
  return {
    title: input.title, leftLabel: input.leftLabel, rightLabel: input.rightLabel, tolerance: report.rtol,
    verdict: v.headline, ok: !report.differs, status: report.status, structure: report.structure,
    ...(report.architecture ? { architecture: report.architecture } : {}),
    changes: v.changes, why: v.why, notCompared: v.notCompared,
    rows: rowsOf(report), ...(notes.length ? { notes } : {}),
    ...(heatmap ? { heatmap } : {}),
    ...(series ? { trajectory: { label: series.label, epochs: float64Buffer(series.epochs), series: series.series.map((s) => ({ name: s.name, values: float64Buffer(s.values) })) } } : {}),
  };
}

/** A comparison that could not be made: the view shows the message and drops the previous result. */
export function diffErrorView(title: string, leftLabel: string, rightLabel: string, message: string): DiffViewModel {
  return { title, leftLabel, rightLabel, tolerance: 0, verdict: `Compare failed: ${message}`, ok: false, status: 'error', error: message, rows: [] };
}

/** One row per compared quantity, then one per gate block; for snapshot files the last snapshot and any that differs. */
function rowsOf(r: ModelDiffReport): DiffRow[] {
  const indices = r.tensors.map((t) => SNAPSHOT.exec(t.name)).filter((m) => m).map((m) => Number(m![2]));
  const last = indices.length ? Math.max(...indices) : undefined;
  const rows: DiffRow[] = [];
  for (const t of r.tensors) {
    const e = SNAPSHOT.exec(t.name);
    const input = t.role === 'input';
    if (e && r.epochs && Number(e[2]) !== last && !t.exceeds) continue;
    const shapeB = t.shapeA.join() === t.shapeB.join() ? {} : { shapeB: t.shapeB };
    rows.push({
      name: t.name, shape: t.shapeA, ...shapeB, maxAbs: t.maxAbs, relError: t.relErr, ok: !t.exceeds || input,
      ...(input ? { input } : {}), ...(t.derived ? { derived: t.derived } : {}),
    });
    const G = t.gates?.length ?? 0;
    for (const g of t.gates ?? []) {
      rows.push({ name: `${t.name} [${g.gate}]`, shape: [t.shapeA[0] / G, ...t.shapeA.slice(1)], maxAbs: g.maxAbs, relError: g.relErr, ok: g.relErr <= r.rtol, gate: g.gate });
    }
  }
  return rows;
}

/** The two stored matrices behind a compared row (snapshot rows name theirs with the snapshot prefix). */
function storedPair(t: ComparedTensor, a: TensorMap, b: TensorMap): [Tensor, Tensor] | undefined {
  const prefix = SNAPSHOT.exec(t.name)?.[0] ?? '';
  const get = (m: TensorMap, n: string): Tensor | undefined => m.get(prefix + n) ?? m.get(n);
  const ta = get(a, t.nameA);
  const tb = get(b, t.nameB);
  return ta && tb && ta.shape.length === 2 && tb.shape.length === 2 && !t.derived ? [ta, tb] : undefined;
}

/**
 * The matrix for the heatmap: one that differs beyond rtol before one that does not, then the largest
 * relative error; only matrices both files store (a vector makes a one-pixel map). B is read in A's
 * orientation when the file stores it transposed. Gate blocks are marked along the axis of G equal blocks.
 */
function heatmapOf(r: ModelDiffReport, a: TensorMap, b: TensorMap): DiffViewModel['heatmap'] {
  let best: { t: ComparedTensor; pair: [Tensor, Tensor] } | undefined;
  for (const t of r.tensors) {
    if (t.role === 'input') continue;
    const pair = storedPair(t, a, b);
    if (!pair) continue;
    const [ta, tb] = pair;
    const same = ta.shape.join() === tb.shape.join();
    const transposed = ta.shape[0] === tb.shape[1] && ta.shape[1] === tb.shape[0];
    if (!same && !transposed) continue;
    const err = Number.isFinite(t.relErr) ? t.relErr : 0;
    const key = (x: ComparedTensor): [number, number] => [x.exceeds ? 1 : 0, Number.isFinite(x.relErr) ? x.relErr : 0];
    if (!best || key(t)[0] > key(best.t)[0] || (key(t)[0] === key(best.t)[0] && err > key(best.t)[1])) best = { t, pair };
  }
  if (!best) return undefined;
  const [ta, tb] = best.pair;
  const [rows, cols] = ta.shape;
  const va = values(ta);
  const vb = ta.shape.join() === tb.shape.join() ? values(tb) : transposeFlat(values(tb), tb.shape[0], tb.shape[1]);
  const diff = Float32Array.from(vb, (x, i) => x - va[i]);
  const gates = best.t.gates?.map((g) => g.gate);
  const G = gates?.length ?? 0;
  const gateAxis = G > 1 ? (rows % G === 0 ? 'rows' : cols % G === 0 ? 'cols' : undefined) : undefined;
  return { name: best.t.name, rows, cols, data: exactBuffer(diff), ...(gates && gateAxis ? { gates, gateAxis } : {}) };
}

function epochTrajectory(r: ModelDiffReport): Trajectory | undefined {
  const s = epochSeries(r);
  if (!s) return undefined;
  const label = r.epochs?.[0]?.label ?? 'epoch';
  return {
    label: `Relative error per ${label} (${s.epochs.length} ${label}s)`,
    epochs: s.epochs,
    series: s.series.map((x) => ({ name: x.name, values: x.relErr.map((v) => (Number.isNaN(v) ? v : Math.max(v, FLOOR))) })),
  };
}
