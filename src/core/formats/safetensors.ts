// safetensors: 8-byte little-endian header length, a JSON header, then raw little-endian tensor bytes.
import { type DType, type TensorData, type TensorMap, formatShape } from '../tensor';
import { FormatError } from './errors';
import { type LoadLimits, TensorBudget, badShape, checkedNumel, describe, loadLimits } from './limits';

const DTYPE_OF_CODE: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const CODE_OF_DTYPE: Record<DType, string> = Object.fromEntries(
  Object.entries(DTYPE_OF_CODE).map(([code, dtype]) => [dtype, code]),
) as Record<DType, string>;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export { FormatError } from './errors';

export interface SafetensorsFile {
  readonly tensors: TensorMap;
  readonly metadata: Record<string, string>;
}

/** A typed array over a copy of the bytes (copying also fixes alignment). */
export function typedArrayOf(dtype: DType, bytes: Uint8Array): TensorData {
  // Not bytes.slice(): on a Node Buffer that is a view of the same memory, not a copy.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return typedArrayOver(dtype, copy.buffer);
}

/** A typed array over a whole buffer of little-endian elements (no copy). */
export function typedArrayOver(dtype: DType, buf: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'float64': return new Float64Array(buf);
    case 'float32': return new Float32Array(buf);
    case 'float16': case 'bfloat16': return new Uint16Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
  }
}

/** Largest JSON header accepted (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Every entry is checked before any tensor is copied: dtype a known code, shape non-negative integers,
 * data_offsets two integers 0 <= begin <= end inside the data area, matching the shape's byte size, and
 * no two tensors sharing bytes. Metadata values must be strings (the format's rule).
 */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors', limits?: Partial<LoadLimits>): SafetensorsFile {
  const fail = (msg: string): never => { throw new FormatError(`${source}: ${msg}`); };
  if (bytes.length < 8) fail('too short to be a safetensors file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(bytes.length - 8)) fail(`not a safetensors file (header length ${headerLen64} exceeds the file size)`);
  const headerLen = Number(headerLen64);
  if (headerLen > MAX_HEADER_BYTES) fail(`header of ${headerLen} bytes is larger than the format allows (100 MB)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    return fail('header is not valid JSON (not a safetensors file?)');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) return fail('header is not a JSON object (not a safetensors file?)');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const budget = new TensorBudget(source, loadLimits(limits));
  const entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const what = `tensor "${name}"`;
    if (!info || typeof info !== 'object' || Array.isArray(info)) fail(`${what}: entry ${describe(info)} is not an object with dtype, shape and data_offsets`);
    const { dtype: code, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof code !== 'string') fail(`${what}: dtype ${describe(code)} is not a string`);
    const dtype = Object.hasOwn(DTYPE_OF_CODE, code as string) ? DTYPE_OF_CODE[code as string] : undefined;
    if (!dtype) return fail(`${what} has unsupported dtype ${describe(code)}`);
    const shapeProblem = badShape(shape);
    if (shapeProblem) fail(`${what}: ${shapeProblem}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
      return fail(`${what}: data_offsets ${describe(offsets)} are not two non-negative integers`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(`${what}: data_offsets [${begin}, ${end}] run backwards`);
    if (end > dataLen) fail(`${what}: data_offsets [${begin}, ${end}] reach past the end of the file (${dataLen} data bytes; truncated?)`);
    const expected = checkedNumel(shape as number[]) * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expected) {
      fail(`${what} ${formatShape(shape as number[])} ${code} needs ${expected} bytes, its data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype, shape: [...(shape as number[])], begin, end });
  }
  // Keep the file's byte order, which is how writers lay tensors out; no two tensors may share bytes.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const [p, q] = [entries[i - 1], entries[i]];
    if (q.begin < p.end) fail(`tensors "${p.name}" and "${q.name}" overlap (data_offsets [${p.begin}, ${p.end}] and [${q.begin}, ${q.end}])`);
  }
  let metadata: Record<string, string> = {};
  const meta = (header as Record<string, unknown>).__metadata__;
  if (meta !== undefined && meta !== null) {
    if (typeof meta !== 'object' || Array.isArray(meta)) fail('__metadata__ is not an object of strings');
    for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`__metadata__ value of "${k}" is ${describe(v)}, not a string`);
    }
    metadata = { ...(meta as Record<string, string>) };
  }
  const tensors: TensorMap = new Map();
  for (const e of entries) {
    budget.take(e.end - e.begin, `tensor "${e.name}"`);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: typedArrayOf(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end)) });
  }
  return { tensors, metadata };
}

/** Serialises tensors in the given order; metadata values must be strings (the format's rule). */
export function serializeSafetensors(tensors: TensorMap, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const blobs: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: CODE_OF_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + raw.length] };
    offset += raw.length;
    blobs.push(raw);
  }
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}
