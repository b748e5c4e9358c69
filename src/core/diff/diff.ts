// Diff of two sets of canonical tensors: relative error per tensor and per gate block, names present
// on one side only, and — where tensors differ — the classic mistake that explains the difference
// (permuted gate blocks, a transposed kernel, merged biases, a forget-bias offset, hard sigmoid).
// Trajectory files (epoch{e}.<name>, step{s}.<name>) also get a per-index table. Pure: returns a
// structured report. This is the diff of spellings (same names, same values); ./equivalence.ts builds
// on it to judge what two models compute, which is what `gatescope diff` reports.
import { type Tensor, type TensorMap, formatShape } from '../tensor';
import { block, gateLayout, maxAbsDiff, recurrentParam, relativeError, sameShape, transposeFlat, values } from './metrics';

export { elementwiseDifference } from './metrics';

export interface GateError {
  readonly gate: string;
  readonly relErr: number;
  readonly maxAbs: number;
}

export interface TensorDiff {
  readonly name: string;
  readonly shapeA: readonly number[];
  readonly shapeB: readonly number[];
  /** ‖a − b‖ / ‖a‖; Infinity when shapes differ. */
  readonly relErr: number;
  readonly maxAbs: number;
  readonly gates?: GateError[];
  readonly exceeds: boolean;
}

export interface Diagnosis {
  readonly kind: 'permuted-gates' | 'transposed' | 'bias-merged' | 'forget-bias-offset' | 'hard-sigmoid' | 'shape-mismatch'
    // ./equivalence.ts's findings
    | 'architecture' | 'gru-n-bias' | 'gru-reset' | 'nonlinearity' | 'bias-missing' | 'unexplained';
  readonly tensors: string[];
  readonly message: string;
}

export interface EpochRow {
  /** The snapshot's index: the epoch, or the step for step{s}.<name> files. */
  readonly epoch: number;
  /** "epoch" or "step" (or another snapshot family); absent means epoch. */
  readonly label?: string;
  /** The first finding of this snapshot, when it differs (./equivalence.ts). */
  readonly finding?: string;
  readonly maxRelErr: number;
  readonly worst: string;
  readonly exceeds: boolean;
}

export interface DiffReport {
  readonly rtol: number;
  readonly tensors: TensorDiff[];
  readonly onlyInA: string[];
  readonly onlyInB: string[];
  readonly diagnoses: Diagnosis[];
  readonly notes: string[];
  readonly epochs?: EpochRow[];
  /** Any tensor over rtol, or names on one side only. */
  readonly differs: boolean;
}

export interface DiffOptions {
  /** Default: 1e-12 when both sides are float64, else 1e-5. */
  readonly rtol?: number;
}

export function defaultRtol(a: TensorMap, b: TensorMap): number {
  const all = [...a.values(), ...b.values()];
  return all.length && all.every((t) => t.dtype === 'float64') ? 1e-12 : 1e-5;
}

function hiddenOf(map: TensorMap, prefix: string, suffix: string): number | undefined {
  const whh = map.get(`${prefix}weight_hh${suffix}`);
  return whh && whh.shape.length === 2 ? whh.shape[1] : undefined;
}

function tensorDiff(name: string, a: Tensor, b: Tensor, map: TensorMap, rtol: number): TensorDiff {
  if (!sameShape(a, b)) {
    return { name, shapeA: a.shape, shapeB: b.shape, relErr: Infinity, maxAbs: Infinity, exceeds: true };
  }
  const va = values(a);
  const vb = values(b);
  const relErr = relativeError(va, vb);
  const p = recurrentParam(name);
  let gates: GateError[] | undefined;
  const layout = p ? gateLayout(a.shape[0], hiddenOf(map, p.prefix, p.suffix)) : undefined;
  if (layout) {
    const G = layout.gates.length;
    gates = layout.gates.map((gate, k) => ({ gate, relErr: relativeError(block(va, G, k), block(vb, G, k)), maxAbs: maxAbsDiff(block(va, G, k), block(vb, G, k)) }));
  }
  return { name, shapeA: a.shape, shapeB: b.shape, relErr, maxAbs: maxAbsDiff(va, vb), gates, exceeds: !(relErr <= rtol) };
}

const EPOCH = /^(epoch|step)(\d+)\.(.+)$/;

