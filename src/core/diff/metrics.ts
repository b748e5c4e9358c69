// Relative errors between tensors, whole and per gate block, and the gate naming of a parameter name.
import { type Tensor, shapeEquals, toNumbers } from '../tensor';
import { GATES, type RnnModule } from '../config';

export function values(t: Tensor): Float64Array {
  return t.data instanceof Float64Array ? t.data : Float64Array.from(toNumbers(t));
}

/** ‖a − b‖ / ‖a‖ (‖a − b‖ when a is zero, so equal zero tensors give 0). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += a[i] * a[i];
  }
  if (Number.isNaN(num)) return Infinity;
  return den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Parameter kind and layer of a recurrent parameter name (any prefix). */
export function recurrentParam(name: string): { prefix: string; kind: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh'; suffix: string } | undefined {
  const m = /^(.*?)(weight_ih|weight_hh|bias_ih|bias_hh)(_l\d+(?:_reverse)?)$/.exec(name);
  return m ? { prefix: m[1], kind: m[2] as 'weight_ih', suffix: m[3] } : undefined;
}

/** Gate letters of a stacked parameter from its shape and its weight_hh sibling ([G*H, H]). */
export function gateLayout(rows: number, hidden: number | undefined): { module: RnnModule; gates: readonly string[] } | undefined {
  if (!hidden || rows % hidden !== 0) return undefined;
  const g = rows / hidden;
  if (g === 4) return { module: 'LSTM', gates: GATES.LSTM };
  if (g === 3) return { module: 'GRU', gates: GATES.GRU };
  return undefined;
}

/** The transpose of a row-major [r, c] matrix given as flat values. */
export function transposeFlat(v: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = v[i * c + j];
  return out;
}

/** Row block k of a [G*H, ...] or [G*H] tensor as a flat slice. */
export function block(v: Float64Array, blocks: number, k: number): Float64Array {
  const len = v.length / blocks;
  return v.subarray(k * len, (k + 1) * len);
}

export function sameShape(a: Tensor, b: Tensor): boolean {
  return shapeEquals(a.shape, b.shape);
}

/** b − a elementwise (same shapes), e.g. for a heatmap of where two tensors differ. */
export function elementwiseDifference(a: Tensor, b: Tensor): Float64Array {
  if (!sameShape(a, b)) throw new RangeError('elementwiseDifference needs tensors of the same shape');
  const va = values(a);
  const vb = values(b);
  return vb.map((v, i) => v - va[i]);
}
