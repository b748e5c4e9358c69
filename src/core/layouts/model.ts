// What an import produces: the canonical model description (src/core/model.ts) when the file holds a whole
// model (a recurrent stack with an output layer after it, and an embedding or one-hot input before it), or
// the bare recurrent module when it does not, with the parameters in canonical state_dict names either
// way (`rnn.weight_ih_l0`, ... plus `embedding.weight` and `head.*` for a whole model), where it came from,
// and what the file records beyond the weights (a vocabulary, per-epoch snapshots).
import { type RnnConfig, ConfigError, directions, parameterSpecs } from '../config';
import { type HeadLayer, type ModelConfig, type Readout, MODEL_LIMITS, describeModel, modelConfig, modelParameterSpecs } from '../model';
import { type ModelHints, ModelAmbiguityError } from '../modelFromTensors';
import { type FloatTensor, type TensorMap, formatShape, numel, shapeEquals, toFloat } from '../tensor';
import { FormatError } from '../formats/errors';

export interface ImportSource {
  readonly format: string; // 'keras-h5' | 'keras-v3' | 'tfjs' | 'onnx' | 'pt-zip' | 'npz' | 'recurrentjs' ...
  readonly layout: string; // 'pytorch' | 'keras' | 'onnx' | 'scratch-per-gate' | 'min-char-rnn' | 'recurrentjs' ...
  readonly notes: string[];
  /**
   * The parts of the recurrent maths the file itself states (a Keras/tfjs config's recurrent_activation, an
   * ONNX node's activations, a pickled nn.RNN's mode), as opposed to defaults or flags. A config given with
   * the file must agree with these (trace --weights refuses a conflict).
   */
  readonly recorded?: Partial<Pick<RnnConfig, 'recurrentActivation' | 'nonlinearity' | 'gruReset'>>;
  /** Per-layer hidden sizes when they differ in the file (the stack is padded with zero units, which stay 0). */
  readonly hiddenSizes?: readonly number[];
  /** Why the file gives only the recurrent stack, not a model to run over text (when `model` is absent). */
  readonly modelProblem?: string;
}

/** A vocabulary the file records itself (min-char-rnn's `chars`, recurrentjs' `indexToLetter`): tokens by id. */
export interface RecordedVocabulary {
  readonly tokens: readonly string[];
  readonly note: string;
}

/** One snapshot of a per-epoch file: the same canonical names as the model's `params`. */
export interface ImportedEpoch {
  readonly epoch: number;
  readonly params: TensorMap;
}

export interface ImportedModel {
  /** The recurrent stack as rnnForward takes it (`model.rnn` is the same stack, batch-first as every model is). */
  readonly config: RnnConfig;
  /** The whole model, when the file holds one: the one description everything downstream runs. */
  readonly model?: ModelConfig;
  /**
   * Parameters in canonical state_dict names: `rnn.weight_ih_l0`, ... (a bare module is named as the model's
   * `rnn`), and for a whole model `embedding.weight` and `head.weight` / `head.<i>.*` (modelParameterSpecs).
   */
  readonly params: TensorMap;
  readonly vocabulary?: RecordedVocabulary;
  /** Per-epoch files (the last epoch is `params`). */
  readonly epochs?: readonly ImportedEpoch[];
  readonly source: ImportSource;
  /**
   * @deprecated A view of the file's last Linear after the stack (nn.Linear layout) and the activation the
   * source applies after it, for code written before `model`; use `model` and `params`.
   */
  readonly head?: HeadInfo;
}

/** The last Linear after the recurrent stack, in nn.Linear layout (see ImportedModel.head). */
export interface HeadInfo {
  readonly weight: FloatTensor; // [out, in]
  readonly bias?: FloatTensor; // [out]
  /** Activation applied after the head in the source model ('linear' when none). */
  readonly activation: string;
}

/**
 * The sizes an imported model may have (src/core/model.ts's MODEL_LIMITS: hidden size, layers,
 * parameters; input size up to the vocabulary limit, for one-hot inputs), checked before anything is
 * sized from them.
 */
export function checkImportedConfig(cfg: RnnConfig, what: string): void {
  const L = MODEL_LIMITS;
  const fail = (msg: string): never => { throw new FormatError(`${what}: ${msg}`); };
  const int = (v: number, max: number): boolean => Number.isSafeInteger(v) && v >= 1 && v <= max;
  if (cfg.module !== 'LSTM' && cfg.module !== 'GRU' && cfg.module !== 'RNN') fail(`unknown recurrent module ${String(cfg.module)}`);
  if (!int(cfg.hiddenSize, L.width)) fail(`hidden size ${cfg.hiddenSize} is outside 1..${L.width}`);
  if (!int(cfg.inputSize, L.vocab)) fail(`input size ${cfg.inputSize} is outside 1..${L.vocab}`);
  if (!int(cfg.numLayers, L.layers)) fail(`${cfg.numLayers} layers is outside 1..${L.layers}`);
  const count = parameterSpecs(cfg).reduce((s, p) => s + numel(p.shape), 0);
  if (!(count <= L.parameters)) fail(`${count} recurrent parameters exceed the limit of ${L.parameters}`);
}

