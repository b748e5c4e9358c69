// PyTorch torch.save files: the zip archive (archive/data.pkl + archive/data/<key> storages) and the
// legacy stream (magic number, protocol and sys-info pickles, the object pickle, the storage keys,
// then each storage as int64 element count + raw bytes). Read with the safe pickle reader: only
// tensor-rebuilding globals are allowed; tensors are materialised from the storages afterwards.
import { unzipSync } from 'fflate';
import { type DType, type Tensor, type TensorMap, numel } from '../tensor';
import { FormatError, BYTES_PER_ELEMENT, typedArrayOf } from './safetensors';
import { PyDict, PyTuple, type PyGlobal, readPickle } from './pickle';

const STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: 'float64', FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8',
  ByteStorage: 'uint8', BoolStorage: 'bool',
};
const TORCH_DTYPES: Record<string, DType> = {
  float64: 'float64', double: 'float64', float32: 'float32', float: 'float32', float16: 'float16',
  half: 'float16', bfloat16: 'bfloat16', int64: 'int64', long: 'int64', int32: 'int32', int: 'int32',
  int16: 'int16', short: 'int16', int8: 'int8', uint8: 'uint8', bool: 'bool',
};

/** A storage as named by a persistent id; its bytes are found after unpickling. */
class StorageRef {
  constructor(readonly key: string, readonly dtype: DType, readonly elementOffset = 0, readonly viewSize?: number) {}
}
class StorageType implements PyGlobal {
  constructor(readonly qualifiedName: string, readonly dtype: DType) {}
}
class TorchDType implements PyGlobal {
  constructor(readonly qualifiedName: string, readonly dtype: DType) {}
}
/** torch.Tensor / Parameter as the class argument of _rebuild_from_type_v2. */
class TensorType implements PyGlobal {
  constructor(readonly qualifiedName: string) {}
}
/** A tensor waiting for its storage bytes. */
export class LazyTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

export const PT_ADVICE =
  'this file looks like a whole pickled model (torch.save(model)); save model.state_dict() instead: ' +
  'torch.save(model.state_dict(), "weights.pt")';

function intList(v: unknown, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : undefined;
  if (!items || !items.every((x) => typeof x === 'number')) throw new FormatError(`.pt: ${what} is not a tuple of ints`);
  return items as number[];
}

function rebuildTensor(args: unknown[]): LazyTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new FormatError('.pt: tensor without a storage');
  if (typeof offset !== 'number') throw new FormatError('.pt: tensor storage offset is not an int');
  return new LazyTensor(storage, offset, intList(size, 'tensor size'), intList(stride, 'tensor stride'));
}

function firstArg(args: unknown[]): unknown {
  if (!(args[0] instanceof LazyTensor)) throw new FormatError('.pt: parameter without tensor data');
  return args[0];
}

/** The allow-list: tensor rebuilding, storages, dtypes, OrderedDict. Nothing here runs user code. */
export function torchGlobal(module: string, name: string): PyGlobal | undefined {
  const q = `${module}.${name}`;
  const g = (call?: (args: unknown[]) => unknown, build?: PyGlobal['build']): PyGlobal => ({ qualifiedName: q, call, build });
  switch (q) {
    case 'collections.OrderedDict':
      return g((args) => {
        const d = new PyDict();
        const init = args[0];
        if (Array.isArray(init)) for (const kv of init) if (kv instanceof PyTuple) d.set(kv.items[0], kv.items[1]);
        return d;
      });
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
      return g(rebuildTensor, (obj) => obj);
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return g(firstArg, (obj) => obj);
    case 'torch._tensor._rebuild_from_type_v2':
      return g((args) => {
        const [fn, type, inner] = args;
        if (!(type instanceof TensorType)) throw new FormatError('.pt: tensor of an unknown subclass');
        const f = fn as PyGlobal;
        if (!f?.call || !(inner instanceof PyTuple)) throw new FormatError('.pt: malformed tensor subclass record');
        return f.call(inner.items);
      }, (obj) => obj);
    case 'torch.Tensor':
    case 'torch.nn.parameter.Parameter':
      return new TensorType(q);
    case 'torch.Size':
      return g((args) => (args[0] instanceof PyTuple ? args[0] : new PyTuple(intList(args[0], 'torch.Size'))));
  }
  if (module === 'torch' && STORAGE_DTYPES[name]) return new StorageType(q, STORAGE_DTYPES[name]);
  if (module === 'torch' && TORCH_DTYPES[name]) return new TorchDType(q, TORCH_DTYPES[name]);
  return undefined;
}

