// What two models compute, not how their files spell it. Tensors are aligned by their role (embedding,
// recurrent stack, head layers, inputs, the rest by name: ./structure.ts), then compared as the
// function sees them:
//   - biases by what enters the gates: b_ih + b_hh for LSTM / Elman RNN / GRU with the reset gate
//     before, and for a PyTorch-style GRU the r and z sums with the n gate's b_in and b_hn separately
//     (b_hn sits inside r ⊙ (W_hn h + b_hn), so moving it into b_in changes the model);
//   - a missing bias as zeros; a forget-gate offset a side adds at run time (TF1 LSTMCell forget_bias)
//     folded into its bias;
//   - matrices stored transposed ([in, out], for x @ W) as the same matrix when the whole file does so
//     consistently (decided from the non-square matrices; a square one follows its file);
//   - activations and the GRU variant from what each side records (or implies: a state_dict is
//     nn.LSTM's sigmoid).
// A model is EQUIVALENT when everything both sides hold agrees that way (each reason is stated), DIFFERENT
// when something does not: each finding names the mistake and what to change on one side (the learner's
// own from-scratch file when one is, else B; A is the reference) in that side's own words (./naming.ts).
// Tensors only one side holds are listed, and fail only with `strict`; inputs never do. Snapshot files
// (epoch{e}.<name>, step{s}.<name>) are compared snapshot by snapshot, with a per-index table.
import { GATES, type RnnModule, gateBlocks } from '../config';
import { type Tensor, type TensorMap, formatShape } from '../tensor';
import { type DiffReport, type EpochRow, type TensorDiff, defaultRtol, diagnoseHardSigmoid, findPermutation } from './diff';
import { block, maxAbsDiff, relativeError, sameShape, transposeFlat, values } from './metrics';
import { alignTracePrefixes } from './align';
import { type Dialect, type DialectSource, dialectOf } from './naming';
import {
  type LinearLayer, type Orientation, type ParamKind, type RecurrentStack, type Snapshots, type Structure,
  describeHead, describeStack, describeStructure, orientationOf, splitSnapshots, structureOf,
} from './structure';

export type Side = 'A' | 'B';

/** What a side's file records (or implies) beyond its tensors. */
export interface SideInfo extends DialectSource {
  readonly recurrentActivation?: 'sigmoid' | 'hard_sigmoid';
  readonly nonlinearity?: 'tanh' | 'relu';
  readonly gruReset?: 'after' | 'before';
  /** Of the three above, those the file does not record (taken from its framework's defaults). */
  readonly assumed?: readonly ('recurrentActivation' | 'nonlinearity' | 'gruReset')[];
  /** Activation after the head ('linear', 'softmax', ...). */
  readonly headActivation?: string;
  /** Added to the LSTM forget-gate bias at run time (TF1 LSTMCell forget_bias); 0 or absent when folded. */
  readonly forgetBias?: number;
  /** How messages name the file ("B (mine.npz)"); default "A" / "B". */
  readonly label?: string;
}

export interface CompareOptions {
  /** Default: 1e-12 when both sides are float64, else 1e-5. */
  readonly rtol?: number;
  /** Tensors only one side holds fail the verdict too. */
  readonly strict?: boolean;
}

/** A compared quantity: a tensor both sides hold, or a derived one (the bias sum). */
export interface ComparedTensor extends TensorDiff {
  readonly nameA: string;
  readonly nameB: string;
  readonly role: 'embedding' | 'rnn' | 'head' | 'input' | 'other';
  /** How the quantity was formed when it is not a stored tensor ("bias_ih + bias_hh"). */
  readonly derived?: string;
}

export interface Finding {
  readonly kind: DiffReport['diagnoses'][number]['kind'];
  /** The side to change. */
  readonly side: Side;
  /** Display names of the quantities it explains. */
  readonly tensors: string[];
  /** What is wrong, in words. */
  readonly message: string;
  /** What to change, in that side's own names. */
  readonly change: string;
  /** Snapshot indices it was found in (trajectories). */
  readonly indices?: number[];
}

export interface Equivalence {
  readonly kind: 'bias-split' | 'no-bias' | 'transposed-layout' | 'forget-bias-folded' | 'head-activation' | 'aligned-names';
  readonly message: string;
}

export interface Unmatched {
  readonly side: Side;
  readonly role: 'embedding' | 'rnn' | 'head' | 'input' | 'other' | 'snapshot';
  readonly names: string[];
  readonly summary: string;
}

export type VerdictStatus = 'equivalent' | 'different' | 'disjoint';

export interface ModelDiffReport extends DiffReport {
  readonly status: VerdictStatus;
  /** The side the findings ask to change. */
  readonly target: Side;
  readonly findings: Finding[];
  readonly equivalences: Equivalence[];
  /** What only one side holds, by role ("embedding encoder.weight", "inputs x, h0"). */
  readonly unmatched: Unmatched[];
  readonly architecture?: { readonly a: string; readonly b: string };
  readonly structure: { readonly a: string; readonly b: string };
  /** How many quantities were compared (inputs excluded). */
  readonly compared: number;
  readonly strict: boolean;
  readonly tensors: ComparedTensor[];
}

const GATE_WORDS: Record<string, string> = {
  i: 'input gate', f: 'forget gate', g: 'cell candidate', o: 'output gate', r: 'reset gate', z: 'update gate', n: 'candidate',
};
const exp = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));
const list = (xs: readonly string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
const uniq = <T>(xs: readonly T[]): T[] => [...new Set(xs)];
const possessive = (x: string): string => (x.endsWith('s') ? `${x}'` : `${x}'s`);
/** "kernel of layer 0, recurrent_kernel of layer 0" → "kernel and recurrent_kernel of layer 0". */
function listNames(names: readonly string[]): string {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const m = /^(.*?) of (.*)$/.exec(n);
    const key = m ? m[2] : '';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(m ? m[1] : n);
  }
  return list([...groups].map(([of, xs]) => (of ? `${list(xs)} of ${of}` : list(xs))));
}
const suffixOf = (layer: number, reverse: boolean): string => `_l${layer}${reverse ? '_reverse' : ''}`;

interface SideCtx {
  readonly side: Side;
  readonly info: SideInfo;
  readonly dialect: Dialect;
  readonly label: string;
}

/** Accumulates one comparison (one snapshot, or the whole file). */
class Comparison {
  readonly rows: ComparedTensor[] = [];
  readonly findings: Finding[] = [];
  readonly equivalences: Equivalence[] = [];
  readonly unmatched: Unmatched[] = [];
  readonly notes: string[] = [];
  architecture?: { a: string; b: string };
  /** Permuted quantities, grouped into one finding per permutation. */
  private readonly perms: { perm: number[]; module: RnnModule; kind: ParamKind[]; layer: number; reverse: boolean; display: string }[] = [];
  private readonly explained = new Set<string>();

