// Builders for hostile and broken model files, used by the fuzz tests (fuzz-*.test.ts): a pickle
// assembler, torch.save archives (zip and legacy), safetensors / .npy with any header, a raw zip writer
// that can lie (sizes, CRCs, overlapping members, ZIP64), a deflate stream of any length in a few bytes
// per 258, a protobuf writer for ONNX, and the corpus itself: every category of issue 14, each file
// with what reading it must give. Everything is generated in memory, deterministically.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import { crc32 } from '../../src/core/formats/zip';
import { serializeSafetensors } from '../../src/core/formats/safetensors';
import { serializeCheckpoint } from '../../src/core/checkpoint';
import { buildVocabulary } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { FIXTURE_ROOT } from '../fixtures';

export const FORMATS = resolve(__dirname, '../fixtures/formats');
export const fixture = (rel: string): Uint8Array => new Uint8Array(readFileSync(join(FORMATS, rel)));
export const torchFixture = (rel: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURE_ROOT, rel)));

const enc = new TextEncoder();
const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const u16 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff);
const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); return b; };
const u64 = (v: number | bigint): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true); return b; };
const f32 = (values: readonly number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

// ------------------------------------------------------------------------------------------- pickle

/** A pickle assembler (protocol 2 opcodes, plus the text ones where a test needs them). */
export class Pickle {
  private readonly out: number[] = [];
  private memo = 0;
  op(...bytes: number[]): this { for (const b of bytes) this.out.push(b); return this; }
  bytes(b: Uint8Array): this { for (const x of b) this.out.push(x); return this; }
  proto(): this { return this.op(0x80, 2); }
  mark(): this { return this.op(0x28); }
  stop(): this { return this.op(0x2e); }
  pop(): this { return this.op(0x30); }
  none(): this { return this.op(0x4e); }
  bool(v: boolean): this { return this.op(v ? 0x88 : 0x89); }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a).bytes(u32(n));
    const b = u64(n);
    return this.op(0x8a, 8).bytes(b); // LONG1
  }
  str(s: string): this { const b = enc.encode(s); return this.op(0x58).bytes(u32(b.length)).bytes(b); }
  global(module: string, name: string): this { return this.op(0x63).bytes(enc.encode(`${module}\n${name}\n`)); }
  tuple(n: number): this { return n === 0 ? this.op(0x29) : n === 1 ? this.op(0x85) : n === 2 ? this.op(0x86) : n === 3 ? this.op(0x87) : this.op(0x74); }
  tupleMarked(): this { return this.op(0x74); }
  emptyTuple(): this { return this.op(0x29); }
  emptyList(): this { return this.op(0x5d); }
  emptyDict(): this { return this.op(0x7d); }
  append(): this { return this.op(0x61); }
  appends(): this { return this.op(0x65); }
  setitem(): this { return this.op(0x73); }
  setitems(): this { return this.op(0x75); }
  reduce(): this { return this.op(0x52); }
  build(): this { return this.op(0x62); }
  persid(): this { return this.op(0x51); }
  /** BINPUT / LONG_BINPUT of the next memo slot; returns the slot. */
  put(): number { const k = this.memo++; if (k < 256) this.op(0x71, k); else this.op(0x72).bytes(u32(k)); return k; }
  get(k: number): this { return k < 256 ? this.op(0x68, k) : this.op(0x6a).bytes(u32(k)); }
  ints(values: readonly number[]): this {
    if (values.length <= 3) { for (const v of values) this.int(v); return this.tuple(values.length); }
    this.mark();
    for (const v of values) this.int(v);
    return this.tupleMarked();
  }
  /** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) (zip format). */
  tensor(t: TensorRecord): this {
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.mark();
    this.mark().str('storage').global('torch', t.storageType ?? 'FloatStorage').str(t.key).str('cpu').int(t.numel).tupleMarked().persid();
    this.int(t.offset ?? 0).ints(t.size).ints(t.stride ?? contiguous(t.size));
    this.bool(false).global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tupleMarked().reduce();
  }
  /** {name: value, ...} with each value written by its function. */
  dict(entries: readonly [string, (p: Pickle) => void][]): this {
    this.emptyDict();
    if (!entries.length) return this;
    this.mark();
    for (const [k, v] of entries) { this.str(k); v(this); }
    return this.setitems();
  }
  finish(): Uint8Array { return Uint8Array.from(this.out); }
}

export interface TensorRecord {
  readonly key: string;
  readonly numel: number;
  readonly size: readonly number[];
  readonly stride?: readonly number[];
  readonly offset?: number;
  readonly storageType?: string;
}

export function contiguous(size: readonly number[]): number[] {
  const s = new Array<number>(size.length);
  let acc = 1;
  for (let d = size.length - 1; d >= 0; d--) { s[d] = acc; acc *= size[d]; }
  return s;
}

/** A state_dict pickle {name: tensor} (protocol 2). */
export function stateDictPickle(tensors: readonly [string, TensorRecord][]): Uint8Array {
  return new Pickle().proto().dict(tensors.map(([n, t]) => [n, (p) => p.tensor(t)])).stop().finish();
}

/** A torch.save zip archive (stored members, as torch writes them). */
export function ptZip(pkl: Uint8Array, storages: Record<string, Uint8Array>, extra: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {
    'archive/data.pkl': [pkl, { level: 0 }],
    'archive/byteorder': [enc.encode('little'), { level: 0 }],
  };
  for (const [k, b] of Object.entries(storages)) files[`archive/data/${k}`] = [b, { level: 0 }];
  for (const [k, b] of Object.entries(extra)) files[k] = [b, { level: 0 }];
  files['archive/version'] = [enc.encode('3\n'), { level: 0 }];
  return zipSync(files);
}

/** A legacy (pre-1.6) torch.save stream: magic, protocol, sys info, object, keys, storages. */
export function ptLegacy(main: Uint8Array, storages: readonly [string, number, Uint8Array][]): Uint8Array {
  const magic = new Pickle().proto().op(0x8a, 10).bytes(Uint8Array.of(0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19)).stop().finish();
  const protocol = new Pickle().proto().int(1001).stop().finish();
  const sys = new Pickle().proto().dict([['little_endian', (p) => p.bool(true)], ['protocol_version', (p) => p.int(1001)]]).stop().finish();
  const keys = new Pickle().proto().emptyList().mark();
  for (const [k] of storages) keys.str(k);
  const keyList = keys.appends().stop().finish();
  const blobs = storages.flatMap(([, count, raw]) => [u64(count), raw]);
  return concat([magic, protocol, sys, main, keyList, ...blobs]);
}

/** The legacy format's persistent id: ('storage', FloatStorage, key, 'cpu', numel, None). */
export function legacyTensor(p: Pickle, key: string, numel: number, size: readonly number[], stride?: readonly number[]): Pickle {
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', 'FloatStorage').str(key).str('cpu').int(numel).none().tupleMarked().persid();
  p.int(0).ints(size).ints(stride ?? contiguous(size)).bool(false).global('collections', 'OrderedDict').emptyTuple().reduce();
  return p.tupleMarked().reduce();
}

// ---------------------------------------------------------------------------------- plain formats