/** Checks that params hold exactly the canonical tensors of cfg (unprefixed names), with the right shapes. */
export function checkCanonical(cfg: RnnConfig, params: TensorMap, what: string): void {
  checkImportedConfig(cfg, what);
  for (const spec of parameterSpecs(cfg)) {
    const t = params.get(spec.name);
    if (!t) throw new FormatError(`${what}: parameter ${spec.name} is missing after conversion`);
    if (!shapeEquals(t.shape, spec.shape)) {
      throw new FormatError(`${what}: ${spec.name} has shape ${formatShape(t.shape)}, expected ${formatShape(spec.shape)}`);
    }
  }
}

/** The recurrent parameters without the `rnn.` prefix (weight_ih_l0, ...), as rnnForward takes them. */
export function rnnParams(m: Pick<ImportedModel, 'params'>): TensorMap {
  const out: TensorMap = new Map();
  for (const [k, v] of m.params) if (k.startsWith('rnn.')) out.set(k.slice(4), v);
  return out;
}

/** The model's parameters as an LmEngine names them (rnn.*, embedding.weight, head.*): the canonical state_dict. */
export function toLmParams(model: Pick<ImportedModel, 'params'>): TensorMap {
  return model.params;
}

/** Does the import carry a head (a whole model)? */
export function hasModel(m: ImportedModel): m is ImportedModel & { readonly model: ModelConfig } {
  return m.model !== undefined;
}

/** A Linear after the recurrent stack, in nn.Linear layout, and what the source applies after it. */
export interface HeadPart {
  /** The layer's name in the file (for notes). */
  readonly name: string;
  readonly weight: FloatTensor; // [out, in]
  readonly bias?: FloatTensor; // [out]
  /** The activation after this layer in the source: relu / tanh between layers; linear or softmax after the last. */
  readonly activation?: string;
}

/** What a layout found around its recurrent stack. */
export interface ImportParts {
  /** An embedding table [V, E] before the stack (none: one-hot input over rnn.inputSize tokens). */
  readonly embedding?: { readonly name: string; readonly weight: FloatTensor };
  /** The Linear layers after the stack, in order. */
  readonly head?: readonly HeadPart[];
  /** What the file records about the readout (Keras return_sequences=false: the last step). */
  readonly readout?: Readout;
  readonly vocabulary?: RecordedVocabulary;
}

export interface AssembleOptions {
  readonly hints?: ModelHints;
  /** Throw when the parts do not make a whole model (openModel); otherwise say why in source.modelProblem. */
  readonly requireModel?: boolean;
}

const ACTIVATION: Record<string, 'ReLU' | 'Tanh' | null> = {
  relu: 'ReLU', tanh: 'Tanh', linear: null, none: null, identity: null,
};
const FINAL_OK = new Set(['linear', 'none', 'identity', 'softmax', 'log_softmax', 'logsoftmax']);

/**
 * The one way a layout becomes an ImportedModel: the recurrent stack (unprefixed parameters, checked) and,
 * when there is a head, the canonical ModelConfig with its state_dict. What the parts cannot decide (a
 * classifier's readout) comes from the hints; without it the import is the bare stack and says why — or,
 * with requireModel, throws the question (ModelAmbiguityError naming the flag).
 */
