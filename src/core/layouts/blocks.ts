// Gate-block arithmetic shared by every layout converter: transposes, row-block permutations and
// splits/concatenations of the stacked gate matrices. Pure functions on dense row-major tensors.
import { type FloatDType, type FloatTensor, type Tensor, formatShape, toFloat, floatArray, numel } from '../tensor';
import { FormatError } from '../formats/safetensors';

export function asFloat(t: Tensor, dtype: FloatDType): FloatTensor {
  return toFloat(t, dtype);
}

/** The dtype a set of imported tensors should keep: float64 if any is, else float32. */
export function commonFloatDType(tensors: Iterable<Tensor>): FloatDType {
  for (const t of tensors) if (t.dtype === 'float64') return 'float64';
  return 'float32';
}

export function transpose2d(t: FloatTensor): FloatTensor {
  if (t.shape.length !== 2) throw new FormatError(`transpose: expected a matrix, got ${formatShape(t.shape)}`);
  const [r, c] = t.shape;
  const out = floatArray(t.dtype, r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { dtype: t.dtype, shape: [c, r], data: out };
}

/**
 * Reorders the `blocks` equal row blocks of the first axis: output block k = input block order[k].
 * Works for matrices [G*H, in] and vectors [G*H].
 */
export function permuteRowBlocks(t: FloatTensor, order: readonly number[]): FloatTensor {
  const blocks = order.length;
  const rows = t.shape[0];
  if (rows % blocks !== 0) throw new FormatError(`cannot split ${formatShape(t.shape)} into ${blocks} gate blocks`);
  const blockLen = (rows / blocks) * (numel(t.shape) / rows);
  const out = floatArray(t.dtype, t.data.length);
  order.forEach((src, k) => out.set(t.data.subarray(src * blockLen, (src + 1) * blockLen), k * blockLen));
  return { dtype: t.dtype, shape: [...t.shape], data: out };
}

/** Splits the first axis into n equal parts (e.g. ONNX B = [Wb ‖ Rb]). */
export function splitRows(t: FloatTensor, n: number): FloatTensor[] {
  const rows = t.shape[0];
  if (rows % n !== 0) throw new FormatError(`cannot split ${formatShape(t.shape)} into ${n} parts`);
  const part = numel(t.shape) / n;
  return Array.from({ length: n }, (_, k) => ({
    dtype: t.dtype, shape: [rows / n, ...t.shape.slice(1)], data: t.data.slice(k * part, (k + 1) * part),
  }));
}

/** Concatenates along the first axis. */
export function concatRows(parts: readonly FloatTensor[]): FloatTensor {
  const dtype = parts[0].dtype;
  const total = parts.reduce((s, p) => s + p.data.length, 0);
  const out = floatArray(dtype, total);
  let off = 0;
  for (const p of parts) { out.set(p.data, off); off += p.data.length; }
  return { dtype, shape: [parts.reduce((s, p) => s + p.shape[0], 0), ...parts[0].shape.slice(1)], data: out };
}

/** The sub-tensor at index i of the first axis (e.g. one direction of ONNX W [D, G*H, in]). */
export function indexFirst(t: FloatTensor, i: number): FloatTensor {
  const part = numel(t.shape) / t.shape[0];
  return { dtype: t.dtype, shape: t.shape.slice(1), data: t.data.slice(i * part, (i + 1) * part) };
}

export function stackFirst(parts: readonly FloatTensor[]): FloatTensor {
  const c = concatRows(parts.map((p) => ({ ...p, shape: [1, ...p.shape] })));
  return c;
}

export function zerosLike(t: FloatTensor): FloatTensor {
  return { dtype: t.dtype, shape: [...t.shape], data: floatArray(t.dtype, t.data.length) };
}

export function reshape(t: FloatTensor, shape: readonly number[]): FloatTensor {
  if (numel(shape) !== t.data.length) throw new FormatError(`cannot reshape ${formatShape(t.shape)} to ${formatShape(shape)}`);
  return { dtype: t.dtype, shape: [...shape], data: t.data };
}

/** Position of each canonical gate in a foreign order: canonical block k = foreign block order[k]. */
export function gateOrder(canonical: readonly string[], foreign: readonly string[]): number[] {
  return canonical.map((g) => {
    const i = foreign.indexOf(g);
    if (i < 0) throw new FormatError(`gate "${g}" missing from order ${foreign.join(',')}`);
    return i;
  });
}

/** The inverse permutation (canonical → foreign). */
export function invertOrder(order: readonly number[]): number[] {
  const inv = new Array<number>(order.length);
  order.forEach((src, k) => { inv[src] = k; });
  return inv;
}