export function diffTensors(a: TensorMap, b: TensorMap, options: DiffOptions = {}): DiffReport {
  const rtol = options.rtol ?? defaultRtol(a, b);
  const tensors: TensorDiff[] = [];
  for (const [name, ta] of a) {
    const tb = b.get(name);
    if (tb) tensors.push(tensorDiff(name, ta, tb, a, rtol));
  }
  const onlyInA = [...a.keys()].filter((n) => !b.has(n));
  const onlyInB = [...b.keys()].filter((n) => !a.has(n));
  const diagnoses = diagnose(a, b, tensors, onlyInA, onlyInB, rtol);
  const notes: string[] = [];
  const hasTraces = [...a.keys()].some((n) => /^trace_l\d+.*_gate_/.test(n));
  if (!hasTraces && tensors.some((t) => t.exceeds)) {
    notes.push('hard-sigmoid vs sigmoid needs activations: not checked (diff trace files with trace_l*_gate_* tensors to check it)');
  }
  let epochs: EpochRow[] | undefined;
  if (tensors.some((t) => EPOCH.test(t.name))) {
    const rows = new Map<number, EpochRow>();
    for (const t of tensors) {
      const m = EPOCH.exec(t.name);
      if (!m) continue;
      const e = Number(m[2]);
      const cur = rows.get(e);
      if (!cur || t.relErr > cur.maxRelErr) rows.set(e, { epoch: e, label: m[1], maxRelErr: t.relErr, worst: m[3], exceeds: !(t.relErr <= rtol) });
    }
    epochs = [...rows.values()].sort((x, y) => x.epoch - y.epoch);
  }
  const differs = tensors.some((t) => t.exceeds) || onlyInA.length > 0 || onlyInB.length > 0;
  return { rtol, tensors, onlyInA, onlyInB, diagnoses, notes, epochs, differs };
}

/** Each tensor's relative error per epoch (or step) of a trajectory report (epoch{e}.<name>, step{s}.<name>), for a chart. */
export interface EpochSeries {
  readonly epochs: number[];
  /** One per tensor name (without the epoch prefix); NaN where an epoch lacks it. */
  readonly series: { readonly name: string; readonly relErr: number[] }[];
}

export function epochSeries(report: DiffReport): EpochSeries | undefined {
  const byName = new Map<string, Map<number, number>>();
  for (const t of report.tensors) {
    const m = EPOCH.exec(t.name);
    if (!m) continue;
    if (!byName.has(m[3])) byName.set(m[3], new Map());
    byName.get(m[3])!.set(Number(m[2]), t.relErr);
  }
  if (!byName.size) return undefined;
  const epochs = [...new Set([...byName.values()].flatMap((e) => [...e.keys()]))].sort((x, y) => x - y);
  return { epochs, series: [...byName].map(([name, e]) => ({ name, relErr: epochs.map((k) => e.get(k) ?? NaN) })) };
}

// ---------------------------------------------------------------- the classic mistakes

export function permutationName(gates: readonly string[], perm: number[]): string {
  const moved = perm.map((src, k) => [k, src]).filter(([k, src]) => k !== src);
  if (moved.length === 2) return `gates ${gates[moved[0][0]]} and ${gates[moved[0][1]]} swapped`;
  return `gate blocks permuted: B has (${perm.map((s) => gates[s]).join(',')}) where A has (${gates.join(',')})`;
}

/** The permutation with B block k ≈ A block perm[k], if every block finds a match within rtol. */
export function findPermutation(va: Float64Array, vb: Float64Array, G: number, rtol: number): number[] | undefined {
  const perm: number[] = [];
  const used = new Set<number>();
  for (let k = 0; k < G; k++) {
    let found = -1;
    for (let s = 0; s < G; s++) {
      if (used.has(s)) continue;
      if (relativeError(block(va, G, s), block(vb, G, k)) <= rtol) { found = s; break; }
    }
    if (found < 0) return undefined;
    used.add(found);
    perm.push(found);
  }
  return perm;
}

function transposeValues(t: Tensor): Float64Array {
  return transposeFlat(values(t), t.shape[0], t.shape[1]);
}

