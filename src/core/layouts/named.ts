// Plain named tensors (a state_dict, an .npz of arrays) → canonical model. Recognised layouts:
//   pytorch          weight_ih_l0, ... under any prefix (rnn., lstm., model.rnn., ...) + an optional Linear
//   scratch-per-gate W_i, U_i, b_i, ... (W input weights, U recurrent, b bias; LSTM i,f,o,c/g, GRU z,r,h/n)
//   scratch-fused    W, U, b with all gates stacked (the gate order must be given)
//   min-char-rnn     Wxh, Whh, Why, bh, by (Karpathy's numpy Elman RNN)
// What the names and shapes cannot tell (Elman nonlinearity, fused gate order, the orientation of a
// square W) is asked for through options; the error lists the tensors found and the option to pass.
import { type RnnConfig, type RnnModule, GATES, rnnConfig, suffix, gateBlocks } from '../config';
import { type FloatDType, type FloatTensor, type Tensor, type TensorMap, formatShape } from '../tensor';
import { FormatError } from '../formats/safetensors';
import { asFloat, commonFloatDType, concatRows, gateOrder, permuteRowBlocks, reshape, transpose2d, zerosLike } from './blocks';
import { type HeadInfo, type ImportedModel, checkCanonical, describeTensors } from './model';

export interface NamedImportOptions {
  readonly module?: RnnModule;
  readonly nonlinearity?: RnnConfig['nonlinearity'];
  readonly recurrentActivation?: RnnConfig['recurrentActivation'];
  /** Foreign gate order, e.g. "i,f,o,g" (Lua char-rnn) or "i,f,c,o"; c ≡ g and h ≡ n. */
  readonly gateOrder?: string;
  /** Weight orientation of from-scratch arrays: out-in = [G*H, in] (W x), in-out = [in, G*H] (x W). */
  readonly orientation?: 'out-in' | 'in-out';
  /** GRU candidate of from-scratch code: tanh(W x + r*(U h) + b) is 'after', tanh(W x + U(r*h) + b) 'before'. */
  readonly gruReset?: RnnConfig['gruReset'];
  readonly format?: string;
}

export class LayoutUnknownError extends FormatError {}