/** A safetensors file with any header (object or raw text) and data. */
export function safetensorsRaw(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  return concat([u64(json.length), json, data]);
}

/** A .npy file with any header text. */
export function npyRaw(header: string, data: Uint8Array, major = 1): Uint8Array {
  const h = enc.encode(header);
  return concat([Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0), major === 1 ? u16(h.length) : u32(h.length), h, data]);
}

export interface RawMember {
  readonly name: string;
  /** The bytes stored in the archive (compressed when method is 8). */
  readonly data: Uint8Array;
  readonly method?: number;
  /** Declared uncompressed size (default: data.length). */
  readonly size?: number;
  /** Declared CRC (default: computed over data for stored members, 0 for deflated). */
  readonly crc?: number;
  /** Write sizes as ZIP64 extra fields. */
  readonly zip64?: boolean;
  readonly flags?: number;
}

/** A zip archive written field by field, so that it can lie. `overlapAll` points every member at the first's data. */
export function rawZip(members: readonly RawMember[], options: { overlapAll?: boolean; truncateCentral?: number } = {}): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  let firstOffset = 0;
  members.forEach((m, i) => {
    const name = enc.encode(m.name);
    const method = m.method ?? 0;
    const size = m.size ?? m.data.length;
    const crc = m.crc ?? (method === 0 ? crc32(m.data) : 0);
    const z64 = m.zip64 ? concat([u16(1), u16(16), u64(size), u64(m.data.length)]) : new Uint8Array(0);
    const sz = (v: number): Uint8Array => u32(m.zip64 ? 0xffffffff : v);
    const header = concat([u32(0x04034b50), u16(45), u16(m.flags ?? 0), u16(method), u16(0), u16(0), u32(crc), sz(m.data.length), sz(size), u16(name.length), u16(z64.length), name, z64]);
    const here = options.overlapAll && i > 0 ? firstOffset : offset;
    if (!(options.overlapAll && i > 0)) {
      locals.push(header, m.data);
      if (i === 0) firstOffset = offset;
      offset += header.length + m.data.length;
    }
    central.push(concat([
      u32(0x02014b50), u16(45), u16(45), u16(m.flags ?? 0), u16(method), u16(0), u16(0), u32(crc), sz(m.data.length), sz(size),
      u16(name.length), u16(z64.length), u16(0), u16(0), u16(0), u32(0), u32(here), name, z64,
    ]));
  });
  const cd = concat(central);
  const eocd = concat([u32(0x06054b50), u16(0), u16(0), u16(members.length), u16(members.length), u32(cd.length), u32(offset), u16(0)]);
  const whole = concat([...locals, cd, eocd]);
  return options.truncateCentral ? whole.subarray(0, whole.length - options.truncateCentral) : whole;
}

/**
 * A deflate stream of `prefix` followed by `258 * repeats` copies of its last byte, in about 13 bits per
 * 258: one fixed-Huffman block of literals then (length 258, distance 1) copies.
 */
export function zeroBomb(repeats: number, prefix: Uint8Array = Uint8Array.of(0)): { data: Uint8Array; size: number } {
  const out: number[] = [];
  let acc = 0;
  let nbits = 0;
  const bit = (b: number): void => {
    acc |= b << nbits;
    if (++nbits === 8) { out.push(acc); acc = 0; nbits = 0; }
  };
  const code = (v: number, len: number): void => { for (let i = len - 1; i >= 0; i--) bit((v >> i) & 1); };
  bit(1); bit(1); bit(0); // BFINAL, BTYPE = 01 (fixed), least significant bit first
  for (const v of prefix) { if (v < 144) code(0x30 + v, 8); else code(0x190 + v - 144, 9); } // literals
  for (let i = 0; i < repeats; i++) { code(0xc5, 8); code(0, 5); } // length 258 (code 285), distance 1
  code(0, 7); // end of block
  if (nbits) out.push(acc);
  return { data: Uint8Array.from(out), size: prefix.length + 258 * repeats };
}

/** A deflated .npy of about `bytes` float32 values, all the same (the header's last byte, repeated). */
export function npyBomb(bytes: number): { data: Uint8Array; size: number } {
  const repeats = 2 * Math.ceil(bytes / 516);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${(258 * repeats) / 4},), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  return zeroBomb(repeats, npyRaw(header, new Uint8Array(0)));
}

// --------------------------------------------------------------------------------------- protobuf

type PbValue = number | bigint | string | Uint8Array;
/** One protobuf field: [number, value]; numbers are varints, strings/bytes length-delimited, {f32} fixed32. */
export type PbField = [number, PbValue | { f32: number }];

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}

export function pb(fields: readonly PbField[]): Uint8Array {
  const out: number[] = [];
  for (const [n, v] of fields) {
    if (typeof v === 'number' || typeof v === 'bigint') out.push(...varint((n << 3) | 0), ...varint(v));
    else if (typeof v === 'object' && !(v instanceof Uint8Array)) out.push(...varint((n << 3) | 5), ...new Uint8Array(Float32Array.of(v.f32).buffer));
    else {
      const b = typeof v === 'string' ? enc.encode(v) : v;
      out.push(...varint((n << 3) | 2), ...varint(b.length));
      for (const x of b) out.push(x);
    }
  }
  return Uint8Array.from(out);
}

/** An ONNX TensorProto (float32, raw data unless given other fields). */
export function onnxTensor(name: string, dims: readonly number[], values: readonly number[], extra: PbField[] = [], raw: Uint8Array | null = f32(values)): Uint8Array {
  return pb([...dims.map((d): PbField => [1, d]), [2, 1], [8, name], ...(raw ? [[9, raw] as PbField] : []), ...extra]);
}

