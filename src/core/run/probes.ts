// Reading a run directory's tensor files, whichever module wrote them: snapshots/<tag>.safetensors holds
// `<name>.<pytorch name>` per watched module, probes/<tag>.safetensors `<name>.trace_l{k}[_reverse]_{h|c|gate_*}`
// ([T, N, H], time-major) plus `<name>.probe_tokens`. Names are split at the module prefix, so what is
// below it reads as gatescope's own trace and weight names. Pure.
import type { Tensor, TensorMap } from '../tensor';
import { values } from '../diff/metrics';

const TRACE = /^(?:(.+)\.)?trace_l(\d+)(_reverse)?_(h|c|gate_[a-z])$/;
const PARAM = /^(?:(.+)\.)?((?:weight|bias)_(?:ih|hh)_l\d+(?:_reverse)?)$/;

/** One trace tensor of a probe file. */
export interface TraceEntry {
  /** The module prefix (`mine` of `mine.trace_l0_h`); '' when the file has none (`gatescope trace` output). */
  readonly module: string;
  readonly layer: number;
  readonly reverse: boolean;
  /** h, c, gate_i, ... */
  readonly kind: string;
  /** The tensor's full name in the file. */
  readonly name: string;
}

export function parseTraceName(name: string): TraceEntry | undefined {
  const m = TRACE.exec(name);
  return m ? { module: m[1] ?? '', layer: Number(m[2]), reverse: m[3] !== undefined, kind: m[4], name } : undefined;
}

/** A probed module: its trace tensors, layers, directions and kinds, and its token ids when it has them. */
export interface ProbedModule {
  readonly name: string;
  readonly traces: readonly TraceEntry[];
  readonly layers: number;
  readonly directions: 1 | 2;
  /** In file order of appearance, h first. */
  readonly kinds: readonly string[];
  /** `<name>.probe_tokens` when the probe was tokens or text. */
  readonly tokens?: string;
}

const KIND_ORDER = ['h', 'c', 'gate_i', 'gate_f', 'gate_g', 'gate_o', 'gate_r', 'gate_z', 'gate_n'];

/** The modules of a probe file (or of any trace file: module '' for unprefixed names), by prefix. */
export function probedModules(names: Iterable<string>): ProbedModule[] {
  const byModule = new Map<string, TraceEntry[]>();
  const all = [...names];
  for (const n of all) {
    const t = parseTraceName(n);
    if (!t) continue;
    if (!byModule.has(t.module)) byModule.set(t.module, []);
    byModule.get(t.module)!.push(t);
  }
  return [...byModule].map(([name, traces]) => {
    const kinds = [...new Set(traces.map((t) => t.kind))].sort((a, b) => rank(a) - rank(b));
    const tokens = name ? `${name}.probe_tokens` : 'probe_tokens';
    return {
      name, traces, kinds,
      layers: Math.max(...traces.map((t) => t.layer)) + 1,
      directions: traces.some((t) => t.reverse) ? 2 : 1,
      ...(all.includes(tokens) ? { tokens } : {}),
    };
  });
}

function rank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

/**
 * The tensors of one module with its `<name>.` prefix removed (weights and traces alike), so a run's
 * files read like gatescope's own (`weight_ih_l0`, `trace_l0_h`). `name` '' keeps unprefixed names.
 */
export function moduleTensors(all: TensorMap, name: string): TensorMap {
  if (!name) return new Map([...all].filter(([k]) => !k.includes('.')));
  const p = `${name}.`;
  return new Map([...all].filter(([k]) => k.startsWith(p)).map(([k, t]) => [k.slice(p.length), t]));
}

/** The module prefixes of a snapshot's recurrent weights (`mine` and `torch` of `mine.weight_ih_l0`, ...). */
export function weightModules(names: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const n of names) {
    const m = PARAM.exec(n);
    if (m) out.add(m[1] ?? '');
  }
  return [...out];
}

/**
 * A file's trace tensors under one prefix, when it holds several modules' traces and no plain ones, so that
 * `gatescope trace`/`diff` readers find `trace_l0_h`: the only module's tensors, or those of `module`.
 * Returns the map unchanged when its traces are unprefixed already or it holds no traces.
 */