  constructor(readonly a: SideCtx, readonly b: SideCtx, readonly rtol: number) {}

  get target(): SideCtx { return this.a.dialect.own && !this.b.dialect.own ? this.a : this.b; }
  get ref(): SideCtx { return this.target === this.a ? this.b : this.a; }
  /** The reference side's and the target side's values of a pair given as (A, B). */
  refTgt(va: Float64Array, vb: Float64Array): [Float64Array, Float64Array] {
    return this.target.side === 'B' ? [va, vb] : [vb, va];
  }

  row(r: ComparedTensor): ComparedTensor {
    this.rows.push(r);
    return r;
  }

  find(f: Finding): void {
    this.findings.push(f);
    f.tensors.forEach((t) => this.explained.add(t));
  }

  explain(name: string): void {
    this.explained.add(name);
  }

  permuted(perm: number[], module: RnnModule, kind: ParamKind[], layer: number, reverse: boolean, display: string): void {
    this.perms.push({ perm, module, kind, layer, reverse, display });
    this.explained.add(display);
  }

  /** Findings for grouped permutations and for differences nothing explains. */
  finish(): void {
    const groups = new Map<string, typeof this.perms>();
    for (const p of this.perms) {
      const key = `${p.module}:${p.perm.join()}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(p);
    }
    for (const g of groups.values()) this.findings.push(this.permutationFinding(g));
    const rest = this.rows.filter((r) => r.exceeds && r.role !== 'input' && !this.explained.has(r.name));
    if (rest.length) {
      const w = rest.reduce((x, y) => (y.relErr > x.relErr ? y : x));
      const t = this.target;
      this.findings.push({
        kind: 'unexplained', side: t.side, tensors: rest.map((r) => r.name),
        message: `${rest.length} ${rest.length === 1 ? 'quantity differs' : 'quantities differ'} beyond rtol ${this.rtol}, worst ${w.name} (relative error ${exp(w.relErr)}); no known layout mistake explains ${rest.length === 1 ? 'it' : 'them'}`,
        change: `the values themselves differ: check that ${t.label} was saved from the same model (same seed, same training step) as ${this.ref.label}`,
      });
    }
  }

  private permutationFinding(g: { perm: number[]; module: RnnModule; kind: ParamKind[]; layer: number; reverse: boolean; display: string }[]): Finding {
    const { perm, module } = g[0];
    const C = GATES[module];
    const t = this.target;
    const d = t.dialect;
    const L = (x: string): string => d.letter(module, x);
    const moved = C.filter((_, k) => perm[k] !== k);
    const what = moved.length === 2
      ? `gates ${moved[0]} and ${moved[1]} swapped`
      : `gate blocks permuted: ${t.side} has (${perm.map((s) => C[s]).join(',')}) where ${this.ref.side} has (${C.join(',')})`;
    const displays = uniq(g.map((p) => p.display));
    const message = `${what} in ${list(displays)}`;
    const names = uniq(g.flatMap((p) => p.kind.map((k) => d.param(k, p.layer, p.reverse))));
    let change: string;
    const F = d.gateOrder(module);
    if (F && d.framework === 'your from-scratch code' && t.info.gateOrder) {
      // Fused W/U/b imported with --gate-order: the declared order is the mistake.
      const stored = F.map((x) => C[perm[C.indexOf(x)]]);
      change = `your ${list(names)} hold${names.length === 1 ? 's' : ''} gate blocks in the order ${stored.map(L).join(',')}, not the ${F.map(L).join(',')} declared: pass --gate-order ${stored.map(L).join(',')} for ${t.label} (or reorder the blocks)`;
    } else if (F) {
      const stored = F.map((x) => C[perm[C.indexOf(x)]]);
      change = `reorder your gate blocks ${stored.map(L).join(',')} → ${possessive(d.framework)} ${F.map(L).join(',')} in ${listNames(names)} of ${t.label}`;
    } else {
      // One tensor per gate: the tensors named for one gate hold another's.
      const parts = moved.map((x) => {
        const holds = C[perm[C.indexOf(x)]];
        const own = uniq(g.flatMap((p) => p.kind.map((k) => d.param(k, p.layer, p.reverse, L(x)))));
        return `${list(own)} hold the ${GATE_WORDS[holds] ?? holds} (${L(holds)})`;
      });
      change = `${parts.join('; ')}: rename them in ${t.label}`;
    }
    return { kind: 'permuted-gates', side: t.side, tensors: displays, message, change };
  }
}

// ---------------------------------------------------------------- the recurrent stack

/** Each side's orientation: the one its non-square matrices share; the odd ones out are mistakes. */
function orientations(s: RecurrentStack, head: readonly LinearLayer[]): { side: 'out-in' | 'in-out'; of: Map<string, Orientation | undefined> } {
  const G = gateBlocks(s.module);
  const H = s.hiddenSize;
  const of = new Map<string, Orientation | undefined>();
  for (let l = 0; l < s.numLayers; l++) {
    for (let d = 0; d < s.directions; d++) {
      const sfx = suffixOf(l, d === 1);
      const inSize = l === 0 ? s.inputSize : H * s.directions;
      const ih = s.params.get(`weight_ih${sfx}`);
      const hh = s.params.get(`weight_hh${sfx}`);
      if (ih) of.set(`weight_ih${sfx}`, orientationOf(ih, G * H, inSize));
      if (hh) of.set(`weight_hh${sfx}`, orientationOf(hh, G * H, H));
    }
  }
  head.forEach((h, k) => of.set(`head.${k}`, h.orientation));
  const known = [...of.values()];
  const inOut = known.filter((o) => o === 'in-out').length;
  const outIn = known.filter((o) => o === 'out-in').length;
  return { side: inOut > outIn ? 'in-out' : 'out-in', of };
}

/** A stored matrix as PyTorch's [rows, cols] values, read in its own orientation (square: its file's). */
function canonicalMatrix(t: Tensor, o: Orientation | undefined, side: 'out-in' | 'in-out'): Float64Array {
  const v = values(t);
  const transposed = o === 'in-out' || (o === 'square' && side === 'in-out');
  return transposed ? transposeFlat(v, t.shape[0], t.shape[1]) : v;
}

function gateRows(gates: readonly string[] | undefined, va: Float64Array, vb: Float64Array): TensorDiff['gates'] {
  if (!gates || gates.length < 2) return undefined;
  const G = gates.length;
  return gates.map((gate, k) => ({ gate, relErr: relativeError(block(va, G, k), block(vb, G, k)), maxAbs: maxAbsDiff(block(va, G, k), block(vb, G, k)) }));
}

function valueRow(c: Comparison, name: string, nameA: string, nameB: string, shapeA: readonly number[], shapeB: readonly number[], va: Float64Array, vb: Float64Array, role: ComparedTensor['role'], gates?: readonly string[], derived?: string): ComparedTensor {
  if (va.length !== vb.length) {
    return c.row({ name, nameA, nameB, shapeA, shapeB, relErr: Infinity, maxAbs: Infinity, exceeds: true, role, ...(derived ? { derived } : {}) });
  }
  const relErr = relativeError(va, vb);
  return c.row({
    name, nameA, nameB, shapeA, shapeB, relErr, maxAbs: maxAbsDiff(va, vb), gates: gateRows(gates, va, vb), exceeds: !(relErr <= c.rtol), role,
    ...(derived ? { derived } : {}),
  });
}

function semantics(c: Comparison, ra: RecurrentStack): void {
  const A = c.a.info;
  const B = c.b.info;
  const assumed = (i: SideInfo, k: 'recurrentActivation' | 'nonlinearity' | 'gruReset'): string => (i.assumed?.includes(k) ? ' (assumed: the file does not record it)' : '');
  if (ra.module !== 'RNN' && A.recurrentActivation && B.recurrentActivation && A.recurrentActivation !== B.recurrentActivation) {
    const hard = A.recurrentActivation === 'hard_sigmoid' ? c.a : c.b;
    const soft = hard === c.a ? c.b : c.a;
    const keras = hard.dialect.framework === 'Keras' || hard.dialect.framework === 'TensorFlow.js';
    c.find({
      kind: 'hard-sigmoid', side: hard.side, tensors: [],
      message: `${hard.side}'s gates apply hard_sigmoid (clip(0.2x + 0.5, 0, 1))${assumed(hard.info, 'recurrentActivation')}, ${soft.side}'s apply sigmoid${assumed(soft.info, 'recurrentActivation')}`,
      change: keras
        ? `set recurrent_activation: 'sigmoid' on the ${ra.module} layer of ${hard.label} (TensorFlow.js and Keras 2 default to hard_sigmoid; PyTorch has sigmoid only)`
        : `compute the gates of ${hard.label} with sigmoid, as ${soft.label} does (or pass --recurrent-activation if the file records the wrong one)`,
    });
    if (soft.info.assumed?.includes('recurrentActivation')) {
      c.notes.push(`${soft.label} does not record its recurrent activation (sigmoid assumed, as nn.${ra.module}): if it runs with hard_sigmoid, pass --recurrent-activation hard_sigmoid`);
    }
  }
  if (ra.module === 'GRU' && A.gruReset && B.gruReset && A.gruReset !== B.gruReset) {
    const before = A.gruReset === 'before' ? c.a : c.b;
    const after = before === c.a ? c.b : c.a;
    const keras = before.dialect.framework === 'Keras' || before.dialect.framework === 'TensorFlow.js';
    if (after.info.assumed?.includes('gruReset')) {
      c.notes.push(`${after.label} does not record where its GRU applies the reset gate (after, as nn.GRU, assumed): if it applies it before, pass --gru-reset before`);
    }
    c.find({
      kind: 'gru-reset', side: before.side, tensors: [],
      message: `${before.side}'s GRU applies the reset gate before the recurrent matmul (tanh(W x + U (r ⊙ h)))${assumed(before.info, 'gruReset')}, ${after.side}'s after it (tanh(W x + r ⊙ (U h + b_hn)), PyTorch's)${assumed(after.info, 'gruReset')}`,
      change: keras
        ? `build the GRU of ${before.label} with reset_after=True (the default of tf.keras ≥ 2 and Keras 3; tfjs defaults to false)`
        : `apply r after U h in ${before.label}: n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn)), or pass --gru-reset before if that is what its code does`,
    });
  }
  if (ra.module === 'RNN' && A.nonlinearity && B.nonlinearity && A.nonlinearity !== B.nonlinearity) {
    const t = c.target;
    c.find({
      kind: 'nonlinearity', side: t.side, tensors: [],
      message: `A's Elman RNN applies ${A.nonlinearity}${assumed(A, 'nonlinearity')}, B's ${B.nonlinearity}${assumed(B, 'nonlinearity')}`,
      change: `use ${c.ref.info.nonlinearity} in ${t.label} (nn.RNN(nonlinearity='${c.ref.info.nonlinearity}'), SimpleRNN(activation='${c.ref.info.nonlinearity}'))`,
    });
  }
}