export function assembleImport(config: RnnConfig, rnn: TensorMap, parts: ImportParts, source: ImportSource, options: AssembleOptions = {}): ImportedModel {
  checkCanonical(config, rnn, source.format);
  const params: TensorMap = new Map();
  for (const spec of parameterSpecs(config)) params.set(`rnn.${spec.name}`, rnn.get(spec.name)!);
  const base: { config: RnnConfig; params: TensorMap; vocabulary?: RecordedVocabulary; head?: HeadInfo } = { config, params, ...(parts.vocabulary ? { vocabulary: parts.vocabulary } : {}) };
  const bare = (problem: string, error?: Error): ImportedModel => {
    if (options.requireModel) throw error ?? new ConfigError(`${source.format}: ${problem}`);
    return { ...base, source: { ...source, modelProblem: problem } };
  };
  const head = parts.head ?? [];
  const last = head[head.length - 1];
  if (last) {
    const view: HeadInfo = { weight: toFloat(last.weight, config.dtype), ...(last.bias ? { bias: toFloat(last.bias, config.dtype) } : {}), activation: last.activation ?? 'linear' };
    Object.assign(base, { head: view });
  }
  if (!head.length) return bare(`no output layer after the recurrent stack (a bare recurrent module can be diffed, converted and traced with --weights, not run over text)`);
  const hints = options.hints ?? {};
  const dtype = config.dtype;
  const notes = [...source.notes];
  const layers: HeadLayer[] = [];
  const tensors: [string, FloatTensor][] = [];
  let width = config.hiddenSize * directions(config);
  for (let i = 0; i < head.length; i++) {
    const h = head[i];
    if (h.weight.shape.length !== 2 || h.weight.shape[1] !== width) {
      return bare(`${h.name} takes ${h.weight.shape[1]} inputs where ${i ? head[i - 1].name : 'the recurrent stack'} gives ${width}`);
    }
    layers.push({ type: 'Linear', inFeatures: width, outFeatures: h.weight.shape[0], bias: !!h.bias });
    tensors.push([`${layers.length - 1}.weight`, toFloat(h.weight, dtype)]);
    if (h.bias) tensors.push([`${layers.length - 1}.bias`, toFloat(h.bias, dtype)]);
    width = h.weight.shape[0];
    const act = String(h.activation ?? 'linear').toLowerCase();
    if (i < head.length - 1) {
      if (!(act in ACTIVATION)) return bare(`${h.name} is followed by a ${act} activation, which the model description has no layer for (relu, tanh or none)`);
      const t = ACTIVATION[act];
      if (t === 'ReLU' || t === 'Tanh') layers.push({ type: t });
    } else if (!FINAL_OK.has(act)) {
      return bare(`the output layer ${h.name} ends with a ${act} activation; only linear or softmax outputs (scores whose softmax is the prediction) are supported`);
    }
  }
  if (dtype !== (head[0].weight.dtype === 'float64' ? 'float64' : 'float32')) notes.push(`head converted to ${dtype}`);
  const vocabSize = parts.embedding ? parts.embedding.weight.shape[0] : config.inputSize;
  if (parts.embedding && parts.embedding.weight.shape[1] !== config.inputSize) {
    return bare(`embedding ${parts.embedding.name} ${formatShape(parts.embedding.weight.shape)} does not feed the stack's ${config.inputSize} inputs`);
  }
  if (hints.vocabSize !== undefined && hints.vocabSize !== vocabSize) {
    throw new ConfigError(`${source.format}: the vocabulary has ${hints.vocabSize} tokens but the model's ${parts.embedding ? `embedding ${parts.embedding.name}` : 'one-hot input'} takes ${vocabSize}`);
  }
  let readout: Readout;
  if (width === vocabSize && hints.readout === undefined) {
    readout = 'per_step';
    if (parts.readout === 'last') notes.push('the source reads only the last step\'s prediction; per-step predictions are that same prediction for every prefix of the text');
  } else if (hints.readout !== undefined) readout = hints.readout;
  else if (parts.readout !== undefined) readout = parts.readout;
  else {
    const q = `the head predicts ${width} classes for ${vocabSize} input tokens: a classifier, whose readout the file does not record`;
    return bare(q, new ModelAmbiguityError(`${source.format}: ${q}; give --readout last|mean|max`, '--readout last|mean|max'));
  }
  let model: ModelConfig;
  try {
    model = modelConfig({
      rnn: config, vocabSize, readout, head: layers, headSequential: layers.length > 1,
      embedding: parts.embedding ? { numEmbeddings: vocabSize, embeddingDim: config.inputSize, paddingIdx: hints.paddingIdx ?? null } : null,
      ...(hints.rnnDropout !== undefined ? { rnnDropout: hints.rnnDropout } : {}),
    });
  } catch (e) {
    if (e instanceof ConfigError) return bare(e.message, e);
    throw e;
  }
  // The rnn's batchFirst is the model's (true); the stack's own config stays as the file has it.
  if (parts.embedding) params.set('embedding.weight', toFloat(parts.embedding.weight, dtype));
  const specs = modelParameterSpecs(model).filter((s) => s.name.startsWith('head'));
  const headTensors = new Map(tensors.map(([k, t]) => [model.headSequential ? `head.${k}` : `head.${k.slice(k.indexOf('.') + 1)}`, t]));
  for (const s of specs) {
    const t = headTensors.get(s.name);
    if (!t || !shapeEquals(t.shape, s.shape)) return bare(`head tensor ${s.name} missing or of the wrong shape`);
    params.set(s.name, t);
  }
  notes.push(`model: ${describeModel(model)}`);
  return { ...base, config, model, source: { ...source, notes } };
}

/** A listing for error messages: "name [shape]" per tensor. */
export function describeTensors(tensors: TensorMap): string {
  return [...tensors].map(([n, t]) => `${n} ${formatShape(t.shape)}`).join(', ');
}

/** The deprecated `head` view of a whole model: its last Linear layer, and the activation the source applies after it. */
export function headView(model: ModelConfig, params: TensorMap, activation = 'linear'): HeadInfo | undefined {
  const i = model.head.map((l) => l.type).lastIndexOf('Linear');
  if (i < 0) return undefined;
  const name = (kind: string): string => (model.headSequential ? `head.${i}.${kind}` : `head.${kind}`);
  const weight = params.get(name('weight'));
  const bias = params.get(name('bias'));
  return weight ? { weight: weight as FloatTensor, ...(bias ? { bias: bias as FloatTensor } : {}), activation } : undefined;
}
