// Each framework's own words for the canonical parameters, so a verdict can say what to change in the
// file the learner has: Keras' kernel / recurrent_kernel / bias and gate order i,f,c,o; ONNX's W / R / B
// and i,o,f,c; PyTorch's names under the file's prefix; from-scratch W_*/U_*/b_* or W/U/b (with the gate
// order the user declared); min-char-rnn's Wxh/Whh/bh; documentation-style W_ii/W_hi/b_ii/b_hi.
import { GATES, type RnnModule } from '../config';
import type { ParamKind } from './structure';

export interface Dialect {
  /** "PyTorch", "Keras", "TensorFlow.js", "ONNX", "your from-scratch code", ... */
  readonly framework: string;
  /** Gate blocks in storage order, as canonical letters; undefined when each gate has its own tensors. */
  gateOrder(module: RnnModule): readonly string[] | undefined;
  /** A canonical gate letter as this framework writes it (Keras/ONNX c for g, h for n). */
  letter(module: RnnModule, gate: string): string;
  /** The file's name for a stack parameter; `gate` for per-gate layouts. */
  param(kind: ParamKind, layer: number, reverse: boolean, gate?: string): string;
  /** The file's name for a head layer's weight or bias. */
  head(layer: number, what: 'weight' | 'bias', own?: string): string;
  readonly perGate: boolean;
  /** The learner's own code wrote this file (a from-scratch layout), not a framework. */
  readonly own: boolean;
}

export interface DialectSource {
  /** ImportSource.layout: 'pytorch', 'keras', 'onnx', 'scratch-per-gate', 'scratch-fused', 'min-char-rnn', ... */
  readonly layout?: string;
  /** ImportSource.format: 'keras-h5', 'keras-v3', 'tfjs', 'onnx', 'pt-zip', 'npz', 'safetensors', ... */
  readonly format?: string;
  /** The gate order a fused from-scratch file was declared with (canonical or foreign letters). */
  readonly gateOrder?: readonly string[];
  /** Canonical parameter name (weight_ih_l0, head.weight, ...) → the file's own name, when known. */
  readonly names?: ReadonlyMap<string, string>;
  /** The names a from-scratch file holds (before import), to say W_xi, W_ii, lstm.W_i or Wix0 as it does. */
  readonly rawNames?: readonly string[];
  /** Which letter a W/U file uses for the input weight (the other is the recurrent one); default W. */
  readonly inputLetter?: 'W' | 'U';
  readonly gruReset?: 'after' | 'before';
}

const canonicalLetter = (module: RnnModule, g: string): string => (module === 'LSTM' && g === 'c' ? 'g' : module === 'GRU' && g === 'h' ? 'n' : g);
const kerasLetter = (module: RnnModule, g: string): string => (module === 'LSTM' && g === 'g' ? 'c' : module === 'GRU' && g === 'n' ? 'h' : g);
const where = (layer: number, reverse: boolean, what = 'layer'): string => `${what} ${layer}${reverse ? ' (backward)' : ''}`;
const suffix = (layer: number, reverse: boolean): string => `_l${layer}${reverse ? '_reverse' : ''}`;

const escape = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const alternate = (module: RnnModule, g: string): string[] => [g, ...(module === 'LSTM' && g === 'g' ? ['c'] : module === 'GRU' && g === 'n' ? ['h'] : [])];

/**
 * The name a from-scratch file gives a parameter: per gate (W_i, W_xi, W_ii / W_hi, b_ii / b_hi, U_i,
 * Wix0), fused (W, U, b) or Elman (Wxh, Whh, bh), under any module prefix and with a layer suffix
 * (_l1, _layer1, _1, 1) where the file has one.
 */