function compareStacks(c: Comparison, ra: RecurrentStack, rb: RecurrentStack, headA: readonly LinearLayer[], headB: readonly LinearLayer[]): void {
  if (ra.module !== rb.module || ra.hiddenSize !== rb.hiddenSize || ra.numLayers !== rb.numLayers || ra.directions !== rb.directions || ra.inputSize !== rb.inputSize) {
    const withHead = (s: RecurrentStack, h: readonly LinearLayer[]): string => describeStack(s) + (h.length ? `; ${describeHead(h)}` : '');
    const a = withHead(ra, headA);
    const b = withHead(rb, headB);
    c.architecture = { a, b };
    const t = c.target;
    const r = t === c.a ? ra : rb;
    const want = t === c.a ? rb : ra;
    const torch = `nn.${want.module}(${want.inputSize}, ${want.hiddenSize}${want.numLayers > 1 ? `, num_layers=${want.numLayers}` : ''}${want.directions === 2 ? ', bidirectional=True' : ''})`;
    c.find({
      kind: 'architecture', side: t.side, tensors: [],
      message: `the recurrent stacks differ: A: ${a}; B: ${b}`,
      change: `build ${t.label} as ${c.ref.label}: ${describeStack(want)}${t.dialect.framework === 'PyTorch' || t.dialect.own ? ` (${torch})` : ''}${r.module !== want.module ? `, a ${want.module}, not a ${r.module}` : ''}`,
    });
    return;
  }
  semantics(c, ra);
  const G = gateBlocks(ra.module);
  const H = ra.hiddenSize;
  const gates = G > 1 ? GATES[ra.module] : undefined;
  const oa = orientations(ra, headA);
  const ob = orientations(rb, headB);
  for (const [ctx, o, s] of [[c.a, oa, ra], [c.b, ob, rb]] as const) {
    const odd = [...o.of].filter(([, x]) => (x === 'in-out' || x === 'out-in') && x !== o.side).map(([n]) => n);
    for (const n of odd) {
      const m = /^(weight_ih|weight_hh)(_l(\d+)(_reverse)?)$/.exec(n);
      const own = m ? ctx.dialect.param(m[1] as ParamKind, Number(m[3]), !!m[4]) : ctx.dialect.head(Number(n.slice(5)), 'weight');
      const stored = m ? s.params.get(n)!.shape : undefined;
      c.find({
        kind: 'transposed', side: ctx.side, tensors: [m ? displayName(ra, rb, n) : n],
        message: `${ctx.side}'s ${m ? displayName(ra, rb, n) : `head layer ${n.slice(5)}`} is stored ${o.side === 'out-in' ? '[in, out]' : '[out, in]'}${stored ? ` ${formatShape(stored)}` : ''} while its other matrices are ${o.side === 'out-in' ? '[out, in]' : '[in, out]'}`,
        change: `transpose your ${own} in ${ctx.label}`,
      });
    }
    if (o.side === 'in-out') {
      c.equivalences.push({
        kind: 'transposed-layout',
        message: `${ctx.side} stores every weight matrix transposed ([in, out], for x @ W), consistently: the same matrices as ${ctx.side === 'A' ? 'B' : 'A'}'s [out, in] (transpose them to load ${ctx.side} into nn.${ra.module} with load_state_dict)`,
      });
    }
  }
  for (let l = 0; l < ra.numLayers; l++) {
    for (let d = 0; d < ra.directions; d++) {
      const rev = d === 1;
      const sfx = suffixOf(l, rev);
      for (const kind of ['weight_ih', 'weight_hh'] as const) {
        const n = `${kind}${sfx}`;
        const ta = ra.params.get(n);
        const tb = rb.params.get(n);
        if (!ta || !tb) continue;
        const va = canonicalMatrix(ta, oa.of.get(n), oa.side);
        const vb = canonicalMatrix(tb, ob.of.get(n), ob.side);
        const rows = G * H;
        const cols = va.length / rows;
        const shown = displayName(ra, rb, n);
        const r = valueRow(c, shown, ra.names.get(n) ?? n, rb.names.get(n) ?? n, ta.shape, tb.shape, va, vb, 'rnn', gates);
        if (!r.exceeds || va.length !== vb.length) continue;
        const [vr, vt] = c.refTgt(va, vb);
        const t = c.target;
        const tgtO = (t === c.a ? oa : ob).of.get(n);
        // A square matrix read in its file's orientation can still be the transpose (W_hh of an Elman RNN).
        if (rows === cols && tgtO === 'square') {
          const vtT = transposeFlat(vt, rows, cols);
          const perm = gates ? findPermutation(vr, vtT, G, c.rtol) : relativeError(vr, vtT) <= c.rtol ? [0] : undefined;
          if (perm) {
            const extra = perm.some((s, k) => s !== k) ? ` with its gate blocks permuted (${perm.map((s) => GATES[ra.module][s]).join(',')})` : '';
            c.find({
              kind: 'transposed', side: t.side, tensors: [shown],
              message: `${shown}: ${t.side}'s is the transpose of ${c.ref.side}'s${extra}`,
              change: `transpose your ${t.dialect.param(kind, l, rev)} in ${t.label}${extra ? ' and reorder its gate blocks' : ''}`,
            });
            continue;
          }
        }
        if (gates) {
          const perm = findPermutation(vr, vt, G, c.rtol);
          if (perm && perm.some((s, k) => s !== k)) c.permuted(perm, ra.module, [kind], l, rev, shown);
        }
      }
      compareBiases(c, ra, rb, l, rev);
    }
  }
}