/** A one-layer ONNX LSTM (input 2, hidden 1) whose parts can be replaced. */
export function onnxLstm(parts: { W?: Uint8Array; R?: Uint8Array; B?: Uint8Array; attrs?: Uint8Array[] } = {}): Uint8Array {
  const H = 1;
  const W = parts.W ?? onnxTensor('W', [1, 4 * H, 2], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
  const R = parts.R ?? onnxTensor('R', [1, 4 * H, H], [0.1, -0.2, 0.3, -0.4]);
  const B = parts.B ?? onnxTensor('B', [1, 8 * H], [0, 0, 0, 0, 0.5, 0, 0, 0]);
  const attrs = parts.attrs ?? [pb([[1, 'hidden_size'], [3, H], [20, 2]])];
  const node = pb([[1, 'X'], [1, 'W'], [1, 'R'], [1, 'B'], [2, 'Y'], [3, 'lstm'], [4, 'LSTM'], ...attrs.map((a): PbField => [5, a])]);
  const graph = pb([[1, node], [5, W], [5, R], [5, B], [2, 'g']]);
  return pb([[1, 7], [7, graph]]);
}

// ---------------------------------------------------------------------------------- checkpoints

/** A small trained-model checkpoint (what `gatescope train` writes). */
export function checkpointBytes(): Uint8Array {
  const vocab = buildVocabulary('hello world\n', 'char');
  const cfg = modelConfigFor(vocab, { hiddenSize: 4, numLayers: 1 });
  return serializeCheckpoint({ config: cfg, vocab, params: initialWeights(cfg, 1), engine: 'reference' });
}

/** The same checkpoint with its gatescope metadata JSON edited. */
export function checkpointWithMeta(edit: (meta: Record<string, unknown>) => void): Uint8Array {
  const bytes = checkpointBytes();
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, Record<string, string>>;
  const meta = JSON.parse(header.__metadata__.gatescope) as Record<string, unknown>;
  edit(meta);
  header.__metadata__.gatescope = JSON.stringify(meta);
  return safetensorsRaw(header, bytes.subarray(8 + n));
}

// -------------------------------------------------------------------------------------- corpus

/** How a file must be read: loaded (exit 0/1), refused (exit 2, one line matching `message`), or either. */
export type Expect = 'load' | 'refuse' | 'either';

/** The CLI commands a file goes through. */
export type Command = 'diff' | 'convert' | 'trace-weights' | 'sample' | 'trace-model';

export interface CorpusFile {
  /** Path relative to the corpus folder. */
  readonly path: string;
  readonly category: 'bomb' | 'containment' | 'wrong-data' | 'crash' | 'noise' | 'canary' | 'valid';
  readonly what: string;
  readonly expect: Expect;
  readonly message?: RegExp;
  /** The commands that read it: 'tensors' (diff, convert, trace --weights), 'model' (diff, convert), 'checkpoint' (sample, trace MODEL). */
  readonly reads: 'tensors' | 'model' | 'checkpoint';
  /** Environment for this file (e.g. a lower inflate budget). */
  readonly env?: Record<string, string>;
  /** The commands `expect` applies to (default: all that read it when refused; diff or sample when loaded); the others may go either way. */
  readonly strict?: readonly Command[];
  /** Commands not run on it (a 5000-name diff compares 5000 MiB; the sharing is asserted directly). */
  readonly skip?: readonly Command[];
}

export const COMMANDS_FOR: Record<CorpusFile['reads'], readonly Command[]> = {
  tensors: ['diff', 'convert', 'trace-weights'],
  model: ['diff', 'convert'],
  checkpoint: ['sample', 'trace-model', 'diff'],
};

const LSTM_TENSORS = (): [string, TensorRecord][] => [
  ['weight_ih_l0', { key: '0', numel: 8, size: [4, 2] }],
  ['weight_hh_l0', { key: '1', numel: 4, size: [4, 1] }],
];
const LSTM_STORAGES = (): Record<string, Uint8Array> => ({ 0: f32([1, 2, 3, 4, 5, 6, 7, 8]), 1: f32([1, 2, 3, 4]) });

/**
 * Writes the corpus into `dir` and returns what each file must give. `canary` is a path a pickle payload
 * would create if it ever ran.
 */
export function writeCorpus(dir: string, canary: string): CorpusFile[] {
  const files: CorpusFile[] = [];
  // Symbolic links need privileges on Windows: without them, the files that need one are left out.
  const link = (target: string, at: string, entries: readonly string[]): void => {
    try {
      symlinkSync(target, join(dir, at));
    } catch {
      for (const e of entries) files.splice(files.findIndex((f) => f.path === e), 1);
    }
  };
  const add = (f: CorpusFile, bytes: Uint8Array | string): void => {
    const p = join(dir, f.path);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, bytes);
    files.push(f);
  };
  const pt = (pkl: Uint8Array, storages: Record<string, Uint8Array> = LSTM_STORAGES()): Uint8Array => ptZip(pkl, storages);

  // ---- valid controls
  add({ path: 'valid/zip.pt', category: 'valid', what: 'torch.save zip fixture', expect: 'load', reads: 'tensors' }, fixture('pt/zip.pt'));
  add({ path: 'valid/legacy.pt', category: 'valid', what: 'legacy torch.save fixture', expect: 'load', reads: 'tensors' }, fixture('pt/legacy.pt'));
  add({ path: 'valid/weights.safetensors', category: 'valid', what: 'safetensors fixture', expect: 'load', reads: 'tensors' }, torchFixture('lstm_1l_f64/weights.safetensors'));
  add({ path: 'valid/weights.npz', category: 'valid', what: 'npz fixture', expect: 'load', reads: 'tensors' }, torchFixture('lstm_1l_f64/weights.npz'));
  add({ path: 'valid/compressed.npz', category: 'valid', what: 'savez_compressed fixture', expect: 'load', reads: 'tensors' }, fixture('npy/compressed.npz'));
  add({ path: 'valid/onnx_gru.onnx', category: 'valid', what: 'ONNX fixture', expect: 'load', reads: 'model' }, fixture('models/onnx_gru.onnx'));
  add({ path: 'valid/lstm.onnx', category: 'valid', what: 'hand-made ONNX LSTM', expect: 'load', reads: 'model' }, onnxLstm());
  add({ path: 'valid/keras.h5', category: 'valid', what: 'Keras 2 h5 fixture', expect: 'load', reads: 'model' }, fixture('models/keras2_lstm_dense.h5'));
  add({ path: 'valid/model.keras', category: 'valid', what: '.keras fixture', expect: 'load', reads: 'model' }, fixture('models/keras3_simplernn.keras'));
  add({ path: 'valid/tfjs/model.json', category: 'valid', what: 'tfjs fixture', expect: 'load', reads: 'model' }, fixture('models/tfjs_lstm/model.json'));
  add({ path: 'valid/tfjs/group1-shard1of1.bin', category: 'valid', what: 'tfjs shard', expect: 'either', reads: 'tensors' }, fixture('models/tfjs_lstm/group1-shard1of1.bin'));
  add({ path: 'valid/model.safetensors', category: 'valid', what: 'gatescope checkpoint', expect: 'load', reads: 'checkpoint' }, checkpointBytes());
  const crc0 = rawZip([
    { name: 'archive/data.pkl', data: stateDictPickle(LSTM_TENSORS()), crc: 0 },
    { name: 'archive/data/0', data: LSTM_STORAGES()[0], crc: 0 },
    { name: 'archive/data/1', data: LSTM_STORAGES()[1], crc: 0 },
  ]);
  add({ path: 'valid/nocrc.pt', category: 'valid', what: 'torch.save with compute_crc32=False (CRC 0: not checked)', expect: 'load', reads: 'tensors' }, crc0);
  const broadcastSmall = stateDictPickle([['w', { key: '0', numel: 1, size: [1 << 16], stride: [0] }]]);
  add({ path: 'valid/broadcast_small.pt', category: 'valid', what: 'stride-0 tensor of 65536 elements (within the caps)', expect: 'load', reads: 'tensors' }, pt(broadcastSmall, { 0: f32([3]) }));
  const transposed = stateDictPickle([['w', { key: '0', numel: 6, size: [3, 2], stride: [1, 3] }]]);
  add({ path: 'valid/transposed.pt', category: 'valid', what: 'transposed view', expect: 'load', reads: 'tensors' }, pt(transposed, { 0: f32([1, 2, 3, 4, 5, 6]) }));

  // ---- memory and CPU bombs
  const MiB = 1024 * 1024;
  const low = { GATESCOPE_MAX_INFLATE_BYTES: '32M' };
  const bomb64 = zeroBomb(Math.ceil((64 * MiB) / 258));
  add({ path: 'bomb/declared.npz', category: 'bomb', what: 'zip member declaring 8 GiB (ZIP64)', expect: 'refuse', message: /inflates to 8 GiB.*GATESCOPE_MAX_INFLATE_BYTES/, reads: 'tensors' },
    rawZip([{ name: 'a.npy', data: zeroBomb(1000).data, method: 8, size: 8 * 1024 * MiB, zip64: true }]));
  add({ path: 'bomb/honest.npz', category: 'bomb', what: 'deflated member of 64 MiB under a 32 MiB budget', expect: 'refuse', message: /64 MiB.*the limit is 32 MiB; set GATESCOPE_MAX_INFLATE_BYTES/, reads: 'tensors', env: low },
    rawZip([{ name: 'a.npy', data: bomb64.data, method: 8, size: bomb64.size }]));
  add({ path: 'bomb/lying.npz', category: 'bomb', what: 'member declaring 1000 bytes that inflates to 64 MiB', expect: 'refuse', message: /declares|past its declared size/, reads: 'tensors' },
    rawZip([{ name: 'a.npy', data: bomb64.data, method: 8, size: 1000 }]));
  const bomb20 = npyBomb(20 * MiB);
  add({ path: 'bomb/total.npz', category: 'bomb', what: 'three 20 MiB members under a 32 MiB total budget', expect: 'refuse', message: /in all.*GATESCOPE_MAX_INFLATE_BYTES/, reads: 'tensors', env: low },
    rawZip(['a.npy', 'b.npy', 'c.npy'].map((name) => ({ name, data: bomb20.data, method: 8, size: bomb20.size }))));
  add({ path: 'bomb/overlap.npz', category: 'bomb', what: 'members sharing one deflate stream (non-recursive zip bomb)', expect: 'refuse', message: /overlap/, reads: 'tensors' },
    rawZip(Array.from({ length: 50 }, (_, i) => ({ name: `m${i}.npy`, data: bomb20.data, method: 8, size: bomb20.size })), { overlapAll: true }));
  add({ path: 'bomb/keras_bomb.keras', category: 'bomb', what: '.keras archive whose config.json inflates past the budget', expect: 'refuse', message: /GATESCOPE_MAX_INFLATE_BYTES/, reads: 'model', env: low },
    rawZip([{ name: 'config.json', data: bomb64.data, method: 8, size: bomb64.size }, { name: 'model.weights.h5', data: new Uint8Array(8) }]));
  // Memo bomb: L0 = [], L(k+1) = [Lk, Lk], 80 levels: 2^80 paths through 80 lists.
  const memoBomb = (withTensor: boolean): Uint8Array => {
    const p = new Pickle().proto().emptyDict().str('x');
    if (withTensor) { p.emptyList().tensor({ key: '0', numel: 1, size: [1] }).append(); } else p.emptyList();
    let k = p.put();
    p.pop();
    for (let i = 0; i < 80; i++) { p.emptyList().get(k).append().get(k).append(); k = p.put(); p.pop(); }
    return p.get(k).setitem().stop().finish();
  };
  add({ path: 'bomb/memo.pt', category: 'bomb', what: 'memo bomb: 80 levels of [x, x] (2^80 paths), no tensor', expect: 'either', reads: 'tensors' }, pt(memoBomb(false), {}));
  add({ path: 'bomb/memo_tensor.pt', category: 'bomb', what: 'memo bomb with a tensor at the bottom (2^80 names)', expect: 'refuse', message: /tensor names/, reads: 'tensors' }, pt(memoBomb(true), { 0: f32([1]) }));
  // One 1 MiB tensor referenced 5000 times (by the memo), and 5000 records of the same view.
  const big = { key: '0', numel: 256 * 1024, size: [512, 512] };
  const shared = new Pickle().proto().emptyDict().str('t0').tensor(big);
  const slot = shared.put();
  shared.setitem();
  for (let i = 1; i < 5000; i++) shared.str(`t${i}`).get(slot).setitem();
  add({ path: 'bomb/shared5000.pt', category: 'bomb', what: 'one 1 MiB tensor referenced 5000 times', expect: 'either', reads: 'tensors', skip: ['diff'] }, pt(shared.stop().finish(), { 0: new Uint8Array(1 * MiB) }));
  const records = new Pickle().proto().emptyDict();
  for (let i = 0; i < 5000; i++) records.str(`t${i}`).tensor(big).setitem();
  add({ path: 'bomb/records5000.pt', category: 'bomb', what: '5000 records of the same 1 MiB view', expect: 'either', reads: 'tensors', skip: ['diff'] }, pt(records.stop().finish(), { 0: new Uint8Array(1 * MiB) }));
  const offsets = new Pickle().proto().emptyDict();
  for (let i = 0; i < 5000; i++) offsets.str(`t${i}`).tensor({ ...big, numel: 256 * 1024, size: [256 * 1024 - 1 - (i % 1000)], offset: i % 1000 }).setitem();
  add({ path: 'bomb/views5000.pt', category: 'bomb', what: '5000 overlapping ~1 MiB views of one 1 MiB storage', expect: 'refuse', message: /GATESCOPE_MAX_EXPANDED_BYTES/, reads: 'tensors' }, pt(offsets.stop().finish(), { 0: new Uint8Array(1 * MiB) }));
  const nested = new Pickle().proto().emptyDict().str('x').emptyTuple();
  for (let i = 0; i < 100_000; i++) nested.tuple(1);
  add({ path: 'bomb/nested.pt', category: 'bomb', what: '100 000 nested tuples', expect: 'refuse', message: /nested more than 1000 levels.*GATESCOPE_MAX_NESTING/, reads: 'tensors' }, pt(nested.setitem().stop().finish(), {}));
  const nestedLegacy = new Pickle().proto().emptyDict().str('x').emptyTuple();
  for (let i = 0; i < 100_000; i++) nestedLegacy.tuple(1);
  add({ path: 'bomb/nested_legacy.pt', category: 'bomb', what: '100 000 nested tuples (legacy format)', expect: 'refuse', message: /nested/, reads: 'tensors' }, ptLegacy(nestedLegacy.setitem().stop().finish(), []));
  add({ path: 'bomb/stride0.pt', category: 'bomb', what: 'stride-0 tensor of 2^30 elements from one stored float', expect: 'refuse', message: /repeats its stored elements.*GATESCOPE_MAX_EXPANDED_BYTES/, reads: 'tensors' },
    pt(stateDictPickle([['w', { key: '0', numel: 1, size: [1 << 15, 1 << 15], stride: [0, 0] }]]), { 0: f32([1]) }));
  add({ path: 'bomb/overlapping_strides.pt', category: 'bomb', what: 'strides [1, 1] reading 2^20 x 2^10 elements from 2^20', expect: 'refuse', message: /GATESCOPE_MAX_EXPANDED_BYTES/, reads: 'tensors' },
    pt(stateDictPickle([['w', { key: '0', numel: 1 << 20, size: [(1 << 20) - 1024, 1024], stride: [1, 1] }]]), { 0: new Uint8Array(4 << 20) }));
  const lists = new Pickle().proto().emptyList();
  for (let i = 0; i < 2_100_000; i++) lists.emptyList();
  add({ path: 'bomb/objects.pt', category: 'bomb', what: '2.1 million empty lists', expect: 'refuse', message: /GATESCOPE_MAX_PICKLE_OBJECTS/, reads: 'tensors' }, pt(lists.stop().finish(), {}));
  const longInt = new Pickle().proto().op(0x8b).bytes(u32(8 * MiB)).bytes(new Uint8Array(8 * MiB)).stop().finish();
  add({ path: 'bomb/long4.pt', category: 'bomb', what: 'an 8 MiB LONG4 integer', expect: 'refuse', message: /too long/, reads: 'tensors' }, pt(longInt, {}));
  add({ path: 'bomb/num_layers.safetensors', category: 'bomb', what: 'gatescope_config metadata with num_layers 100000000', expect: 'refuse', message: /num_layers must be an integer in 1\.\.64/, reads: 'model', strict: ['convert'] },
    serializeSafetensors(new Map([['weight_ih_l0', { dtype: 'float32', shape: [4, 2], data: new Float32Array(8) }], ['weight_hh_l0', { dtype: 'float32', shape: [4, 1], data: new Float32Array(4) }]]),
      { gatescope_config: JSON.stringify({ module: 'RNN', input_size: 2, hidden_size: 1, num_layers: 100_000_000 }) }));
  add({ path: 'bomb/hidden.safetensors', category: 'bomb', what: 'gatescope_config metadata with hidden_size 2^40', expect: 'refuse', message: /hidden_size must be an integer in 1\.\.65536/, reads: 'model', strict: ['convert'] },
    serializeSafetensors(new Map([['weight_ih_l0', { dtype: 'float32', shape: [1, 2], data: new Float32Array(2) }]]),
      { gatescope_config: JSON.stringify({ module: 'RNN', input_size: 2, hidden_size: 2 ** 40, num_layers: 1 }) }));
  add({ path: 'bomb/checkpoint_layers.safetensors', category: 'bomb', what: 'checkpoint whose model says num_layers 100000000', expect: 'refuse', reads: 'checkpoint', strict: ['sample', 'trace-model'] },
    checkpointWithMeta((m) => setEverywhere(m, /^num_?layers$/i, 100_000_000)));
  const deepJson = `{"weightsManifest": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
  add({ path: 'bomb/deep/model.json', category: 'bomb', what: 'model.json nested 200 000 deep', expect: 'refuse', reads: 'model' }, deepJson);

  // ---- reads outside the model's folder
  const tfjs = JSON.parse(new TextDecoder().decode(fixture('models/tfjs_lstm/model.json'))) as { weightsManifest: { paths: string[] }[] };
  const shard = fixture('models/tfjs_lstm/group1-shard1of1.bin');
  const withPaths = (paths: string[]): string => JSON.stringify({ ...tfjs, weightsManifest: [{ ...tfjs.weightsManifest[0], paths }] });
  add({ path: 'contain/tfjs2/group1-shard1of1.bin', category: 'containment', what: 'a sibling folder sharing the prefix', expect: 'either', reads: 'tensors' }, shard);
  add({ path: 'contain/tfjs/model.json', category: 'containment', what: 'shard path ../tfjs2/… (prefix test without a separator)', expect: 'refuse', message: /outside the model's folder/, reads: 'model' }, withPaths(['../tfjs2/group1-shard1of1.bin']));
  add({ path: 'contain/abs/model.json', category: 'containment', what: 'absolute shard path', expect: 'refuse', message: /outside the model's folder/, reads: 'model' }, withPaths([resolve(dir, 'contain/tfjs2/group1-shard1of1.bin')]));
  add({ path: 'contain/link/model.json', category: 'containment', what: 'shard that is a symlink out of the folder', expect: 'refuse', message: /link to a file outside/, reads: 'model' }, withPaths(['shard.bin']));
  files.push({ path: 'contain/link/shard.bin', category: 'containment', what: 'the symlink itself', expect: 'either', reads: 'tensors' });
  link(resolve(dir, 'contain/tfjs2/group1-shard1of1.bin'), 'contain/link/shard.bin', ['contain/link/model.json', 'contain/link/shard.bin']);
  add({ path: 'contain/inner/model.json', category: 'containment', what: 'shard that is a symlink inside the folder', expect: 'load', reads: 'model' }, withPaths(['sub/../shard.bin']));
  mkdirSync(join(dir, 'contain/inner/sub'), { recursive: true });
  writeFileSync(join(dir, 'contain/inner/real.bin'), shard);
  link('real.bin', 'contain/inner/shard.bin', ['contain/inner/model.json']);
  add({ path: 'contain/dir/model.json', category: 'containment', what: 'shard path that is the folder itself', expect: 'refuse', reads: 'model' }, withPaths(['.']));
  add({ path: 'contain/repeat/model.json', category: 'containment', what: 'one shard listed 100 000 times', expect: 'refuse', reads: 'model', env: low }, withPaths(Array.from({ length: 100_000 }, () => 'group1-shard1of1.bin')));
  writeFileSync(join(dir, 'contain/repeat/group1-shard1of1.bin'), new Uint8Array(4096));
  const externalW = onnxTensor('W', [1, 4, 2], [], [[13, pb([[1, 'location'], [2, '../secret.bin']])], [14, 1]], null);
  add({ path: 'contain/onnx/ext.onnx', category: 'containment', what: 'ONNX external data at ../secret.bin', expect: 'refuse', message: /outside the model's folder/, reads: 'model' }, onnxLstm({ W: externalW }));
  add({ path: 'contain/secret.bin', category: 'containment', what: 'the file outside', expect: 'either', reads: 'tensors' }, new Uint8Array(32));
  const externalOk = onnxTensor('W', [1, 4, 2], [], [[13, pb([[1, 'location'], [2, 'w.bin']])], [13, pb([[1, 'offset'], [2, '0']])], [13, pb([[1, 'length'], [2, '32']])], [14, 1]], null);
  add({ path: 'contain/onnx_ok/ext.onnx', category: 'containment', what: 'ONNX external data inside the folder', expect: 'load', reads: 'model' }, onnxLstm({ W: externalOk }));
  writeFileSync(join(dir, 'contain/onnx_ok/w.bin'), f32([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]));
  add({ path: 'contain/onnx_link/ext.onnx', category: 'containment', what: 'ONNX external data through a symlink out', expect: 'refuse', message: /link to a file outside/, reads: 'model' }, onnxLstm({ W: onnxTensor('W', [1, 4, 2], [], [[13, pb([[1, 'location'], [2, 'w.bin']])], [14, 1]], null) }));
  link(resolve(dir, 'contain/secret.bin'), 'contain/onnx_link/w.bin', ['contain/onnx_link/ext.onnx']);

  // ---- silently wrong data
  const st = (header: Record<string, unknown>, data = new Uint8Array(16)): Uint8Array => safetensorsRaw(header, data);
  const T = (o: Record<string, unknown>): Record<string, unknown> => ({ dtype: 'F32', shape: [2], data_offsets: [0, 8], ...o });
  const stCases: [string, string, Record<string, unknown>, RegExp][] = [
    ['negative_offset', 'negative data offset (would read the JSON header)', { a: T({ data_offsets: [-8, 0] }) }, /non-negative integers/],
    ['overlap', 'two tensors sharing bytes', { a: T({}), b: T({ data_offsets: [4, 12] }) }, /overlap/],
    ['past_end', 'offsets past the end of the file', { a: T({ data_offsets: [8, 16] }), b: T({ data_offsets: [16, 24] }) }, /past the end/],
    ['backwards', 'begin after end', { a: T({ data_offsets: [8, 0] }) }, /backwards/],
    ['fraction_shape', 'fractional shape', { a: T({ shape: [1.5] }) }, /non-negative integer/],
    ['string_shape', 'string shape', { a: T({ shape: '2' }) }, /not a list/],
    ['negative_shape', 'negative dimensions whose product is positive', { a: T({ shape: [-1, -2] }) }, /non-negative integer/],
    ['null_entry', 'null tensor entry', { a: null }, /is not an object/],
    ['missing_offsets', 'entry without data_offsets', { a: { dtype: 'F32', shape: [2] } }, /data_offsets/],
    ['number_dtype', 'numeric dtype', { a: T({ dtype: 7 }) }, /dtype 7 is not a string/],
    ['proto_dtype', 'dtype "constructor"', { a: T({ dtype: 'constructor' }) }, /unsupported dtype/],
    ['wrong_size', 'byte range not matching the shape', { a: T({ shape: [3] }) }, /needs 12 bytes/],
    ['metadata_number', 'non-string metadata', { __metadata__: { format: 1 }, a: T({}) }, /not a string/],
  ];
  for (const [name, what, header, message] of stCases) {
    add({ path: `wrong/st_${name}.safetensors`, category: 'wrong-data', what: `safetensors: ${what}`, expect: 'refuse', message, reads: 'tensors' }, st(header, new Uint8Array(16)));
  }
  add({ path: 'wrong/st_huge_header.safetensors', category: 'wrong-data', what: 'header length 2^63', expect: 'refuse', reads: 'tensors' }, concat([u64(2n ** 63n), enc.encode('{}')]));
  add({ path: 'wrong/st_newline_name.safetensors', category: 'wrong-data', what: 'tensor name with a newline and ANSI escape', expect: 'refuse', message: /\\n/, reads: 'tensors' }, st({ 'a\n\u001b[31mb': T({ dtype: 'X9' }) }));
  const ptCases: [string, string, TensorRecord, RegExp][] = [
    ['negative_stride', 'negative stride (torch refuses it)', { key: '0', numel: 8, size: [4, 2], stride: [-2, 1], offset: 6 }, /negative/],
    ['negative_offset', 'negative storage offset', { key: '0', numel: 8, size: [2], offset: -2 }, /offset -2/],
    ['negative_size', 'negative size', { key: '0', numel: 8, size: [-2, -4] }, /negative dimension/],
    ['past_storage', 'view reaching past its storage', { key: '0', numel: 8, size: [3, 3] }, /reaches element/],
    ['stride_rank', 'stride of another rank', { key: '0', numel: 8, size: [4, 2], stride: [2] }, /does not match/],
    ['huge_stride', 'stride 2^52', { key: '0', numel: 8, size: [2, 2], stride: [2 ** 52, 1] }, /stride/],
  ];
  for (const [name, what, rec, message] of ptCases) {
    add({ path: `wrong/pt_${name}.pt`, category: 'wrong-data', what: `.pt: ${what}`, expect: 'refuse', message, reads: 'tensors' }, pt(stateDictPickle([['w', rec]]), { 0: f32([1, 2, 3, 4, 5, 6, 7, 8]) }));
  }
  const good = pt(stateDictPickle(LSTM_TENSORS()));
  const badCrc = new Uint8Array(good);
  const at = findBytes(badCrc, f32([1, 2, 3, 4, 5, 6, 7, 8]));
  badCrc[at + 3] ^= 0x40; // one bit of weight_ih_l0's data
  add({ path: 'wrong/crc.pt', category: 'wrong-data', what: 'one flipped bit in a stored tensor (wrong CRC)', expect: 'refuse', message: /CRC-32 mismatch in member "archive\/data\/0"/, reads: 'tensors' }, badCrc);
  const legacyNeg = new Pickle().proto().dict([['w', (p) => legacyTensor(p, '0', 8, [8])]]).stop().finish();
  add({ path: 'wrong/legacy_negative_count.pt', category: 'wrong-data', what: 'legacy storage with a negative element count', expect: 'refuse', message: /claims -8 elements/, reads: 'tensors' }, ptLegacy(legacyNeg, [['0', -8, f32([1, 2, 3, 4, 5, 6, 7, 8])]]));
  add({ path: 'wrong/legacy_ok.pt', category: 'valid', what: 'hand-made legacy archive', expect: 'load', reads: 'tensors' }, ptLegacy(legacyNeg, [['0', 8, f32([1, 2, 3, 4, 5, 6, 7, 8])]]));
  const npy = (h: string, data = new Uint8Array(64)): Uint8Array => npyRaw(h, data);
  const npyCases: [string, string, Uint8Array, RegExp][] = [
    ['negative_shape', 'negative dimension', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }"), /bad dimension/],
    ['fraction_shape', 'fractional dimension', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }"), /bad dimension/],
    ['header_past_end', 'header length past the end', concat([Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0), u16(60000), enc.encode('{}')]), /runs past the end/],
    ['object', 'object array (pickle payload)', npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"), /object arrays/],
    ['short', 'data shorter than the shape', npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }"), /shorter/],
  ];
  for (const [name, what, bytes, message] of npyCases) {
    add({ path: `wrong/npy_${name}.npy`, category: 'wrong-data', what: `.npy: ${what}`, expect: 'refuse', message, reads: 'tensors' }, bytes);
  }
  add({ path: 'wrong/onnx_raw_length.onnx', category: 'wrong-data', what: 'ONNX raw data of the wrong length', expect: 'refuse', message: /needs 32 bytes of raw data, has 28/, reads: 'model' },
    onnxLstm({ W: onnxTensor('W', [1, 4, 2], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]) }));
  add({ path: 'wrong/onnx_float_count.onnx', category: 'wrong-data', what: 'ONNX float_data with too few values', expect: 'refuse', message: /has 2 values, not 8/, reads: 'model' },
    onnxLstm({ W: onnxTensor('W', [1, 4, 2], [], [[4, f32([1, 2])]], null) }));
  add({ path: 'wrong/onnx_no_value.onnx', category: 'wrong-data', what: 'ONNX FLOAT attribute without a value', expect: 'refuse', message: /attribute "clip" of type FLOAT has no value/, reads: 'model' },
    onnxLstm({ attrs: [pb([[1, 'clip'], [20, 1]])] }));
  add({ path: 'wrong/onnx_negative_dims.onnx', category: 'wrong-data', what: 'ONNX tensor with negative dims', expect: 'refuse', message: /non-negative integer/, reads: 'model' },
    onnxLstm({ W: onnxTensor('W', [-1, -4, 2], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]) }));
  add({ path: 'wrong/onnx_wire.onnx', category: 'wrong-data', what: 'ONNX node name sent as a varint', expect: 'refuse', reads: 'model' },
    pb([[7, pb([[1, pb([[3, 5], [4, 'LSTM']])]])]]));

  // ---- crashes with stack traces before
  add({ path: 'crash/keras_bad_config.keras', category: 'crash', what: '.keras with malformed config.json', expect: 'refuse', message: /config\.json is not valid JSON/, reads: 'model' },
    zipSync({ 'config.json': enc.encode('{"class_name": "Sequential", '), 'model.weights.h5': fixture('models/keras3_gru_before.weights.h5') }));
  add({ path: 'crash/keras_config_shape.keras', category: 'crash', what: '.keras whose config layers are numbers', expect: 'refuse', message: /layer 0 is not an object/, reads: 'model' },
    zipSync({ 'config.json': enc.encode('{"class_name": "Sequential", "config": {"layers": [1, 2]}}'), 'model.weights.h5': fixture('models/keras3_gru_before.weights.h5') }));
  const manifests: [string, string, unknown][] = [
    ['null', 'model.json that is null', null],
    ['manifest_object', 'weightsManifest an object', { weightsManifest: {} }],
    ['group_null', 'a null manifest group', { weightsManifest: [null] }],
    ['paths_string', 'paths a string', { weightsManifest: [{ paths: 'w.bin', weights: [] }] }],
    ['shape_string', 'weight shape a string', { weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'k', shape: '3', dtype: 'float32' }] }] }],
    ['shape_negative', 'negative shape', { weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'k', shape: [-1, -4], dtype: 'float32' }] }] }],
    ['layers_null', 'topology layers with null', { modelTopology: { config: { layers: [null] } }, weightsManifest: [] }],
    ['dtype_proto', 'dtype "constructor"', { weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'k', shape: [1], dtype: 'constructor' }] }] }],
  ];
  for (const [name, what, json] of manifests) {
    add({ path: `crash/tfjs_${name}/model.json`, category: 'crash', what: `tfjs: ${what}`, expect: 'refuse', reads: 'model' }, JSON.stringify(json));
    writeFileSync(join(dir, `crash/tfjs_${name}/w.bin`), new Uint8Array(16));
  }
  add({ path: 'crash/truncated.pt', category: 'crash', what: 'zip cut in half', expect: 'refuse', message: /not a valid zip archive/, reads: 'tensors' }, good.subarray(0, Math.floor(good.length / 2)));
  add({ path: 'crash/truncated_central.npz', category: 'crash', what: 'zip with a damaged central directory', expect: 'refuse', message: /not a valid zip archive/, reads: 'tensors' },
    rawZip([{ name: 'a.npy', data: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(8)) }], { truncateCentral: 30 }));
  add({ path: 'crash/encrypted.npz', category: 'crash', what: 'encrypted member', expect: 'refuse', message: /encrypted/, reads: 'tensors' }, rawZip([{ name: 'a.npy', data: new Uint8Array(8), flags: 1 }]));
  add({ path: 'crash/bzip2.npz', category: 'crash', what: 'bzip2 member', expect: 'refuse', message: /method 12/, reads: 'tensors' }, rawZip([{ name: 'a.npy', data: new Uint8Array(8), method: 12 }]));
  add({ path: 'crash/bad_deflate.npz', category: 'crash', what: 'member with garbage deflate data', expect: 'refuse', message: /not a valid zip archive/, reads: 'tensors' }, rawZip([{ name: 'a.npy', data: Uint8Array.of(0xff, 0xff, 0xff, 0xff), method: 8, size: 100 }]));
  add({ path: 'crash/duplicate.npz', category: 'crash', what: 'two members with one name', expect: 'refuse', message: /appears twice/, reads: 'tensors' }, rawZip([{ name: 'a.npy', data: new Uint8Array(8) }, { name: 'a.npy', data: new Uint8Array(8) }]));
  add({ path: 'crash/empty_zip.pt', category: 'crash', what: 'just a local header signature', expect: 'refuse', reads: 'tensors' }, Uint8Array.of(0x50, 0x4b, 0x03, 0x04));
  add({ path: 'crash/onnx_garbage.onnx', category: 'crash', what: 'random bytes named .onnx', expect: 'refuse', reads: 'model' }, pseudoRandom(4096, 7));
  add({ path: 'crash/pickle_garbage.pt', category: 'crash', what: 'a pickle of garbage opcodes', expect: 'refuse', reads: 'tensors' }, concat([Uint8Array.of(0x80, 2), pseudoRandom(2048, 11)]));
  add({ path: 'crash/checkpoint_cut.safetensors', category: 'crash', what: 'a checkpoint cut short', expect: 'refuse', reads: 'checkpoint', strict: ['sample', 'trace-model', 'diff'] }, checkpointBytes().subarray(0, 300));
  mkdirSync(join(dir, 'crash/directory.pt'), { recursive: true });
  files.push({ path: 'crash/directory.pt', category: 'crash', what: 'a folder named like a model', expect: 'refuse', message: /directory/, reads: 'tensors' });

  // ---- noise: a corrupt .h5 must give one line, not HDF5-DIAG
  const h5 = fixture('models/keras2_lstm_dense.h5');
  for (const [name, from, to] of [['header', 200, 2000], ['middle', 3000, 5000], ['tail', h5.length - 3000, h5.length - 100]] as const) {
    const bad = new Uint8Array(h5);
    for (let i = from; i < to; i++) bad[i] ^= 0x5a;
    add({ path: `noise/corrupt_${name}.h5`, category: 'noise', what: `Keras h5 with bytes ${from}..${to} scrambled`, expect: 'either', reads: 'model' }, bad);
  }
  add({ path: 'noise/truncated.h5', category: 'noise', what: 'Keras h5 cut short', expect: 'refuse', reads: 'model' }, h5.subarray(0, 1500));

  // ---- readers of issue 12: whole pickled modules, numpy string arrays, recurrentjs JSON
  // A module record: NEWOBJ of an unknown class with a __dict__ holding _parameters / _modules.
  const moduleRecord = (p: Pickle, cls: string, params: [string, TensorRecord][], children: [string, (q: Pickle) => void][]): void => {
    p.global('torch.nn.modules.rnn', cls).emptyTuple().op(0x81).emptyDict().mark();
    p.str('_parameters').global('collections', 'OrderedDict').emptyTuple().reduce();
    if (params.length) { p.mark(); for (const [n, t] of params) { p.str(n).tensor(t); } p.setitems(); }
    p.str('_buffers').emptyDict().str('_modules').global('collections', 'OrderedDict').emptyTuple().reduce();
    if (children.length) { p.mark(); for (const [n, f] of children) { p.str(n); f(p); } p.setitems(); }
    p.str('mode').str('LSTM').str('hidden_size').int(1).setitems().build();
  };
  const wholeModule = new Pickle().proto();
  moduleRecord(wholeModule, 'LSTM', LSTM_TENSORS(), []);
  add({ path: 'valid/whole_module.pt', category: 'valid', what: 'torch.save(nn.LSTM): a module record, read as data', expect: 'load', reads: 'tensors' }, pt(wholeModule.stop().finish()));
  // 80 levels of a module whose two children are the level below: 2^80 module paths.
  const moduleBomb = new Pickle().proto();
  moduleRecord(moduleBomb, 'LSTM', LSTM_TENSORS(), []);
  let mk = moduleBomb.put();
  moduleBomb.pop();
  for (let i = 0; i < 80; i++) { const below = mk; moduleRecord(moduleBomb, 'Sequential', [], [['a', (q) => q.get(below)], ['b', (q) => q.get(below)]]); mk = moduleBomb.put(); moduleBomb.pop(); }
  add({ path: 'bomb/module_tree.pt', category: 'bomb', what: 'module records sharing children: 2^80 module paths', expect: 'refuse', message: /tensor names|modules/, reads: 'tensors' }, pt(moduleBomb.get(mk).stop().finish()));
  const callClass = new Pickle().proto().global('model', 'RNNModel').emptyTuple().reduce().stop().finish();
  add({ path: 'canary/reduce_class.pt', category: 'canary', what: 'REDUCE of an unknown class (calling it)', expect: 'refuse', message: /refusing to load global model\.RNNModel \(REDUCE would call it/, reads: 'tensors' }, pt(callClass, {}));
  const npyU = (shape: string, data: Uint8Array, descr = '<U1'): Uint8Array => npyRaw(`{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`, data);
  const goodNpy = npyRaw("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16));
  add({ path: 'wrong/npz_chars_truncated.npz', category: 'wrong-data', what: 'npz: a <U1 array shorter than its shape', expect: 'refuse', message: /shorter than its shape/, reads: 'tensors' }, zipSync({ 'Wxh.npy': goodNpy, 'chars.npy': npyU('(1000,)', new Uint8Array(8)) }));
  add({ path: 'wrong/npz_chars_codepoint.npz', category: 'wrong-data', what: 'npz: a <U1 element beyond Unicode', expect: 'refuse', message: /not a Unicode code point/, reads: 'tensors' }, zipSync({ 'Wxh.npy': goodNpy, 'chars.npy': npyU('(1,)', Uint8Array.of(0xff, 0xff, 0xff, 0x7f)) }));
  add({ path: 'wrong/npz_chars_2d.npz', category: 'wrong-data', what: 'npz: a two-dimensional string array', expect: 'refuse', message: /one-dimensional/, reads: 'tensors' }, zipSync({ 'Wxh.npy': goodNpy, 'chars.npy': npyU('(1, 1)', new Uint8Array(4)) }));
  add({ path: 'bomb/npz_chars_width.npz', category: 'bomb', what: 'npz: a string dtype 999999 characters wide, 10^6 elements', expect: 'refuse', reads: 'tensors' }, zipSync({ 'Wxh.npy': goodNpy, 'chars.npy': npyU('(1000000,)', new Uint8Array(64), '<U999999') }));
  const rjs = (model: Record<string, unknown>, extra: Record<string, unknown> = {}): string => JSON.stringify({ generator: 'rnn', hidden_sizes: [2], letter_size: 1, model, ...extra });
  const m = (n: number, d: number, w: unknown = Object.fromEntries(Array.from({ length: n * d }, (_, i) => [String(i), 0.1 * i]))): Record<string, unknown> => ({ n, d, w });
  add({ path: 'valid/recurrentjs/model.json', category: 'valid', what: 'recurrentjs saveModel() JSON (RNN)', expect: 'load', reads: 'model' },
    rjs({ Wil: m(3, 1), Wxh0: m(2, 1), Whh0: m(2, 2), bhh0: m(2, 1), Whd: m(3, 2), bd: m(3, 1) }, { indexToLetter: { 1: 'a', 2: 'b' } }));
  add({ path: 'bomb/recurrentjs_size/model.json', category: 'bomb', what: 'recurrentjs: a matrix claiming 2^26 x 2^26 values', expect: 'refuse', reads: 'model' }, rjs({ Wxh0: m(2 ** 26, 2 ** 26, {}) }));
  add({ path: 'wrong/recurrentjs_missing/model.json', category: 'wrong-data', what: 'recurrentjs: a serialised Float64Array with a key missing', expect: 'refuse', message: /has no value 1|values for/, reads: 'model' }, rjs({ Wxh0: m(2, 1, { 0: 1, 2: 3 }) }));
  add({ path: 'wrong/recurrentjs_nan/model.json', category: 'wrong-data', what: 'recurrentjs: a weight that is a string', expect: 'refuse', message: /not a finite number/, reads: 'model' }, rjs({ Wxh0: m(2, 1, { 0: 'x', 1: 3 }) }));
  add({ path: 'wrong/recurrentjs_vocab/model.json', category: 'wrong-data', what: 'recurrentjs: indexToLetter with id 0', expect: 'refuse', message: /indexToLetter/, reads: 'model' },
    rjs({ Wil: m(3, 1), Wxh0: m(2, 1), Whh0: m(2, 2), bhh0: m(2, 1), Whd: m(3, 2), bd: m(3, 1) }, { indexToLetter: { 0: 'a', 1: 'b' } }));

  // ---- pickle payloads: nothing may run
  const payload = (module: string, name: string, arg: string): Uint8Array =>
    new Pickle().proto().dict([['w', (p) => { p.global(module, name).str(arg).tuple(1).reduce(); }]]).stop().finish();
  const cmd = `touch ${canary}`;
  for (const [m, n, a] of [['os', 'system', cmd], ['posix', 'system', cmd], ['subprocess', 'check_call', cmd], ['builtins', 'exec', `open(${JSON.stringify(canary)}, "w")`], ['builtins', 'eval', `open(${JSON.stringify(canary)}, "w")`]] as const) {
    add({ path: `canary/${m}_${n}.pt`, category: 'canary', what: `REDUCE of ${m}.${n}`, expect: 'refuse', message: new RegExp(`refusing to load global ${m}\\.${n}`), reads: 'tensors' }, pt(payload(m, n, a), {}));
  }
  add({ path: 'canary/legacy_os_system.pt', category: 'canary', what: 'REDUCE of os.system (legacy stream)', expect: 'refuse', message: /refusing to load global os\.system/, reads: 'tensors' }, ptLegacy(payload('os', 'system', cmd), []));
  const objectNpy = npyRaw("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", payload('os', 'system', cmd));
  add({ path: 'canary/object_array.npz', category: 'canary', what: '.npz with an object array holding an os.system pickle', expect: 'refuse', message: /object arrays/, reads: 'tensors' }, zipSync({ 'a.npy': objectNpy }));
  const inst = new Pickle().proto().mark().op(0x69).bytes(enc.encode(`os\nsystem\n`)).str(cmd).stop().finish();
  add({ path: 'canary/inst.pt', category: 'canary', what: 'INST opcode (protocol 0 class instance)', expect: 'refuse', message: /INST opcode/, reads: 'tensors' }, pt(inst, {}));
  return files;
}

/** Sets every key matching `key`, at any depth, to `value`. */
function setEverywhere(o: unknown, key: RegExp, value: unknown): void {
  if (!o || typeof o !== 'object') return;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (key.test(k)) (o as Record<string, unknown>)[k] = value;
    else setEverywhere(v, key, value);
  }
}

/** Deterministic bytes (xorshift). */
export function pseudoRandom(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff; }
  return out;
}

export function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('needle not found');
}
