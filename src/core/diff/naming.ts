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
  readonly gruReset?: 'after' | 'before';
}

const canonicalLetter = (module: RnnModule, g: string): string => (module === 'LSTM' && g === 'c' ? 'g' : module === 'GRU' && g === 'h' ? 'n' : g);
const kerasLetter = (module: RnnModule, g: string): string => (module === 'LSTM' && g === 'g' ? 'c' : module === 'GRU' && g === 'n' ? 'h' : g);
const where = (layer: number, reverse: boolean, what = 'layer'): string => `${what} ${layer}${reverse ? ' (backward)' : ''}`;
const suffix = (layer: number, reverse: boolean): string => `_l${layer}${reverse ? '_reverse' : ''}`;

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
        const n = kind === 'weight_ih' ? 'W' : kind === 'weight_hh' ? 'U' : 'b';
        return layer || reverse ? `${n} (${where(layer, reverse)})` : n;
      },
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
