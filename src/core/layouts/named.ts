// Plain named tensors (a state_dict, an .npz of arrays, a recurrentjs model) → the canonical model.
//   pytorch           weight_ih_l0, ... under any prefix, with the embedding and Linear head around it
//                     (src/core/modelFromTensors.ts reads the names and shapes)
//   scratch-per-gate  one matrix per gate and layer, in one of the naming schemes below
//   scratch-fused     W, U, b with all gates stacked (the gate order must be given)
//   min-char-rnn      Wxh, Whh, bh, Why, by (Karpathy's numpy Elman RNN: tanh, h = tanh(Wxh x + Whh h + bh))
//   recurrentjs       Wil, Wix{k}/Wih{k}/bi{k}, Wfx/Wfh/bf, Wox/Woh/bo, Wcx/Wch/bc, Whd, bd; its RNN
//                     Wxh{k}/Whh{k}/bhh{k} (karpathy/recurrentjs: W x, ReLU for the RNN)
// Per-gate schemes, g being LSTM i,f,g|c,o, GRU r,z,n|h, or the one block of an Elman RNN:
//   W_g, U_g, b_g               one of W / U is the input weight, the other the recurrent one (which one is
//                               decided from the shapes, else --input-weight W|U)
//   W_xg, W_hg, b_g             d2l.ai's names (x: input, h: recurrent)
//   W_ig, W_hg, b_ig, b_hg      PyTorch's documentation (two biases per gate, as PyTorch keeps them)
//   Wgx, Wgh, bg                recurrentjs
// Any of them with a layer suffix (W_i_l1, W_i_1, W_i1, W_i_layer1, Wix0; 0- or 1-based), under a module
// prefix (lstm.W_i), and per epoch (epoch3.W_i, W_i.3 from a dict of lists, 3.W_i from a list of state_dicts,
// W_i_epoch3): every epoch is read the same way and the last one is the model.
// What names and shapes cannot tell — an Elman nonlinearity, a fused gate order, W x against x W when every
// matrix is square, which of two square W / U is the input weight — is asked for through an option, and
// the error says why; nothing is decided silently.
import { type RnnConfig, type RnnModule, GATES, gateBlocks, rnnConfig, suffix } from '../config';
import { type FloatDType, type FloatTensor, type Tensor, type TensorMap, floatArray, formatShape, isFloat } from '../tensor';
import { FormatError } from '../formats/errors';
import { describeModel } from '../model';
import { type ModelHints, ModelAmbiguityError, modelFromTensors } from '../modelFromTensors';
import { asFloat, commonFloatDType, concatRows, gateOrder, permuteRowBlocks, reshape, transpose2d, zerosLike } from './blocks';
import { type AssembleOptions, type HeadPart, type ImportParts, type ImportSource, type ImportedModel, type RecordedVocabulary, assembleImport, describeTensors, headView } from './model';

export interface NamedImportOptions {
  readonly module?: RnnModule;
  readonly nonlinearity?: RnnConfig['nonlinearity'];
  readonly recurrentActivation?: RnnConfig['recurrentActivation'];
  /** Foreign gate order, e.g. "i,f,o,g" (Lua char-rnn) or "i,f,c,o"; c ≡ g and h ≡ n. */
  readonly gateOrder?: string;
  /** Weight orientation of from-scratch arrays: out-in = [G*H, in] (W x), in-out = [in, G*H] (x W). */
  readonly orientation?: 'out-in' | 'in-out';
  /** Which letter names the input weights of W/U arrays when both are square: W (W x + U h) or U (U x + W h). */
  readonly inputWeight?: 'W' | 'U';
  /** GRU candidate of from-scratch code: tanh(W x + r*(U h) + b) is 'after', tanh(W x + U(r*h) + b) 'before'. */
  readonly gruReset?: RnnConfig['gruReset'];
  /** Per-epoch files: the epoch to take as the model (default: the last). */
  readonly epoch?: number;
  /** Look for per-epoch names (default true; a pickled module's names are module paths, never epochs). */
  readonly perEpoch?: boolean;
  readonly format?: string;
  /** What the file records besides tensors (a recurrentjs JSON's vocabulary, its generator's nonlinearity). */
  readonly vocabulary?: RecordedVocabulary;
  readonly recorded?: ImportSource['recorded'];
  /** The whole model around the stack: hints for what the weights do not record, and whether it is required. */
  readonly hints?: ModelHints;
  readonly requireModel?: boolean;
}

export class LayoutUnknownError extends FormatError {}

const fail = (msg: string, tensors: TensorMap): never => {
  throw new LayoutUnknownError(`${msg}. Tensors found: ${describeTensors(tensors)}`);
};
const ask = (msg: string, option: string, tensors: TensorMap): never => {
  throw new ModelAmbiguityError(`${msg}; pass ${option}. Tensors found: ${describeTensors(tensors)}`, option);
};

/** Normalises gate letters: Keras/from-scratch c → g (LSTM cell candidate), h → n (GRU candidate). */
export function parseGateOrder(spec: string, module: RnnModule): string[] {
  const letters = spec.split(/[\s,]+/).filter(Boolean).map((g) => g.toLowerCase()).map((g) =>
    module === 'LSTM' && g === 'c' ? 'g' : module === 'GRU' && g === 'h' ? 'n' : g);
  const want = [...GATES[module]].sort().join(',');
  if ([...letters].sort().join(',') !== want) {
    throw new FormatError(`gate order "${spec}" is not a permutation of ${GATES[module].join(',')} for ${module}`);
  }
  return letters;
}

// ------------------------------------------------------------------------------------------ entry

export function importNamed(tensors: TensorMap, opts: NamedImportOptions = {}): ImportedModel {
  const epochs = opts.perEpoch === false ? undefined : splitEpochs(tensors);
  if (epochs) return importEpochs(epochs, opts);
  return importOne(tensors, opts);
}

function importOne(tensors: TensorMap, opts: NamedImportOptions): ImportedModel {
  const format = opts.format ?? 'tensors';
  const names = [...tensors.keys()];
  if (names.some((n) => /(^|\.)weight_ih_l\d+$/.test(n))) return importPytorchNames(tensors, opts, format);
  return importScratch(tensors, opts, format);
}

