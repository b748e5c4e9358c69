// What each tensor of a file is for, read from names and shapes: the recurrent stack (PyTorch names
// under any prefix, stored [out, in] or transposed), the embedding before it, the Linear layers of the
// head after it (`fc`, `fc1/fc2`, `decoder`, `head.0`, `classifier.2`: found by shapes, as a chain that
// starts at the stack's output width), the inputs of an io file (x, h0, c0, lengths, loss_projection),
// and everything else (outputs, traces, gradients, losses). Two files are aligned by these roles, not by
// their names. Snapshot files (epoch{e}.<name>, step{s}.<name>) split into one map per index first.
import type { RnnModule } from '../config';
import { type Tensor, type TensorMap } from '../tensor';

export type ParamKind = 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh';

/** How a matrix is stored: PyTorch's [out, in], its transpose [in, out], or square (cannot tell). */
export type Orientation = 'out-in' | 'in-out' | 'square';

export interface RecurrentStack {
  /** The module prefix before the canonical names ("rnn.", "lstm.", ""). */
  readonly prefix: string;
  readonly module: RnnModule;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly directions: 1 | 2;
  readonly bias: boolean;
  /** Canonical name (weight_ih_l0, ...) → the tensor as stored. */
  readonly params: ReadonlyMap<string, Tensor>;
  /** Canonical name → the file's own name. */
  readonly names: ReadonlyMap<string, string>;
}

export interface LinearLayer {
  /** The layer's name prefix ("fc.", "head.0.", "decoder.", "" for head.weight → "head."). */
  readonly prefix: string;
  readonly weight: Tensor;
  readonly weightName: string;
  readonly bias?: Tensor;
  readonly biasName?: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly orientation: Orientation;
}

export interface Structure {
  readonly rnn?: RecurrentStack;
  readonly embedding?: { readonly name: string; readonly tensor: Tensor };
  /** The Linear layers after the stack, in the order data flows through them. */
  readonly head: readonly LinearLayer[];
  /** Inputs of an io file: never differences. */
  readonly inputs: TensorMap;
  /** Everything else, compared by name. */
  readonly other: TensorMap;
}

/** Inputs of a trace/io file (the fixtures' io.safetensors, `gatescope trace --inputs`). */
export const INPUT_NAMES: ReadonlySet<string> = new Set(['x', 'h0', 'c0', 'lengths', 'loss_projection']);

const PARAM = /^(.*?)(weight_ih|weight_hh|bias_ih|bias_hh)(_l(\d+)(_reverse)?)$/;
const EMBEDDING = /(^|\.)(encoder|embedding|embeddings|embed|emb|word_embeddings|wte|tok_embeddings|lookup|embedding_layer)\.weight$/i;
const HEAD_NAMES = /(^|\.)(head|fc\d*|decoder|classifier|out|output|linear\d*|proj|projection|dense\d*|readout)(\.\d+)?\.$/i;

