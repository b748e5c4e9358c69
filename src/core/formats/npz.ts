// NumPy .npy (magic, version, header dict literal, raw data) and .npz (a zip of <name>.npy entries,
// stored or deflated). Handles both byte orders and fortran_order; writes little-endian C-order v1.0.
import { zipSync } from 'fflate';
import { type DType, type Tensor, type TensorData, type TensorMap, numel } from '../tensor';
import { FormatError } from './errors';
import { BYTES_PER_ELEMENT, typedArrayOf } from './safetensors';
import { type LoadLimits, TensorBudget, checkedNumel, loadLimits } from './limits';
import { ZipArchive } from './zip';
import { swapBytes } from './pt';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy type char + size → our dtype; widening conversions for unsigned types we do not have. */
const DESCR: Record<string, { dtype: DType; convert?: 'u16' | 'u32' | 'u64' }> = {
  f8: { dtype: 'float64' }, f4: { dtype: 'float32' }, f2: { dtype: 'float16' },
  i8: { dtype: 'int64' }, i4: { dtype: 'int32' }, i2: { dtype: 'int16' }, i1: { dtype: 'int8' },
  u1: { dtype: 'uint8' }, b1: { dtype: 'bool' },
  u2: { dtype: 'int32', convert: 'u16' }, u4: { dtype: 'int64', convert: 'u32' }, u8: { dtype: 'int64', convert: 'u64' },
};
const DESCR_OF: Partial<Record<DType, string>> = {
  float64: '<f8', float32: '<f4', float16: '<f2', int64: '<i8', int32: '<i4', int16: '<i2', int8: '|i1',
  uint8: '|u1', bool: '|b1',
};

export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && MAGIC.every((b, i) => bytes[i] === b);
}

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** Parses the header's Python dict literal, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } */
function parseHeader(text: string, source: string): NpyHeader {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    if (/'descr'\s*:\s*\[/.test(text)) throw new FormatError(`${source}: structured (record) arrays are not supported`);
    throw new FormatError(`${source}: malformed .npy header ${JSON.stringify(text.trim().slice(0, 120))}`);
  }
  const parts = shapeText.split(',').map((s) => s.trim());
  if (parts.length > 65 || parts.slice(0, -1).some((s) => !s.length)) throw new FormatError(`${source}: malformed .npy shape (${shapeText.slice(0, 60)})`);
  const shape = parts.filter((s) => s.length).map((s) => {
    const n = /^\d+L?$/.test(s) ? Number(s.replace(/L$/, '')) : NaN;
    if (!Number.isSafeInteger(n)) throw new FormatError(`${source}: bad dimension "${s.slice(0, 30)}" in .npy shape`);
    return n;
  });
  return { descr, fortranOrder: fortran === 'True', shape };
}

/** numpy's fixed-width strings: `<U{n}` (UTF-32, n code points) and `|S{n}` (n bytes), NUL-padded. */
const STRING_DESCR = /^([<>=|])([US])(\d{1,6})$/;

export function isStringNpy(bytes: Uint8Array, source = '.npy'): boolean {
  return STRING_DESCR.test(readNpyHeader(bytes, source).header.descr);
}

/**
 * A one-dimensional numpy string array (min-char-rnn's `chars = np.array(chars)`, dtype `<U1`): its
 * elements with the trailing NULs numpy pads them with removed.
 */