export function ownName(raw: readonly string[], module: RnnModule, kind: ParamKind, layer: number, gate: string | undefined, inputLetter: 'W' | 'U' = 'W'): string | undefined {
  const rec = inputLetter === 'W' ? 'U' : 'W';
  const templates: Record<ParamKind, string[]> = {
    weight_ih: ['W_x{g}', 'W_i{g}', `${inputLetter}_?{g}`, 'W{g}x', 'Wxh'],
    weight_hh: ['W_h{g}', `${rec}_?{g}`, 'W{g}h', 'Whh'],
    bias_ih: ['b_i{g}', 'b_?{g}', 'bh'],
    bias_hh: ['b_h{g}', 'bhh'],
  };
  const fused: Record<ParamKind, string[]> = { weight_ih: [inputLetter], weight_hh: [rec], bias_ih: ['b'], bias_hh: [] };
  const letters = gate === undefined ? [] : alternate(module, gate);
  const pats = gate === undefined
    ? fused[kind]
    : templates[kind].flatMap((t) => (t.includes('{g}') ? letters.map((g) => t.replace('{g}', escape(g))) : module === 'RNN' ? [t] : []));
  for (const p of pats) {
    const re = new RegExp(`^${p}(?:_l(\\d+)|_layer(\\d+)|_(\\d+)|(\\d+))?$`);
    for (const n of raw) {
      const leaf = n.slice(Math.max(n.lastIndexOf('.'), n.lastIndexOf('/')) + 1);
      const m = re.exec(leaf);
      if (!m) continue;
      const k = m.slice(1).find((x) => x !== undefined);
      if ((k === undefined ? 0 : Number(k)) === layer) return n;
    }
  }
  return undefined;
}

