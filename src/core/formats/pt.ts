// PyTorch torch.save files: the zip archive (archive/data.pkl + archive/data/<key> storages) and the
// legacy stream (magic number, protocol and sys-info pickles, the object pickle, the storage keys,
// then each storage as int64 element count + raw bytes). Read with the safe pickle reader: only
// tensor-rebuilding globals are allowed; tensors are materialised from the storages afterwards.
import { type DType, type Tensor, type TensorMap, formatShape } from '../tensor';
import { FormatError } from './errors';
import { BYTES_PER_ELEMENT, typedArrayOver } from './safetensors';
import { PyClassRef, PyDict, PyObject, PyTuple, type PyGlobal, readPickle } from './pickle';
import { type TorchModuleInfo, isModuleRecord, moduleEntries, moduleInfo } from './torchModules';
import { type LoadLimits, TensorBudget, checkedNumel, describe, formatLimit, limitError, loadLimits } from './limits';
import { ZipArchive, isZip } from './zip';

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
  'an object the pickle rebuilds by calling its class cannot be read without running code; ' +
  'save model.state_dict() instead: torch.save(model.state_dict(), "weights.pt")';

function intList(v: unknown, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : undefined;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) throw new FormatError(`${what} ${describe(items ?? v)} is not a tuple of ints`);
  if (items.length > 64) throw new FormatError(`${what} has ${items.length} dimensions (at most 64)`);
  return [...items] as number[];
}

function rebuildTensor(args: unknown[]): LazyTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new FormatError('tensor without a storage');
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new FormatError(`tensor storage offset ${describe(offset)} is not a non-negative int`);
  const shape = intList(size, 'tensor size');
  const strides = intList(stride, 'tensor stride');
  if (shape.some((d) => d < 0)) throw new FormatError(`tensor size [${shape.join(', ')}] has a negative dimension`);
  if (strides.length !== shape.length) throw new FormatError(`tensor stride [${strides.join(', ')}] does not match its size [${shape.join(', ')}]`);
  // PyTorch itself refuses negative strides ("negative strides are not supported").
  if (strides.some((d) => d < 0)) throw new FormatError(`tensor stride [${strides.join(', ')}] is negative (PyTorch refuses such tensors)`);
  return new LazyTensor(storage, offset, shape, strides);
}

function firstArg(args: unknown[]): unknown {
  if (!(args[0] instanceof LazyTensor)) throw new FormatError('parameter without tensor data');
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
        if (!(type instanceof TensorType)) throw new FormatError('tensor of an unknown subclass');
        const f = fn as PyGlobal;
        if (!f?.call || !(inner instanceof PyTuple)) throw new FormatError('malformed tensor subclass record');
        return f.call(inner.items);
      }, (obj) => obj);
    case 'torch.Tensor':
    case 'torch.nn.parameter.Parameter':
      return new TensorType(q);
    case 'torch.Size':
      return g((args) => (args[0] instanceof PyTuple ? args[0] : new PyTuple(intList(args[0], 'torch.Size'))));
    // Plain containers a module's or a vocabulary's __dict__ holds (nothing user-defined is called).
    case '__builtin__.set':
    case 'builtins.set':
      return g((args) => new Set(Array.isArray(args[0]) ? args[0] : args[0] instanceof PyTuple ? args[0].items : []));
    case 'collections.Counter':
      return g((args) => {
        const d = new PyDict();
        if (args[0] instanceof Map) for (const [k, v] of args[0]) d.set(k, v);
        return d;
      });
    case 'collections.defaultdict':
      return g(() => new PyDict()); // the default factory is kept by name only, never called
    // Protocol 0/1 objects: copyreg._reconstructor(cls, object, state) is cls.__new__ + state; for a
    // class outside the allow-list that is an inert record, like NEWOBJ.
    case 'copy_reg._reconstructor':
    case 'copyreg._reconstructor':
      return g((args) => {
        const [cls, , state] = args;
        if (!(cls instanceof PyClassRef)) throw new FormatError('copyreg._reconstructor of something that is not a class');
        const o = new PyObject(cls, []);
        if (state !== null && state !== undefined) o.state = state;
        return o;
      }, (obj, state) => { (obj as PyObject).state = state; return obj; });
  }
  if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new StorageType(q, STORAGE_DTYPES[name]);
  if (module === 'torch' && Object.hasOwn(TORCH_DTYPES, name)) return new TorchDType(q, TORCH_DTYPES[name]);
  return undefined;
}

