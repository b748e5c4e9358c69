// The three small matrix kernels the readable cells are written with. W is row-major [rows, cols].
import type { FloatArray } from '../tensor';

/** out = W v + bias (bias optional). */
export function affine(out: FloatArray, W: FloatArray, rows: number, cols: number, v: FloatArray, bias: FloatArray | null): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += W[base + c] * v[c];
    out[r] = bias ? s + bias[r] : s;
  }
}

/** out += Wᵀ d  (the gradient of W v with respect to v). */
export function addTransposedProduct(out: FloatArray, W: FloatArray, rows: number, cols: number, d: FloatArray): void {
  for (let r = 0; r < rows; r++) {
    const dr = d[r];
    if (dr === 0) continue;
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c] += W[base + c] * dr;
  }
}

/** dW += d vᵀ  (the gradient of W v with respect to W). */
export function addOuterProduct(dW: FloatArray, rows: number, cols: number, d: FloatArray, v: FloatArray): void {
  for (let r = 0; r < rows; r++) {
    const dr = d[r];
    if (dr === 0) continue;
    const base = r * cols;
    for (let c = 0; c < cols; c++) dW[base + c] += dr * v[c];
  }
}

export function addInto(out: FloatArray, d: FloatArray): void {
  for (let i = 0; i < d.length; i++) out[i] += d[i];
}