/** A stack parameter's name for the report: the file's own when both files use it, else the canonical one. */
function displayName(ra: RecurrentStack, rb: RecurrentStack, n: string): string {
  const x = ra.names.get(n);
  return x !== undefined && x === rb.names.get(n) ? x : n;
}

function biasValues(s: RecurrentStack, n: string, len: number): { v: Float64Array; present: boolean } {
  const t = s.params.get(n);
  return t && t.data.length === len ? { v: values(t), present: true } : { v: new Float64Array(len), present: false };
}

function compareBiases(c: Comparison, ra: RecurrentStack, rb: RecurrentStack, l: number, rev: boolean): void {
  const G = gateBlocks(ra.module);
  const H = ra.hiddenSize;
  const len = G * H;
  const sfx = suffixOf(l, rev);
  const ih = `bias_ih${sfx}`;
  const hh = `bias_hh${sfx}`;
  if (!ra.bias && !rb.bias) return;
  const [ai, ah, bi, bh] = [biasValues(ra, ih, len), biasValues(ra, hh, len), biasValues(rb, ih, len), biasValues(rb, hh, len)];
  const nA = (n: string): string => ra.names.get(n) ?? n;
  const nB = (n: string): string => rb.names.get(n) ?? n;
  const gates = G > 1 ? GATES[ra.module] : undefined;
  const fold = (v: Float64Array, side: SideInfo): Float64Array => {
    const f = side.forgetBias ?? 0;
    if (!f || ra.module !== 'LSTM') return v;
    const out = v.slice();
    for (let j = H; j < 2 * H; j++) out[j] += f;
    return out;
  };
  const rawSame = relativeError(ai.v, bi.v) <= c.rtol && relativeError(ah.v, bh.v) <= c.rtol;
  const folds = !!(c.a.info.forgetBias || c.b.info.forgetBias) && ra.module === 'LSTM';
  if (rawSame && !folds && ra.bias === rb.bias) {
    valueRow(c, displayName(ra, rb, ih), nA(ih), nB(ih), [len], [len], ai.v, bi.v, 'rnn', gates);
    valueRow(c, displayName(ra, rb, hh), nA(hh), nB(hh), [len], [len], ah.v, bh.v, 'rnn', gates);
    return;
  }
  const sum = (x: Float64Array, y: Float64Array): Float64Array => x.map((v, k) => v + y[k]);
  const sa = fold(sum(ai.v, ah.v), c.a.info);
  const sb = fold(sum(bi.v, bh.v), c.b.info);
  // What enters the gates: the sums, except a PyTorch-style GRU's n gate, whose b_hn is inside r ⊙ (·).
  const gruAfter = ra.module === 'GRU' && (c.a.info.gruReset ?? 'after') === 'after';
  let pa: Float64Array;
  let pb: Float64Array;
  let derived: string;
  if (gruAfter) {
    const n = (x: Float64Array): Float64Array => x.subarray(2 * H, 3 * H);
    pa = Float64Array.from([...sa.subarray(0, 2 * H), ...n(ai.v), ...n(ah.v)]);
    pb = Float64Array.from([...sb.subarray(0, 2 * H), ...n(bi.v), ...n(bh.v)]);
    derived = 'r, z: bias_ih + bias_hh; n: bias_ih and bias_hh each';
  } else {
    pa = sa;
    pb = sb;
    derived = 'bias_ih + bias_hh';
  }
  const name = `${displayName(ra, rb, ih)} + ${displayName(ra, rb, hh)}${gruAfter ? ' (r, z; n apart)' : ''}`;
  const names = (s: RecurrentStack, nm: (x: string) => string): string => (s.bias ? `${nm(ih)} + ${nm(hh)}` : '(no bias)');
  let r = valueRow(c, name, names(ra, nA), names(rb, nB), [len], [len], pa, pb, 'rnn', gruAfter ? undefined : gates, derived);
  if (gruAfter) {
    // Per-gate errors of the GRU pieces: the r and z sums, both halves of n.
    const piece = (p: Float64Array, k: number): Float64Array => (k < 2 ? p.subarray(k * H, (k + 1) * H) : p.subarray(2 * H));
    const gruGates = ['r', 'z', 'n'].map((g, k) => ({ gate: g, relErr: relativeError(piece(pa, k), piece(pb, k)), maxAbs: maxAbsDiff(piece(pa, k), piece(pb, k)) }));
    r = { ...r, gates: gruGates };
    c.rows[c.rows.length - 1] = r;
  }
  const t = c.target;
  if (!r.exceeds) {
    const allZero = (x: Float64Array): boolean => x.every((v) => v === 0);
    if (!ra.bias || !rb.bias) {
      const none = !ra.bias ? 'A' : 'B';
      pushOnce(c, { kind: 'no-bias', message: `${none} has no biases (bias=False); ${none === 'A' ? 'B' : 'A'}'s are all zero: the same gates` });
    } else if (!rawSame && relativeError(sum(ai.v, ah.v), sum(bi.v, bh.v)) <= c.rtol) {
      const how = (s: Side, h: { v: Float64Array; present: boolean }): string =>
        !h.present || allZero(h.v) ? `${s} holds one merged bias (b_hh zero or absent, as Keras' bias or a from-scratch b)` : `${s} holds both b_ih and b_hh`;
      pushOnce(c, {
        kind: 'bias-split',
        message: gruAfter
          ? `the biases are split differently (${how('A', ah)}; ${how('B', bh)}): for the r and z gates only b_ih + b_hh enters, and those sums agree; the n gate's b_in and b_hn agree each`
          : `the biases are split differently (${how('A', ah)}; ${how('B', bh)}): only b_ih + b_hh enters the gates, and the sums agree`,
      });
    }
    if (folds && !allZero(sum(ai.v, ah.v).map((v, k) => v - (bi.v[k] + bh.v[k])))) {
      const who = c.a.info.forgetBias ? 'A' : 'B';
      const f = (who === 'A' ? c.a.info : c.b.info).forgetBias!;
      pushOnce(c, { kind: 'forget-bias-folded', message: `${who} adds forget_bias=${f} to the forget gate at run time; the other has it folded into its bias: the same forget gate` });
    }
    return;
  }
  const [vr, vt] = c.refTgt(pa, pb);
  // A GRU whose n-gate hidden bias was merged into b_in (or the other way round).
  if (gruAfter) {
    const nSum = (p: Float64Array): Float64Array => p.subarray(2 * H, 3 * H).map((v, k) => v + p[3 * H + k]);
    const rzSame = relativeError(vr.subarray(0, 2 * H), vt.subarray(0, 2 * H)) <= c.rtol;
    if (rzSame && relativeError(nSum(vr), nSum(vt)) <= c.rtol) {
      const d = t.dialect;
      c.find({
        kind: 'gru-n-bias', side: t.side, tensors: [name],
        message: `the n gate's b_in + b_hn agree, but ${t.side} splits them differently: in a PyTorch-style GRU b_hn sits inside r ⊙ (W_hn h + b_hn), so it cannot be merged into b_in`,
        change: `keep the n block of ${d.param('bias_hh', l, rev)} separate from ${d.param('bias_ih', l, rev)} in ${t.label} (${d.framework === 'Keras' || d.framework === 'TensorFlow.js' ? 'reset_after=True keeps a [2, 3H] bias' : `copy ${c.ref.side}'s b_hn into the n block of its recurrent bias`})`,
      });
      return;
    }
  }
  const [sr, st] = c.refTgt(sa, sb);
  if (gates) {
    const perm = findPermutation(sr, st, G, c.rtol);
    if (perm && perm.some((s, k) => s !== k)) {
      c.permuted(perm, ra.module, ['bias_ih', 'bias_hh'], l, rev, name);
      return;
    }
    // One of the two biases reordered (b_ih with W_ih, say) and the other not.
    const raw = ([[ai, bi, 'bias_ih', ih], [ah, bh, 'bias_hh', hh]] as const).map(([x, y, kind, n]) => {
      const [pr, pt] = c.refTgt(x.v, y.v);
      if (relativeError(pr, pt) <= c.rtol) return { ok: true as const };
      const p = findPermutation(pr, pt, G, c.rtol);
      return p && p.some((s, k) => s !== k) ? { ok: true as const, perm: p, kind, n } : { ok: false as const };
    });
    if (raw.every((x) => x.ok)) {
      for (const x of raw) if (x.perm) c.permuted(x.perm, ra.module, [x.kind], l, rev, displayName(ra, rb, x.n));
      c.explain(name);
      return;
    }
  }
  if (ra.module === 'LSTM') {
    const others = [0, 2, 3].every((k) => relativeError(block(sr, 4, k), block(st, 4, k)) <= c.rtol);
    const fr = block(sr, 4, 1);
    const ft = block(st, 4, 1);
    const off = ft[0] - fr[0];
    const constant = fr.every((v, i) => Math.abs(ft[i] - v - off) <= Math.max(1e-6, c.rtol) * Math.max(1, Math.abs(off)));
    if (others && constant && off !== 0) {
      const o = +off.toPrecision(6);
      const d = t.dialect;
      const flag = `--forget-bias-${t.side === 'A' ? 'b' : 'a'} ${Math.abs(o)}`;
      c.find({
        kind: 'forget-bias-offset', side: t.side, tensors: [name],
        message: `${t.side}'s forget-gate bias is ${c.ref.side}'s ${o > 0 ? '+' : '−'} ${Math.abs(o)} (layer ${l}${rev ? ', backward' : ''}); the other gates agree`,
        change: o > 0
          ? `subtract ${o} from the f block (rows ${H}..${2 * H - 1}) of ${d.param('bias_ih', l, rev)} in ${t.label}, unless the code of ${c.ref.label} adds forget_bias=${o} at run time (TF1 LSTMCell): then pass ${flag} to compare what runs`
          : `add ${-o} to the f block (rows ${H}..${2 * H - 1}) of ${d.param('bias_ih', l, rev)} in ${t.label}, or, if its code adds forget_bias=${-o} at run time (TF1 LSTMCell), pass --forget-bias-${t.side.toLowerCase()} ${-o}`,
      });
      return;
    }
  }
  if (!ra.bias || !rb.bias) {
    const none = !ra.bias ? c.a : c.b;
    const some = none === c.a ? c.b : c.a;
    c.find({
      kind: 'bias-missing', side: t.side, tensors: [name],
      message: `${none.side} has no biases (bias=False) but ${some.side}'s are not zero`,
      change: t === none
        ? `give ${t.label} biases (bias=True) with ${some.side}'s values`
        : `build ${t.label} without biases (bias=False), or set them to zero`,
    });
  }
}

