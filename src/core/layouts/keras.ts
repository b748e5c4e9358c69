// Keras (and TensorFlow.js layers) recurrent weights ↔ canonical PyTorch layout.
//   LSTM:      kernel [in, 4H], recurrent_kernel [H, 4H], bias [4H]; gates i,f,c,o (= PyTorch i,f,g,o)
//   GRU:       gates z,r,h; reset_after=true: bias [2, 3H] (input row, recurrent row) = PyTorch GRU;
//              reset_after=false: bias [3H], reset applied before the recurrent matmul (gruReset 'before')
//   SimpleRNN: kernel [in, H], recurrent_kernel [H, H], bias [H]
// Keras has one bias per gate where PyTorch has two: it becomes bias_ih, and bias_hh is zero.
import { type RnnConfig, type RnnModule, GATES, directions, gateBlocks, suffix, rnnConfig } from '../config';
import { type FloatDType, type FloatTensor, type TensorMap, formatShape } from '../tensor';
import { FormatError } from '../formats/safetensors';
import { asFloat, gateOrder, invertOrder, permuteRowBlocks, splitRows, transpose2d, zerosLike, concatRows, reshape } from './blocks';
import { type AssembleOptions, type HeadPart, type ImportedModel, assembleImport } from './model';

export type KerasRnnClass = 'LSTM' | 'GRU' | 'SimpleRNN';

export const KERAS_GATES: Record<RnnModule, readonly string[]> = {
  LSTM: ['i', 'f', 'g', 'o'], // Keras calls g "c"
  GRU: ['z', 'r', 'n'], // Keras calls n "h"
  RNN: [],
};

export interface KerasCellWeights {
  readonly kernel: FloatTensor;
  readonly recurrentKernel: FloatTensor;
  readonly bias?: FloatTensor;
}

/** The parts of a Keras recurrent layer config that change the maths. */
export interface KerasRnnSettings {
  readonly activation?: string;
  readonly recurrentActivation?: string;
  readonly resetAfter?: boolean;
  readonly goBackwards?: boolean;
  readonly returnSequences?: boolean;
  readonly mergeMode?: string; // Bidirectional
}

export interface KerasRnnLayer {
  readonly className: KerasRnnClass;
  readonly name: string;
  readonly forward: KerasCellWeights;
  readonly backward?: KerasCellWeights;
  readonly settings: KerasRnnSettings;
}

export interface KerasDense {
  readonly name: string;
  readonly kernel: FloatTensor; // [in, out]
  readonly bias?: FloatTensor;
  readonly activation?: string;
}

export const MODULE_OF_CLASS: Record<KerasRnnClass, RnnModule> = { LSTM: 'LSTM', GRU: 'GRU', SimpleRNN: 'RNN' };
export const CLASS_OF_MODULE: Record<RnnModule, KerasRnnClass> = { LSTM: 'LSTM', GRU: 'GRU', RNN: 'SimpleRNN' };

/** Recurrent class from the weight shapes alone: 4H → LSTM, 3H → GRU, H → SimpleRNN. */
export function kerasClassFromShapes(w: KerasCellWeights, what: string): KerasRnnClass {
  const [h, gh] = w.recurrentKernel.shape;
  const g = gh / h;
  if (g === 4) return 'LSTM';
  if (g === 3) return 'GRU';
  if (g === 1) return 'SimpleRNN';
  throw new FormatError(`${what}: recurrent_kernel ${formatShape(w.recurrentKernel.shape)} is not [H, k*H] for k = 1, 3 or 4`);
}

/** Keras' recurrent activation name → ours; Keras 3's hard_sigmoid (x/6 + 1/2) differs from Keras 2's. */
function recurrentActivationOf(name: string | undefined, keras3: boolean, what: string): RnnConfig['recurrentActivation'] {
  const n = name ?? 'sigmoid';
  if (n === 'sigmoid') return 'sigmoid';
  if (n === 'hard_sigmoid' || n === 'hardSigmoid') {
    if (keras3) throw new FormatError(`${what}: Keras 3 hard_sigmoid (relu6(x+3)/6) is not supported; only Keras 2 / tfjs clip(0.2x+0.5)`);
    return 'hard_sigmoid';
  }
  throw new FormatError(`${what}: recurrent_activation "${n}" is not supported (sigmoid or hard_sigmoid)`);
}

