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
    switch (wire) {
      case 0: { const [v, p] = readVarint(bytes, pos); pos = p; out.push({ field, wire, value: v }); break; }
      case 1: {
        if (pos + 8 > bytes.length) throw new FormatError('protobuf: truncated fixed64');
        out.push({ field, wire, value: view.getBigUint64(pos, true) }); pos += 8; break;
      }
      case 2: {
        const [len, p] = readVarint(bytes, pos);
        const end = p + Number(len);
        if (end > bytes.length) throw new FormatError('protobuf: length-delimited field runs past the end');
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
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v);
}

/** Signed int64 from a varint (two's complement). */
export function int64(v: ProtoField['value']): number {
  const b = BigInt.asIntN(64, v as bigint);
  return Number(b);
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
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, v as number, true);
  return dv.getFloat32(0, true);
}