function pushOnce(c: Comparison, e: Equivalence): void {
  if (!c.equivalences.some((x) => x.kind === e.kind && x.message === e.message)) c.equivalences.push(e);
}

// ---------------------------------------------------------------- embedding, head, the rest

function compareEmbedding(c: Comparison, a: Structure, b: Structure): void {
  const ea = a.embedding;
  const eb = b.embedding;
  if (ea && eb) {
    let vb = values(eb.tensor);
    if (!sameShape(ea.tensor, eb.tensor) && ea.tensor.shape.length === 2 && eb.tensor.shape[0] === ea.tensor.shape[1] && eb.tensor.shape[1] === ea.tensor.shape[0]) {
      vb = transposeFlat(vb, eb.tensor.shape[0], eb.tensor.shape[1]);
      pushOnce(c, { kind: 'transposed-layout', message: `B stores the embedding transposed ${formatShape(eb.tensor.shape)} (one column per token): the same vectors as A's ${formatShape(ea.tensor.shape)}` });
    }
    valueRow(c, ea.name === eb.name ? ea.name : 'embedding', ea.name, eb.name, ea.tensor.shape, eb.tensor.shape, values(ea.tensor), vb, 'embedding');
  } else if (ea || eb) {
    const s: Side = ea ? 'A' : 'B';
    const e = (ea ?? eb)!;
    c.unmatched.push({ side: s, role: 'embedding', names: [e.name], summary: `embedding ${e.name} ${formatShape(e.tensor.shape)}` });
  }
}

