// Loss-curve helpers shared by the host and the dashboard webview: smoothing and decimation.
// Pure functions over plain arrays; no DOM, no vscode.
import { gateName, layerLabel } from './formatCount';

export interface XY {
  readonly x: number;
  readonly y: number;
}

/**
 * TensorBoard's debiased exponential moving average: weight 0 returns the input, weight → 1 a flat line.
 * Non-finite values are passed through without disturbing the average.
 */
export function smoothEma(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`smoothing weight must be in [0, 1), got ${weight}`);
  const out = new Array<number>(values.length);
  let last = 0;
  let debias = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    out[i] = last / debias;
  }
  return out;
}

/**
 * Largest-triangle-three-buckets decimation to at most `threshold` points (keeps first and last, keeps
 * the visual shape of spikes). Returns the input when it is already small enough.
 */
export function lttb(points: readonly XY[], threshold: number): XY[] {
  const n = points.length;
  if (threshold >= n || threshold < 3) return points.slice();
  const out: XY[] = [points[0]];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(n, Math.floor((i + 2) * every) + 1);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += points[j].x;
      avgY += points[j].y;
    }
    const count = Math.max(1, nextEnd - nextStart);
    avgX /= count;
    avgY /= count;
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const area = Math.abs((points[a].x - avgX) * (points[j].y - points[a].y) - (points[a].x - points[j].x) * (avgY - points[a].y));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push(points[best]);
    a = best;
  }
  out.push(points[n - 1]);
  return out;
}

/** Zip parallel arrays into points, dropping non-finite values (a log scale cannot show them). */
export function toPoints(xs: ArrayLike<number>, ys: ArrayLike<number>, positiveOnly = false): XY[] {
  const out: XY[] = [];
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const y = ys[i];
    if (Number.isFinite(y) && (!positiveOnly || y > 0)) out.push({ x: xs[i], y });
  }
  return out;
}

/** A growable pair of Float64 arrays for a live series (amortised O(1) append, exact-length views). */
export class SeriesBuilder {
  private xs: Float64Array = new Float64Array(256);
  private ys: Float64Array = new Float64Array(256);
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(x: number, y: number): void {
    if (this.n === this.xs.length) {
      const grow = (a: Float64Array): Float64Array => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.xs = grow(this.xs);
      this.ys = grow(this.ys);
    }
    this.xs[this.n] = x;
    this.ys[this.n] = y;
    this.n++;
  }

  steps(): Float64Array {
    return this.xs.subarray(0, this.n);
  }

  values(): Float64Array {
    return this.ys.subarray(0, this.n);
  }

  first(): number | undefined {
    return this.n > 0 ? this.ys[0] : undefined;
  }

  last(): number | undefined {
    return this.n > 0 ? this.ys[this.n - 1] : undefined;
  }
}

/** A loss in nats (natural log) as bits: per token (char or word) or per example. */
export function natsToBits(nats: number): number {
  return nats / Math.LN2;
}

/** Rounds away float noise (0.30000000000000004 → 0.3) so labels and equality read as written. */
const clean = (v: number): number => Number(v.toPrecision(12));

/**
 * Tick values for a logarithmic axis over [min, max] (both > 0), at most `maxCount`, chosen so labels never
 * collide: powers of ten (every k-th when there are many decades), filled with 2 and 5 when few; within
 * one decade, round values (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) spread evenly on the log axis.
 */