export interface KerasImportOptions {
  readonly format: string;
  readonly keras3?: boolean;
  readonly dtype?: FloatDType;
  readonly notes?: string[];
  /** Recurrent activation when the file records no config; with a config it must agree with the file's. */
  readonly recurrentActivation?: RnnConfig['recurrentActivation'];
  readonly configKnown: boolean;
  readonly assemble?: AssembleOptions;
}

/** What surrounds the stack in a Keras model: an Embedding before it, Dense layers after it. */
export interface KerasSurroundings {
  readonly dense: readonly KerasDense[];
  readonly embedding?: { readonly name: string; readonly weight: FloatTensor };
}

/** Stacked Keras recurrent layers (+ an Embedding before and Dense layers after them) as one canonical model. */
export function kerasToCanonical(layers: readonly KerasRnnLayer[], around: KerasSurroundings, opts: KerasImportOptions): ImportedModel {
  if (!layers.length) throw new FormatError(`${opts.format}: no LSTM, GRU or SimpleRNN layer found`);
  const notes = [...(opts.notes ?? [])];
  const first = layers[0];
  const what = `${opts.format} layer "${first.name}"`;
  for (const l of layers) {
    if (l.className !== first.className) {
      throw new FormatError(`${opts.format}: layers "${first.name}" (${first.className}) and "${l.name}" (${l.className}) differ; only one recurrent stack of one kind is supported`);
    }
    if (!!l.backward !== !!first.backward) throw new FormatError(`${opts.format}: mixing Bidirectional and plain layers ("${l.name}") is not supported`);
    if (l.settings.goBackwards) throw new FormatError(`${opts.format}: layer "${l.name}" has go_backwards=true, which PyTorch has no equivalent for`);
    if (l.backward && (l.settings.mergeMode ?? 'concat') !== 'concat') {
      throw new FormatError(`${opts.format}: Bidirectional "${l.name}" merge_mode "${l.settings.mergeMode}" is not supported (concat only)`);
    }
  }
  const module = MODULE_OF_CLASS[first.className];
  const H = first.forward.recurrentKernel.shape[0];
  const inputSize = first.forward.kernel.shape[0];
  const s = first.settings;
  let nonlinearity: RnnConfig['nonlinearity'] = 'tanh';
  const act = s.activation ?? 'tanh';
  if (module === 'RNN') {
    if (act !== 'tanh' && act !== 'relu') throw new FormatError(`${what}: activation "${act}" is not supported (tanh or relu)`);
    nonlinearity = act;
  } else if (act !== 'tanh') {
    throw new FormatError(`${what}: activation "${act}" is not supported (PyTorch ${module} uses tanh)`);
  }
  let recurrentActivation: RnnConfig['recurrentActivation'] = 'sigmoid';
  const recorded: { recurrentActivation?: RnnConfig['recurrentActivation']; nonlinearity?: RnnConfig['nonlinearity']; gruReset?: RnnConfig['gruReset'] } = {};
  if (opts.configKnown) recorded.nonlinearity = nonlinearity;
  if (module !== 'RNN') {
    if (opts.configKnown) {
      // A config that omits recurrent_activation means the Keras default the file's version had; tfjs and
      // Keras 2 before 2.4 default to hard_sigmoid, so an absent key is not taken to mean sigmoid.
      const tfjsDefault = s.recurrentActivation === undefined && opts.format === 'tfjs';
      if (tfjsDefault) {
        // tf.layers.lstm / gru default to hardSigmoid; a layers-model config without the key means that.
        recorded.recurrentActivation = 'hard_sigmoid';
        if (opts.recurrentActivation && opts.recurrentActivation !== 'hard_sigmoid') {
          throw new FormatError(`${what}: TensorFlow.js layers without recurrent_activation use hard_sigmoid, not the ${opts.recurrentActivation} asked for`);
        }
        notes.push('recurrent_activation not in the config: TensorFlow.js\'s default, hard_sigmoid');
      }
      if (tfjsDefault) recurrentActivation = 'hard_sigmoid';
      else if (s.recurrentActivation === undefined && !opts.keras3 && opts.recurrentActivation === undefined) {
        throw new FormatError(`${what}: the layer config has no recurrent_activation (its default is hard_sigmoid in TensorFlow.js and Keras before 2.4, sigmoid after); pass --recurrent-activation sigmoid|hard_sigmoid`);
      }
      if (!tfjsDefault) recurrentActivation = s.recurrentActivation === undefined ? (opts.recurrentActivation ?? 'sigmoid') : recurrentActivationOf(s.recurrentActivation, !!opts.keras3, what);
      if (s.recurrentActivation !== undefined) {
        recorded.recurrentActivation = recurrentActivation;
        if (opts.recurrentActivation && opts.recurrentActivation !== recurrentActivation) {
          throw new FormatError(`${what}: the file records recurrent_activation ${s.recurrentActivation}, not the ${opts.recurrentActivation} asked for; drop --recurrent-activation (the file's own setting is used)`);
        }
        if (recurrentActivation === 'hard_sigmoid') notes.push(`recurrent_activation hard_sigmoid (clip(0.2x + 0.5, 0, 1)) from the file's config`);
      }
    } else if (opts.recurrentActivation) recurrentActivation = opts.recurrentActivation;
    else notes.push('recurrent_activation is not recorded in a weights-only file: assumed sigmoid (tf.keras ≥ 2.4 and Keras 3 default); pass --recurrent-activation hard_sigmoid for older Keras');
  }
  const hasBias = !!first.forward.bias;
  let gruReset: RnnConfig['gruReset'] = 'after';
  if (module === 'GRU') {
    const b = first.forward.bias;
    const resetAfter = s.resetAfter ?? (b ? b.shape.length === 2 : true);
    if (b && resetAfter !== (b.shape.length === 2)) {
      throw new FormatError(`${what}: reset_after=${resetAfter} but bias has shape ${formatShape(b.shape)}`);
    }
    gruReset = resetAfter ? 'after' : 'before';
    if (b || s.resetAfter !== undefined) recorded.gruReset = gruReset;
    if (!resetAfter) notes.push('GRU reset_after=false: reset gate applied before the recurrent matmul (gruReset "before"); bias_hh is zero');
  }
  const dtype = opts.dtype ?? (first.forward.kernel.dtype === 'float64' ? 'float64' : 'float32');
  const config = rnnConfig({
    module, inputSize, hiddenSize: H, numLayers: layers.length, bidirectional: !!first.backward, bias: hasBias,
    nonlinearity, dtype, recurrentActivation, gruReset,
  });
  const params: TensorMap = new Map();
  layers.forEach((l, layer) => {
    const cells = l.backward ? [l.forward, l.backward] : [l.forward];
    cells.forEach((w, d) => {
      const sfx = suffix(layer, d === 1);
      const c = cellToCanonical(w, module, dtype, `${opts.format} layer "${l.name}"`);
      params.set(`weight_ih${sfx}`, c.weightIh);
      params.set(`weight_hh${sfx}`, c.weightHh);
      if (c.biasIh && c.biasHh) {
        params.set(`bias_ih${sfx}`, c.biasIh);
        params.set(`bias_hh${sfx}`, c.biasHh);
      }
    });
    if (layer < layers.length - 1 && l.settings.returnSequences === false) {
      throw new FormatError(`${opts.format}: layer "${l.name}" returns only its last step but feeds another recurrent layer`);
    }
  });
  if (layers[layers.length - 1].settings.returnSequences === false) {
    notes.push(`last recurrent layer "${layers[layers.length - 1].name}" has return_sequences=false: the source model uses only the last step`);
  }
  const head: HeadPart[] = around.dense.map((d) => ({
    name: `Dense "${d.name}"`, weight: transpose2d(asFloat(d.kernel, dtype)), bias: d.bias ? asFloat(d.bias, dtype) : undefined, activation: d.activation ?? 'linear',
  }));
  if (head.length && head[0].weight.shape[1] !== H * directions(config)) {
    throw new FormatError(`${opts.format}: Dense "${around.dense[0].name}" takes ${head[0].weight.shape[1]} inputs, the recurrent stack gives ${H * directions(config)}`);
  }
  const readout = layers[layers.length - 1].settings.returnSequences === false ? 'last' as const : undefined;
  return assembleImport(config, params, { head, readout, ...(around.embedding ? { embedding: around.embedding } : {}) },
    { format: opts.format, layout: 'keras', notes, recorded }, opts.assemble);
}