export function unprefixTraces(all: TensorMap, module?: string): { tensors: TensorMap; module?: string } {
  const mods = probedModules(all.keys());
  if (!mods.length || mods.some((m) => m.name === '')) return { tensors: all };
  const pick = module ?? (mods.length === 1 ? mods[0].name : undefined);
  if (pick === undefined) throw new Error(`the probe file holds the traces of ${mods.map((m) => m.name).join(', ')}: name one of them`);
  if (!mods.some((m) => m.name === pick)) throw new Error(`the probe file has no module "${pick}" (it has ${mods.map((m) => m.name).join(', ')})`);
  return { tensors: moduleTensors(all, pick), module: pick };
}

/** A [T, H] slab of a [T, N, H] trace (probe row `row`), as float32, for a heatmap. */
export function traceSlab(t: Tensor, row = 0): { rows: number; cols: number; data: Float32Array; maxAbs: number } {
  const [T, N, H] = t.shape.length === 3 ? t.shape : t.shape.length === 2 ? [t.shape[0], 1, t.shape[1]] : [t.shape[0] ?? 0, 1, 1];
  const r = Math.min(Math.max(0, row), N - 1);
  const v = values(t);
  const data = new Float32Array(T * H);
  let maxAbs = 0;
  for (let s = 0; s < T; s++) {
    for (let j = 0; j < H; j++) {
      const x = v[(s * N + r) * H + j];
      data[s * H + j] = x;
      if (Math.abs(x) > maxAbs) maxAbs = Math.abs(x);
    }
  }
  return { rows: T, cols: H, data, maxAbs };
}

/** Token ids of probe row `row` from `probe_tokens` ([T, N], time-major). */
export function probeTokenIds(t: Tensor, row = 0): number[] {
  const [T, N] = t.shape.length === 2 ? t.shape : [t.shape[0] ?? 0, 1];
  const r = Math.min(Math.max(0, row), N - 1);
  const v = values(t);
  return Array.from({ length: T }, (_, s) => v[s * N + r]);
}

/** The probe's token strings from its metadata (`probe_text`: JSON [N][T]), when given as text. */
export function probeTokenText(metadata: Readonly<Record<string, string>> | undefined, row = 0): string[] | undefined {
  const raw = metadata?.probe_text;
  if (!raw) return undefined;
  try {
    const x: unknown = JSON.parse(raw);
    if (!Array.isArray(x)) return undefined;
    const r = x[Math.min(row, x.length - 1)];
    return Array.isArray(r) && r.every((s) => typeof s === 'string') ? r as string[] : undefined;
  } catch {
    return undefined;
  }
}

/** Gates that squash to (0, 1): the ones whose saturation means something (not g, n). */
const SIGMOID_GATES = new Set(['gate_i', 'gate_f', 'gate_o', 'gate_r', 'gate_z']);

export interface ProbeSaturation {
  readonly module: string;
  readonly layer: number;
  readonly reverse: boolean;
  readonly gate: string; // i, f, o, r, z
  /** Fraction of the probe's activations < 0.1 and > 0.9. */
  readonly low: number;
  readonly high: number;
}

/** Gate saturation of every probed module, layer and direction, from a probe file's traces. */
export function probeSaturation(all: TensorMap): ProbeSaturation[] {
  const out: ProbeSaturation[] = [];
  for (const m of probedModules(all.keys())) {
    for (const t of m.traces) {
      if (!SIGMOID_GATES.has(t.kind)) continue;
      const v = values(all.get(t.name)!);
      let low = 0, high = 0;
      for (let k = 0; k < v.length; k++) {
        if (v[k] < 0.1) low++;
        else if (v[k] > 0.9) high++;
      }
      const n = Math.max(1, v.length);
      out.push({ module: m.name, layer: t.layer, reverse: t.reverse, gate: t.kind.slice(5), low: low / n, high: high / n });
    }
  }
  return out.sort((a, b) => a.module.localeCompare(b.module) || a.layer - b.layer || Number(a.reverse) - Number(b.reverse));
}