const resolveGlobal = torchGlobal;

function refusalAdvice(q: string): string | undefined {
  if (q.startsWith('torch.nn.') || q.startsWith('__main__.') || /\.[A-Z]\w*$/.test(q)) return PT_ADVICE;
  return undefined;
}

function storageDType(t: unknown): DType {
  if (t instanceof StorageType) return t.dtype;
  if (t instanceof TorchDType) return t.dtype;
  throw new FormatError('.pt: storage of an unsupported type (complex or quantized tensors are not supported)');
}

function pidParts(pid: unknown): unknown[] {
  if (pid instanceof PyTuple) return pid.items;
  throw new FormatError('.pt: malformed persistent id');
}

export interface PtFile {
  /** The unpickled object with tensors materialised (dicts are Maps, lists arrays, tuples PyTuple). */
  readonly object: unknown;
  readonly format: 'pt-zip' | 'pt-legacy';
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export function parsePt(bytes: Uint8Array, source = '.pt'): PtFile {
  if (isZip(bytes)) return parsePtZip(unzipSync(bytes), source);
  if (bytes[0] === 0x80) return parsePtLegacy(bytes, source);
  throw new FormatError(`${source}: not a PyTorch file (neither a zip archive nor a pickle stream)`);
}

/** A torch.save zip archive given as its entries (name → bytes). */
export function parsePtZip(entries: Record<string, Uint8Array>, source = '.pt'): PtFile {
  const pklName = Object.keys(entries).find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pklName) throw new FormatError(`${source}: zip archive without data.pkl (not a torch.save file)`);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const byteorderEntry = entries[`${prefix}byteorder`];
  const bigEndian = byteorderEntry ? new TextDecoder().decode(byteorderEntry).trim() === 'big' : false;
  const { value } = readPickle(entries[pklName], {
    resolveGlobal, refusalAdvice, source,
    persistentLoad: (pid) => {
      const [kind, type, key] = pidParts(pid);
      if (kind !== 'storage') throw new FormatError(`${source}: unsupported persistent id kind "${String(kind)}"`);
      return new StorageRef(String(key), storageDType(type));
    },
  });
  const storage = (ref: StorageRef): Uint8Array => {
    const b = entries[`${prefix}data/${ref.key}`];
    if (!b) throw new FormatError(`${source}: storage data/${ref.key} is missing from the archive`);
    return b;
  };
  return { object: materialise(value, storage, bigEndian, source), format: 'pt-zip' };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export function parsePtLegacy(bytes: Uint8Array, source = '.pt'): PtFile {
  const plain = { resolveGlobal: () => undefined, source };
  const magic = readPickle(bytes, plain);
  if (magic.value !== LEGACY_MAGIC) throw new FormatError(`${source}: pickle stream without the torch.save magic number`);
  const protocol = readPickle(bytes, plain, magic.end);
  if (protocol.value !== 1001) throw new FormatError(`${source}: unsupported legacy protocol ${String(protocol.value)}`);
  const sysInfo = readPickle(bytes, plain, protocol.end);
  const littleEndian = !(sysInfo.value instanceof Map) || sysInfo.value.get('little_endian') !== false;
  const roots = new Map<string, StorageRef>();
  const main = readPickle(bytes, {
    resolveGlobal, refusalAdvice, source,
    persistentLoad: (pid) => {
      const parts = pidParts(pid);
      if (parts[0] === 'module') throw new FormatError(`${source}: ${PT_ADVICE}`);
      if (parts[0] !== 'storage') throw new FormatError(`${source}: unsupported persistent id kind "${String(parts[0])}"`);
      const [, type, rootKey, , , view] = parts;
      const dtype = storageDType(type);
      const key = String(rootKey);
      if (!roots.has(key)) roots.set(key, new StorageRef(key, dtype));
      if (view instanceof PyTuple) {
        const [, viewOffset, viewSize] = view.items as number[];
        return new StorageRef(key, dtype, viewOffset, viewSize);
      }
      return roots.get(key);
    },
  }, sysInfo.end);
  const keys = readPickle(bytes, plain, main.end);
  if (!Array.isArray(keys.value)) throw new FormatError(`${source}: storage key list missing after the object pickle`);
  const data = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const k of keys.value) {
    const ref = roots.get(String(k));
    if (!ref) throw new FormatError(`${source}: storage ${String(k)} is listed but never used`);
    if (pos + 8 > bytes.length) throw new FormatError(`${source}: truncated before storage ${String(k)}`);
    const count = Number(view.getBigInt64(pos, littleEndian));
    const nbytes = count * BYTES_PER_ELEMENT[ref.dtype];
    pos += 8;
    if (pos + nbytes > bytes.length) throw new FormatError(`${source}: storage ${String(k)} is truncated`);
    data.set(ref.key, bytes.subarray(pos, pos + nbytes));
    pos += nbytes;
  }
  const storage = (ref: StorageRef): Uint8Array => {
    const b = data.get(ref.key);
    if (!b) throw new FormatError(`${source}: storage ${ref.key} has no data`);
    return b;
  };
  return { object: materialise(main.value, storage, !littleEndian, source), format: 'pt-legacy' };
}