interface CanonicalCell {
  weightIh: FloatTensor;
  weightHh: FloatTensor;
  biasIh?: FloatTensor;
  biasHh?: FloatTensor;
}

function cellToCanonical(w: KerasCellWeights, module: RnnModule, dtype: FloatDType, what: string): CanonicalCell {
  const order = gateOrder(GATES[module].length ? GATES[module] : ['x'], KERAS_GATES[module].length ? KERAS_GATES[module] : ['x']);
  const G = gateBlocks(module);
  const H = w.recurrentKernel.shape[0];
  if (w.kernel.shape.length !== 2 || w.kernel.shape[1] !== G * H || w.recurrentKernel.shape[1] !== G * H) {
    throw new FormatError(`${what}: kernel ${formatShape(w.kernel.shape)} / recurrent_kernel ${formatShape(w.recurrentKernel.shape)} do not fit a ${module} with ${G}×${H} gate units`);
  }
  const weightIh = permuteRowBlocks(transpose2d(asFloat(w.kernel, dtype)), order);
  const weightHh = permuteRowBlocks(transpose2d(asFloat(w.recurrentKernel, dtype)), order);
  if (!w.bias) return { weightIh, weightHh };
  const b = asFloat(w.bias, dtype);
  if (b.shape.length === 2) {
    if (b.shape[0] !== 2 || b.shape[1] !== G * H) throw new FormatError(`${what}: bias ${formatShape(b.shape)} is not [2, ${G * H}]`);
    const [bi, bh] = splitRows(reshape(b, [2 * G * H]), 2);
    return { weightIh, weightHh, biasIh: permuteRowBlocks(bi, order), biasHh: permuteRowBlocks(bh, order) };
  }
  if (b.shape[0] !== G * H) throw new FormatError(`${what}: bias ${formatShape(b.shape)} is not [${G * H}]`);
  const biasIh = permuteRowBlocks(b, order);
  return { weightIh, weightHh, biasIh, biasHh: zerosLike(biasIh) };
}