/** Canonical stack parameters under one prefix (the one weight_ih_l0 has), or undefined. */
function recurrentStack(m: TensorMap): RecurrentStack | undefined {
  let prefix: string | undefined;
  for (const k of m.keys()) {
    const x = PARAM.exec(k);
    // A module path ("rnn.", "model.lstm.") or none; "grad_weight_ih_l0" is a gradient, not a parameter.
    if (x && x[2] === 'weight_ih' && x[4] === '0' && !x[5] && /(^|[./:])$/.test(x[1])) { prefix = x[1]; break; }
  }
  if (prefix === undefined) return undefined;
  const params = new Map<string, Tensor>();
  const names = new Map<string, string>();
  for (const [k, t] of m) {
    if (!k.startsWith(prefix)) continue;
    const x = PARAM.exec(k.slice(prefix.length));
    if (!x || x[1] !== '') continue;
    params.set(x[2] + x[3], t);
    names.set(x[2] + x[3], k);
  }
  const whh = params.get('weight_hh_l0');
  const wih = params.get('weight_ih_l0')!;
  if (!whh || whh.shape.length !== 2 || wih.shape.length !== 2) return undefined;
  const [r, c] = whh.shape;
  // weight_hh is [G*H, H] (or stored transposed [H, G*H]); G = 1 for an Elman RNN.
  const H = r % c === 0 ? c : c % r === 0 ? r : 0;
  const G = H ? Math.max(r, c) / H : 0;
  const module: RnnModule | undefined = G === 4 ? 'LSTM' : G === 3 ? 'GRU' : G === 1 ? 'RNN' : undefined;
  if (!module) return undefined;
  let numLayers = 0;
  while (params.has(`weight_ih_l${numLayers}`)) numLayers++;
  const [a, b] = wih.shape;
  const inputSize = a === G * H ? b : b === G * H ? a : b;
  return {
    prefix, module, inputSize, hiddenSize: H, numLayers, directions: params.has('weight_ih_l0_reverse') ? 2 : 1,
    bias: params.has('bias_ih_l0') || params.has('bias_hh_l0'), params, names,
  };
}

/** Orientation of a matrix meant to be [rows, cols] in PyTorch's layout. */
export function orientationOf(t: Tensor, rows: number, cols: number): Orientation | undefined {
  if (t.shape.length !== 2) return undefined;
  const [a, b] = t.shape;
  if (rows === cols) return a === rows && b === cols ? 'square' : undefined;
  if (a === rows && b === cols) return 'out-in';
  if (a === cols && b === rows) return 'in-out';
  return undefined;
}

function linearCandidates(m: TensorMap, taken: Set<string>): { prefix: string; name: string; t: Tensor }[] {
  const out: { prefix: string; name: string; t: Tensor }[] = [];
  for (const [k, t] of m) {
    if (taken.has(k) || t.shape.length !== 2 || !/(^|\.)weight$/.test(k)) continue;
    out.push({ prefix: k.slice(0, k.length - 'weight'.length), name: k, t });
  }
  return out;
}

/** The chain of Linear layers that starts at width `width` (the stack's output). */
function headChain(m: TensorMap, width: number, taken: Set<string>): LinearLayer[] {
  const layers: LinearLayer[] = [];
  let w = width;
  const cands = linearCandidates(m, taken);
  for (;;) {
    const fits = cands.filter((c) => !layers.some((l) => l.weightName === c.name)).map((c) => {
      const [a, b] = c.t.shape;
      // A bias of length `out` tells the orientation when the matrix is square or ambiguous.
      const bias = m.get(`${c.prefix}bias`);
      const biasLen = bias && bias.shape.length === 1 ? bias.shape[0] : undefined;
      if (b === w && (biasLen === undefined || biasLen === a)) return { c, out: a, orientation: (a === b ? 'square' : 'out-in') as Orientation };
      if (a === w && (biasLen === undefined || biasLen === b)) return { c, out: b, orientation: 'in-out' as Orientation };
      return undefined;
    }).filter((x) => x !== undefined);
    if (!fits.length) break;
    const named = fits.filter((f) => HEAD_NAMES.test(f.c.prefix));
    const pick = fits.length === 1 ? fits[0] : named.length === 1 ? named[0] : undefined;
    if (!pick) break; // two readings: leave them to be compared by name
    const biasName = `${pick.c.prefix}bias`;
    const bias = m.get(biasName);
    layers.push({
      prefix: pick.c.prefix, weight: pick.c.t, weightName: pick.c.name, ...(bias && bias.shape.length === 1 ? { bias, biasName } : {}),
      inFeatures: w, outFeatures: pick.out, orientation: pick.orientation,
    });
    w = pick.out;
  }
  return layers;
}