function compareHeads(c: Comparison, a: Structure, b: Structure): void {
  const ha = a.head;
  const hb = b.head;
  if (!ha.length || !hb.length) {
    const [s, h] = ha.length ? ['A', ha] as const : ['B', hb] as const;
    if (h.length) c.unmatched.push({ side: s, role: 'head', names: h.flatMap((l) => [l.weightName, ...(l.biasName ? [l.biasName] : [])]), summary: `${describeHead(h)} (${h.map((l) => l.prefix.replace(/\.$/, '') || l.weightName).join(', ')})` });
    return;
  }
  if (ha.length !== hb.length || ha.some((l, k) => l.outFeatures !== hb[k].outFeatures)) {
    const arch = { a: describeHead(ha), b: describeHead(hb) };
    c.architecture = c.architecture ? { a: `${c.architecture.a}; ${arch.a}`, b: `${c.architecture.b}; ${arch.b}` } : arch;
    const t = c.target;
    c.find({ kind: 'architecture', side: t.side, tensors: [], message: `the heads differ: A: ${arch.a}; B: ${arch.b}`, change: `give ${t.label} the ${t === c.a ? arch.b : arch.a} of ${c.ref.label}` });
    return;
  }
  const sideO = (s: Structure): 'out-in' | 'in-out' => (s.rnn ? orientations(s.rnn, s.head).side : 'out-in');
  const oa = sideO(a);
  const ob = sideO(b);
  ha.forEach((la, k) => {
    const lb = hb[k];
    const same = la.prefix === lb.prefix;
    const base = ha.length === 1 ? 'head' : `head.${k}`;
    const wName = same ? la.weightName : `${base}.weight`;
    valueRow(c, wName, la.weightName, lb.weightName, la.weight.shape, lb.weight.shape, canonicalMatrix(la.weight, la.orientation, oa), canonicalMatrix(lb.weight, lb.orientation, ob), 'head');
    if (la.bias || lb.bias) {
      const n = la.outFeatures;
      const va = la.bias ? values(la.bias) : new Float64Array(n);
      const vb = lb.bias ? values(lb.bias) : new Float64Array(n);
      const r = valueRow(c, same && la.biasName ? la.biasName : `${base}.bias`, la.biasName ?? '(no bias)', lb.biasName ?? '(no bias)', [n], [n], va, vb, 'head');
      if (!la.bias || !lb.bias) {
        const none = la.bias ? 'B' : 'A';
        if (!r.exceeds) pushOnce(c, { kind: 'no-bias', message: `${none}'s head layer ${k} has no bias; the other's is all zero` });
        else {
          const t = c.target;
          c.find({ kind: 'bias-missing', side: t.side, tensors: [r.name], message: `${none}'s head layer ${k} has no bias, the other's is not zero`, change: t.side === none ? `give head layer ${k} of ${t.label} a bias with ${c.ref.side}'s values` : `remove the bias of head layer ${k} of ${t.label} (or zero it)` });
        }
      }
    }
  });
  const A = c.a.info.headActivation ?? 'linear';
  const B = c.b.info.headActivation ?? 'linear';
  if (A !== B && [A, B].every((x) => x === 'linear' || x === 'softmax')) {
    pushOnce(c, { kind: 'head-activation', message: `${A === 'softmax' ? 'A' : 'B'}'s head ends in softmax (Keras Dense activation), the other returns logits (PyTorch puts softmax in CrossEntropyLoss): the same predictions` });
  } else if (A !== B) {
    const t = c.target;
    c.find({ kind: 'architecture', side: t.side, tensors: [], message: `the head activations differ: A ${A}, B ${B}`, change: `use ${t === c.a ? B : A} after the head of ${t.label}` });
  }
}