/** Canonical cell → Keras arrays (kernel [in, G*H], recurrent_kernel [H, G*H], bias). */
export function canonicalCellToKeras(cfg: RnnConfig, params: TensorMap, layer: number, reverse: boolean): KerasCellWeights {
  const sfx = suffix(layer, reverse);
  const get = (n: string): FloatTensor => {
    const t = params.get(`${n}${sfx}`);
    if (!t) throw new FormatError(`export: parameter ${n}${sfx} missing`);
    return asFloat(t, cfg.dtype);
  };
  const module = cfg.module;
  const inv = invertOrder(gateOrder(GATES[module].length ? GATES[module] : ['x'], KERAS_GATES[module].length ? KERAS_GATES[module] : ['x']));
  const kernel = transpose2d(permuteRowBlocks(get('weight_ih'), inv));
  const recurrentKernel = transpose2d(permuteRowBlocks(get('weight_hh'), inv));
  if (!cfg.bias) return { kernel, recurrentKernel };
  const bi = permuteRowBlocks(get('bias_ih'), inv);
  const bh = permuteRowBlocks(get('bias_hh'), inv);
  if (module === 'GRU' && cfg.gruReset === 'after') {
    return { kernel, recurrentKernel, bias: reshape(concatRows([bi, bh]), [2, bi.shape[0]]) };
  }
  // One Keras bias: b_ih + b_hh is exact for LSTM/RNN (both are added before the nonlinearity).
  if (module === 'GRU' && bh.data.some((v) => v !== 0)) {
    throw new FormatError('export: a reset-before GRU with a non-zero bias_hh has no Keras single-bias equivalent');
  }
  const sum = zerosLike(bi);
  for (let i = 0; i < sum.data.length; i++) sum.data[i] = bi.data[i] + bh.data[i];
  return { kernel, recurrentKernel, bias: sum };
}
