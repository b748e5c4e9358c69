// What each webview remembers across hide/reload (vscode.getState/setState) and what the panel
// serializer gets back after a window reload. Parsing never throws: bad or old state becomes defaults.
import { isTensorSelector, type DiffViewModel, type RunStatus, type RunSummary, type SampleAtTemperature, type TensorSelector, type ViewKind } from '../../protocol/webview';

export type UnitSort = 'index' | 'mean' | 'variance' | 'max';
export const UNIT_SORTS: readonly UnitSort[] = ['index', 'mean', 'variance', 'max'];

export type LossUnit = 'nats' | 'bits';
export type SaturationMode = 'either' | 'low' | 'high';

export interface DashboardViewState {
  readonly view: 'dashboard';
  readonly smoothing: number; // EMA weight in [0, 0.99]
  readonly logScale: boolean;
  /** The loss chart's unit: nats, or bits (per char/word/example). */
  readonly lossUnit?: LossUnit;
  /** Which saturated gates the saturation chart plots: below 0.1, above 0.9, or either. */
  readonly saturation?: SaturationMode;
  /** The run last shown (its checkpointPath is where its history is read back after a window reload). */
  readonly run?: RunSummary;
  /** Its samples: the checkpoint does not keep them. */
  readonly samples?: readonly SampleAtTemperature[];
}

export interface TraceViewState {
  readonly view: 'trace';
  readonly traceId?: string;
  readonly selector: TensorSelector;
  readonly position: number; // first visible timestep
  readonly unit: number | null;
  readonly sort: UnitSort;
  readonly filter: string;
  readonly threshold: number;
  /** How c (unbounded) is coloured: one scale for the trace, one per unit, or the visible window's (default trace). */
  readonly colourScale?: ColourScale;
}

export type ColourScale = 'trace' | 'unit' | 'window';
export const COLOUR_SCALES: readonly ColourScale[] = ['trace', 'unit', 'window'];

export interface DiffViewState {
  readonly view: 'diff';
  /** The last report without its buffers (state is JSON), shown again after a reload. */
  readonly report?: Omit<DiffViewModel, 'heatmap' | 'trajectory'>;
}

export type ViewState = DashboardViewState | TraceViewState | DiffViewState;

export function defaultViewState(view: ViewKind): ViewState {
  switch (view) {
    case 'dashboard': return { view, smoothing: 0.6, logScale: false };
    case 'trace': return { view, selector: { layer: 0, direction: 0, tensor: 'c' }, position: 0, unit: null, sort: 'index', filter: '', threshold: 0.3 };
    case 'diff': return { view };
  }
}