const resolveGlobal = torchGlobal;

function refusalAdvice(q: string): string | undefined {
  if (q.startsWith('numpy.')) return 'numpy arrays inside a pickle need numpy to rebuild them; save torch tensors, or the arrays with numpy.savez';
  if (q.startsWith('torch.nn.') || q.startsWith('__main__.') || /\.[A-Z]\w*$/.test(q)) return PT_ADVICE;
  return undefined;
}

function storageDType(t: unknown, source: string): DType {
  if (t instanceof StorageType) return t.dtype;
  if (t instanceof TorchDType) return t.dtype;
  throw new FormatError(`${source}: storage of an unsupported type (complex or quantized tensors are not supported)`);
}

function pidParts(pid: unknown, source: string): unknown[] {
  if (pid instanceof PyTuple) return pid.items;
  throw new FormatError(`${source}: malformed persistent id`);
}

export interface PtFile {
  /** The unpickled object with tensors materialised (dicts are Maps, lists arrays, tuples PyTuple). */
  readonly object: unknown;
  readonly format: 'pt-zip' | 'pt-legacy';
}

export { isZip };

export function parsePt(bytes: Uint8Array, source = '.pt', limits?: Partial<LoadLimits>): PtFile {
  if (isZip(bytes)) return parsePtZip(ZipArchive.open(bytes, source, limits), source);
  if (bytes[0] === 0x80) return parsePtLegacy(bytes, source, limits);
  throw new FormatError(`${source}: not a PyTorch file (neither a zip archive nor a pickle stream)`);
}

/** The data.pkl of a torch.save archive, if it has one. */
export function ptPickleName(names: readonly string[]): string | undefined {
  return names.find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
}