function compareByName(c: Comparison, a: TensorMap, b: TensorMap, role: 'input' | 'other'): void {
  for (const [n, ta] of a) {
    const tb = b.get(n);
    if (!tb) continue;
    if (!sameShape(ta, tb)) {
      c.row({ name: n, nameA: n, nameB: n, shapeA: ta.shape, shapeB: tb.shape, relErr: Infinity, maxAbs: Infinity, exceeds: true, role });
      continue;
    }
    valueRow(c, n, n, n, ta.shape, tb.shape, values(ta), values(tb), role);
  }
  const onlyA = [...a.keys()].filter((n) => !b.has(n));
  const onlyB = [...b.keys()].filter((n) => !a.has(n));
  const summary = (names: string[]): string => {
    const shown = names.length > 10 ? `${names.slice(0, 8).join(', ')} and ${names.length - 8} more` : names.join(', ');
    return role === 'input' ? `inputs ${shown} (an io file's inputs: never differences)` : shown;
  };
  if (onlyA.length) c.unmatched.push({ side: 'A', role, names: onlyA, summary: summary(onlyA) });
  if (onlyB.length) c.unmatched.push({ side: 'B', role, names: onlyB, summary: summary(onlyB) });
}

/** One comparison of two structures (a whole file, or one snapshot of each). */
function compareStructures(c: Comparison, a: Structure, b: Structure): void {
  compareEmbedding(c, a, b);
  if (a.rnn && b.rnn) {
    compareStacks(c, a.rnn, b.rnn, a.head, b.head);
    if (a.rnn.prefix !== b.rnn.prefix) {
      c.notes.push(`recurrent stacks aligned by function: A's "${a.rnn.prefix}*" ↔ B's "${b.rnn.prefix}*"`);
    }
  } else if (a.rnn || b.rnn) {
    const [s, r] = a.rnn ? ['A', a.rnn] as const : ['B', b.rnn!] as const;
    c.unmatched.push({ side: s, role: 'rnn', names: [...r.names.values()], summary: `recurrent stack: ${describeStack(r)}` });
  }
  if (!c.architecture) compareHeads(c, a, b);
  const aligned = a.head.map((l, k) => [l, b.head[k]] as const).filter(([x, y]) => y && x.prefix !== y.prefix);
  if (aligned.length && a.head.length === b.head.length) {
    c.notes.push(`heads aligned by function: ${aligned.map(([x, y]) => `A's ${x.prefix.replace(/\.$/, '')} ↔ B's ${y.prefix.replace(/\.$/, '')}`).join(', ')}`);
  }
  if (a.embedding && b.embedding && a.embedding.name !== b.embedding.name) {
    c.notes.push(`embeddings aligned by function: A's ${a.embedding.name} ↔ B's ${b.embedding.name}`);
  }
  compareByName(c, a.inputs, b.inputs, 'input');
  const inputsDiffer = c.rows.filter((r) => r.role === 'input' && r.exceeds).map((r) => r.name);
  if (inputsDiffer.length) c.notes.push(`inputs differ (${inputsDiffer.join(', ')}): the two were computed from different inputs, so their outputs cannot agree`);
  compareByName(c, a.other, b.other, 'other');
  // Gate traces tell hard from plain sigmoid; the states and outputs that follow differ because of it.
  const hard = diagnoseHardSigmoid(a.other, b.other, c.rtol);
  for (const side of ['A', 'B'] as const) {
    const mine = hard.filter((d) => new RegExp(`^[^:]*: ${side} applies hard`).test(d.message));
    if (!mine.length) continue;
    const ctx = side === 'A' ? c.a : c.b;
    const names = mine.flatMap((d) => d.tensors);
    c.find({
      kind: 'hard-sigmoid', side, tensors: names,
      message: `${side} applies hard_sigmoid (clip(0.2x + 0.5, 0, 1)) where ${side === 'A' ? 'B' : 'A'} applies sigmoid, in ${list(names)}`,
      change: `compute the gates of ${ctx.label} with sigmoid, not hard_sigmoid (set recurrent_activation: 'sigmoid' in a Keras / TensorFlow.js layer)`,
    });
  }
  if (hard.length) for (const r of c.rows) if (r.role === 'other') c.explain(r.name);
  c.finish();
}

// ---------------------------------------------------------------- the report

function sideCtx(side: Side, info: SideInfo | undefined, names: ReadonlyMap<string, string> | undefined): SideCtx {
  const i = info ?? {};
  return { side, info: i, dialect: dialectOf({ ...i, names: i.names ?? names }), label: i.label ?? `file ${side}` };
}

/** Canonical name → the file's own name, from a stack and a head (for messages in PyTorch names). */
function ownNames(s: Structure): Map<string, string> {
  const m = new Map<string, string>(s.rnn ? s.rnn.names : []);
  const h = s.head.length === 1 ? s.head[0] : undefined;
  if (h) {
    m.set('head.weight', h.weightName);
    if (h.biasName) m.set('head.bias', h.biasName);
  }
  return m;
}

interface Outcome {
  readonly c: Comparison;
  readonly compared: number;
}

function run(a: TensorMap, b: TensorMap, infoA: SideInfo | undefined, infoB: SideInfo | undefined, rtol: number): Outcome & { sa: Structure; sb: Structure } {
  const sa = structureOf(a);
  const sb = structureOf(b);
  const c = new Comparison(sideCtx('A', infoA, ownNames(sa)), sideCtx('B', infoB, ownNames(sb)), rtol);
  compareStructures(c, sa, sb);
  return { c, compared: c.rows.filter((r) => r.role !== 'input').length + (c.architecture ? 1 : 0), sa, sb };
}

/**
 * Judges whether two files compute the same model (see the header). `infoA` / `infoB` say what each
 * file records beyond its tensors (an importer's ImportSource and config).
 */
export function compareModels(a0: TensorMap, b0: TensorMap, infoA?: SideInfo, infoB?: SideInfo, options: CompareOptions = {}): ModelDiffReport {
  const traces = alignTracePrefixes(a0, b0); // a run's probe file (<module>.trace_l0_h) against plain traces
  const r = compareAligned(traces.a, traces.b, infoA, infoB, options);
  return traces.note ? { ...r, notes: [traces.note, ...r.notes] } : r;
}

