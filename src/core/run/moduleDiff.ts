// Two watched modules of one run (the course exercise: a student's MyLSTM next to nn.LSTM from the same
// initial weights), compared at one snapshot: their weights with core/diff's verdict (the layout mistake
// that explains a difference, as `gatescope diff` names it) and their probe traces gate by gate. Pure.
import { compareModels, type SideInfo } from '../diff/equivalence';
import { relativeError, values } from '../diff/metrics';
import { verdictText } from '../diff/verdict';
import type { TensorMap } from '../tensor';
import type { ModuleInfo } from './events';
import { moduleTensors, parseTraceName } from './probes';

export interface ModuleDiffRow {
  /** weight_ih_l0, or a trace: trace_l0_gate_i. */
  readonly name: string;
  /** ‖a − b‖ / ‖a‖ (Infinity when the shapes differ). */
  readonly relErr: number;
  readonly ok: boolean;
  /** Per gate block of a weight (i, f, g, o / r, z, n). */
  readonly gates?: readonly { readonly gate: string; readonly relErr: number }[];
}

export interface ModuleDiff {
  /** Side A (the reference) and side B (the one to change). */
  readonly a: string;
  readonly b: string;
  readonly rtol: number;
  readonly ok: boolean;
  /** The verdict's headline ("EQUIVALENT: …", "DIFFERENT: gates i and f swapped in weight_ih_l0"). */
  readonly verdict: string;
  /** What to change, in B's (or A's) names. */
  readonly changes: readonly string[];
  readonly weights: readonly ModuleDiffRow[];
  /** The probe traces, when both modules were probed. */
  readonly traces: readonly ModuleDiffRow[];
  readonly maxRelErr: number;
}

/**
 * The pair to compare, in order (reference first): an nn.LSTM/GRU/RNN ("pytorch" layout) before a mapped
 * from-scratch module; otherwise the watch order. Undefined with fewer than two modules.
 */
export function modulePair(names: readonly string[], modules: ReadonlyMap<string, ModuleInfo>): readonly [string, string] | undefined {
  if (names.length < 2) return undefined;
  const mapped = (n: string): boolean => modules.get(n)?.layout === 'mapped';
  const ref = names.find((n) => !mapped(n)) ?? names[0];
  const other = names.find((n) => n !== ref && mapped(n)) ?? names.find((n) => n !== ref)!;
  return [ref, other];
}

const side = (name: string, info: ModuleInfo | undefined): SideInfo => ({
  layout: 'pytorch', format: 'gatescope run snapshot', label: `${name}${info?.class ? ` (${info.class})` : ''}`,
});

/** Compares modules `a` and `b` of a snapshot's weights and (when given) a probe file's traces. */
export function diffModules(weights: TensorMap, probe: TensorMap | undefined, a: string, b: string,
  modules: ReadonlyMap<string, ModuleInfo> = new Map(), rtol?: number): ModuleDiff {
  const wa = moduleTensors(weights, a);
  const wb = moduleTensors(weights, b);
  const infoA = side(a, modules.get(a));
  const infoB = side(b, modules.get(b));
  const report = compareModels(wa, wb, infoA, infoB, rtol === undefined ? {} : { rtol });
  const text = verdictText(report, { a: infoA.label!, b: infoB.label! });
  const weightRows: ModuleDiffRow[] = report.tensors.filter((t) => t.role !== 'input').map((t) => ({
    name: t.name, relErr: t.relErr, ok: !t.exceeds,
    ...(t.gates ? { gates: t.gates.map((g) => ({ gate: g.gate, relErr: g.relErr })) } : {}),
  }));
  const traceRows: ModuleDiffRow[] = [];
  if (probe) {
    const pa = moduleTensors(probe, a);
    const pb = moduleTensors(probe, b);
    for (const [name, ta] of pa) {
      const tb = pb.get(name);
      if (!tb || !parseTraceName(name)) continue;
      const same = ta.shape.length === tb.shape.length && ta.shape.every((d, i) => d === tb.shape[i]);
      const relErr = same ? relativeError(values(ta), values(tb)) : Infinity;
      traceRows.push({ name, relErr, ok: relErr <= report.rtol });
    }
  }
  const all = [...weightRows, ...traceRows].map((r) => r.relErr);
  return {
    a, b, rtol: report.rtol, ok: !report.differs && traceRows.every((r) => r.ok),
    verdict: text.headline, changes: text.changes.flatMap((g) => g.items.map((c) => `${g.label}: ${c}`)),
    weights: weightRows, traces: traceRows, maxRelErr: all.length ? Math.max(...all) : 0,
  };
}
