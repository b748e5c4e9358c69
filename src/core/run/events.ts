// The records of a run directory's events.jsonl (written by python/gatescope, documented in
// python/README.md "The run directory"), parsed from one line each into typed records. Unknown kinds and
// fields are kept (a newer writer), a line that is not a JSON object is reported, never thrown.

/** A watched module as the start/watch records describe it. */
export interface ModuleInfo {
  readonly class?: string;
  /** "pytorch": an nn.LSTM/GRU/RNN; "mapped": a from-scratch module rearranged into PyTorch's names. */
  readonly layout?: string;
  readonly device?: string;
}

/** gatescope's model description of a watched module (PyTorch's constructor arguments). */
export interface ModuleDescription {
  readonly module: 'LSTM' | 'GRU' | 'RNN';
  readonly input_size?: number;
  readonly hidden_size: number;
  readonly num_layers: number;
  readonly bidirectional: boolean;
  readonly dtype?: string;
  readonly [key: string]: unknown;
}

export interface StartRecord {
  readonly kind: 'start';
  readonly time?: number;
  readonly producer?: string;
  readonly torch?: string;
  readonly pid?: number;
  /** The writer's host name (its pid means something only there). */
  readonly host?: string;
  readonly worldSize?: number;
  readonly every?: number | null;
  readonly models: Readonly<Record<string, ModuleDescription>>;
  readonly modules: Readonly<Record<string, ModuleInfo>>;
  readonly config?: unknown;
}
export interface WatchRecord {
  readonly kind: 'watch';
  readonly name: string;
  readonly time?: number;
  readonly models: Readonly<Record<string, ModuleDescription>>;
  readonly modules: Readonly<Record<string, ModuleInfo>>;
}
export interface ProbeRecord {
  readonly kind: 'probe';
  readonly names: readonly string[] | null;
  readonly shape?: readonly number[];
  readonly text?: unknown;
}
export interface ScalarRecord {
  readonly kind: 'scalar';
  readonly step: number;
  readonly time?: number;
  /** Every field but kind, step and time; null where the writer had NaN or ±inf. */
  readonly values: Readonly<Record<string, number | null>>;
}
export interface SnapshotRecord {
  readonly kind: 'snapshot';
  readonly tag: string;
  readonly step: number | null;
  readonly epoch?: number;
  /** Relative to the run directory: snapshots/<tag>.safetensors. */
  readonly weights: string;
  /** probes/<tag>.safetensors, or null without a probe. */
  readonly probe: string | null;
  readonly time?: number;
}
export interface EpochRecord { readonly kind: 'epoch'; readonly epoch: number; readonly step: number | null; readonly time?: number }
export interface EndRecord {
  readonly kind: 'end';
  readonly step: number | null;
  readonly status: string; // ok | error | interrupted | superseded
  readonly error?: string;
  readonly time?: number;
}
export interface OtherRecord { readonly kind: 'other'; readonly type: string }

export type RunRecord = StartRecord | WatchRecord | ProbeRecord | ScalarRecord | SnapshotRecord | EpochRecord | EndRecord | OtherRecord;

export type ParsedLine = { readonly record: RunRecord } | { readonly error: string };

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const numOrNull = (x: unknown): number | null => num(x) ?? null;
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const opt = <K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> => (v === undefined ? {} : { [k]: v } as Record<K, V>);

function models(x: unknown): Record<string, ModuleDescription> {
  const out: Record<string, ModuleDescription> = {};
  if (!isObj(x)) return out;
  for (const [name, d] of Object.entries(x)) {
    if (!isObj(d) || (d.module !== 'LSTM' && d.module !== 'GRU' && d.module !== 'RNN')) continue;
    out[name] = { ...d, module: d.module, hidden_size: num(d.hidden_size) ?? 0, num_layers: num(d.num_layers) ?? 1, bidirectional: d.bidirectional === true };
  }
  return out;
}

function modules(x: unknown): Record<string, ModuleInfo> {
  const out: Record<string, ModuleInfo> = {};
  if (!isObj(x)) return out;
  for (const [name, d] of Object.entries(x)) {
    if (!isObj(d)) continue;
    out[name] = { ...opt('class', str(d.class)), ...opt('layout', str(d.layout)), ...opt('device', str(d.device)) };
  }
  return out;
}

const RESERVED = new Set(['kind', 'step', 'time']);

/** One line of events.jsonl as a record (empty lines are an error the caller may ignore). */
export function parseRunLine(line: string): ParsedLine {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch (e) {
    return { error: `not JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  if (!isObj(x)) return { error: 'not a JSON object' };
  const kind = str(x.kind);
  const time = num(x.time);
  const t = opt('time', time);
  switch (kind) {
    case 'start':
      return {
        record: {
          kind, ...t, ...opt('producer', str(x.producer)), ...opt('torch', str(x.torch)), ...opt('pid', num(x.pid)), ...opt('host', str(x.host)),
          ...opt('worldSize', num(x.world_size)), ...(x.every === undefined ? {} : { every: numOrNull(x.every) }),
          models: models(x.model), modules: modules(x.modules), ...(x.config === undefined ? {} : { config: x.config }),
        },
      };
    case 'watch':
      return { record: { kind, name: str(x.name) ?? '', ...t, models: models(x.model), modules: modules(x.modules) } };
    case 'probe':
      return {
        record: {
          kind, names: Array.isArray(x.names) ? x.names.filter((n): n is string => typeof n === 'string') : null,
          ...(Array.isArray(x.shape) ? { shape: x.shape.filter((n): n is number => typeof n === 'number') } : {}),
          ...(x.text === undefined ? {} : { text: x.text }),
        },
      };
    case 'scalar': {
      const step = num(x.step);
      if (step === undefined) return { error: 'a scalar record without a step' };
      const values: Record<string, number | null> = {};
      for (const [k, v] of Object.entries(x)) if (!RESERVED.has(k) && (typeof v === 'number' || v === null)) values[k] = numOrNull(v);
      return { record: { kind, step, ...t, values } };
    }
    case 'snapshot': {
      const tag = str(x.tag);
      if (!tag) return { error: 'a snapshot record without a tag' };
      return {
        record: {
          kind, tag, step: numOrNull(x.step), ...opt('epoch', num(x.epoch)),
          weights: str(x.weights) ?? `snapshots/${tag}.safetensors`, probe: str(x.probe) ?? null, ...t,
        },
      };
    }
    case 'epoch':
      return { record: { kind, epoch: num(x.epoch) ?? 0, step: numOrNull(x.step), ...t } };
    case 'end':
      return { record: { kind, step: numOrNull(x.step), status: str(x.status) ?? 'ok', ...opt('error', str(x.error)), ...t } };
    default:
      return kind === undefined ? { error: 'a record without a kind' } : { record: { kind: 'other', type: kind } };
  }
}