const num = (v: unknown, lo: number, hi: number, dflt: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? Math.max(lo, Math.min(hi, v)) : dflt;

export function parseViewState(view: ViewKind, raw: unknown): ViewState {
  const d = defaultViewState(view);
  if (typeof raw !== 'object' || raw === null || (raw as { view?: unknown }).view !== view) return d;
  const o = raw as Record<string, unknown>;
  switch (d.view) {
    case 'dashboard': {
      const run = parseRunSummary(o.run);
      const samples = Array.isArray(o.samples) ? o.samples.filter(isSample) : [];
      return {
        view: 'dashboard', smoothing: num(o.smoothing, 0, 0.99, d.smoothing), logScale: typeof o.logScale === 'boolean' ? o.logScale : d.logScale,
        ...(o.lossUnit === 'bits' || o.lossUnit === 'nats' ? { lossUnit: o.lossUnit } : {}),
        ...(o.saturation === 'either' || o.saturation === 'low' || o.saturation === 'high' ? { saturation: o.saturation } : {}),
        ...(run ? { run } : {}),
        ...(run && samples.length ? { samples } : {}),
      };
    }
    case 'trace':
      return {
        view: 'trace',
        ...(typeof o.traceId === 'string' ? { traceId: o.traceId } : {}),
        selector: isTensorSelector(o.selector) ? o.selector : d.selector,
        position: Math.floor(num(o.position, 0, Number.MAX_SAFE_INTEGER, 0)),
        unit: typeof o.unit === 'number' && Number.isInteger(o.unit) && o.unit >= 0 ? o.unit : null,
        sort: UNIT_SORTS.includes(o.sort as UnitSort) ? (o.sort as UnitSort) : d.sort,
        filter: typeof o.filter === 'string' ? o.filter : '',
        threshold: num(o.threshold, -1e6, 1e6, d.threshold),
        ...(COLOUR_SCALES.includes(o.colourScale as ColourScale) ? { colourScale: o.colourScale as ColourScale } : {}),
      };
    case 'diff': {
      const r = o.report as Record<string, unknown> | undefined;
      const valid = typeof r === 'object' && r !== null && typeof r.verdict === 'string' && typeof r.title === 'string' && Array.isArray(r.rows);
      return valid ? { view: 'diff', report: r as unknown as Omit<DiffViewModel, 'heatmap' | 'trajectory'> } : d;
    }
  }
}

const RUN_STATUSES: readonly RunStatus[] = ['training', 'done', 'cancelled', 'failed'];
const str = (v: unknown): v is string => typeof v === 'string';

/** A run summary kept in webview state, or undefined when it is missing or malformed. */
export function parseRunSummary(raw: unknown): RunSummary | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (!str(r.runId) || !str(r.label) || !RUN_STATUSES.includes(r.status as RunStatus)) return undefined;
  const totalSteps = typeof r.totalSteps === 'number' && Number.isInteger(r.totalSteps) && r.totalSteps >= 0 ? r.totalSteps : 0;
  return {
    runId: r.runId, label: r.label, status: r.status as RunStatus, totalSteps,
    ...(r.external === true ? { external: true } : {}),
    ...(r.external === true && str(r.runDir) && r.runDir ? { runDir: r.runDir } : {}),
    ...(str(r.engine) ? { engine: r.engine } : {}),
    ...(str(r.checkpointPath) && r.checkpointPath ? { checkpointPath: r.checkpointPath } : {}),
    ...(str(r.error) ? { error: r.error } : {}),
    ...(r.task === 'lm' || r.task === 'classify' ? { task: r.task } : {}),
    ...(str(r.model) ? { model: r.model } : {}),
    ...(Array.isArray(r.classes) && r.classes.every(str) ? { classes: r.classes } : {}),
    ...(r.tokenLevel === 'char' || r.tokenLevel === 'word' ? { tokenLevel: r.tokenLevel } : {}),
    ...(count(r.evalEvery) ? { evalEvery: r.evalEvery } : {}),
    ...(count(r.sampleEvery) ? { sampleEvery: r.sampleEvery } : {}),
    ...(typeof r.clip === 'number' && Number.isFinite(r.clip) && r.clip > 0 ? { clip: r.clip } : {}),
  };
}

const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function isSample(x: unknown): x is SampleAtTemperature {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  return typeof s.step === 'number' && typeof s.temperature === 'number' && str(s.text);
}

/**
 * A unit filter typed by the user: "" (all), "3,7,10-20" (ids and ranges). Returns null for all units;
 * throws with a readable message on bad syntax.
 */
export function parseUnitFilter(text: string, hiddenSize: number): Set<number> | null {
  const t = text.trim();
  if (!t) return null;
  const out = new Set<number>();
  for (const part of t.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a unit id or range (e.g. 3,7,10-20)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`range ${part} is backwards`);
    for (let u = a; u <= Math.min(b, hiddenSize - 1); u++) out.add(u);
  }
  return out;
}

/** Unit order for the heatmap rows by a statistic over the loaded window ([T, H] row-major). */
export function sortUnits(window: ArrayLike<number>, hiddenSize: number, sort: UnitSort): number[] {
  const units = Array.from({ length: hiddenSize }, (_, i) => i);
  if (sort === 'index' || window.length === 0) return units;
  const steps = window.length / hiddenSize;
  const key = new Float64Array(hiddenSize);
  for (let u = 0; u < hiddenSize; u++) {
    let s = 0;
    let s2 = 0;
    let mx = -Infinity;
    for (let t = 0; t < steps; t++) {
      const v = window[t * hiddenSize + u];
      s += v;
      s2 += v * v;
      mx = Math.max(mx, v);
    }
    const m = s / steps;
    key[u] = sort === 'mean' ? m : sort === 'variance' ? s2 / steps - m * m : mx;
  }
  return units.sort((a, b) => key[b] - key[a] || a - b);
}