/** A torch.save zip archive. */
export function parsePtZip(zip: ZipArchive, source = '.pt'): PtFile {
  const pklName = ptPickleName(zip.names);
  if (!pklName) throw new FormatError(`${source}: zip archive without data.pkl (not a torch.save file)`);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const byteorderEntry = zip.read(`${prefix}byteorder`);
  const bigEndian = byteorderEntry ? new TextDecoder().decode(byteorderEntry).trim() === 'big' : false;
  const { value } = readPickle(zip.read(pklName)!, {
    resolveGlobal, refusalAdvice, source, limits: zip.limits, inertClasses: true,
    persistentLoad: (pid) => {
      const [kind, type, key] = pidParts(pid, source);
      if (kind !== 'storage') throw new FormatError(`${source}: unsupported persistent id kind ${describe(kind)}`);
      if (typeof key !== 'string' && typeof key !== 'number') throw new FormatError(`${source}: storage key ${describe(key)} is not a string`);
      return new StorageRef(String(key), storageDType(type, source));
    },
  });
  const cache = new Map<string, Uint8Array>();
  const storage = (ref: StorageRef): Uint8Array => {
    let b = cache.get(ref.key);
    if (!b) {
      b = zip.read(`${prefix}data/${ref.key}`);
      if (!b) throw new FormatError(`${source}: storage data/${ref.key} is missing from the archive`);
      cache.set(ref.key, b);
    }
    return b;
  };
  return { object: materialise(value, storage, bigEndian, source, zip.limits), format: 'pt-zip' };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export function parsePtLegacy(bytes: Uint8Array, source = '.pt', limitOverrides?: Partial<LoadLimits>): PtFile {
  const limits = loadLimits(limitOverrides);
  const plain = { resolveGlobal: () => undefined, source, limits };
  const magic = readPickle(bytes, plain);
  if (magic.value !== LEGACY_MAGIC) throw new FormatError(`${source}: pickle stream without the torch.save magic number`);
  const protocol = readPickle(bytes, plain, magic.end);
  if (protocol.value !== 1001) throw new FormatError(`${source}: unsupported legacy protocol ${describe(protocol.value)}`);
  const sysInfo = readPickle(bytes, plain, protocol.end);
  const littleEndian = !(sysInfo.value instanceof Map) || sysInfo.value.get('little_endian') !== false;
  const roots = new Map<string, StorageRef>();
  const main = readPickle(bytes, {
    resolveGlobal, refusalAdvice, source, limits, inertClasses: true,
    persistentLoad: (pid) => {
      const parts = pidParts(pid, source);
      // A pickled nn.Module class: ('module', cls, source file, source text); the class stays a name.
      if (parts[0] === 'module') {
        if (parts[1] instanceof PyClassRef) return parts[1];
        throw new FormatError(`${source}: malformed module record in a persistent id`);
      }
      if (parts[0] !== 'storage') throw new FormatError(`${source}: unsupported persistent id kind ${describe(parts[0])}`);
      const [, type, rootKey, , , view] = parts;
      if (typeof rootKey !== 'string' && typeof rootKey !== 'number') throw new FormatError(`${source}: storage key ${describe(rootKey)} is not a string`);
      const dtype = storageDType(type, source);
      const key = String(rootKey);
      const root = roots.get(key) ?? new StorageRef(key, dtype);
      if (root.dtype !== dtype) throw new FormatError(`${source}: storage ${key} is used as both ${root.dtype} and ${dtype}`);
      roots.set(key, root);
      if (view instanceof PyTuple) {
        const [, viewOffset, viewSize] = view.items;
        if (!isIndex(viewOffset) || !isIndex(viewSize)) throw new FormatError(`${source}: storage view of ${key} has a bad offset or size (${describe(viewOffset)}, ${describe(viewSize)})`);
        return new StorageRef(key, dtype, viewOffset, viewSize);
      }
      return root;
    },
  }, sysInfo.end);
  const keys = readPickle(bytes, plain, main.end);
  if (!Array.isArray(keys.value)) throw new FormatError(`${source}: storage key list missing after the object pickle`);
  const data = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const k of keys.value) {
    const ref = roots.get(String(k));
    if (!ref) throw new FormatError(`${source}: storage ${describe(k)} is listed but never used`);
    if (data.has(ref.key)) throw new FormatError(`${source}: storage ${ref.key} is listed twice`);
    if (pos + 8 > bytes.length) throw new FormatError(`${source}: truncated before storage ${ref.key}`);
    const count = view.getBigInt64(pos, littleEndian);
    const es = BYTES_PER_ELEMENT[ref.dtype];
    pos += 8;
    if (count < 0n || count * BigInt(es) > BigInt(bytes.length - pos)) {
      throw new FormatError(`${source}: storage ${ref.key} claims ${count} elements, more than the file holds (truncated?)`);
    }
    const nbytes = Number(count) * es;
    data.set(ref.key, bytes.subarray(pos, pos + nbytes));
    pos += nbytes;
  }
  const storage = (ref: StorageRef): Uint8Array => {
    const b = data.get(ref.key);
    if (!b) throw new FormatError(`${source}: storage ${ref.key} has no data`);
    return b;
  };
  return { object: materialise(main.value, storage, !littleEndian, source, limits), format: 'pt-legacy' };
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

const isContainer = (x: unknown): x is Map<unknown, unknown> | unknown[] | PyTuple | PyObject =>
  x instanceof Map || Array.isArray(x) || x instanceof PyTuple || x instanceof PyObject;

/**
 * Replaces every LazyTensor in the unpickled object with its tensor, in place and without recursion: a
 * container reached twice (the pickle memo shares objects) is walked once, a LazyTensor reached twice is
 * read once, and two records of the same view of the same storage give one tensor.
 */
function materialise(v: unknown, storage: (r: StorageRef) => Uint8Array, bigEndian: boolean, source: string, limits: LoadLimits): unknown {
  const budget = new ViewBudget(source, limits);
  const done = new Map<LazyTensor, Tensor>();
  const sameView = new Map<string, Tensor>();
  const resolve = (t: LazyTensor): Tensor => {
    let out = done.get(t);
    if (out) return out;
    const key = `${t.storage.key}|${t.storage.dtype}|${t.storage.elementOffset}|${t.storage.viewSize}|${t.offset}|${t.shape.join(',')}|${t.stride.join(',')}`;
    out = sameView.get(key) ?? tensorOf(t, storage(t.storage), bigEndian, source, budget);
    sameView.set(key, out);
    done.set(t, out);
    return out;
  };
  if (v instanceof LazyTensor) return resolve(v);
  const seen = new Set<object>();
  const todo: [Map<unknown, unknown> | unknown[] | PyTuple | PyObject, number][] = [];
  const visit = (x: unknown, depth: number): void => {
    if (!isContainer(x) || seen.has(x)) return;
    if (depth > limits.maxNesting) throw limitError(source, `objects are nested more than ${limits.maxNesting} levels deep`, 'maxNesting', limits);
    seen.add(x);
    todo.push([x, depth]);
  };
  visit(v, 0);
  while (todo.length) {
    const [c, depth] = todo.pop()!;
    if (c instanceof Map) {
      for (const [k, x] of c) {
        if (x instanceof LazyTensor) c.set(k, resolve(x));
        else visit(x, depth + 1);
      }
    } else if (c instanceof PyObject) {
      if (c.state instanceof LazyTensor) c.state = resolve(c.state);
      else visit(c.state, depth + 1);
      for (let i = 0; i < c.args.length; i++) {
        const x = c.args[i];
        if (x instanceof LazyTensor) c.args[i] = resolve(x);
        else visit(x, depth + 1);
      }
    } else {
      const items = c instanceof PyTuple ? c.items : c;
      for (let i = 0; i < items.length; i++) {
        const x = items[i];
        if (x instanceof LazyTensor) items[i] = resolve(x);
        else visit(x, depth + 1);
      }
    }
  }
  return v;
}

/**
 * What materialising views may cost: every tensor counts against the file's tensor budget, and views of
 * one storage may add up to its size for free (views of a storage usually partition it); anything beyond
 * (broadcasts, overlapping views, many records of the same bytes) counts against maxExpandedBytes.
 */
class ViewBudget {
  private readonly total: TensorBudget;
  private readonly used = new Map<string, number>();
  private expanded = 0;

  constructor(readonly source: string, readonly limits: LoadLimits) {
    this.total = new TensorBudget(source, limits);
  }

  take(storageKey: string, storageBytes: number, bytes: number, what: string, broadcast: string | undefined): void {
    const before = this.used.get(storageKey) ?? 0;
    const after = before + bytes;
    const extra = Math.max(0, after - storageBytes) - Math.max(0, before - storageBytes);
    if (this.expanded + extra > this.limits.maxExpandedBytes) {
      const why = broadcast
        ? `${what} repeats its stored elements (${broadcast}); expanded it would take ${formatLimit('maxExpandedBytes', bytes)}`
        : `views of storage ${storageKey} would take ${formatLimit('maxExpandedBytes', after)}, more than its ${formatLimit('maxExpandedBytes', storageBytes)} (at ${what})`;
      throw limitError(this.source, why, 'maxExpandedBytes', this.limits);
    }
    this.total.take(bytes, what);
    this.expanded += extra;
    this.used.set(storageKey, after);
  }
}

function tensorOf(t: LazyTensor, raw: Uint8Array, bigEndian: boolean, source: string, budget: ViewBudget): Tensor {
  const { dtype, elementOffset, viewSize } = t.storage;
  const es = BYTES_PER_ELEMENT[dtype];
  const what = `tensor ${formatShape(t.shape)} of storage ${t.storage.key}`;
  const fail = (msg: string): never => { throw new FormatError(`${source}: ${what} ${msg}`); };
  const storageElems = Math.floor(raw.length / es);
  const hi = viewSize === undefined ? storageElems : elementOffset + viewSize;
  if (hi > storageElems) fail(`views ${viewSize} elements from ${elementOffset}, past the storage's ${storageElems}`);
  const base = elementOffset + t.offset;
  const n = checkedNumel(t.shape);
  if (n === 0) return { dtype, shape: [...t.shape], data: typedArrayOver(dtype, new ArrayBuffer(0)) };
  // The last element it reads, dimension by dimension (strides are non-negative: checked when rebuilt).
  let last = base;
  for (let d = 0; d < t.shape.length; d++) {
    if (t.shape[d] > 1 && t.stride[d] >= hi) fail(`has stride ${t.stride[d]} in a storage of ${hi} elements`);
    last += (t.shape[d] - 1) * t.stride[d];
  }
  if (!(last < hi)) fail(`reaches element ${last} of a storage of ${hi} (offset ${t.offset}, strides [${t.stride.join(', ')}])`);
  const bytes = n * es;
  // More elements than the storage range it reads: a broadcast (stride 0) or overlapping view.
  const broadcast = n > hi - base ? `${n} elements from ${hi - base} stored, strides [${t.stride.join(', ')}]` : undefined;
  budget.take(t.storage.key, raw.length, bytes, what, broadcast);
  const out = new Uint8Array(bytes);
  gather(raw, es, base, t.shape, t.stride, out);
  if (bigEndian && es > 1) swapBytes(out, es);
  return { dtype, shape: [...t.shape], data: typedArrayOver(dtype, out.buffer) };
}

/** Reverses the bytes of each `es`-byte element in place. */
export function swapBytes(b: Uint8Array, es: number): void {
  for (let i = 0; i < b.length; i += es) {
    for (let lo = i, hi = i + es - 1; lo < hi; lo++, hi--) { const x = b[lo]; b[lo] = b[hi]; b[hi] = x; }
  }
}

/**
 * Copies a strided view into C order, by blocks: contiguous runs with one copy, stride-0 dimensions by
 * copying the block once and doubling it, so a broadcast costs O(log n) copies, not a loop per element.
 */
function gather(raw: Uint8Array, es: number, base: number, shape: readonly number[], stride: readonly number[], out: Uint8Array): void {
  // Size-1 dimensions do not move; a dimension contiguous with the next merges into it.
  const dims: { size: number; stride: number }[] = [];
  for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) dims.push({ size: shape[d], stride: stride[d] });
  for (let k = dims.length - 2; k >= 0; k--) {
    const inner = dims[k + 1];
    if (inner.stride !== 0 && dims[k].stride === inner.stride * inner.size) {
      dims.splice(k, 2, { size: dims[k].size * inner.size, stride: inner.stride });
    }
  }
  const block = new Array<number>(dims.length + 1).fill(1);
  for (let k = dims.length - 1; k >= 0; k--) block[k] = block[k + 1] * dims[k].size;
  const rec = (k: number, src: number, dst: number): void => {
    if (k === dims.length) {
      out.set(raw.subarray(src * es, src * es + es), dst * es);
      return;
    }
    const { size, stride: st } = dims[k];
    const blk = block[k + 1];
    if (st === 0) {
      rec(k + 1, src, dst);
      for (let filled = 1; filled < size;) {
        const c = Math.min(filled, size - filled);
        out.copyWithin((dst + filled * blk) * es, dst * es, (dst + c * blk) * es);
        filled += c;
      }
    } else if (k === dims.length - 1) {
      if (st === 1) {
        out.set(raw.subarray(src * es, (src + size) * es), dst * es);
      } else {
        for (let i = 0, o = dst * es, s = src * es; i < size; i++, s += st * es) for (let b = 0; b < es; b++) out[o++] = raw[s + b];
      }
    } else {
      for (let i = 0; i < size; i++) rec(k + 1, src + i * st, dst + i * blk);
    }
  };
  rec(0, base, 0);
}