const fail = (msg: string, tensors: TensorMap): never => {
  throw new LayoutUnknownError(`${msg}. Tensors found: ${describeTensors(tensors)}`);
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

export function importNamed(tensors: TensorMap, opts: NamedImportOptions = {}): ImportedModel {
  const format = opts.format ?? 'tensors';
  const names = [...tensors.keys()];
  if (names.some((n) => /(^|\.)weight_ih_l\d+$/.test(n))) return importPytorchNames(tensors, opts, format);
  if (tensors.has('Wxh') && tensors.has('Whh')) return importMinCharRnn(tensors, opts, format);
  if (names.some((n) => /^[WU]_?[a-z]$/i.test(n) && !/^[WU]$/.test(n))) return importPerGate(tensors, opts, format);
  if (tensors.has('W') && tensors.has('U')) return importFused(tensors, opts, format);
  return fail(`${format}: no recurrent layout recognised (expected PyTorch names weight_ih_l0..., from-scratch W_i/U_i/b_i, fused W/U/b, or min-char-rnn Wxh/Whh/Why)`, tensors);
}

function moduleFromBlocks(g: number, tensors: TensorMap, what: string): RnnModule {
  if (g === 4) return 'LSTM';
  if (g === 3) return 'GRU';
  if (g === 1) return 'RNN';
  return fail(`${what}: ${g} gate blocks is not an LSTM (4), GRU (3) or RNN (1)`, tensors);
}

function elmanNonlinearity(opts: NamedImportOptions, tensors: TensorMap, what: string): RnnConfig['nonlinearity'] {
  if (opts.nonlinearity) return opts.nonlinearity;
  return fail(`${what}: an Elman RNN's weights do not record its nonlinearity; pass --nonlinearity tanh|relu (or a config)`, tensors);
}

function importPytorchNames(tensors: TensorMap, opts: NamedImportOptions, format: string): ImportedModel {
  const notes: string[] = [];
  const key = [...tensors.keys()].find((n) => /(^|\.)weight_ih_l0$/.test(n));
  if (!key) return fail(`${format}: weight_ih_l0 missing`, tensors);
  const prefix = key.slice(0, key.length - 'weight_ih_l0'.length);
  const own = new Map([...tensors].filter(([n]) => n.startsWith(prefix) && /^(weight|bias)_(ih|hh)_l\d+(_reverse)?$/.test(n.slice(prefix.length))));
  const p = (n: string): Tensor | undefined => own.get(prefix + n);
  const whh = p('weight_hh_l0');
  if (!whh) return fail(`${format}: ${prefix}weight_hh_l0 missing`, tensors);
  const H = whh.shape[1];
  const module = moduleFromBlocks(whh.shape[0] / H, tensors, format);
  if (opts.module && opts.module !== module) fail(`${format}: weights are a ${module}, not the ${opts.module} asked for`, tensors);
  let numLayers = 0;
  while (p(`weight_ih_l${numLayers}`)) numLayers++;
  const bidirectional = !!p('weight_ih_l0_reverse');
  const bias = !!p('bias_ih_l0');
  const dtype = commonFloatDType(own.values());
  const config = rnnConfig({
    module, inputSize: p('weight_ih_l0')!.shape[1], hiddenSize: H, numLayers, bidirectional, bias, dtype,
    nonlinearity: module === 'RNN' ? elmanNonlinearity(opts, tensors, format) : 'tanh',
    recurrentActivation: opts.recurrentActivation ?? 'sigmoid',
    gruReset: module === 'GRU' ? opts.gruReset ?? 'after' : 'after',
  });
  const params: TensorMap = new Map([...own].map(([n, t]) => [n.slice(prefix.length), asFloat(t, dtype)]));
  checkCanonical(config, params, format);
  // A Linear after the recurrent stack: a <name>.weight [out, D*H] with its <name>.bias.
  const rest = [...tensors.keys()].filter((n) => !own.has(n));
  const D = bidirectional ? 2 : 1;
  const headKeys = rest.filter((n) => n.endsWith('weight') && tensors.get(n)!.shape.length === 2 && tensors.get(n)!.shape[1] === D * H);
  let head: HeadInfo | undefined;
  if (headKeys.length === 1) {
    const w = headKeys[0];
    const b = w.slice(0, -'weight'.length) + 'bias';
    head = { weight: asFloat(tensors.get(w)!, dtype), bias: tensors.has(b) ? asFloat(tensors.get(b)!, dtype) : undefined, activation: 'linear' };
    notes.push(`head: ${w}${tensors.has(b) ? ` + ${b}` : ''}`);
  } else if (headKeys.length > 1) {
    notes.push(`several candidate heads (${headKeys.join(', ')}); none taken`);
  }
  const ignored = rest.filter((n) => !head || (n !== headKeys[0] && n !== headKeys[0].slice(0, -6) + 'bias'));
  if (ignored.length) notes.push(`ignored tensors: ${ignored.join(', ')}`);
  if (prefix) notes.push(`recurrent parameters under prefix "${prefix}"`);
  return { config, params, head, source: { format, layout: 'pytorch', notes } };
}

function importMinCharRnn(tensors: TensorMap, opts: NamedImportOptions, format: string): ImportedModel {
  const dtype = commonFloatDType(tensors.values());
  const g = (n: string): FloatTensor => {
    const t = tensors.get(n);
    if (!t) return fail(`${format}: min-char-rnn layout needs ${n}`, tensors);
    return asFloat(t, dtype);
  };
  const Wxh = g('Wxh');
  const Whh = g('Whh');
  const H = Whh.shape[0];
  const flat = (t: FloatTensor): FloatTensor => reshape(t, [t.data.length]);
  const bh = tensors.has('bh') ? flat(g('bh')) : undefined;
  const config = rnnConfig({
    module: 'RNN', inputSize: Wxh.shape[1], hiddenSize: H, bias: true, dtype, nonlinearity: opts.nonlinearity ?? 'tanh',
  });
  const zeros = zerosLike({ dtype, shape: [H], data: new (dtype === 'float64' ? Float64Array : Float32Array)(H) });
  const params: TensorMap = new Map<string, Tensor>([
    ['weight_ih_l0', Wxh], ['weight_hh_l0', Whh], ['bias_ih_l0', bh ?? zeros], ['bias_hh_l0', zerosLike(zeros)],
  ]);
  checkCanonical(config, params, format);
  const head: HeadInfo | undefined = tensors.has('Why')
    ? { weight: g('Why'), bias: tensors.has('by') ? flat(g('by')) : undefined, activation: 'softmax' }
    : undefined;
  const notes = ['min-char-rnn: h = tanh(Wxh x + Whh h + bh), y = Why h + by; bias_hh is zero'];
  if (opts.nonlinearity === undefined) notes.push('nonlinearity tanh (min-char-rnn\'s)');
  return { config, params, head, source: { format, layout: 'min-char-rnn', notes } };
}

/** A weight as [rows=G*H or H, cols=in] given its orientation; square matrices need the option. */
function orient(t: FloatTensor, H: number, opts: NamedImportOptions, name: string, tensors: TensorMap, format: string): { w: FloatTensor; note?: string } {
  if (t.shape.length !== 2) return fail(`${format}: ${name} ${formatShape(t.shape)} is not a matrix`, tensors);
  const [a, b] = t.shape;
  if (opts.orientation === 'out-in') return { w: t };
  if (opts.orientation === 'in-out') return { w: transpose2d(t) };
  if (a % H === 0 && b % H !== 0) return { w: t };
  if (b % H === 0 && a % H !== 0) return { w: transpose2d(t) };
  return fail(`${format}: cannot tell whether ${name} ${formatShape(t.shape)} is [out, in] or [in, out]; pass --orientation out-in|in-out`, tensors);
}

function importPerGate(tensors: TensorMap, opts: NamedImportOptions, format: string): ImportedModel {
  const notes: string[] = [];
  const dtype = commonFloatDType(tensors.values());
  const byGate = new Map<string, { W?: Tensor; U?: Tensor; b?: Tensor }>();
  const ignored: string[] = [];
  for (const [n, t] of tensors) {
    const m = /^([WUb])_?([a-z])$/i.exec(n);
    if (!m) { ignored.push(n); continue; }
    const gate = m[2].toLowerCase();
    const slot = byGate.get(gate) ?? {};
    slot[(m[1] === 'b' || m[1] === 'B' ? 'b' : m[1].toUpperCase()) as 'W' | 'U' | 'b'] = t;
    byGate.set(gate, slot);
  }
  const letters = [...byGate.keys()].sort().join('');
  const module: RnnModule | undefined = opts.module
    ?? (['cfio', 'fgio'].includes(letters) ? 'LSTM' : ['hrz', 'nrz'].includes(letters) ? 'GRU' : undefined);
  if (!module) return fail(`${format}: gates {${letters.split('').join(',')}} are neither LSTM (i,f,o,c|g) nor GRU (z,r,h|n); pass --module`, tensors);
  const canon = (g: string): string => (module === 'LSTM' && g === 'c' ? 'g' : module === 'GRU' && g === 'h' ? 'n' : g);
  const slots = new Map([...byGate].map(([g, s]) => [canon(g), s]));
  const H = (() => {
    const u = slots.get(GATES[module][0])?.U;
    if (!u) return fail(`${format}: U_${GATES[module][0]} (recurrent weight) missing`, tensors);
    return u.shape[0];
  })();
  const wRows: FloatTensor[] = [];
  const uRows: FloatTensor[] = [];
  const bRows: FloatTensor[] = [];
  for (const g of GATES[module]) {
    const s = slots.get(g);
    if (!s?.W || !s.U) return fail(`${format}: gate ${g} needs both W_${g} and U_${g}`, tensors);
    const w = orient(asFloat(s.W, dtype), H, opts, `W_${g}`, tensors, format).w;
    // U is square [H, H]; it follows W's orientation (one code base, one convention).
    const u = opts.orientation === 'in-out' || (s.W.shape[1] === H && s.W.shape[0] !== H) ? transpose2d(asFloat(s.U, dtype)) : asFloat(s.U, dtype);
    wRows.push(w);
    uRows.push(u);
    if (s.b) bRows.push(reshape(asFloat(s.b, dtype), [s.b.data.length]));
  }
  notes.push('from-scratch names: W_* input weights, U_* recurrent weights (same orientation as W_*), b_* biases → bias_ih; bias_hh is zero');
  if (module === 'GRU' && !opts.gruReset) {
    fail(`${format}: a from-scratch GRU does not record where the reset gate applies; pass --gru-reset after (tanh(W x + r*(U h) + b)) or before (tanh(W x + U(r*h) + b))`, tensors);
  }
  const hasBias = bRows.length === GATES[module].length;
  const config = rnnConfig({
    module, inputSize: wRows[0].shape[1], hiddenSize: H, bias: hasBias, dtype,
    recurrentActivation: opts.recurrentActivation ?? 'sigmoid', gruReset: opts.gruReset ?? 'after',
  });
  const params: TensorMap = new Map<string, Tensor>([['weight_ih_l0', concatRows(wRows)], ['weight_hh_l0', concatRows(uRows)]]);
  if (hasBias) {
    const b = concatRows(bRows);
    params.set('bias_ih_l0', b);
    params.set('bias_hh_l0', zerosLike(b));
  }
  if (ignored.length) notes.push(`ignored tensors: ${ignored.join(', ')}`);
  checkCanonical(config, params, format);
  return { config, params, source: { format, layout: 'scratch-per-gate', notes } };
}

function importFused(tensors: TensorMap, opts: NamedImportOptions, format: string): ImportedModel {
  const dtype = commonFloatDType(tensors.values());
  const U = asFloat(tensors.get('U')!, dtype);
  const H = Math.min(U.shape[0], U.shape[1]);
  const G = Math.max(U.shape[0], U.shape[1]) / H;
  const module = opts.module ?? moduleFromBlocks(G, tensors, format);
  if (gateBlocks(module) !== G) fail(`${format}: U ${formatShape(U.shape)} does not fit a ${module}`, tensors);
  if (module !== 'RNN' && !opts.gateOrder) {
    return fail(`${format}: fused W/U/b do not record their gate order; pass --gate-order (e.g. i,f,g,o for PyTorch, i,f,c,o for Keras, i,f,o,g for Lua char-rnn)`, tensors);
  }
  const foreign = module === 'RNN' ? ['x'] : parseGateOrder(opts.gateOrder!, module);
  const order = gateOrder(module === 'RNN' ? ['x'] : GATES[module], foreign);
  const w = orient(asFloat(tensors.get('W')!, dtype), G * H, opts, 'W', tensors, format).w;
  const u = U.shape[0] === G * H ? U : transpose2d(U);
  const config = rnnConfig({
    module, inputSize: w.shape[1], hiddenSize: H, bias: tensors.has('b'), dtype,
    nonlinearity: module === 'RNN' ? elmanNonlinearity(opts, tensors, format) : 'tanh',
    recurrentActivation: opts.recurrentActivation ?? 'sigmoid', gruReset: gruResetOf(module, opts, tensors, format),
  });
  const params: TensorMap = new Map<string, Tensor>([
    ['weight_ih_l0', permuteRowBlocks(w, order)], ['weight_hh_l0', permuteRowBlocks(u, order)],
  ]);
  if (tensors.has('b')) {
    const b = asFloat(tensors.get('b')!, dtype);
    const bi = permuteRowBlocks(reshape(b, [b.data.length]), order);
    params.set('bias_ih_l0', bi);
    params.set('bias_hh_l0', zerosLike(bi));
  }
  checkCanonical(config, params, format);
  return {
    config, params,
    source: { format, layout: 'scratch-fused', notes: [`fused W/U/b with gate order ${foreign.join(',')}; bias_hh is zero`] },
  };
}

function gruResetOf(module: RnnModule, opts: NamedImportOptions, tensors: TensorMap, format: string): RnnConfig['gruReset'] {
  if (module !== 'GRU') return 'after';
  if (opts.gruReset) return opts.gruReset;
  return fail(`${format}: a from-scratch GRU does not record where the reset gate applies; pass --gru-reset after|before`, tensors);
}

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
