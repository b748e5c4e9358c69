// safetensors: 8-byte little-endian header length, a JSON header, then raw little-endian tensor bytes.
import { type DType, type TensorData, type TensorMap, numel, formatShape } from '../tensor';

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

export class FormatError extends Error {}

export interface SafetensorsFile {
  readonly tensors: TensorMap;
  readonly metadata: Record<string, string>;
}

/** A typed array over a copy of the bytes (copying also fixes alignment). */
export function typedArrayOf(dtype: DType, bytes: Uint8Array): TensorData {
  // Not bytes.slice(): on a Node Buffer that is a view of the same memory, not a copy.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const buf = copy.buffer;
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

export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  if (bytes.length < 8) throw new FormatError(`${source}: too short to be a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.length - 8) throw new FormatError(`${source}: not a safetensors file (header length ${headerLen} exceeds the file size)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw new FormatError(`${source}: header is not valid JSON (not a safetensors file?)`);
  }
  const dataStart = 8 + headerLen;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  const entries = Object.entries(header).filter(([name]) => name !== '__metadata__');
  // Keep the file's byte order, which is how writers lay tensors out.
  entries.sort((a, b) => offsetsOf(a[1])[0] - offsetsOf(b[1])[0]);
  for (const [name, info] of entries) {
    const { dtype: code, shape } = info as { dtype: string; shape: number[] };
    const dtype = DTYPE_OF_CODE[code];
    if (!dtype) throw new FormatError(`${source}: tensor "${name}" has unsupported dtype ${code}`);
    const [begin, end] = offsetsOf(info);
    const expected = numel(shape) * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expected || dataStart + end > bytes.length) {
      throw new FormatError(`${source}: tensor "${name}" ${formatShape(shape)} ${code} has a bad byte range`);
    }
    tensors.set(name, { dtype, shape, data: typedArrayOf(dtype, bytes.subarray(dataStart + begin, dataStart + end)) });
  }
  if (header.__metadata__ && typeof header.__metadata__ === 'object') {
    metadata = header.__metadata__ as Record<string, string>;
  }
  return { tensors, metadata };
}

function offsetsOf(info: unknown): [number, number] {
  const o = (info as { data_offsets?: [number, number] }).data_offsets;
  if (!Array.isArray(o) || o.length !== 2) throw new FormatError('safetensors: tensor entry without data_offsets');
  return o;
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