export function isTensor(x: unknown): x is Tensor {
  return !!x && typeof x === 'object' && 'dtype' in x && 'shape' in x && 'data' in x && !(x instanceof Map);
}

/** Most tensor names one object may give (names multiply when shared containers are reached by many paths). */
const MAX_TENSOR_NAMES = 1_000_000;

/**
 * The tensors of an unpickled object with dotted names: a state_dict gives its own keys, a checkpoint
 * dict such as {"model": state_dict, "epoch": 3} gives "model.weight_ih_l0", ... (non-tensors are skipped).
 * Iterative; containers that reach no tensor are not walked, a container inside itself is skipped.
 */
export function tensorsOf(obj: unknown, prefix = '', out: TensorMap = new Map(), source = 'pickle'): TensorMap {
  const children = containerEntries;
  // How many tensor names each container gives (paths to tensors, saturating past the limit): post-order
  // over the object graph, a cycle's back edge giving none. Counted before any name is built.
  const paths = new Map<object, number>();
  const post: [object, boolean][] = isContainer(obj) ? [[obj, false]] : [];
  while (post.length) {
    const [c, expanded] = post.pop()!;
    if (expanded) {
      let n = 0;
      for (const [, v] of children(c)) n = Math.min(MAX_TENSOR_NAMES + 1, n + (isTensor(v) ? 1 : paths.get(v as object) ?? 0));
      paths.set(c, n);
      continue;
    }
    if (paths.has(c)) continue;
    paths.set(c, 0);
    post.push([c, true]);
    for (const [, v] of children(c)) if (isContainer(v) && !paths.has(v)) post.push([v, false]);
  }
  if (isContainer(obj) && paths.get(obj)! > MAX_TENSOR_NAMES) {
    throw new FormatError(`${source}: more than ${MAX_TENSOR_NAMES} tensor names (shared containers reached by too many paths)`);
  }
  let names = 0;
  const onPath = new Set<object>();
  const walk: ({ name: string; value: unknown } | { leave: object })[] = [{ name: prefix, value: obj }];
  while (walk.length) {
    const item = walk.pop()!;
    if ('leave' in item) { onPath.delete(item.leave); continue; }
    const { name, value: v } = item;
    if (isTensor(v)) {
      if (++names > MAX_TENSOR_NAMES) throw new FormatError(`${source}: more than ${MAX_TENSOR_NAMES} tensor names (shared containers reached by too many paths)`);
      out.set(name || 'tensor', v);
    } else if (isContainer(v) && paths.get(v) && !onPath.has(v)) {
      onPath.add(v);
      walk.push({ leave: v });
      const kids = children(v);
      for (let i = kids.length - 1; i >= 0; i--) walk.push({ name: name ? `${name}.${kids[i][0]}` : kids[i][0], value: kids[i][1] });
    }
  }
  return out;
}

