// Comparing two models tensor by tensor and gate by gate, for the diff view, with the common layout
// mistakes recognised and stated in words (gate blocks in another order, biases split differently,
// a transposed matrix). Works on canonical PyTorch names; pure (no vscode, no DOM).
import { GATES, type RnnModule } from '../../core/config';
import type { Tensor, TensorMap } from '../../core/tensor';
import type { DiffRow, DiffViewModel } from '../../protocol/webview';
import { exactBuffer, float64Buffer } from '../../protocol/webview';

const values = (t: Tensor): ArrayLike<number> => t.data as ArrayLike<number>;

/** max |a - b| / max(max |a|, max |b|, tiny): scale-free, 0 for identical tensors. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; rel: number } {
  if (a.length !== b.length) return { maxAbs: Infinity, rel: Infinity };
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]), Math.abs(b[i]));
  }
  return { maxAbs: d, rel: d / Math.max(m, 1e-300) };
}

function blocks(module: RnnModule): string[] {
  const g = GATES[module];
  return g.length ? [...g] : ['h'];
}

/** Rows of gate block k of a [G*H, ...] tensor. */
function gateBlock(t: Tensor, k: number, G: number): Float64Array {
  const rows = t.shape[0] / G;
  const width = t.shape.length > 1 ? t.shape[1] : 1;
  return Float64Array.from({ length: rows * width }, (_, i) => values(t)[k * rows * width + i]);
}

function isGateTensor(name: string, t: Tensor, G: number): boolean {
  return /(^|\.)(weight_ih|weight_hh|bias_ih|bias_hh)_l\d+(_reverse)?$/.test(name) && t.shape[0] % G === 0 && G > 1;
}

