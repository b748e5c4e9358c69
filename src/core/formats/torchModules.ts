// Whole pickled modules (`torch.save(model)`), read as data: the safe unpickler turns every class outside the
// tensor allow-list into an inert PyObject record (class name + pickled __dict__), and an nn.Module's
// __dict__ holds its `_parameters`, `_buffers` and `_modules` OrderedDicts. Walking those gives what
// `model.state_dict()` would (the same names: `encoder.weight`, `rnn.weight_ih_l0`, ...) and the module tree
// with each module's type and constructor attributes (`rnn: LSTM(mode='LSTM', hidden_size=16, ...)`).
import { PyObject, PyTuple } from './pickle';

/** One module of a pickled tree, as far as its record tells. */
export interface TorchModuleInfo {
  /** Dotted path as in the state_dict (`''` for the root, `encoder`, `head.0`). */
  readonly path: string;
  /** Qualified class name (`torch.nn.modules.rnn.LSTM`, `model.RNNModel`). */
  readonly type: string;
  /** The class name alone (`LSTM`). */
  readonly kind: string;
  /** Plain attributes of its __dict__: numbers, strings, booleans, None, and tuples/lists of those. */
  readonly attributes: ReadonlyMap<string, unknown>;
  /** Child module names in registration order (what nn.Sequential runs in turn). */
  readonly children: readonly string[];
}

const mapOf = (x: unknown): Map<unknown, unknown> | undefined => (x instanceof Map ? x : undefined);

/** An nn.Module record: a PyObject whose state has `_parameters` and `_modules` dicts. */
export function isModuleRecord(x: unknown): boolean {
  const d = x instanceof PyObject ? x.dict : undefined;
  return !!d && mapOf(d.get('_parameters')) !== undefined && mapOf(d.get('_modules')) !== undefined;
}

/**
 * What state_dict() walks, in its order: the parameters (None ones skipped), the persistent buffers, then
 * the submodules. Values may be tensors, records or anything else the pickle held; the caller keeps tensors.
 */
export function moduleEntries(m: PyObject): [string, unknown][] {
  const d = m.dict!;
  const out: [string, unknown][] = [];
  for (const [k, v] of mapOf(d.get('_parameters'))!) if (v !== null && v !== undefined) out.push([String(k), v]);
  const nonPersistent = d.get('_non_persistent_buffers_set');
  const skip = nonPersistent instanceof Set ? nonPersistent : new Set();
  for (const [k, v] of mapOf(d.get('_buffers')) ?? []) if (v !== null && v !== undefined && !skip.has(k)) out.push([String(k), v]);
  for (const [k, v] of mapOf(d.get('_modules'))!) if (v !== null && v !== undefined) out.push([String(k), v]);
  return out;
}

const isPlain = (v: unknown, depth = 0): boolean =>
  v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint'
  || (depth < 2 && (Array.isArray(v) || v instanceof PyTuple) && (Array.isArray(v) ? v : v.items).length <= 64
    && (Array.isArray(v) ? v : v.items).every((x) => isPlain(x, depth + 1)));

/** The module's type and plain attributes (hooks, parameters and submodules left out). */
export function moduleInfo(path: string, m: PyObject): TorchModuleInfo {
  const d = m.dict!;
  const attributes = new Map<string, unknown>();
  for (const [k, v] of d) {
    if (typeof k !== 'string' || k.startsWith('_') || k === 'training') continue;
    if (isPlain(v)) attributes.set(k, v instanceof PyTuple ? [...v.items] : v);
  }
  const children = [...mapOf(d.get('_modules'))!].filter(([, v]) => v instanceof PyObject).map(([k]) => String(k));
  return { path, type: m.className, kind: m.cls.name, attributes, children };
}

/** A readable one-line description: `rnn: LSTM(mode='LSTM', input_size=16, hidden_size=16, num_layers=2)`. */
export function describeModuleInfo(m: TorchModuleInfo, keys: readonly string[] = [...m.attributes.keys()]): string {
  const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : v === null ? 'None' : Array.isArray(v) ? `(${v.map(show).join(', ')})` : String(v));
  const args = keys.filter((k) => m.attributes.has(k)).map((k) => `${k}=${show(m.attributes.get(k))}`);
  return `${m.path || '(root)'}: ${m.kind}(${args.join(', ')})`;
}