function materialise(v: unknown, storage: (r: StorageRef) => Uint8Array, bigEndian: boolean, source: string): unknown {
  const rec = (x: unknown): unknown => {
    if (x instanceof LazyTensor) return tensorOf(x, storage(x.storage), bigEndian, source);
    if (x instanceof PyDict) {
      const d = new PyDict();
      for (const [k, val] of x) d.set(k, rec(val));
      d.attributes = x.attributes;
      return d;
    }
    if (x instanceof Map) return new Map([...x].map(([k, val]) => [k, rec(val)]));
    if (Array.isArray(x)) return x.map(rec);
    if (x instanceof PyTuple) return new PyTuple(x.items.map(rec));
    return x;
  };
  return rec(v);
}

function tensorOf(t: LazyTensor, raw: Uint8Array, bigEndian: boolean, source: string): Tensor {
  const { dtype } = t.storage;
  const es = BYTES_PER_ELEMENT[dtype];
  const n = numel(t.shape);
  const base = t.storage.elementOffset + t.offset;
  // Elements in C order, following strides (state_dict tensors are usually contiguous).
  const out = new Uint8Array(n * es);
  let maxIndex = base;
  for (let d = 0; d < t.shape.length; d++) if (t.shape[d] > 0) maxIndex += (t.shape[d] - 1) * t.stride[d];
  if (n > 0 && (base < 0 || (maxIndex + 1) * es > raw.length)) {
    throw new FormatError(`${source}: tensor [${t.shape.join(', ')}] reaches past its storage`);
  }
  if (isContiguous(t.shape, t.stride)) {
    out.set(raw.subarray(base * es, (base + n) * es));
  } else {
    const idx = new Array<number>(t.shape.length).fill(0);
    for (let i = 0; i < n; i++) {
      let src = base;
      for (let d = 0; d < idx.length; d++) src += idx[d] * t.stride[d];
      out.set(raw.subarray(src * es, src * es + es), i * es);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < t.shape[d]) break;
        idx[d] = 0;
      }
    }
  }
  if (bigEndian && es > 1) for (let i = 0; i < out.length; i += es) out.subarray(i, i + es).reverse();
  return { dtype, shape: [...t.shape], data: typedArrayOf(dtype, out) };
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

export function isTensor(x: unknown): x is Tensor {
  return !!x && typeof x === 'object' && 'dtype' in x && 'shape' in x && 'data' in x && !(x instanceof Map);
}

/**
 * The tensors of an unpickled object with dotted names: a state_dict gives its own keys, a checkpoint
 * dict such as {"model": state_dict, "epoch": 3} gives "model.weight_ih_l0", ... (non-tensors are skipped).
 */
export function tensorsOf(obj: unknown, prefix = '', out: TensorMap = new Map()): TensorMap {
  if (isTensor(obj)) {
    out.set(prefix || 'tensor', obj);
  } else if (obj instanceof Map) {
    for (const [k, v] of obj) tensorsOf(v, prefix ? `${prefix}.${String(k)}` : String(k), out);
  } else if (Array.isArray(obj) || obj instanceof PyTuple) {
    const items = Array.isArray(obj) ? obj : obj.items;
    items.forEach((v, i) => tensorsOf(v, prefix ? `${prefix}.${i}` : String(i), out));
  }
  return out;
}

export function parsePtTensors(bytes: Uint8Array, source = '.pt'): TensorMap {
  return tensorsOf(parsePt(bytes, source).object);
}