/** The dialect of one side of a diff. */
export function dialectOf(src: DialectSource): Dialect {
  const layout = src.layout ?? 'pytorch';
  const own = (canonical: string): string | undefined => src.names?.get(canonical);
  const base = {
    letter: (_m: RnnModule, g: string): string => g,
    head: (layer: number, what: 'weight' | 'bias', name?: string): string => name ?? own(`head.${what}`) ?? `head layer ${layer} ${what}`,
    perGate: false, own: false,
  };
  if (layout === 'keras') {
    const tfjs = /tfjs/i.test(src.format ?? '');
    return {
      ...base, framework: tfjs ? 'TensorFlow.js' : 'Keras',
      gateOrder: (m) => (m === 'LSTM' ? ['i', 'f', 'g', 'o'] : m === 'GRU' ? ['z', 'r', 'n'] : undefined),
      letter: kerasLetter,
      param: (kind, layer, reverse) => {
        const w = where(layer, reverse, 'recurrent layer');
        if (kind === 'weight_ih') return `kernel of ${w}`;
        if (kind === 'weight_hh') return `recurrent_kernel of ${w}`;
        if (src.gruReset === 'after') return `bias[${kind === 'bias_ih' ? 0 : 1}] of ${w}`;
        return `bias of ${w}`;
      },
      head: (_l, what) => `the Dense layer's ${what === 'weight' ? 'kernel' : 'bias'}`,
    };
  }
  if (layout === 'onnx') {
    return {
      ...base, framework: 'ONNX',
      gateOrder: (m) => (m === 'LSTM' ? ['i', 'o', 'f', 'g'] : m === 'GRU' ? ['z', 'r', 'n'] : undefined),
      letter: kerasLetter,
      param: (kind, layer, reverse) => {
        const w = `of the layer-${layer} node${reverse ? ' (direction 1)' : ''}`;
        return kind === 'weight_ih' ? `W ${w}` : kind === 'weight_hh' ? `R ${w}` : kind === 'bias_ih' ? `B (its Wb half) ${w}` : `B (its Rb half) ${w}`;
      },
    };
  }
  if (layout === 'min-char-rnn') {
    return {
      ...base, framework: 'min-char-rnn', own: true, gateOrder: () => undefined,
      param: (kind) => (kind === 'weight_ih' ? 'Wxh' : kind === 'weight_hh' ? 'Whh' : kind === 'bias_ih' ? 'bh' : 'bh (no second bias)'),
      head: (_l, what) => (what === 'weight' ? 'Why' : 'by'),
    };
  }
  if (layout === 'scratch-fused') {
    // Letters as the user wrote the order (c for the cell candidate, h for the GRU candidate, or g / n).
    const foreign = !!src.gateOrder?.some((g) => g === 'c' || g === 'h');
    return {
      ...base, framework: 'your from-scratch code', own: true, letter: foreign ? kerasLetter : base.letter,
      gateOrder: (m) => (src.gateOrder ? src.gateOrder.map((g) => canonicalLetter(m, g)) : GATES[m]),
      param: (kind, layer, reverse) => {
        const found = src.rawNames && !reverse ? ownName(src.rawNames, 'LSTM', kind, layer, undefined, src.inputLetter) : undefined;
        if (found) return found;
        const n = kind === 'weight_ih' ? src.inputLetter ?? 'W' : kind === 'weight_hh' ? (src.inputLetter === 'U' ? 'W' : 'U') : 'b';
        return layer || reverse ? `${n} (${where(layer, reverse)})` : n;
      },
    };
  }
  if (layout === 'recurrentjs') {
    return {
      ...base, framework: 'recurrentjs', own: true, perGate: true, gateOrder: () => undefined, letter: kerasLetter,
      param: (kind, layer, _reverse, gate) => (gate && gate !== '*' && gate !== 'x'
        ? { weight_ih: `W${gate}x${layer}`, weight_hh: `W${gate}h${layer}`, bias_ih: `b${gate}${layer}`, bias_hh: `b${gate}${layer} (one bias per gate)` }[kind]
        : { weight_ih: `Wxh${layer}`, weight_hh: `Whh${layer}`, bias_ih: `bhh${layer}`, bias_hh: `bhh${layer} (one bias)` }[kind]),
      head: (_l, what) => (what === 'weight' ? 'Whd' : 'bd'),
    };
  }
  if (layout === 'scratch-per-gate' || /doc/.test(layout)) {
    const doc = /doc/.test(layout);
    return {
      // From-scratch code names the candidates c (LSTM) and h (GRU) more often than g / n.
      ...base, framework: doc ? 'the documentation-style names' : 'your from-scratch code', own: true, perGate: true,
      letter: doc ? base.letter : kerasLetter,
      gateOrder: () => undefined,
      param: (kind, layer, reverse, gate = '*') => {
        const module: RnnModule = gate === 'r' || gate === 'z' || gate === 'n' || gate === 'h' ? 'GRU' : 'LSTM';
        const look = (k: ParamKind): string | undefined => (src.rawNames && !reverse && gate !== '*' ? ownName(src.rawNames, module, k, layer, canonicalLetter(module, gate), src.inputLetter) : undefined);
        // A file with one bias per gate names it once: bias_hh is that same tensor.
        const found = look(kind) ?? (kind === 'bias_hh' ? look('bias_ih') : undefined);
        if (found) return found;
        const n = doc
          ? { weight_ih: `W_i${gate}`, weight_hh: `W_h${gate}`, bias_ih: `b_i${gate}`, bias_hh: `b_h${gate}` }[kind]
          : { weight_ih: `W_${gate}`, weight_hh: `U_${gate}`, bias_ih: `b_${gate}`, bias_hh: `b_${gate}` }[kind];
        return layer || reverse ? `${n} (${where(layer, reverse)})` : n;
      },
    };
  }
  // PyTorch names (a state_dict, gatescope's own files) or an importer this file does not know yet.
  const framework = layout === 'pytorch' ? 'PyTorch' : `the ${layout} layout`;
  return {
    ...base, framework, own: !/^(pytorch|keras|onnx)$/.test(layout),
    gateOrder: (m) => (m === 'RNN' ? undefined : GATES[m]),
    param: (kind, layer, reverse) => own(`${kind}${suffix(layer, reverse)}`) ?? `${kind}${suffix(layer, reverse)}`,
  };
}
