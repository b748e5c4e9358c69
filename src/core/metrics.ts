// Comparing tensors: the relative error ‖a − b‖ / ‖a‖ used everywhere (parity tests, diffs, CLI).
import { type Tensor, shapeEquals, toFloat } from './tensor';

/** ‖a − b‖₂ / ‖a‖₂ with a the reference; the absolute error when a is all zeros; Infinity if shapes differ. */
export function relativeError(reference: Tensor, other: Tensor): number {
  if (!shapeEquals(reference.shape, other.shape)) return Infinity;
  const a = toFloat(reference, 'float64').data;
  const b = toFloat(other, 'float64').data;
  let diff = 0, norm = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    diff += d * d;
    norm += a[i] * a[i];
  }
  if (Number.isNaN(diff)) return NaN;
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}
