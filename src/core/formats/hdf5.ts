// HDF5 files (Keras .h5 / .weights.h5) as plain trees of groups, attributes and tensors, through
// h5wasm (the HDF5 C library compiled to WebAssembly, embedded; it works on its own in-memory file
// system, so bytes in, bytes out). Loaded lazily: only Keras imports and exports pay for it.
// HDF5's own diagnostics (the 40–70 line "HDF5-DIAG" stack it prints to stderr) are switched to h5wasm's
// throwing error handler and summarised into one line. Dataset sizes are checked against the budget
// before a value is read; groups are walked to a bounded depth and node count (links can form cycles).
import type { DType, Tensor } from '../tensor';
import { FormatError } from './errors';
import { type LoadLimits, TensorBudget, checkedNumel, limitError, loadLimits } from './limits';

export type H5Attrs = Record<string, unknown>;
export interface H5Group {
  readonly kind: 'group';
  readonly attrs: H5Attrs;
  readonly children: Map<string, H5Node>;
}
export interface H5Dataset {
  readonly kind: 'dataset';
  readonly attrs: H5Attrs;
  readonly tensor: Tensor;
}
export type H5Node = H5Group | H5Dataset;

type H5wasm = typeof import('h5wasm');
let loading: Promise<H5wasm> | undefined;
let counter = 0;

async function h5wasm(): Promise<H5wasm> {
  loading ??= import('h5wasm').then(async (m) => {
    const module = (await m.ready) as unknown as { activate_throwing_error_handler?: () => number };
    // HDF5 errors become JS exceptions carrying the diagnostic text, instead of lines on stderr.
    module.activate_throwing_error_handler?.();
    return m;
  });
  return loading;
}

/**
 * One line from an HDF5 diagnostic stack ("HDF5-DIAG: Error detected …  #000: … in H5Fopen(): unable
 * to open file … #016: … in H5O__chunk_deserialize(): message not aligned"): the outermost and the
 * innermost problem.
 */