export function parseNpyStrings(bytes: Uint8Array, source = '.npy', limits?: Partial<LoadLimits>, budget?: TensorBudget): string[] {
  const { header, dataStart } = readNpyHeader(bytes, source);
  const m = STRING_DESCR.exec(header.descr);
  if (!m) throw new FormatError(`${source}: dtype "${header.descr}" is not a string array`);
  if (header.shape.length > 1) throw new FormatError(`${source}: string array of shape ${JSON.stringify(header.shape)}; only one-dimensional ones are read`);
  const unicode = m[2] === 'U';
  const width = Number(m[3]);
  const itemSize = width * (unicode ? 4 : 1);
  if (itemSize === 0) throw new FormatError(`${source}: string dtype "${header.descr}" has no width`);
  const n = checkedNumel(header.shape);
  if (!(n * itemSize <= bytes.length - dataStart)) throw new FormatError(`${source}: data is shorter than its shape ${JSON.stringify(header.shape)} (truncated?)`);
  (budget ?? new TensorBudget(source, loadLimits(limits))).take(n * itemSize, `string array ${JSON.stringify(header.shape)}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart, n * itemSize);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    for (let j = 0; j < width; j++) {
      const at = i * itemSize + j * (unicode ? 4 : 1);
      const cp = unicode ? view.getUint32(at, m[1] !== '>') : view.getUint8(at);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new FormatError(`${source}: element ${i} holds ${cp}, not a Unicode code point`);
      s += String.fromCodePoint(cp);
    }
    out.push(s.replace(/\0+$/, ''));
  }
  return out;
}

interface NpyLayout {
  readonly header: NpyHeader;
  readonly dataStart: number;
}

function readNpyHeader(bytes: Uint8Array, source: string): NpyLayout {
  if (!isNpy(bytes)) throw new FormatError(`${source}: not a .npy file (magic number missing)`);
  if (bytes.length < 10) throw new FormatError(`${source}: truncated .npy header`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) { headerLen = view.getUint16(8, true); start = 10; }
  else if ((major === 2 || major === 3) && bytes.length >= 12) { headerLen = view.getUint32(8, true); start = 12; }
  else if (major === 2 || major === 3) throw new FormatError(`${source}: truncated .npy header`);
  else throw new FormatError(`${source}: unsupported .npy version ${major}`);
  if (start + headerLen > bytes.length) throw new FormatError(`${source}: .npy header of ${headerLen} bytes runs past the end of the file (truncated?)`);
  const header = parseHeader(new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen)), source);
  return { header, dataStart: start + headerLen };
}

export function parseNpy(bytes: Uint8Array, source = '.npy', limits?: Partial<LoadLimits>, budget?: TensorBudget): Tensor {
  const { header, dataStart } = readNpyHeader(bytes, source);
  const order = header.descr[0];
  const code = header.descr.slice(1);
  const kind = Object.hasOwn(DESCR, code) ? DESCR[code] : undefined;
  if (!kind || !'<>|='.includes(order)) {
    const hint = /^.O$/.test(header.descr) ? ' (object arrays need pickle, which is never loaded)'
      : STRING_DESCR.test(header.descr) ? ' (a string array, not a tensor)' : '';
    throw new FormatError(`${source}: unsupported dtype "${header.descr}"${hint} (float16/32/64, int8–64, uint8–64 and bool are supported)`);
  }
  const itemSize = Number(code.slice(1));
  const n = checkedNumel(header.shape);
  if (!(n * itemSize <= bytes.length - dataStart)) throw new FormatError(`${source}: data is shorter than its shape ${JSON.stringify(header.shape)} (truncated?)`);
  const nbytes = n * itemSize;
  (budget ?? new TensorBudget(source, loadLimits(limits))).take(kind.convert ? n * BYTES_PER_ELEMENT[kind.dtype] : nbytes, `array ${JSON.stringify(header.shape)}`);
  // A real copy (Buffer.slice would be a view): byte swapping happens in place.
  const raw = new Uint8Array(bytes.subarray(dataStart, dataStart + nbytes));
  if (order === '>' && itemSize > 1) swapBytes(raw, itemSize);
  let data: TensorData = kind.convert ? widenUnsigned(raw, kind.convert, source) : typedArrayOf(kind.dtype, raw);
  if (header.fortranOrder && header.shape.length > 1) data = fortranToC(data, header.shape);
  return { dtype: kind.dtype, shape: header.shape, data };
}

function widenUnsigned(raw: Uint8Array, kind: 'u16' | 'u32' | 'u64', source: string): TensorData {
  const buf = raw.buffer;
  if (kind === 'u16') return Int32Array.from(new Uint16Array(buf));
  if (kind === 'u32') return BigInt64Array.from(new Uint32Array(buf), (v) => BigInt(v));
  const u = new BigUint64Array(buf);
  if (u.some((v) => v >= 1n << 63n)) throw new FormatError(`${source}: uint64 values beyond int64 range`);
  return new BigInt64Array(buf);
}

/** Column-major element order → row-major. */
function fortranToC(data: TensorData, shape: number[]): TensorData {
  const n = data.length;
  const out = new (data.constructor as new (n: number) => TensorData)(n);
  const cStride = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) { cStride[d] = s; s *= shape[d]; }
  const idx = new Array<number>(shape.length).fill(0);
  // Walk the source in Fortran order (first index fastest).
  for (let i = 0; i < n; i++) {
    let dst = 0;
    for (let d = 0; d < shape.length; d++) dst += idx[d] * cStride[d];
    (out as unknown as unknown[])[dst] = (data as unknown as unknown[])[i];
    for (let d = 0; d < shape.length; d++) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

export function parseNpz(bytes: Uint8Array, source = '.npz', limits?: Partial<LoadLimits>): TensorMap {
  return npzEntries(ZipArchive.open(bytes, source, limits), source);
}

/**
 * The arrays of an .npz archive (pickled object arrays are refused: .npy entries only, never pickle).
 * String arrays are not tensors: they go to `strings` when given, else they are refused.
 */
export function npzEntries(zip: ZipArchive, source = '.npz', strings?: Map<string, string[]>): TensorMap {
  const out: TensorMap = new Map();
  const budget = new TensorBudget(source, zip.limits);
  let any = false;
  for (const name of zip.names) {
    if (!name.endsWith('.npy')) continue;
    const bytes = zip.read(name)!;
    const what = `${source}:${name}`;
    any = true;
    if (strings && isStringNpy(bytes, what)) strings.set(name.slice(0, -4), parseNpyStrings(bytes, what, zip.limits, budget));
    else out.set(name.slice(0, -4), parseNpy(bytes, what, zip.limits, budget));
  }
  if (!any) throw new FormatError(`${source}: zip archive without .npy entries (not an .npz file)`);
  if (!out.size) throw new FormatError(`${source}: holds only string arrays (${[...strings!.keys()].join(', ')}), no tensors`);
  return out;
}

export function serializeNpy(t: Tensor): Uint8Array {
  const descr = DESCR_OF[t.dtype];
  if (!descr) throw new FormatError(`.npy: cannot write dtype ${t.dtype}`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, numel(t.shape) * BYTES_PER_ELEMENT[t.dtype]);
  const out = new Uint8Array(10 + header.length + raw.length);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(raw, 10 + header.length);
  return out;
}

/** A one-dimensional numpy string array (`<U{n}`, UTF-32 little-endian, NUL-padded), as np.array(list_of_str) saves. */
export function serializeNpyStrings(values: readonly string[]): Uint8Array {
  const points = values.map((v) => [...v].map((c) => c.codePointAt(0)!));
  const width = Math.max(1, ...points.map((p) => p.length));
  let header = `{'descr': '<U${width}', 'fortran_order': False, 'shape': (${values.length},), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + values.length * width * 4);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  points.forEach((p, i) => p.forEach((cp, j) => view.setUint32(10 + header.length + (i * width + j) * 4, cp, true)));
  return out;
}

/** An uncompressed .npz, as numpy.savez writes; `strings`: string arrays saved beside the tensors. */
export function serializeNpz(tensors: TensorMap, strings: Readonly<Record<string, readonly string[]>> = {}): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const [name, t] of tensors) files[`${name}.npy`] = [serializeNpy(t), { level: 0 }];
  for (const [name, v] of Object.entries(strings)) files[`${name}.npy`] = [serializeNpyStrings(v), { level: 0 }];
  return zipSync(files);
}