function compareAligned(a: TensorMap, b: TensorMap, infoA: SideInfo | undefined, infoB: SideInfo | undefined, options: CompareOptions): ModelDiffReport {
  const rtol = options.rtol ?? defaultRtol(a, b);
  const strict = !!options.strict;
  const snapA = splitSnapshots(a);
  const snapB = splitSnapshots(b);
  if (snapA.snapshots && snapB.snapshots && snapA.snapshots.label === snapB.snapshots.label) {
    return compareSnapshots(snapA.snapshots, snapB.snapshots, snapA.rest, snapB.rest, infoA, infoB, rtol, strict);
  }
  const o = run(a, b, infoA, infoB, rtol);
  const extra: Unmatched[] = [];
  for (const [s, snap] of [['A', snapA.snapshots], ['B', snapB.snapshots]] as const) {
    if (snap) extra.push({ side: s, role: 'snapshot', names: [], summary: `${snap.byIndex.size} ${snap.label} snapshots (${snap.label}${[...snap.byIndex.keys()][0]}.…)` });
  }
  return report(o.c, o.compared, rtol, strict, { a: describeStructure(o.sa), b: describeStructure(o.sb) }, undefined, extra);
}

/** Snapshot by snapshot: one row of the per-index table each, findings merged across snapshots. */
export function compareSnapshots(a: Snapshots, b: Snapshots, restA: TensorMap, restB: TensorMap, infoA: SideInfo | undefined, infoB: SideInfo | undefined, rtol: number, strict = false): ModelDiffReport {
  const label = a.label;
  const indices = [...new Set([...a.byIndex.keys(), ...b.byIndex.keys()])].sort((x, y) => x - y);
  const top = run(restA, restB, infoA, infoB, rtol);
  const all = top.c;
  let compared = top.compared;
  const epochs: EpochRow[] = [];
  const merged = new Map<string, Finding>();
  const unexplained: { index: number; f: Finding; worst: ComparedTensor }[] = [];
  const unmatched = new Map<string, Unmatched & { indices: number[] }>();
  let structure: { a: string; b: string } | undefined;
  for (const i of indices) {
    const ma = a.byIndex.get(i);
    const mb = b.byIndex.get(i);
    if (!ma || !mb) {
      const s: Side = ma ? 'A' : 'B';
      const key = `${s}:snapshot`;
      const u = unmatched.get(key) ?? { side: s, role: 'snapshot' as const, names: [], summary: '', indices: [] };
      u.indices.push(i);
      unmatched.set(key, u);
      continue;
    }
    const o = run(ma, mb, infoA, infoB, rtol);
    structure ??= { a: describeStructure(o.sa), b: describeStructure(o.sb) };
    compared += o.compared;
    const rows = o.c.rows.map((r) => ({ ...r, name: `${label}${i}.${r.name}` }));
    all.rows.push(...rows);
    all.notes.push(...o.c.notes.filter((n) => !all.notes.includes(n)));
    for (const e of o.c.equivalences) pushOnce(all, e);
    for (const u of o.c.unmatched) {
      const key = `${u.side}:${u.role}:${u.summary}`;
      const cur = unmatched.get(key) ?? { ...u, indices: [] };
      cur.indices.push(i);
      unmatched.set(key, cur);
    }
    if (o.c.architecture) all.architecture ??= o.c.architecture;
    const counted = o.c.rows.filter((r) => r.role !== 'input');
    const worst = counted.length ? counted.reduce((x, y) => (y.relErr > x.relErr ? y : x)) : undefined;
    for (const f of o.c.findings) {
      if (f.kind === 'unexplained') {
        unexplained.push({ index: i, f, worst: worst! });
        continue;
      }
      const key = `${f.kind}:${f.message}`;
      const cur = merged.get(key);
      if (cur) cur.indices!.push(i);
      else merged.set(key, { ...f, tensors: f.tensors.map((t) => `${label}${i}.${t}`), indices: [i] });
    }
    epochs.push({
      epoch: i, label, maxRelErr: worst?.relErr ?? 0, worst: worst && worst.relErr > 0 ? worst.name : '', exceeds: o.c.findings.length > 0,
      ...(o.c.findings.length ? { finding: o.c.findings[0].message } : {}),
    });
  }
  const findings = [...all.findings, ...merged.values()];
  if (unexplained.length) {
    const first = unexplained[0];
    const w = unexplained.reduce((x, y) => (y.worst.relErr > x.worst.relErr ? y : x));
    findings.push({
      kind: 'unexplained', side: first.f.side, tensors: unexplained.flatMap((u) => u.f.tensors.map((t) => `${label}${u.index}.${t}`)),
      indices: unexplained.map((u) => u.index),
      message: `the snapshots differ from ${label} ${first.index} on (${unexplained.length} of ${epochs.length}), worst at ${label} ${w.index}: ${w.worst.name} (relative error ${exp(w.worst.relErr)}); no known layout mistake explains it`,
      change: `the two runs diverge at ${label} ${first.index}: compare what changed there (data order, learning rate, optimizer state, seed) in ${first.f.side === 'A' ? (infoA?.label ?? 'file A') : (infoB?.label ?? 'file B')}`,
    });
  }
  all.findings.length = 0;
  all.findings.push(...findings);
  for (const u of unmatched.values()) {
    const where = u.indices.length === indices.length ? `in every ${label}` : `in ${label} ${u.indices.join(', ')}`;
    all.unmatched.push(u.role === 'snapshot'
      ? { side: u.side, role: 'snapshot', names: u.indices.map((i) => `${label}${i}`), summary: `${label} ${u.indices.join(', ')} (no such snapshot on the other side)` }
      : { side: u.side, role: u.role, names: u.names, summary: `${u.summary} (${where})` });
  }
  return report(all, compared, rtol, strict, structure ?? { a: `${a.byIndex.size} ${label} snapshots`, b: `${b.byIndex.size} ${label} snapshots` }, epochs);
}

function report(c: Comparison, compared: number, rtol: number, strict: boolean, structure: { a: string; b: string }, epochs?: EpochRow[], extraUnmatched: Unmatched[] = []): ModelDiffReport {
  const unmatched = [...c.unmatched, ...extraUnmatched];
  const status: VerdictStatus = c.findings.length ? 'different' : compared === 0 ? 'disjoint' : 'equivalent';
  const counted = unmatched.filter((u) => u.role !== 'input');
  const differs = status === 'different' || (strict && (counted.length > 0 || status === 'disjoint'));
  const onlyIn = (s: Side): string[] => unmatched.filter((u) => u.side === s && u.role !== 'snapshot').flatMap((u) => u.names);
  const target: Side = c.findings[0]?.side ?? c.target.side;
  return {
    rtol, tensors: c.rows, onlyInA: onlyIn('A'), onlyInB: onlyIn('B'),
    diagnoses: c.findings.map((f) => ({ kind: f.kind, tensors: f.tensors, message: f.message })),
    notes: c.notes, ...(epochs ? { epochs } : {}), differs,
    status, target, findings: c.findings, equivalences: c.equivalences, unmatched,
    ...(c.architecture ? { architecture: c.architecture } : {}), structure, compared, strict,
  };
}