const assembleOptions = (opts: NamedImportOptions): AssembleOptions => ({ hints: opts.hints, requireModel: opts.requireModel });

// ------------------------------------------------------------------------------------------ epochs

/** Names carrying an epoch: each pattern gives [epoch, name]. */
const EPOCH_PATTERNS: readonly RegExp[] = [
  /^epoch_?(\d+)[./_](.+)$/, // epoch3.W_i (gatescope fit), epoch_3/W_i
  /^(\d+)\.(.+)$/, // a list of state_dicts: 3.W_i
  /^(.+)\.(\d+)$/, // a dict of lists, weight[k][epoch]: W_i.3
  /^(.+?)[._-]?epoch_?(\d+)$/, // W_i_epoch3
];

/** Per-epoch names: every name matches one pattern, and every epoch has the same names. */
function splitEpochs(tensors: TensorMap): Map<number, TensorMap> | undefined {
  if (tensors.size < 2) return undefined;
  for (const [k, re] of EPOCH_PATTERNS.entries()) {
    const by = new Map<number, TensorMap>();
    let ok = true;
    for (const [name, t] of tensors) {
      const m = re.exec(name);
      if (!m) { ok = false; break; }
      const [e, rest] = k === 2 || k === 3 ? [Number(m[2]), m[1]] : [Number(m[1]), m[2]];
      if (!Number.isSafeInteger(e)) { ok = false; break; }
      let map = by.get(e);
      if (!map) by.set(e, (map = new Map()));
      map.set(rest, t);
    }
    if (!ok || !by.size) continue;
    const keys = [...by.values()].map((m) => [...m.keys()].sort().join('\n'));
    if (keys.some((x) => x !== keys[0])) continue;
    // A single "epoch" of plain PyTorch names is a prefix, not a series (model.weight_ih_l0 is not epoch).
    if (by.size === 1 && k !== 0) continue;
    return new Map([...by].sort((a, b) => a[0] - b[0]));
  }
  return undefined;
}

function importEpochs(epochs: Map<number, TensorMap>, opts: NamedImportOptions): ImportedModel {
  const keys = [...epochs.keys()];
  const chosen = opts.epoch ?? keys[keys.length - 1];
  if (!epochs.has(chosen)) throw new FormatError(`${opts.format ?? 'tensors'}: no epoch ${chosen} (epochs ${keys[0]}..${keys[keys.length - 1]})`);
  const models = keys.map((e) => {
    try {
      return importOne(epochs.get(e)!, { ...opts, requireModel: e === chosen && opts.requireModel });
    } catch (err) {
      if (err instanceof Error) err.message = `epoch ${e}: ${err.message}`;
      throw err;
    }
  });
  const m = models[keys.indexOf(chosen)];
  const shape = (x: ImportedModel): string => JSON.stringify([...x.params].map(([k, t]) => [k, t.shape]));
  models.forEach((x, i) => {
    if (shape(x) !== shape(m)) throw new FormatError(`${opts.format ?? 'tensors'}: epoch ${keys[i]} has other tensors or shapes than epoch ${chosen}`);
  });
  return {
    ...m, epochs: models.map((x, i) => ({ epoch: keys[i], params: x.params })),
    source: { ...m.source, notes: [...m.source.notes, `${keys.length} epochs (${keys[0]}..${keys[keys.length - 1]}); the model is epoch ${chosen}${opts.epoch === undefined ? ' (the last)' : ''}`] },
  };
}

// ------------------------------------------------------------------------------------------ PyTorch names

function elmanNonlinearity(opts: NamedImportOptions, tensors: TensorMap, what: string): RnnConfig['nonlinearity'] {
  if (opts.nonlinearity) return opts.nonlinearity;
  return ask(`${what}: an Elman RNN's weights do not record its nonlinearity`, '--nonlinearity tanh|relu (or a config)', tensors);
}

function moduleFromBlocks(g: number, tensors: TensorMap, what: string): RnnModule {
  if (g === 4) return 'LSTM';
  if (g === 3) return 'GRU';
  if (g === 1) return 'RNN';
  return fail(`${what}: ${g} gate blocks is not an LSTM (4), GRU (3) or RNN (1)`, tensors);
}

/**
 * A state_dict with PyTorch names: the whole model when names and shapes give one (modelFromTensors), else
 * the recurrent stack alone, saying why.
 */