/** The roles of a file's tensors (see the header). */
export function structureOf(m: TensorMap): Structure {
  const rnn = recurrentStack(m);
  const taken = new Set<string>(rnn ? rnn.names.values() : []);
  const inputs: TensorMap = new Map();
  for (const [k, t] of m) if (INPUT_NAMES.has(k)) { inputs.set(k, t); taken.add(k); }
  let embedding: Structure['embedding'];
  for (const [k, t] of m) {
    if (taken.has(k) || t.shape.length !== 2 || !EMBEDDING.test(k)) continue;
    if (rnn && !t.shape.includes(rnn.inputSize)) continue;
    embedding = { name: k, tensor: t };
    taken.add(k);
    break;
  }
  const head = rnn ? headChain(m, rnn.hiddenSize * rnn.directions, taken) : [];
  for (const l of head) {
    taken.add(l.weightName);
    if (l.biasName) taken.add(l.biasName);
  }
  const other: TensorMap = new Map([...m].filter(([k]) => !taken.has(k)));
  return { rnn, embedding, head, inputs, other };
}

/** "LSTM, 2 layers × 4, bidirectional (input 3)". */
export function describeStack(s: RecurrentStack): string {
  const layers = `${s.numLayers} layer${s.numLayers === 1 ? '' : 's'} × ${s.hiddenSize}`;
  return `${s.module}, ${layers}, ${s.directions === 2 ? 'bidirectional' : 'one direction'} (input ${s.inputSize}${s.bias ? '' : ', no bias'})`;
}

/** "head 8→16→10" (the Linear layers' widths). */
export function describeHead(head: readonly LinearLayer[]): string {
  return head.length ? `head ${[head[0].inFeatures, ...head.map((l) => l.outFeatures)].join('→')}` : 'no head';
}

/** A one-line summary of what a file holds: "embedding 10×3, LSTM, 2 layers × 4, ..., head 4→10". */
export function describeStructure(s: Structure): string {
  const parts: string[] = [];
  if (s.embedding) parts.push(`embedding ${s.embedding.tensor.shape.join('×')}`);
  if (s.rnn) parts.push(describeStack(s.rnn));
  if (s.head.length) parts.push(describeHead(s.head));
  if (s.inputs.size) parts.push(`inputs ${[...s.inputs.keys()].join(', ')}`);
  if (s.other.size) parts.push(`${s.other.size} other tensor${s.other.size === 1 ? '' : 's'}`);
  return parts.join('; ') || 'no tensors';
}

// ---------------------------------------------------------------- snapshots

/**
 * Per-index snapshots of one file: `epoch{e}.<name>` (fixtures' trajectories, `seedExperiment`),
 * `step{s}.<name>` (`gatescope fit`), or any other family an importer maps to `<label>{index}.<name>`.
 * The comparison is generic over the label.
 */
export interface Snapshots {
  readonly label: string;
  readonly byIndex: ReadonlyMap<number, TensorMap>;
}

const SNAPSHOT = /^(epoch|step|snapshot|checkpoint)(\d+)\.(.+)$/;

/** The snapshots of a file (the most common label when several are present) and the remaining tensors. */
export function splitSnapshots(m: TensorMap): { snapshots?: Snapshots; rest: TensorMap } {
  const count = new Map<string, number>();
  for (const k of m.keys()) {
    const x = SNAPSHOT.exec(k);
    if (x) count.set(x[1], (count.get(x[1]) ?? 0) + 1);
  }
  if (!count.size) return { rest: m };
  const label = [...count].sort((a, b) => b[1] - a[1])[0][0];
  const byIndex = new Map<number, TensorMap>();
  const rest: TensorMap = new Map();
  for (const [k, t] of m) {
    const x = SNAPSHOT.exec(k);
    if (!x || x[1] !== label) { rest.set(k, t); continue; }
    const i = Number(x[2]);
    if (!byIndex.has(i)) byIndex.set(i, new Map());
    byIndex.get(i)!.set(x[3], t);
  }
  return { snapshots: { label, byIndex: new Map([...byIndex].sort((a, b) => a[0] - b[0])) }, rest };
}