export function logTicks(min: number, max: number, maxCount = 6): number[] {
  if (!(min > 0) || !(max > min) || !Number.isFinite(max) || maxCount < 2) return [];
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const within = (v: number): boolean => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9);
  const withMantissas = (ms: readonly number[], every = 1): number[] => {
    const out: number[] = [];
    for (let e = lo; e <= hi; e++) {
      if ((e - lo) % every !== 0 && ms.length === 1) continue;
      for (const m of ms) {
        const v = clean(m * 10 ** e);
        if (within(v)) out.push(v);
      }
    }
    return out;
  };
  if (Math.log10(max / min) >= 1) {
    for (const ms of [[1, 2, 5], [1, 3], [1]]) {
      const ticks = withMantissas(ms);
      if (ticks.length <= maxCount && ticks.length >= 2) return ticks;
    }
    for (let every = 2; ; every++) {
      const ticks = withMantissas([1], every);
      if (ticks.length <= maxCount) return ticks;
    }
  }
  // Within a decade: round values spread evenly on the log axis (greedy, at least 1/(maxCount-1) of the range apart).
  const gap = Math.log10(max / min) / (maxCount - 1);
  const out: number[] = [];
  for (let e = lo; e <= hi; e++) {
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8]) {
      const v = clean(m * 10 ** e);
      if (within(v) && (!out.length || Math.log10(v / out[out.length - 1]) >= gap * (1 - 1e-9))) out.push(v);
    }
  }
  return out.length >= 2 ? out : [clean(min), clean(max)];
}

/** A gate-saturation series for the dashboard: one per layer, direction and gate. */
export interface SaturationSeries {
  readonly label: string; // "layer 1 · forget gate"
  readonly layer: number;
  readonly reverse: boolean;
  readonly gate: string;
  readonly data: XY[];
}

const SATURATION_GATE_ORDER = ['i', 'f', 'o', 'r', 'z'];

/**
 * The saturation chart's series, grouped by layer (then gate): the fraction of gate activations below 0.1
 * (`low`), above 0.9 (`high`) or either, per evaluation step. One series per gate instead of two.
 */
export function saturationSeries(
  points: readonly { readonly step: number; readonly entries: readonly { readonly layer: number; readonly reverse: boolean; readonly gate: string; readonly low: number; readonly high: number }[] }[],
  mode: 'either' | 'low' | 'high',
): SaturationSeries[] {
  const byKey = new Map<string, SaturationSeries>();
  for (const p of points) {
    for (const e of p.entries) {
      const key = `${e.layer}/${e.reverse ? 1 : 0}/${e.gate}`;
      let s = byKey.get(key);
      if (!s) {
        s = { label: `${layerLabel(e.layer, e.reverse)} · ${gateName(e.gate)}`, layer: e.layer, reverse: e.reverse, gate: e.gate, data: [] };
        byKey.set(key, s);
      }
      s.data.push({ x: p.step, y: mode === 'low' ? e.low : mode === 'high' ? e.high : e.low + e.high });
    }
  }
  const rank = (g: string): number => {
    const k = SATURATION_GATE_ORDER.indexOf(g);
    return k < 0 ? SATURATION_GATE_ORDER.length : k;
  };
  return [...byKey.values()].sort((a, b) => a.layer - b.layer || Number(a.reverse) - Number(b.reverse) || rank(a.gate) - rank(b.gate));
}

/** Timer functions (injectable for tests). */
export interface Timers {
  readonly set: (fn: () => void, ms: number) => unknown;
  readonly clear: (handle: unknown) => void;
}

const REAL_TIMERS: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Coalesces a fast stream (a small model trains ~2000 steps a second) into at most one `send` per
 * `intervalMs`, every item kept, in order. `clear` drops what is pending (e.g. a full history replaces it).
 */
export class Batcher<T> {
  private pending: T[] = [];
  private handle: unknown;

  constructor(private readonly intervalMs: number, private readonly send: (items: T[]) => void, private readonly timers: Timers = REAL_TIMERS) {}

  get size(): number {
    return this.pending.length;
  }

  push(item: T): void {
    this.pending.push(item);
    if (this.handle === undefined) this.handle = this.timers.set(() => this.flush(), this.intervalMs);
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.handle !== undefined) this.timers.clear(this.handle);
    this.handle = undefined;
    if (!this.pending.length) return;
    const items = this.pending;
    this.pending = [];
    this.send(items);
  }

  clear(): void {
    this.pending = [];
  }

  dispose(): void {
    if (this.handle !== undefined) this.timers.clear(this.handle);
    this.handle = undefined;
    this.pending = [];
  }
}