/**
 * The named entries a walk over an unpickled object visits: a dict's items, a list's or tuple's elements, a
 * whole module's state_dict entries (parameters, persistent buffers, submodules), another record's attributes.
 */
function containerEntries(c: unknown): [string, unknown][] {
  if (c instanceof Map) return [...c].map(([k, v]) => [String(k), v]);
  if (c instanceof PyObject) {
    if (isModuleRecord(c)) return moduleEntries(c);
    const d = c.dict;
    return d ? [...d].filter(([k]) => typeof k === 'string').map(([k, v]) => [k as string, v]) : [];
  }
  const items = Array.isArray(c) ? c : (c as PyTuple).items;
  return items.map((v, i) => [String(i), v]);
}

/** Most modules one file may describe (a tree reached by many paths through shared records). */
const MAX_MODULES = 100_000;

/**
 * The pickled nn.Module trees in an object (the root itself for `torch.save(model)`, or under a key of a
 * checkpoint dict: `model.encoder`), every module with its path as in tensorsOf's names, in pre-order.
 */
export function modulesOf(obj: unknown, source = 'pickle'): TorchModuleInfo[] {
  const out: TorchModuleInfo[] = [];
  const onPath = new Set<object>();
  /** Plain containers are searched once each (the first path names what they hold), so shared ones cost nothing. */
  const searched = new Set<object>();
  const walk: ({ name: string; value: unknown; inModule: boolean } | { leave: object })[] = [{ name: '', value: obj, inModule: false }];
  while (walk.length) {
    const item = walk.pop()!;
    if ('leave' in item) { onPath.delete(item.leave); continue; }
    const { name, value: v, inModule } = item;
    if (!isContainer(v) || onPath.has(v)) continue;
    const module = isModuleRecord(v);
    // Inside a module only its submodules are followed; elsewhere plain containers lead to roots.
    if (inModule && !module) continue;
    if (!module && v instanceof PyObject) continue;
    if (!module) {
      if (searched.has(v)) continue;
      searched.add(v);
    }
    if (module) {
      if (out.length >= MAX_MODULES) throw new FormatError(`${source}: more than ${MAX_MODULES} modules (shared records reached by too many paths)`);
      out.push(moduleInfo(name, v as PyObject));
    }
    onPath.add(v);
    walk.push({ leave: v });
    const kids = module ? moduleEntries(v as PyObject).filter(([, x]) => isModuleRecord(x)) : containerEntries(v);
    for (let i = kids.length - 1; i >= 0; i--) walk.push({ name: name ? `${name}.${kids[i][0]}` : kids[i][0], value: kids[i][1], inModule: module });
  }
  return out;
}

export function parsePtTensors(bytes: Uint8Array, source = '.pt'): TensorMap {
  return tensorsOf(parsePt(bytes, source).object, '', new Map(), source);
}
