// A minimal protobuf wire-format reader: enough to walk ONNX models without generated code.
import { FormatError } from './safetensors';

export interface ProtoField {
  readonly field: number;
  readonly wire: 0 | 1 | 2 | 5;
  /** varint / fixed64 as bigint, fixed32 as number, length-delimited as bytes. */
  readonly value: bigint | number | Uint8Array;
}

export function readVarint(bytes: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= bytes.length) throw new FormatError('protobuf: truncated varint');
    const b = bytes[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7n;
    if (shift > 70n) throw new FormatError('protobuf: varint too long');
  }
}

/** The fields of one message, in file order (repeated fields appear several times). */
export function readMessage(bytes: Uint8Array): ProtoField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ProtoField[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const [key, p1] = readVarint(bytes, pos);
    pos = p1;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new FormatError('protobuf: field number 0');
    switch (wire) {
      case 0: { const [v, p] = readVarint(bytes, pos); pos = p; out.push({ field, wire, value: v }); break; }
      case 1: {
        if (pos + 8 > bytes.length) throw new FormatError('protobuf: truncated fixed64');
        out.push({ field, wire, value: view.getBigUint64(pos, true) }); pos += 8; break;
      }
      case 2: {
        const [len, p] = readVarint(bytes, pos);
        const end = p + Number(len);
        if (len > BigInt(bytes.length - p)) throw new FormatError('protobuf: length-delimited field runs past the end');
        out.push({ field, wire, value: bytes.subarray(p, end) }); pos = end; break;
      }
      case 5: {
        if (pos + 4 > bytes.length) throw new FormatError('protobuf: truncated fixed32');
        out.push({ field, wire, value: view.getUint32(pos, true) }); pos += 4; break;
      }
      default: throw new FormatError(`protobuf: unsupported wire type ${wire} (field ${field})`);
    }
  }
  return out;
}

export function str(v: ProtoField['value']): string {
  if (!(v instanceof Uint8Array)) throw new FormatError('protobuf: a string field holds a number');
  return new TextDecoder().decode(v);
}

/** The bytes of a length-delimited field (a nested message, raw data). */
export function bytesOf(f: ProtoField, what: string): Uint8Array {
  if (!(f.value instanceof Uint8Array)) throw new FormatError(`protobuf: ${what} is not a length-delimited field`);
  return f.value;
}

/** Signed int64 from a varint (two's complement). */
export function int64(v: ProtoField['value']): number {
  if (typeof v !== 'bigint') throw new FormatError('protobuf: an integer field is not a varint');
  return Number(BigInt.asIntN(64, v));
}

/** Repeated int64: packed (bytes) or a single varint. */
export function int64s(f: ProtoField): number[] {
  if (f.value instanceof Uint8Array) {
    const out: number[] = [];
    let pos = 0;
    while (pos < f.value.length) { const [v, p] = readVarint(f.value, pos); pos = p; out.push(Number(BigInt.asIntN(64, v))); }
    return out;
  }
  return [int64(f.value)];
}

export function float32(v: ProtoField['value']): number {
  if (typeof v !== 'number') throw new FormatError('protobuf: a float field is not fixed32');
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, v, true);
  return dv.getFloat32(0, true);
}

/** Repeated float: packed (bytes, a multiple of 4) or a single fixed32. */
export function float32s(f: ProtoField): number[] {
  if (f.value instanceof Uint8Array) {
    if (f.value.length % 4) throw new FormatError('protobuf: packed floats are not a multiple of 4 bytes');
    return [...new Float32Array(new Uint8Array(f.value).buffer)];
  }
  return [float32(f.value)];
}

/** Repeated double: packed (a multiple of 8 bytes) or a single fixed64. */
export function float64s(f: ProtoField): number[] {
  if (f.value instanceof Uint8Array) {
    if (f.value.length % 8) throw new FormatError('protobuf: packed doubles are not a multiple of 8 bytes');
    return [...new Float64Array(new Uint8Array(f.value).buffer)];
  }
  if (typeof f.value !== 'bigint' || f.wire !== 1) throw new FormatError('protobuf: a double field is not fixed64');
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, f.value, true);
  return [dv.getFloat64(0, true)];
}