function permutations(n: number): number[][] {
  if (n <= 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

export interface DiffInput {
  readonly title: string;
  readonly leftLabel: string;
  readonly rightLabel: string;
  readonly module: RnnModule;
  readonly left: TensorMap;
  readonly right: TensorMap;
  readonly tolerance: number;
  readonly trajectory?: Trajectory;
}

/** A trajectory as plain arrays (what callers build); converted to Float64 buffers for the webview. */
export interface Trajectory {
  readonly label: string;
  readonly epochs: readonly number[];
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
}

export function trajectoryBuffers(t: Trajectory): NonNullable<DiffViewModel['trajectory']> {
  return { label: t.label, epochs: float64Buffer(t.epochs), series: t.series.map((s) => ({ name: s.name, values: float64Buffer(s.values) })) };
}

export function diffModels(input: DiffInput): DiffViewModel {
  const { left, right, module, tolerance } = input;
  const gates = blocks(module);
  const G = gates.length;
  const rows: DiffRow[] = [];
  const findings: string[] = [];
  let worst: { name: string; rel: number; a: Tensor; b: Tensor } | undefined;
  const missing = [...left.keys()].filter((k) => !right.has(k));
  const extra = [...right.keys()].filter((k) => !left.has(k));
  if (missing.length) findings.push(`${input.rightLabel} lacks ${missing.join(', ')}`);
  if (extra.length) findings.push(`${input.rightLabel} has tensors ${input.leftLabel} does not: ${extra.join(', ')}`);
  for (const [name, a] of left) {
    const b = right.get(name);
    if (!b) continue;
    const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (!sameShape) {
      const transposed = a.shape.length === 2 && b.shape.length === 2 && a.shape[0] === b.shape[1] && a.shape[1] === b.shape[0];
      findings.push(transposed ? `${name} is transposed ([${b.shape.join(', ')}] instead of [${a.shape.join(', ')}])` : `${name} has shape [${b.shape.join(', ')}], expected [${a.shape.join(', ')}]`);
      rows.push({ name, shape: a.shape, maxAbs: Infinity, relError: Infinity, ok: false });
      continue;
    }
    const e = relativeError(values(a), values(b));
    rows.push({ name, shape: a.shape, maxAbs: e.maxAbs, relError: e.rel, ok: e.rel <= tolerance });
    if (!worst || e.rel > worst.rel) worst = { name, rel: e.rel, a, b };
    if (isGateTensor(name, a, G)) {
      for (let k = 0; k < G; k++) {
        const ge = relativeError(gateBlock(a, k, G), gateBlock(b, k, G));
        rows.push({ name: `${name} [${gates[k]}]`, shape: [a.shape[0] / G, ...a.shape.slice(1)], maxAbs: ge.maxAbs, relError: ge.rel, ok: ge.rel <= tolerance });
      }
    }
  }
  findings.push(...detectGatePermutation(left, right, gates, tolerance, input.rightLabel));
  findings.push(...detectBiasSplit(left, right, tolerance, input.rightLabel));
  const ok = rows.every((r) => r.ok) && !missing.length && !extra.length;
  const verdict = ok
    ? `${input.leftLabel} and ${input.rightLabel} agree: every tensor within relative error ${tolerance.toExponential(0)} (worst ${worst ? `${worst.name} ${worst.rel.toExponential(2)}` : 'n/a'}).`
    : findings.length ? `${findings.join('; ')}.`
      : `${rows.filter((r) => !r.ok).length} tensor(s) differ beyond ${tolerance.toExponential(0)}; worst: ${worst?.name} (relative error ${worst?.rel.toExponential(2)}). No known layout mistake explains it.`;
  return {
    title: input.title, leftLabel: input.leftLabel, rightLabel: input.rightLabel, tolerance, verdict, ok, rows,
    ...(worst ? { heatmap: heatmapOf(worst.name, worst.a, worst.b) } : {}),
    ...(input.trajectory ? { trajectory: trajectoryBuffers(input.trajectory) } : {}),
  };
}

function heatmapOf(name: string, a: Tensor, b: Tensor): NonNullable<DiffViewModel['heatmap']> {
  const rows = a.shape[0] ?? 1;
  const cols = a.shape.length > 1 ? a.data.length / rows : 1;
  const data = new Float32Array(a.data.length);
  const va = values(a);
  const vb = values(b);
  for (let i = 0; i < data.length; i++) data[i] = vb[i] - va[i];
  return { name, rows, cols, data: exactBuffer(data) };
}

/** A non-identity gate order under which every gate tensor of right matches left. */
function detectGatePermutation(left: TensorMap, right: TensorMap, gates: string[], tol: number, rightLabel: string): string[] {
  const G = gates.length;
  const names = [...left.keys()].filter((n) => right.has(n) && isGateTensor(n, left.get(n)!, G) && left.get(n)!.data.length === right.get(n)!.data.length);
  if (!names.length || G < 2) return [];
  const identityOk = names.every((n) => relativeError(values(left.get(n)!), values(right.get(n)!)).rel <= tol);
  if (identityOk) return [];
  for (const p of permutations(G)) {
    if (p.every((v, i) => v === i)) continue;
    const fits = names.every((n) => {
      const a = left.get(n)!;
      const b = right.get(n)!;
      return p.every((src, k) => relativeError(gateBlock(a, src, G), gateBlock(b, k, G)).rel <= tol);
    });
    if (fits) {
      const order = p.map((src) => gates[src]).join(',');
      return [`gate order mismatch: ${rightLabel} stores the gate blocks as (${order}) instead of (${gates.join(',')})`];
    }
  }
  return [];
}

/** bias_ih/bias_hh that differ one by one but have the same sum (Keras/ONNX single-bias conversions). */
function detectBiasSplit(left: TensorMap, right: TensorMap, tol: number, rightLabel: string): string[] {
  const out: string[] = [];
  for (const name of left.keys()) {
    const m = /^(.*)bias_ih(_l\d+(?:_reverse)?)$/.exec(name);
    if (!m) continue;
    const hh = `${m[1]}bias_hh${m[2]}`;
    const [a1, a2, b1, b2] = [left.get(name), left.get(hh), right.get(name), right.get(hh)];
    if (!a1 || !a2 || !b1 || !b2 || a1.data.length !== b1.data.length) continue;
    if (relativeError(values(a1), values(b1)).rel <= tol) continue;
    const sum = (x: Tensor, y: Tensor): Float64Array => Float64Array.from({ length: x.data.length }, (_, i) => values(x)[i] + values(y)[i]);
    if (relativeError(sum(a1, a2), sum(b1, b2)).rel <= tol) out.push(`${rightLabel} splits ${m[1]}bias${m[2]} differently between bias_ih and bias_hh (their sums agree, so outputs match)`);
  }
  return out;
}

// ------------------------------------------------------------------ per-epoch trajectories

/** `epoch3.lstm.weight_ih_l0` -> epoch 3, name `lstm.weight_ih_l0`; null when any name lacks the prefix. */
export function splitEpochs(tensors: TensorMap): Map<number, TensorMap> | null {
  const out = new Map<number, TensorMap>();
  for (const [name, t] of tensors) {
    const m = /^epoch(\d+)\.(.+)$/.exec(name);
    if (!m) return null;
    const e = Number(m[1]);
    if (!out.has(e)) out.set(e, new Map());
    out.get(e)!.set(m[2], t);
  }
  return out.size ? new Map([...out.entries()].sort((a, b) => a[0] - b[0])) : null;
}

/** LSTM / GRU / RNN from a weight_hh tensor's [G*H, H] shape. */
export function inferModule(tensors: TensorMap): RnnModule {
  for (const [name, t] of tensors) {
    if (/weight_hh_l\d+$/.test(name) && t.shape.length === 2) {
      const G = t.shape[0] / t.shape[1];
      if (G === 4) return 'LSTM';
      if (G === 3) return 'GRU';
      if (G === 1) return 'RNN';
    }
  }
  throw new Error('cannot tell LSTM, GRU or RNN: no weight_hh_l* tensor of shape [G*H, H]');
}

/**
 * Two per-epoch weight trajectories (e.g. `gatescope fit` output vs PyTorch's): the table and heatmap
 * for the last common epoch, and each tensor's relative error per epoch for the chart.
 */
export function diffTrajectories(input: Omit<DiffInput, 'left' | 'right' | 'module' | 'trajectory'> & { left: Map<number, TensorMap>; right: Map<number, TensorMap> }): DiffViewModel {
  const epochs = [...input.left.keys()].filter((e) => input.right.has(e));
  if (!epochs.length) throw new Error(`${input.leftLabel} and ${input.rightLabel} share no epoch`);
  const last = epochs[epochs.length - 1];
  const left = input.left.get(last)!;
  const right = input.right.get(last)!;
  const names = [...left.keys()].filter((n) => right.has(n));
  const series = names.map((name) => ({
    name,
    values: epochs.map((e) => {
      const a = input.left.get(e)!.get(name);
      const b = input.right.get(e)!.get(name);
      return a && b ? Math.max(relativeError(values(a), values(b)).rel, 1e-18) : NaN;
    }),
  }));
  return diffModels({
    ...input, title: `${input.title}, epoch ${last}`, module: inferModule(left), left, right,
    trajectory: { label: `Relative error per epoch (${epochs.length} epochs)`, epochs, series },
  });
}