export function hdf5Summary(message: string): string {
  const problems = [...message.matchAll(/#\d+:.*? in (\w+)\(\): ([^\n]*)/g)].map((m) => `${m[1]}: ${m[2].trim()}`);
  if (!problems.length) return message.split('\n').map((l) => l.trim()).filter(Boolean)[0]?.slice(0, 200) ?? 'unknown error';
  const first = problems[0];
  const last = problems[problems.length - 1];
  return first === last ? first : `${first} … ${last}`;
}

/** Most groups and datasets walked in one file (soft and hard links can make a tree of a cycle). */
const MAX_H5_NODES = 100_000;
/** Attributes larger than this are skipped (Keras' are short strings). */
const MAX_ATTR_BYTES = 64 * 1024 * 1024;

function tensorOfValue(value: unknown, shape: number[], path: string): Tensor {
  const dims = shape.length ? shape : [];
  if (value instanceof Float64Array) return { dtype: 'float64', shape: dims, data: value };
  if (value instanceof Float32Array) return { dtype: 'float32', shape: dims, data: value };
  if (value instanceof BigInt64Array) return { dtype: 'int64', shape: dims, data: value };
  if (value instanceof Int32Array) return { dtype: 'int32', shape: dims, data: value };
  if (value instanceof Int16Array) return { dtype: 'int16', shape: dims, data: value };
  if (value instanceof Int8Array) return { dtype: 'int8', shape: dims, data: value };
  if (value instanceof Uint8Array) return { dtype: 'uint8', shape: dims, data: value };
  if (typeof value === 'number') return { dtype: 'float64', shape: [], data: Float64Array.of(value) };
  throw new FormatError(`HDF5 dataset ${path}: unsupported data type (numeric arrays only)`);
}

type H5Attr = { value: unknown; shape?: number[] | null; metadata?: { size?: number; vlen?: boolean } };

function readAttrs(obj: { attrs: Record<string, H5Attr> }): H5Attrs {
  const out: H5Attrs = {};
  for (const [k, a] of Object.entries(obj.attrs)) {
    try {
      const n = checkedNumel(a.shape ?? []);
      out[k] = n * (a.metadata?.size ?? 1) > MAX_ATTR_BYTES ? undefined : a.value;
    } catch {
      out[k] = undefined; // unreadable attribute types are skipped, not fatal
    }
  }
  return out;
}

/** Reads the whole file into memory (weights files are small). */
export async function readHdf5(bytes: Uint8Array, source = 'HDF5', limitOverrides?: Partial<LoadLimits>): Promise<H5Group> {
  const limits = loadLimits(limitOverrides);
  const budget = new TensorBudget(source, limits);
  const h5 = await h5wasm();
  const FS = h5.FS as unknown as { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void; readFile(p: string): Uint8Array };
  const path = `/gatescope-read-${++counter}.h5`;
  FS.writeFile(path, bytes);
  let file: InstanceType<H5wasm['File']> | undefined;
  try {
    file = new h5.File(path, 'r');
    let nodes = 0;
    const walk = (g: InstanceType<H5wasm['Group']>, at: string, depth: number): H5Group => {
      if (depth > limits.maxNesting) throw limitError(source, `HDF5 groups nest more than ${limits.maxNesting} levels deep (a link cycle?)`, 'maxNesting', limits);
      const children = new Map<string, H5Node>();
      for (const name of g.keys()) {
        if (++nodes > MAX_H5_NODES) throw new FormatError(`${source}: more than ${MAX_H5_NODES} HDF5 groups and datasets (a link cycle?)`);
        const child = g.get(name);
        const p = `${at}/${name}`;
        if (child instanceof h5.Group) children.set(name, walk(child, p, depth + 1));
        else if (child instanceof h5.Dataset) {
          const meta = child.metadata as { size?: number; virtual_sources?: unknown[] };
          if (meta.virtual_sources?.length) throw new FormatError(`${source}: dataset ${p} is a virtual dataset reading other files (refused)`);
          const shape = child.shape ?? [];
          budget.take(checkedNumel(shape) * (meta.size ?? 8), `dataset ${p}`);
          children.set(name, { kind: 'dataset', attrs: readAttrs(child as never), tensor: tensorOfValue(child.value, shape, p) });
        }
      }
      return { kind: 'group', attrs: readAttrs(g as never), children };
    };
    return walk(file, '', 0);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${source}: not a readable HDF5 file (${hdf5Summary(e instanceof Error ? e.message : String(e))})`);
  } finally {
    try { file?.close(); } catch { /* already closed */ }
    try { FS.unlink(path); } catch { /* not created */ }
  }
}

/** Node at a slash path ("a/b/c"), or undefined. */
export function h5Get(root: H5Group, path: string): H5Node | undefined {
  let node: H5Node | undefined = root;
  for (const part of path.split('/').filter(Boolean)) {
    if (!node || node.kind !== 'group') return undefined;
    node = node.children.get(part);
  }
  return node;
}

/** Strings of a string-array attribute (h5py writes fixed-length byte strings, h5wasm decodes them). */
export function attrStrings(attrs: H5Attrs, name: string): string[] | undefined {
  const v = attrs[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => (x instanceof Uint8Array ? new TextDecoder().decode(x) : String(x)));
  return undefined;
}

export function attrString(attrs: H5Attrs, name: string): string | undefined {
  const v = attrs[name];
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return undefined;
}

/** What to write: groups with attributes, datasets with float tensors (nested by path). */
export interface H5WriteGroup {
  readonly attrs?: Record<string, string | string[] | number>;
  readonly children: Record<string, H5WriteGroup | Tensor>;
}

const H5_DTYPE: Partial<Record<DType, string>> = { float64: '<d', float32: '<f', int64: '<q', int32: '<i' };

export async function writeHdf5(root: H5WriteGroup): Promise<Uint8Array> {
  const h5 = await h5wasm();
  const path = `/gatescope-write-${++counter}.h5`;
  try {
    return writeFile(h5, path, root);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`HDF5 export: ${hdf5Summary(e instanceof Error ? e.message : String(e))}`);
  }
}

function writeFile(h5: H5wasm, path: string, root: H5WriteGroup): Uint8Array {
  const FS = h5.FS as unknown as { unlink(p: string): void; readFile(p: string): Uint8Array };
  const file = new h5.File(path, 'w');
  try {
    const fill = (g: InstanceType<H5wasm['Group']>, spec: H5WriteGroup): void => {
      for (const [k, v] of Object.entries(spec.attrs ?? {})) g.create_attribute(k, v as never);
      for (const [name, child] of Object.entries(spec.children)) {
        if ('children' in child) fill(g.create_group(name), child);
        else {
          const dtype = H5_DTYPE[child.dtype];
          if (!dtype) throw new FormatError(`HDF5 export: dtype ${child.dtype} is not supported`);
          g.create_dataset({ name, data: child.data as Float64Array, shape: [...child.shape], dtype });
        }
      }
    };
    fill(file, root);
  } finally {
    file.close();
  }
  const bytes = FS.readFile(path);
  FS.unlink(path);
  return new Uint8Array(bytes);
}
