// Loss-curve helpers shared by the host and the dashboard webview: smoothing and decimation.
// Pure functions over plain arrays; no DOM, no vscode.

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
