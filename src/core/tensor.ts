// Minimal dense tensors: a dtype, a shape and a flat row-major typed array. No autograd here;
// gradients are computed explicitly by the recurrent core.

export type FloatDType = 'float32' | 'float64';
export type DType = FloatDType | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export type FloatArray = Float32Array | Float64Array;
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export interface FloatTensor extends Tensor {
  readonly dtype: FloatDType;
  readonly data: FloatArray;
}

/** Named tensors, e.g. a state_dict with PyTorch names. Insertion order is kept. */
export type TensorMap = Map<string, Tensor>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function floatArray(dtype: FloatDType, length: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
}

export function zeros(dtype: FloatDType, shape: readonly number[]): FloatTensor {
  return { dtype, shape: [...shape], data: floatArray(dtype, numel(shape)) };
}

export function fromArray(dtype: FloatDType, shape: readonly number[], values: ArrayLike<number>): FloatTensor {
  if (values.length !== numel(shape)) {
    throw new Error(`fromArray: ${values.length} values do not fill shape [${shape.join(', ')}]`);
  }
  const data = floatArray(dtype, values.length);
  data.set(values);
  return { dtype, shape: [...shape], data };
}

export function isFloat(t: Tensor): t is FloatTensor {
  return t.dtype === 'float32' || t.dtype === 'float64';
}

/** The tensor converted to the given float dtype (a copy unless it already is). */
export function toFloat(t: Tensor, dtype: FloatDType): FloatTensor {
  if (t.dtype === dtype) return t as FloatTensor;
  const out = floatArray(dtype, t.data.length);
  if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  } else if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const src = t.data as Uint16Array;
    const decode = t.dtype === 'float16' ? halfToFloat : bfloat16ToFloat;
    for (let i = 0; i < out.length; i++) out[i] = decode(src[i]);
  } else {
    out.set(t.data as ArrayLike<number>);
  }
  return { dtype, shape: [...t.shape], data: out };
}

/** Plain numbers of an integer or float tensor (int64 beyond 2^53 loses precision, as in JS). */
export function toNumbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function shapeEquals(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

export function bfloat16ToFloat(b: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, b << 16, true);
  return buf.getFloat32(0, true);
}