function diagnose(a: TensorMap, b: TensorMap, diffs: TensorDiff[], onlyInA: string[], onlyInB: string[], rtol: number): Diagnosis[] {
  const out: Diagnosis[] = [];
  const explained = new Set<string>();
  for (const d of diffs) {
    if (!d.exceeds) continue;
    const ta = a.get(d.name)!;
    const tb = b.get(d.name)!;
    const p = recurrentParam(d.name);
    const layout = p ? gateLayout(ta.shape[0], hiddenOf(a, p.prefix, p.suffix)) : undefined;
    // Transposed (kernel [in, G*H] against weight [G*H, in]), possibly with permuted gates too.
    if (ta.shape.length === 2 && tb.shape.length === 2 && ta.shape[0] === tb.shape[1] && ta.shape[1] === tb.shape[0]) {
      const vbT = transposeValues(tb);
      if (relativeError(values(ta), vbT) <= rtol) {
        out.push({ kind: 'transposed', tensors: [d.name], message: `${d.name}: B is the transpose of A (${formatShape(tb.shape)} vs ${formatShape(ta.shape)}): a Keras-style kernel [in, out] taken as a PyTorch weight [out, in]` });
        explained.add(d.name);
        continue;
      }
      if (layout) {
        const perm = findPermutation(values(ta), vbT, layout.gates.length, rtol);
        if (perm) {
          out.push({ kind: 'transposed', tensors: [d.name], message: `${d.name}: B is transposed and ${permutationName(layout.gates, perm)} (a Keras kernel read without conversion)` });
          explained.add(d.name);
          continue;
        }
      }
    }
    if (!sameShape(ta, tb)) {
      out.push({ kind: 'shape-mismatch', tensors: [d.name], message: `${d.name}: shapes differ, A ${formatShape(ta.shape)} vs B ${formatShape(tb.shape)}` });
      explained.add(d.name);
      continue;
    }
    if (layout) {
      const G = layout.gates.length;
      const perm = findPermutation(values(ta), values(tb), G, rtol);
      if (perm && perm.some((s, k) => s !== k)) {
        out.push({ kind: 'permuted-gates', tensors: [d.name], message: `${permutationName(layout.gates, perm)} in ${d.name}` });
        explained.add(d.name);
        continue;
      }
    }
  }
  // Biases: merged (b_ih + b_hh in one, the other zero or missing) and forget-gate offsets.
  const biasPairs = new Map<string, { prefix: string; suffix: string }>();
  for (const n of [...a.keys(), ...b.keys()]) {
    const p = recurrentParam(n);
    if (p && p.kind.startsWith('bias')) biasPairs.set(p.prefix + p.suffix, { prefix: p.prefix, suffix: p.suffix });
  }
  for (const { prefix, suffix } of biasPairs.values()) {
    const ih = `${prefix}bias_ih${suffix}`;
    const hh = `${prefix}bias_hh${suffix}`;
    const involved = [ih, hh].filter((n) => diffs.find((d) => d.name === n)?.exceeds || onlyInA.includes(n) || onlyInB.includes(n));
    if (!involved.length || involved.every((n) => explained.has(n))) continue;
    const sum = (m: TensorMap): Float64Array | undefined => {
      const x = m.get(ih);
      const y = m.get(hh);
      if (!x && !y) return undefined;
      const vx = x ? values(x) : undefined;
      const vy = y ? values(y) : undefined;
      const len = (vx ?? vy)!.length;
      const s = new Float64Array(len);
      for (let i = 0; i < len; i++) s[i] = (vx?.[i] ?? 0) + (vy?.[i] ?? 0);
      return s;
    };
    const sa = sum(a);
    const sb = sum(b);
    if (!sa || !sb || sa.length !== sb.length) continue;
    if (relativeError(sa, sb) <= rtol) {
      out.push({ kind: 'bias-merged', tensors: [ih, hh], message: `${ih} + ${hh} agree, but they are split differently: one side holds a single merged bias (Keras/ONNX-style b = b_ih + b_hh)` });
      involved.forEach((n) => explained.add(n));
      continue;
    }
    const H = hiddenOf(a, prefix, suffix) ?? hiddenOf(b, prefix, suffix);
    const layout = gateLayout(sa.length, H);
    if (layout?.module === 'LSTM') {
      const G = 4;
      const f = 1;
      const others = [0, 2, 3].every((k) => relativeError(block(sa, G, k), block(sb, G, k)) <= rtol);
      const fa = block(sa, G, f);
      const fb = block(sb, G, f);
      const c = fb[0] - fa[0];
      const constant = fa.every((v, i) => Math.abs(fb[i] - v - c) <= Math.max(1e-6, rtol) * Math.max(1, Math.abs(c)));
      if (others && constant && c !== 0) {
        out.push({ kind: 'forget-bias-offset', tensors: [ih, hh], message: `forget-gate bias offset by ${c > 0 ? '+' : ''}${+c.toPrecision(6)} in ${prefix}bias${suffix} (B = A + ${+c.toPrecision(6)} on the f block; e.g. Keras unit_forget_bias or TF's forget_bias=1 added at run time)` });
        involved.forEach((n) => explained.add(n));
      }
    }
  }
  out.push(...diagnoseHardSigmoid(a, b, rtol));
  return out;
}

/** With gate traces: B's gate = clip(0.2 z + 0.5) where A's = sigmoid(z) means hard vs plain sigmoid. */
export function diagnoseHardSigmoid(a: TensorMap, b: TensorMap, rtol: number): Diagnosis[] {
  const out: Diagnosis[] = [];
  for (const [name, ta] of a) {
    if (!/^trace_l\d+(_reverse)?_gate_[ifozr]$/.test(name)) continue;
    const tb = b.get(name);
    if (!tb || !sameShape(ta, tb) || ta.shape.length !== 3) continue;
    // Only the first step: with h0 = 0 both sides see the same pre-activation there; later steps
    // differ through the state anyway.
    const first = ta.shape[1] * ta.shape[2];
    const va = values(ta).subarray(0, first);
    const vb = values(tb).subarray(0, first);
    if (relativeError(va, vb) <= rtol) continue;
    const hard = va.map((s) => {
      const z = Math.log(s / (1 - s));
      return Math.min(1, Math.max(0, 0.2 * z + 0.5));
    });
    const tol = Math.max(rtol, 1e-5);
    if (relativeError(hard, vb) <= tol) out.push({ kind: 'hard-sigmoid', tensors: [name], message: `${name}: B applies hard_sigmoid (clip(0.2x+0.5)) where A applies sigmoid (tfjs/Keras 2 default recurrentActivation)` });
    else if (relativeError(vb.map((s) => Math.min(1, Math.max(0, 0.2 * Math.log(s / (1 - s)) + 0.5))), va) <= tol) {
      out.push({ kind: 'hard-sigmoid', tensors: [name], message: `${name}: A applies hard_sigmoid where B applies sigmoid` });
    }
  }
  return out;
}