function importPytorchNames(tensors: TensorMap, opts: NamedImportOptions, format: string): ImportedModel {
  const hints: ModelHints = {
    ...opts.hints, ...(opts.nonlinearity ? { nonlinearity: opts.nonlinearity } : {}),
    ...(opts.recurrentActivation ? { recurrentActivation: opts.recurrentActivation } : {}), ...(opts.gruReset ? { gruReset: opts.gruReset } : {}),
  };
  let problem: string;
  try {
    const a = modelFromTensors(tensors, hints, format);
    if (opts.module && opts.module !== a.config.rnn.module) fail(`${format}: weights are a ${a.config.rnn.module}, not the ${opts.module} asked for`, tensors);
    const prefix = a.renamed.get('rnn.weight_ih_l0')!.slice(0, -'weight_ih_l0'.length);
    const config: RnnConfig = { ...a.config.rnn, batchFirst: false };
    const notes = [`read ${[...a.renamed].filter(([c, f]) => c !== f).map(([c, f]) => `${f} as ${c}`).join(', ') || 'canonical names'}`];
    if (a.ignored.length) notes.push(`ignored tensors: ${a.ignored.join(', ')}`);
    if (prefix) notes.push(`recurrent parameters under prefix "${prefix}"`);
    const head = headView(a.config, a.params);
    return {
      config, model: a.config, params: a.params, ...(head ? { head } : {}),
      source: { format, layout: 'pytorch', notes: [...notes, `model: ${describeModel(a.config)}`], ...(opts.recorded ? { recorded: opts.recorded } : {}) },
    };
  } catch (e) {
    if (opts.requireModel || !(e instanceof Error)) throw e;
    // The recurrent stack itself still needs what only its own weights cannot say (an RNN's nonlinearity).
    if (e instanceof ModelAmbiguityError && /nonlinearity/.test(e.option)) throw e;
    if (e instanceof LayoutUnknownError) throw e;
    problem = e.message.replace(new RegExp(`^${format.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), '');
  }
  return importPytorchStack(tensors, opts, format, problem);
}

/** The recurrent stack of a PyTorch state_dict (the first prefix with weight_ih_l0), without a model around it. */
function importPytorchStack(tensors: TensorMap, opts: NamedImportOptions, format: string, problem: string): ImportedModel {
  const notes: string[] = [];
  const key = [...tensors.keys()].find((n) => /(^|\.)weight_ih_l0$/.test(n));
  if (!key) return fail(`${format}: weight_ih_l0 missing`, tensors);
  const prefix = key.slice(0, key.length - 'weight_ih_l0'.length);
  const own = new Map([...tensors].filter(([n]) => n.startsWith(prefix) && /^(weight|bias)_(ih|hh)_l\d+(_reverse)?$/.test(n.slice(prefix.length))));
  const p = (n: string): Tensor | undefined => own.get(prefix + n);
  const whh = p('weight_hh_l0');
  if (!whh || whh.shape.length !== 2) return fail(`${format}: ${prefix}weight_hh_l0 missing`, tensors);
  const H = whh.shape[1];
  const module = moduleFromBlocks(whh.shape[0] / H, tensors, format);
  if (opts.module && opts.module !== module) fail(`${format}: weights are a ${module}, not the ${opts.module} asked for`, tensors);
  let numLayers = 0;
  while (p(`weight_ih_l${numLayers}`)) numLayers++;
  const dtype = commonFloatDType(own.values());
  const config = rnnConfig({
    module, inputSize: p('weight_ih_l0')!.shape[1], hiddenSize: H, numLayers, bidirectional: !!p('weight_ih_l0_reverse'), bias: !!p('bias_ih_l0'), dtype,
    nonlinearity: module === 'RNN' ? elmanNonlinearity(opts, tensors, format) : 'tanh',
    recurrentActivation: opts.recurrentActivation ?? 'sigmoid',
    gruReset: module === 'GRU' ? opts.gruReset ?? 'after' : 'after',
  });
  const params: TensorMap = new Map([...own].map(([n, t]) => [n.slice(prefix.length), asFloat(t, dtype)]));
  // The single Linear after the stack, as a view for diffs (the model itself could not be assembled).
  const D = config.bidirectional ? 2 : 1;
  const rest = [...tensors.keys()].filter((n) => !own.has(n));
  const headKeys = rest.filter((n) => n.endsWith('weight') && tensors.get(n)!.shape.length === 2 && tensors.get(n)!.shape[1] === D * H);
  const head: HeadPart[] = [];
  if (headKeys.length === 1) {
    const w = headKeys[0];
    const b = w.slice(0, -'weight'.length) + 'bias';
    head.push({ name: w.slice(0, -'.weight'.length) || w, weight: asFloat(tensors.get(w)!, dtype), ...(tensors.has(b) ? { bias: asFloat(tensors.get(b)!, dtype) } : {}) });
    notes.push(`head: ${w}${tensors.has(b) ? ` + ${b}` : ''}`);
  }
  const ignored = rest.filter((n) => !head.length || (n !== headKeys[0] && n !== headKeys[0].slice(0, -6) + 'bias'));
  if (ignored.length) notes.push(`ignored tensors: ${ignored.join(', ')}`);
  if (prefix) notes.push(`recurrent parameters under prefix "${prefix}"`);
  notes.push(`not a whole model: ${problem}`);
  const m = assembleImport(config, params, {}, { format, layout: 'pytorch', notes, ...(opts.recorded ? { recorded: opts.recorded } : {}) });
  return head.length ? { ...m, head: { weight: head[0].weight, ...(head[0].bias ? { bias: head[0].bias } : {}), activation: 'linear' }, source: { ...m.source, modelProblem: problem } } : { ...m, source: { ...m.source, modelProblem: problem } };
}

// ------------------------------------------------------------------------------------------ from scratch

type Role = 'in' | 'rec' | 'bias' | 'biasIn' | 'biasRec' | 'W' | 'U';

interface Piece {
  readonly name: string;
  readonly role: Role;
  /** Gate letter as the file writes it ('' for fused arrays). */
  readonly gate: string;
  readonly layer: number | undefined;
  readonly tensor: Tensor;
}

interface Scheme {
  readonly id: 'uw' | 'xh' | 'recurrentjs' | 'elman' | 'fused';
  /** How the scheme's names look, for messages. */
  readonly label: string;
  parse(leaf: string): { role: Role; gate: string; layer: number | undefined } | undefined;
  /** A program's own convention (recurrentjs and min-char-rnn compute W x). */
  readonly orientation?: 'out-in';
}

const LAYER = '(?:_l(\\d+)|_layer(\\d+)|_(\\d+)|(\\d+))?';
const layerOf = (m: RegExpExecArray, from: number): number | undefined => {
  for (let i = from; i < from + 4; i++) if (m[i] !== undefined) return Number(m[i]);
  return undefined;
};

const SCHEMES: readonly Scheme[] = [
  {
    id: 'xh', label: 'W_xg/W_hg/b_g (d2l) or W_ig/W_hg/b_ig/b_hg (PyTorch\'s documentation)',
    parse(leaf) {
      let m = new RegExp(`^W_([xih])([a-z])${LAYER}$`).exec(leaf);
      if (m) return { role: m[1] === 'h' ? 'rec' : 'in', gate: m[2], layer: layerOf(m, 3) };
      m = new RegExp(`^b_([ih])([a-z])${LAYER}$`).exec(leaf);
      if (m) return { role: m[1] === 'h' ? 'biasRec' : 'biasIn', gate: m[2], layer: layerOf(m, 3) };
      m = new RegExp(`^b_([a-z])${LAYER}$`).exec(leaf);
      if (m) return { role: 'bias', gate: m[1], layer: layerOf(m, 2) };
      return undefined;
    },
  },
  {
    id: 'uw', label: 'W_g/U_g/b_g',
    parse(leaf) {
      let m = new RegExp(`^([WU])_?([a-z])${LAYER}$`).exec(leaf);
      if (m) return { role: m[1] as 'W' | 'U', gate: m[2], layer: layerOf(m, 3) };
      m = new RegExp(`^b_?([a-z])${LAYER}$`).exec(leaf);
      if (m) return { role: 'bias', gate: m[1], layer: layerOf(m, 2) };
      return undefined;
    },
  },
  {
    id: 'recurrentjs', label: 'Wgx{k}/Wgh{k}/bg{k} (recurrentjs)', orientation: 'out-in',
    parse(leaf) {
      let m = /^W([ifoc])([xh])(\d+)$/.exec(leaf);
      if (m) return { role: m[2] === 'x' ? 'in' : 'rec', gate: m[1], layer: Number(m[3]) };
      m = /^b([ifoc])(\d+)$/.exec(leaf);
      if (m) return { role: 'bias', gate: m[1], layer: Number(m[2]) };
      return undefined;
    },
  },
  {
    id: 'elman', label: 'Wxh/Whh/bh (min-char-rnn; recurrentjs Wxh{k}/Whh{k}/bhh{k})', orientation: 'out-in',
    parse(leaf) {
      let m = /^W([xh])h(\d*)$/.exec(leaf);
      if (m) return { role: m[1] === 'x' ? 'in' : 'rec', gate: 'h', layer: m[2] ? Number(m[2]) : undefined };
      m = /^bhh?(\d*)$/.exec(leaf);
      if (m) return { role: 'bias', gate: 'h', layer: m[1] ? Number(m[1]) : undefined };
      return undefined;
    },
  },
  {
    id: 'fused', label: 'W/U/b with the gates stacked',
    parse(leaf) {
      let m = new RegExp(`^([WU])${LAYER}$`).exec(leaf);
      if (m) return { role: m[1] as 'W' | 'U', gate: '', layer: layerOf(m, 2) };
      m = new RegExp(`^b${LAYER}$`).exec(leaf);
      if (m) return { role: 'bias', gate: '', layer: layerOf(m, 1) };
      return undefined;
    },
  },
];

/** Output layers of from-scratch code: weight name → bias name. */
const HEADS: ReadonlyMap<string, string> = new Map([
  ['Why', 'by'], ['W_hy', 'b_y'], ['W_hq', 'b_q'], ['W_y', 'b_y'], ['Whd', 'bd'], ['W_out', 'b_out'], ['W_hd', 'b_d'],
]);
const EMBEDDINGS = new Set(['Wil', 'embedding', 'embeddings', 'emb', 'embed', 'E', 'W_emb', 'W_e']);

const split = (name: string): [string, string] => {
  const i = name.lastIndexOf('.');
  return i < 0 ? ['', name] : [name.slice(0, i + 1), name.slice(i + 1)];
};

type Slot = { -readonly [R in Role]?: Piece };

interface LayerPieces {
  /** canonical gate → its pieces */
  readonly gates: Map<string, Slot>;
}

type Pick = (slot: Slot, g: string, k: number) => { input: Piece; recurrent: Piece };

function importScratch(tensors: TensorMap, opts: NamedImportOptions, format: string): ImportedModel {
  const floats = new Map([...tensors].filter(([, t]) => isFloat(t)));
  // 1. The scheme that reads the most weight matrices, under one module prefix.
  // An output layer's bias (b_q next to W_hq) is not a gate's.
  const headBiases = new Set([...floats.keys()].flatMap((n) => {
    const [p, leaf] = split(n);
    const b = HEADS.get(leaf);
    return b !== undefined ? [`${p}${b}`] : [];
  }));
  let best: { scheme: Scheme; pieces: Piece[]; weights: number } | undefined;
  for (const scheme of SCHEMES) {
    const pieces: Piece[] = [];
    for (const [name, t] of floats) {
      const [, leaf] = split(name);
      if (HEADS.has(leaf) || EMBEDDINGS.has(leaf) || headBiases.has(name)) continue;
      const p = scheme.parse(leaf);
      if (p) pieces.push({ name, ...p, tensor: t });
    }
    const weights = pieces.filter((p) => p.role !== 'bias' && p.role !== 'biasIn' && p.role !== 'biasRec').length;
    if (weights >= 2 && (!best || weights > best.weights)) best = { scheme, pieces, weights };
  }
  if (!best) {
    return fail(`${format}: no recurrent layout recognised (expected PyTorch names weight_ih_l0..., from-scratch per-gate W_i/U_i/b_i, W_xi/W_hi/b_i, W_ii/W_hi/b_ii/b_hi, fused W/U/b, min-char-rnn Wxh/Whh/Why, or recurrentjs Wix0/Wih0/bi0)`, tensors);
  }
  const { scheme } = best;
  const prefixes = new Set(best.pieces.map((p) => split(p.name)[0]));
  let prefix: string;
  const wanted = opts.hints?.rnnPrefix;
  if (wanted !== undefined) {
    prefix = wanted === '' || wanted.endsWith('.') ? wanted : `${wanted}.`;
    if (!prefixes.has(prefix)) fail(`${format}: no recurrent arrays under "${prefix}" (found ${[...prefixes].map((x) => `"${x}"`).join(', ')})`, tensors);
  } else if (prefixes.size > 1) {
    prefix = ask(`${format}: recurrent arrays under ${prefixes.size} prefixes (${[...prefixes].map((x) => `"${x || '(none)'}"`).join(', ')})`, '--rnn-prefix', tensors);
  } else prefix = [...prefixes][0];
  const pieces = best.pieces.filter((p) => split(p.name)[0] === prefix);
  const used = new Set(pieces.map((p) => p.name));
  const notes: string[] = [];
  if (prefix) notes.push(`from-scratch arrays under "${prefix}"`);

  // 2. Layers: all named with a suffix or none; 1-based suffixes are shifted.
  const layered = pieces.filter((p) => p.layer !== undefined);
  if (layered.length && layered.length !== pieces.length) {
    fail(`${format}: some arrays have a layer suffix and some do not (${pieces.filter((p) => p.layer === undefined).map((p) => p.name).join(', ')})`, tensors);
  }
  const indices = [...new Set(pieces.map((p) => p.layer ?? 0))].sort((a, b) => a - b);
  const base = indices[0];
  if (indices.some((k, i) => k !== base + i) || base > 1) fail(`${format}: layer suffixes ${indices.join(', ')} are not consecutive from 0 or 1`, tensors);
  if (base === 1) notes.push('layer suffixes count from 1');
  const L = indices.length;

  // 3. The module, from the gate letters (or the fused shapes).
  const letters = [...new Set(pieces.map((p) => p.gate))].sort().join('');
  let module: RnnModule;
  if (scheme.id === 'fused') module = fusedModule(pieces, opts, tensors, format);
  else {
    const guess: RnnModule | undefined = ['cfio', 'fgio'].includes(letters) ? 'LSTM' : ['hrz', 'nrz'].includes(letters) ? 'GRU' : letters.length === 1 ? 'RNN' : undefined;
    module = opts.module ?? guess ?? fail(`${format}: gates {${letters.split('').join(',')}} are neither LSTM (i,f,o,c|g) nor GRU (z,r,h|n) nor one Elman block; pass --module`, tensors);
    if (guess && opts.module && guess !== opts.module) fail(`${format}: the gates {${letters.split('').join(',')}} are a ${guess}, not the ${opts.module} asked for`, tensors);
  }
  const canon = (g: string): string => (module === 'LSTM' && g === 'c' ? 'g' : module === 'GRU' && g === 'h' ? 'n' : module === 'RNN' ? 'x' : g);
  const layers: LayerPieces[] = Array.from({ length: L }, () => ({ gates: new Map() }));
  for (const p of pieces) {
    const g = scheme.id === 'fused' ? '' : canon(p.gate);
    const slot = layers[(p.layer ?? 0) - base].gates.get(g) ?? {};
    if (slot[p.role]) fail(`${format}: ${p.name} and ${slot[p.role]!.name} both hold the same array`, tensors);
    slot[p.role] = p;
    layers[(p.layer ?? 0) - base].gates.set(g, slot);
  }
  const gates = scheme.id === 'fused' ? [''] : module === 'RNN' ? ['x'] : [...GATES[module]];
  for (const [k, layer] of layers.entries()) {
    for (const g of gates) if (!layer.gates.has(g)) fail(`${format}: layer ${k + base}: no arrays for gate ${g}`, tensors);
  }

  // 4. Which matrix is the input weight (W/U arrays), then W x or x W.
  const roles = scheme.id === 'uw' || scheme.id === 'fused' ? inputLetter(layers, scheme, module, opts, tensors, format) : undefined;
  const pick: Pick = (slot, g, k) => {
    const input = roles ? slot[roles] : slot.in;
    const recurrent = roles ? slot[roles === 'W' ? 'U' : 'W'] : slot.rec;
    if (!input || !recurrent) fail(`${format}: layer ${k + base}${g ? `, gate ${g}` : ''} needs both an input and a recurrent weight`, tensors);
    return { input: input!, recurrent: recurrent! };
  };
  const G = gateBlocks(module);
  const perGate = scheme.id !== 'fused';
  // Hidden size of each layer from its recurrent matrix: per gate [H, H]; fused [G*H, H] or [H, G*H].
  const hidden = layers.map((layer, k) => {
    const rec = pick(layer.gates.get(gates[0])!, gates[0], k).recurrent.tensor;
    if (rec.shape.length !== 2) return fail(`${format}: ${pick(layer.gates.get(gates[0])!, gates[0], k).recurrent.name} ${formatShape(rec.shape)} is not a matrix`, tensors);
    if (perGate) {
      if (rec.shape[0] !== rec.shape[1]) fail(`${format}: recurrent weight ${pick(layer.gates.get(gates[0])!, gates[0], k).recurrent.name} ${formatShape(rec.shape)} is not square [H, H]`, tensors);
      return rec.shape[0];
    }
    const [a, b] = rec.shape;
    if (a === G * b) return b;
    if (b === G * a) return a;
    return fail(`${format}: recurrent weight ${formatShape(rec.shape)} is not [${G}·H, H] or [H, ${G}·H] for a ${module}`, tensors);
  });
  const orientation = orientationOf(layers, gates, pick, hidden, G, perGate, scheme, opts, tensors, format);
  const dtype = commonFloatDType(pieces.map((p) => p.tensor));

  // 5. The canonical stack, each layer padded to the widest (zero units stay zero in every cell).
  const H = Math.max(...hidden);
  // Padding allocates the widest layer's size for every layer: bounded by what the file itself holds.
  const stored = pieces.reduce((n, p) => n + p.tensor.data.length, 0);
  const padded = layers.reduce((n, _, k) => n + G * H * ((k === 0 ? 0 : H) + H + 2), 0);
  if (hidden.some((h) => h !== H) && padded > 4 * stored + (1 << 20)) {
    fail(`${format}: layer sizes ${hidden.join(', ')} differ too much to pad every layer to ${H} units (${padded} parameters from ${stored})`, tensors);
  }
  const order = perGate ? undefined : fusedOrder(module, opts, tensors, format);
  const oriented = (t: Tensor): FloatTensor => {
    const f = asFloat(t, dtype);
    if (f.shape.length !== 2) return fail(`${format}: ${formatShape(t.shape)} is not a matrix`, tensors);
    return orientation === 'out-in' ? f : transpose2d(f);
  };
  const vector = (p: Piece, n: number): FloatTensor => {
    const f = asFloat(p.tensor, dtype);
    if (f.data.length !== n || !(f.shape.length === 1 || (f.shape.length === 2 && (f.shape[0] === 1 || f.shape[1] === 1)))) {
      return fail(`${format}: bias ${p.name} ${formatShape(p.tensor.shape)} is not a vector of ${n}`, tensors);
    }
    return reshape(f, [n]);
  };
  const params: TensorMap = new Map();
  let inputSize = 0;
  let bias: boolean | undefined;
  let twoBiases = false;
  for (const [k, layer] of layers.entries()) {
    const Hk = hidden[k];
    const inK = k === 0 ? undefined : H;
    const wi: FloatTensor[] = [], wh: FloatTensor[] = [], bi: FloatTensor[] = [], bh: FloatTensor[] = [];
    for (const g of gates) {
      const slot = layer.gates.get(g)!;
      const { input, recurrent } = pick(slot, g, k);
      const rows = perGate ? Hk : G * Hk;
      let w = oriented(input.tensor);
      let u = oriented(recurrent.tensor);
      if (w.shape[0] !== rows) fail(`${format}: ${input.name} ${formatShape(input.tensor.shape)} does not have ${rows} outputs`, tensors);
      if (u.shape[0] !== rows || u.shape[1] !== Hk) fail(`${format}: ${recurrent.name} ${formatShape(recurrent.tensor.shape)} is not [${rows}, ${Hk}] (or its transpose)`, tensors);
      if (k === 0) inputSize = w.shape[1];
      else if (w.shape[1] !== hidden[k - 1]) fail(`${format}: ${input.name} takes ${w.shape[1]} inputs where layer ${k - 1 + base} gives ${hidden[k - 1]}`, tensors);
      if (order) { w = permuteRowBlocks(w, order); u = permuteRowBlocks(u, order); }
      const blocks = perGate ? 1 : G;
      wi.push(pad(w, blocks, Hk, H, inK ?? w.shape[1]));
      wh.push(pad(u, blocks, Hk, H, H));
      const single = slot.bias, bIn = slot.biasIn, bRec = slot.biasRec;
      const has = !!(single || bIn || bRec);
      if (bias === undefined) bias = has;
      else if (bias !== has) fail(`${format}: some gates or layers have biases and some do not`, tensors);
      if (single && (bIn || bRec)) fail(`${format}: ${single.name} and ${(bIn ?? bRec)!.name}: one bias per gate or two, not both`, tensors);
      if (bIn || bRec) twoBiases = true;
      const vec = (p: Piece | undefined): FloatTensor => {
        const v = p ? vector(p, rows) : zerosLike({ dtype, shape: [rows], data: floatArray(dtype, rows) });
        return padVector(order ? permuteRowBlocks(v, order) : v, blocks, Hk, H);
      };
      if (has) {
        bi.push(vec(single ?? bIn));
        bh.push(vec(bRec));
      }
    }
    params.set(`weight_ih${suffix(k, false)}`, concatRows(wi));
    params.set(`weight_hh${suffix(k, false)}`, concatRows(wh));
    if (bias) {
      params.set(`bias_ih${suffix(k, false)}`, concatRows(bi));
      params.set(`bias_hh${suffix(k, false)}`, concatRows(bh));
    }
  }
  const program = scheme.id === 'recurrentjs' || (scheme.id === 'elman' && (floats.has(`${prefix}Wil`) || pieces.some((p) => /^bhh/.test(split(p.name)[1]))))
    ? 'recurrentjs' : scheme.id === 'elman' ? 'min-char-rnn' : undefined;
  if (twoBiases) notes.push('two biases per gate (b_i*, b_h*) → bias_ih, bias_hh');
  else if (bias && program !== 'min-char-rnn') notes.push('one bias per gate → bias_ih; bias_hh is zero');
  if (hidden.some((h) => h !== H)) notes.push(`layer sizes ${hidden.join(', ')} differ: every layer is padded to ${H} units with zero weights (those units stay 0)`);
  let nonlinearity: RnnConfig['nonlinearity'] = 'tanh';
  if (module === 'RNN') {
    const own = program === 'recurrentjs' ? 'relu' : program === 'min-char-rnn' ? 'tanh' : undefined;
    if (own && opts.nonlinearity && opts.nonlinearity !== own && opts.recorded?.nonlinearity) {
      fail(`${format}: the file records ${own}, not the ${opts.nonlinearity} asked for`, tensors);
    }
    nonlinearity = opts.nonlinearity ?? own ?? elmanNonlinearity(opts, tensors, format);
    if (own && nonlinearity === own) notes.push(`nonlinearity ${own} (${program}'s)`);
  }
  if (module === 'GRU' && !opts.gruReset) {
    ask(`${format}: a from-scratch GRU does not record where the reset gate applies`, '--gru-reset after|before (after: tanh(W x + r*(U h) + b), before: tanh(W x + U(r*h) + b))', tensors);
  }
  const config = rnnConfig({
    module, inputSize, hiddenSize: H, numLayers: L, bias: !!bias, dtype, nonlinearity,
    recurrentActivation: opts.recurrentActivation ?? 'sigmoid', gruReset: opts.gruReset ?? 'after',
  });
  notes.unshift(`${scheme.label}${roles ? `: ${roles} is the input weight` : ''}, ${orientation === 'out-in' ? 'W x ([out, in])' : 'x W ([in, out])'}${layered.length ? `, ${L} layers` : ''}`);

  // 6. What is around the stack: an embedding table and an output layer.
  const parts: { embedding?: ImportParts['embedding']; head?: HeadPart[] } = {};
  for (const [name, t] of floats) {
    const [p, leaf] = split(name);
    if ((p === prefix || p === '') && EMBEDDINGS.has(leaf) && t.shape.length === 2 && !parts.embedding) {
      const f = asFloat(t, dtype);
      const weight = f.shape[1] === inputSize ? f : f.shape[0] === inputSize ? transpose2d(f) : undefined;
      if (weight) { parts.embedding = { name, weight }; used.add(name); }
    }
  }
  for (const [name, t] of floats) {
    const [p, leaf] = split(name);
    const biasName = HEADS.get(leaf);
    if (biasName === undefined || (p !== prefix && p !== '') || t.shape.length !== 2 || parts.head) continue;
    const last = hidden[L - 1];
    const f = asFloat(t, dtype);
    let w: FloatTensor | undefined;
    if (f.shape[1] === last && f.shape[0] !== last) w = f;
    else if (f.shape[0] === last && f.shape[1] !== last) w = transpose2d(f);
    else if (f.shape[0] === last && f.shape[1] === last) w = orientation === 'out-in' ? f : transpose2d(f);
    if (!w) continue;
    const b = floats.get(`${p}${biasName}`);
    parts.head = [{
      name, weight: padColumns(w, last, H),
      ...(b ? { bias: reshape(asFloat(b, dtype), [asFloat(b, dtype).data.length]) } : {}), activation: 'linear',
    }];
    used.add(name);
    if (b) used.add(`${p}${biasName}`);
  }
  // A PyTorch module around from-scratch arrays (fc.weight after a hand-written cell).
  const rest = new Map([...floats].filter(([n]) => !used.has(n)));
  if (!parts.head) {
    const cand = [...rest].filter(([n, t]) => n.endsWith('.weight') && t.shape.length === 2 && t.shape[1] === hidden[L - 1]);
    if (cand.length === 1) {
      const [n, t] = cand[0];
      const b = rest.get(`${n.slice(0, -'weight'.length)}bias`);
      parts.head = [{ name: n.slice(0, -'.weight'.length), weight: padColumns(asFloat(t, dtype), hidden[L - 1], H), ...(b ? { bias: asFloat(b, dtype) } : {}) }];
      used.add(n);
      if (b) used.add(`${n.slice(0, -'weight'.length)}bias`);
    }
  }
  if (!parts.embedding) {
    const cand = [...rest].filter(([n, t]) => !used.has(n) && n.endsWith('.weight') && t.shape.length === 2 && t.shape[1] === inputSize);
    if (cand.length === 1) { parts.embedding = { name: cand[0][0].slice(0, -'.weight'.length), weight: asFloat(cand[0][1], dtype) }; used.add(cand[0][0]); }
  }
  const ignored = [...tensors.keys()].filter((n) => !used.has(n));
  if (ignored.length) notes.push(`ignored tensors: ${ignored.join(', ')}`);
  const layout = program ?? (scheme.id === 'fused' ? 'scratch-fused' : 'scratch-per-gate');
  if (program === 'min-char-rnn') notes.push('min-char-rnn: h = tanh(Wxh x + Whh h + bh), y = Why h + by; bias_hh is zero');
  if (order) notes.push(`fused W/U/b with gate order ${opts.gateOrder}; bias_hh is zero`);
  const recorded = { ...(opts.recorded ?? {}), ...(program && module === 'RNN' ? { nonlinearity } : {}) };
  const source: ImportSource = {
    format, layout, notes, ...(Object.keys(recorded).length ? { recorded } : {}),
    ...(hidden.some((h) => h !== H) ? { hiddenSizes: hidden } : {}),
  };
  return assembleImport(config, params, { ...parts, ...(opts.vocabulary ? { vocabulary: opts.vocabulary } : {}) }, source, assembleOptions(opts));
}

/** W/U arrays: the letter of the input weight, from the shapes (the recurrent one is square) or the option. */
function inputLetter(layers: readonly LayerPieces[], scheme: Scheme, module: RnnModule, opts: NamedImportOptions, tensors: TensorMap, format: string): 'W' | 'U' {
  const G = scheme.id === 'fused' ? gateBlocks(module) : 1;
  const decided = new Set<'W' | 'U'>();
  let example = '';
  for (const layer of layers) {
    const slot = [...layer.gates.values()][0];
    if (!slot.W || !slot.U) fail(`${format}: ${slot.W ? `U${slot.W.gate ? `_${slot.W.gate}` : ''}` : `W${slot.U?.gate ? `_${slot.U.gate}` : ''}`} is missing`, tensors);
    // The recurrent weight is [G*H, H] (or its transpose); the input weight [G*H, in].
    const recurrentLike = (t: Tensor): boolean => t.shape.length === 2 && (t.shape[0] === G * t.shape[1] || t.shape[1] === G * t.shape[0]);
    const w = recurrentLike(slot.W!.tensor), u = recurrentLike(slot.U!.tensor);
    if (w && !u) decided.add('U');
    else if (u && !w) decided.add('W');
    else if (w && u) example ||= `${slot.W!.name} ${formatShape(slot.W!.tensor.shape)} and ${slot.U!.name} ${formatShape(slot.U!.tensor.shape)}`;
    else fail(`${format}: neither ${slot.W!.name} ${formatShape(slot.W!.tensor.shape)} nor ${slot.U!.name} ${formatShape(slot.U!.tensor.shape)} has the shape of a recurrent weight`, tensors);
  }
  if (decided.size > 1) fail(`${format}: the layers disagree on which of W and U is the input weight`, tensors);
  const fromShapes = [...decided][0];
  if (opts.inputWeight && fromShapes && opts.inputWeight !== fromShapes) {
    fail(`${format}: --input-weight ${opts.inputWeight}, but the shapes show ${fromShapes} is the input weight (the recurrent one is the ${G === 1 ? 'square' : `[${G}·H, H]`} matrix)`, tensors);
  }
  const letter = opts.inputWeight ?? fromShapes;
  if (!letter) {
    return ask(`${format}: ${example} have the same shape (input size = hidden size), so the names cannot tell the input weight from the recurrent one (W x + U h, or U x + W h as some courses write it)`, '--input-weight W|U', tensors);
  }
  return letter;
}

/** W x (out-in) or x W (in-out), from an input weight whose two sizes differ; else the scheme's or the option. */
function orientationOf(
  layers: readonly LayerPieces[], gates: readonly string[], pick: Pick,
  hidden: readonly number[], G: number, perGate: boolean, scheme: Scheme, opts: NamedImportOptions, tensors: TensorMap, format: string,
): 'out-in' | 'in-out' {
  const decided = new Set<'out-in' | 'in-out'>();
  let example = '';
  for (const [k, layer] of layers.entries()) {
    const { input } = pick(layer.gates.get(gates[0])!, gates[0], k);
    const rows = perGate ? hidden[k] : G * hidden[k];
    const [a, b] = input.tensor.shape;
    if (input.tensor.shape.length !== 2) fail(`${format}: ${input.name} ${formatShape(input.tensor.shape)} is not a matrix`, tensors);
    if (a === rows && b !== rows) decided.add('out-in');
    else if (b === rows && a !== rows) decided.add('in-out');
    else if (a === rows && b === rows) example ||= `${input.name} ${formatShape(input.tensor.shape)}`;
    else fail(`${format}: ${input.name} ${formatShape(input.tensor.shape)} has no side of ${rows} (${perGate ? 'the hidden size' : `${G} gates × hidden size ${hidden[k]}`})`, tensors);
  }
  if (decided.size > 1) fail(`${format}: the layers' input weights disagree on W x vs x W`, tensors);
  const fromShapes = [...decided][0];
  const own = scheme.orientation;
  if (opts.orientation && fromShapes && opts.orientation !== fromShapes) {
    fail(`${format}: --orientation ${opts.orientation}, but the shapes show ${fromShapes} (${fromShapes === 'out-in' ? '[out, in]: W x' : '[in, out]: x W'})`, tensors);
  }
  const o = opts.orientation ?? fromShapes ?? own;
  if (!o) {
    return ask(`${format}: every weight is square (${example}: input size = hidden size), so the shapes do not show whether the code computes W x ([out, in]) or x W ([in, out]), and reading them the wrong way round changes the model`, '--orientation out-in|in-out', tensors);
  }
  return o;
}

function fusedModule(pieces: readonly Piece[], opts: NamedImportOptions, tensors: TensorMap, format: string): RnnModule {
  const U = pieces.find((p) => p.role === 'U') ?? pieces.find((p) => p.role === 'W');
  const W = pieces.find((p) => p.role === 'W');
  if (!U || !W || U.tensor.shape.length !== 2 || W.tensor.shape.length !== 2) return fail(`${format}: fused layout needs matrices W and U`, tensors);
  // The recurrent matrix is [G*H, H]; either of W / U may be it: try both.
  for (const t of [U.tensor, W.tensor]) {
    const [a, b] = t.shape;
    const g = Math.max(a, b) / Math.min(a, b);
    if ([1, 3, 4].includes(g) && (!opts.module || gateBlocks(opts.module) === g)) {
      const m = opts.module ?? moduleFromBlocks(g, tensors, format);
      return m;
    }
  }
  return fail(`${format}: W ${formatShape(W.tensor.shape)} / U ${formatShape(U.tensor.shape)} do not fit an LSTM, GRU or RNN`, tensors);
}

function fusedOrder(module: RnnModule, opts: NamedImportOptions, tensors: TensorMap, format: string): number[] | undefined {
  if (module === 'RNN') return undefined;
  if (!opts.gateOrder) {
    return fail(`${format}: fused W/U/b do not record their gate order; pass --gate-order (e.g. i,f,g,o for PyTorch, i,f,c,o for Keras, i,f,o,g for Lua char-rnn)`, tensors);
  }
  return gateOrder(GATES[module], parseGateOrder(opts.gateOrder, module));
}

/** [blocks*h, cols] → [blocks*H, colsTo]: each gate block padded with zero rows, then zero columns. */
function pad(t: FloatTensor, blocks: number, h: number, H: number, colsTo: number): FloatTensor {
  const cols = t.shape[1];
  if (h === H && cols === colsTo) return t;
  const out = floatArray(t.dtype, blocks * H * colsTo);
  for (let b = 0; b < blocks; b++) for (let r = 0; r < h; r++) {
    out.set(t.data.subarray((b * h + r) * cols, (b * h + r + 1) * cols), (b * H + r) * colsTo);
  }
  return { dtype: t.dtype, shape: [blocks * H, colsTo], data: out };
}

function padVector(v: FloatTensor, blocks: number, h: number, H: number): FloatTensor {
  if (h === H) return v;
  const out = floatArray(v.dtype, blocks * H);
  for (let b = 0; b < blocks; b++) out.set(v.data.subarray(b * h, (b + 1) * h), b * H);
  return { dtype: v.dtype, shape: [blocks * H], data: out };
}

/** [out, h] → [out, H] with zero columns for the padded units (bounded like the stack's padding). */
function padColumns(w: FloatTensor, h: number, H: number): FloatTensor {
  if (h === H) return w;
  if (w.shape[0] * H > 4 * w.shape[0] * h + (1 << 20)) throw new FormatError(`an output layer [${w.shape[0]}, ${h}] is too large to pad to ${H} inputs`);
  return pad(w, 1, w.shape[0], w.shape[0], H);
}

// ------------------------------------------------------------------------------------------ export

/** Canonical → from-scratch per-gate arrays (W_g [H, in], U_g [H, H], b_g [H] with b = b_ih + b_hh). */
export function canonicalToPerGate(cfg: RnnConfig, params: TensorMap): TensorMap {
  if (cfg.numLayers !== 1 || cfg.bidirectional || cfg.module === 'RNN') {
    throw new FormatError('per-gate export needs a one-layer, one-direction LSTM or GRU');
  }
  if (cfg.module === 'GRU' && cfg.bias) {
    const bh = params.get(`bias_hh${suffix(0, false)}`)!;
    if ((bh.data as Float64Array).some((v) => v !== 0)) throw new FormatError('per-gate export: a GRU with non-zero bias_hh has no single-bias equivalent');
  }
  const out: TensorMap = new Map();
  const H = cfg.hiddenSize;
  const dtype: FloatDType = cfg.dtype;
  const wih = asFloat(params.get('weight_ih_l0')!, dtype);
  const whh = asFloat(params.get('weight_hh_l0')!, dtype);
  GATES[cfg.module].forEach((g, k) => {
    out.set(`W_${g}`, { dtype, shape: [H, cfg.inputSize], data: wih.data.slice(k * H * cfg.inputSize, (k + 1) * H * cfg.inputSize) });
    out.set(`U_${g}`, { dtype, shape: [H, H], data: whh.data.slice(k * H * H, (k + 1) * H * H) });
    if (cfg.bias) {
      const bi = asFloat(params.get('bias_ih_l0')!, dtype).data.slice(k * H, (k + 1) * H);
      const bh = asFloat(params.get('bias_hh_l0')!, dtype).data;
      for (let j = 0; j < H; j++) bi[j] += bh[k * H + j];
      out.set(`b_${g}`, { dtype, shape: [H], data: bi });
    }
  });
  return out;
}
