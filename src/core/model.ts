// The one model description every layer uses (core, engines, checkpoints, traces, views): PyTorch's
//   class Model(nn.Module):
//     embedding = nn.Embedding(V, E, padding_idx)      # or none: one-hot tokens over the vocabulary
//     rnn = nn.LSTM | nn.GRU | nn.RNN(input_size, H, num_layers, bias, batch_first=True, dropout, bidirectional)
//     head = nn.Linear(D*H, C)                          # or nn.Sequential(Linear / ReLU / Tanh / Dropout ...)
// with a readout between rnn and head: every step (language model) or one feature vector per sequence
// (classifier: the last state, the mean or the max over the valid steps). Parameters are that module
// tree's state_dict: `embedding.weight`, `rnn.weight_ih_l0`, ..., `head.weight` or `head.<i>.weight`.
import { type RnnConfig, ConfigError, SIZE_LIMITS, directions, parameterSpecs, parseRnnConfig, toTorchConfig } from './config';

export interface EmbeddingConfig {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** nn.Embedding's padding_idx: that row is zero at init and never gets a gradient. */
  readonly paddingIdx: number | null;
}

/** per_step: a prediction at every token (language model); the others: one per sequence (classifier). */
export type Readout = 'per_step' | 'last' | 'mean' | 'max';
export const READOUTS: readonly Readout[] = ['per_step', 'last', 'mean', 'max'];

export type HeadLayer =
  | { readonly type: 'Linear'; readonly inFeatures: number; readonly outFeatures: number; readonly bias: boolean }
  | { readonly type: 'ReLU' }
  | { readonly type: 'Tanh' }
  | { readonly type: 'Dropout'; readonly p: number };

export type Task = 'lm' | 'classify';

export interface ModelConfig {
  readonly vocabSize: number;
  readonly embedding: EmbeddingConfig | null;
  /** rnn.inputSize is embeddingDim, or vocabSize for one-hot input; batches are [B, T]. */
  readonly rnn: RnnConfig;
  /** nn.LSTM's dropout: on the outputs of every layer but the last, training only. */
  readonly rnnDropout: number;
  readonly readout: Readout;
  readonly head: readonly HeadLayer[];
  /** true: `head` is an nn.Sequential (`head.0.weight`); false: one nn.Linear named `head` (`head.weight`). */
  readonly headSequential: boolean;
  /** The last Linear's out_features: vocabulary size (lm) or number of classes. */
  readonly outputSize: number;
}

/** SIZE_LIMITS (config.ts) plus the head's and the whole model's. */
export const MODEL_LIMITS = { ...SIZE_LIMITS, headLayers: 64, parameters: 2_000_000_000 } as const;

export function taskOf(cfg: ModelConfig): Task {
  return cfg.readout === 'per_step' ? 'lm' : 'classify';
}

/** Width of the rnn's output (D*H): what the readout hands the head. */
export function featureWidth(cfg: ModelConfig): number {
  return cfg.rnn.hiddenSize * directions(cfg.rnn);
}

export function hasEmbedding(cfg: ModelConfig): cfg is ModelConfig & { readonly embedding: EmbeddingConfig } {
  return cfg.embedding !== null;
}

/** The state_dict names of the head's Linear at `index` in the Sequential. */
export function headParamName(cfg: ModelConfig, index: number, kind: 'weight' | 'bias'): string {
  return cfg.headSequential ? `head.${index}.${kind}` : `head.${kind}`;
}

export interface ModelParameterSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Every parameter in state_dict order (the order the optimizer and clipping see them). */
export function modelParameterSpecs(cfg: ModelConfig): ModelParameterSpec[] {
  const specs: ModelParameterSpec[] = [];
  if (cfg.embedding) specs.push({ name: 'embedding.weight', shape: [cfg.embedding.numEmbeddings, cfg.embedding.embeddingDim] });
  for (const s of parameterSpecs(cfg.rnn)) specs.push({ name: `rnn.${s.name}`, shape: s.shape });
  cfg.head.forEach((layer, i) => {
    if (layer.type !== 'Linear') return;
    specs.push({ name: headParamName(cfg, i, 'weight'), shape: [layer.outFeatures, layer.inFeatures] });
    if (layer.bias) specs.push({ name: headParamName(cfg, i, 'bias'), shape: [layer.outFeatures] });
  });
  return specs;
}

export function modelParameterShapes(cfg: ModelConfig): Map<string, readonly number[]> {
  return new Map(modelParameterSpecs(cfg).map((s) => [s.name, s.shape]));
}

export function parameterCount(cfg: ModelConfig): number {
  return modelParameterSpecs(cfg).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Parses a head spec such as `128,relu,dropout0.2` (hidden Linear widths and layers; the output Linear is appended). */
export function parseHeadSpec(spec: string, inFeatures: number, outFeatures: number): HeadLayer[] {
  const layers: HeadLayer[] = [];
  let width = inFeatures;
  for (const raw of spec.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const drop = /^dropout(?:=|:)?([0-9.]+)?$/.exec(raw);
    if (raw === 'relu') layers.push({ type: 'ReLU' });
    else if (raw === 'tanh') layers.push({ type: 'Tanh' });
    else if (drop) layers.push({ type: 'Dropout', p: drop[1] === undefined ? 0.5 : Number(drop[1]) });
    else if (/^[0-9]+$/.test(raw)) {
      const out = Number(raw);
      layers.push({ type: 'Linear', inFeatures: width, outFeatures: out, bias: true });
      width = out;
    } else throw new ConfigError(`head layer "${raw}" is not a width, relu, tanh or dropoutP`);
  }
  layers.push({ type: 'Linear', inFeatures: width, outFeatures, bias: true });
  return layers;
}

/** A head as `Linear(256→128)-ReLU-Linear(128→4)`, for messages and views. */
export function describeHead(head: readonly HeadLayer[]): string {
  return head.map((l) => (l.type === 'Linear' ? `Linear(${l.inFeatures}→${l.outFeatures}${l.bias ? '' : ', no bias'})`
    : l.type === 'Dropout' ? `Dropout(${l.p})` : l.type)).join('-');
}

/** One line: `Embedding(65→32) → LSTM 2×128 bidirectional → last → Linear(256→4)`. */
export function describeModel(cfg: ModelConfig): string {
  const input = cfg.embedding ? `Embedding(${cfg.embedding.numEmbeddings}→${cfg.embedding.embeddingDim})` : `one-hot ${cfg.vocabSize}`;
  const r = cfg.rnn;
  const rnn = `${r.module}${r.module === 'RNN' ? `(${r.nonlinearity})` : ''} ${r.numLayers}×${r.hiddenSize}${r.bidirectional ? ' bidirectional' : ''}`;
  return `${input} → ${rnn} → ${cfg.readout} → ${describeHead(cfg.head)}`;
}

export interface ModelOptions {
  readonly rnn: RnnConfig;
  readonly vocabSize: number;
  readonly embedding?: EmbeddingConfig | null;
  readonly rnnDropout?: number;
  readonly readout?: Readout;
  /** Defaults to one nn.Linear(D*H, outputSize) named `head`. */
  readonly head?: readonly HeadLayer[];
  readonly headSequential?: boolean;
  /** Needed without `head`: vocabSize for a language model. */
  readonly outputSize?: number;
}

/** A checked model description with defaults filled in (the char LM: one-hot → rnn → Linear). */
export function modelConfig(o: ModelOptions): ModelConfig {
  const width = o.rnn.hiddenSize * directions(o.rnn);
  const head = o.head ?? [{ type: 'Linear', inFeatures: width, outFeatures: o.outputSize ?? o.vocabSize, bias: true }];
  const last = [...head].reverse().find((l) => l.type === 'Linear');
  const cfg: ModelConfig = {
    vocabSize: o.vocabSize,
    embedding: o.embedding ?? null,
    rnn: { ...o.rnn, batchFirst: true },
    rnnDropout: o.rnnDropout ?? 0,
    readout: o.readout ?? 'per_step',
    head,
    headSequential: o.headSequential ?? !(head.length === 1 && o.head === undefined),
    outputSize: last && last.type === 'Linear' ? last.outFeatures : 0,
  };
  checkModelConfig(cfg);
  return cfg;
}

const positiveInt = (v: number, max: number): boolean => Number.isInteger(v) && v >= 1 && v <= max;

/** Throws ConfigError naming the first inconsistency (sizes that do not chain, out-of-range values). */
export function checkModelConfig(cfg: ModelConfig): void {
  const fail = (msg: string): never => { throw new ConfigError(msg); };
  const L = MODEL_LIMITS;
  if (!positiveInt(cfg.vocabSize, L.vocab)) fail(`vocab_size must be an integer in 1..${L.vocab}, got ${cfg.vocabSize}`);
  const r = cfg.rnn;
  if (!positiveInt(r.hiddenSize, L.width)) fail(`hidden_size must be an integer in 1..${L.width}, got ${r.hiddenSize}`);
  if (!positiveInt(r.numLayers, L.layers)) fail(`num_layers must be an integer in 1..${L.layers}, got ${r.numLayers}`);
  if (cfg.embedding) {
    const e = cfg.embedding;
    if (e.numEmbeddings !== cfg.vocabSize) fail(`embedding has ${e.numEmbeddings} rows for a vocabulary of ${cfg.vocabSize}`);
    if (!positiveInt(e.embeddingDim, L.width)) fail(`embedding_dim must be an integer in 1..${L.width}, got ${e.embeddingDim}`);
    if (e.paddingIdx !== null && !(Number.isInteger(e.paddingIdx) && e.paddingIdx >= 0 && e.paddingIdx < e.numEmbeddings)) {
      fail(`padding_idx ${e.paddingIdx} is outside 0..${e.numEmbeddings - 1}`);
    }
    if (r.inputSize !== e.embeddingDim) fail(`rnn input_size ${r.inputSize} must equal embedding_dim ${e.embeddingDim}`);
  } else if (r.inputSize !== cfg.vocabSize) fail(`rnn input_size ${r.inputSize} must equal vocab_size ${cfg.vocabSize} (one-hot input)`);
  if (!(cfg.rnnDropout >= 0 && cfg.rnnDropout < 1)) fail(`rnn dropout must be in [0, 1), got ${cfg.rnnDropout}`);
  if (!READOUTS.includes(cfg.readout)) fail(`readout must be one of ${READOUTS.join(', ')}, got "${String(cfg.readout)}"`);
  if (cfg.head.length === 0 || cfg.head.length > L.headLayers) fail(`head must have 1..${L.headLayers} layers`);
  let width = featureWidth(cfg);
  cfg.head.forEach((layer, i) => {
    switch (layer.type) {
      case 'Linear':
        if (layer.inFeatures !== width) fail(`head layer ${i}: Linear in_features ${layer.inFeatures}, but its input has ${width} features`);
        if (!positiveInt(layer.outFeatures, L.vocab)) fail(`head layer ${i}: out_features must be an integer in 1..${L.vocab}`);
        width = layer.outFeatures;
        break;
      case 'Dropout':
        if (!(layer.p >= 0 && layer.p < 1)) fail(`head layer ${i}: Dropout p must be in [0, 1), got ${layer.p}`);
        break;
      case 'ReLU': case 'Tanh': break;
      default: fail(`head layer ${i}: unknown type "${(layer as { type: unknown }).type}"`);
    }
  });
  if (cfg.head[cfg.head.length - 1].type !== 'Linear') {
    // A trailing activation is legal PyTorch, but the loss needs logits; refuse rather than guess.
    const lastLinear = cfg.head.some((l) => l.type === 'Linear');
    if (!lastLinear) fail('head has no Linear layer');
  }
  if (width !== cfg.outputSize) fail(`head produces ${width} outputs, model says ${cfg.outputSize}`);
  if (!cfg.headSequential && (cfg.head.length !== 1 || cfg.head[0].type !== 'Linear')) {
    fail('a head that is not an nn.Sequential must be a single Linear');
  }
  if (taskOf(cfg) === 'lm' && cfg.outputSize !== cfg.vocabSize) {
    fail(`a per_step (language model) head must predict the ${cfg.vocabSize} vocabulary tokens, not ${cfg.outputSize}`);
  }
  if (parameterCount(cfg) > L.parameters) fail(`model has more than ${L.parameters} parameters`);
}

// ---- JSON (case.json's `model` spelling, also the checkpoint metadata) ---------------------------------

export function modelToJson(cfg: ModelConfig): Record<string, unknown> {
  return {
    vocab_size: cfg.vocabSize,
    embedding: cfg.embedding ? {
      num_embeddings: cfg.embedding.numEmbeddings, embedding_dim: cfg.embedding.embeddingDim, padding_idx: cfg.embedding.paddingIdx,
    } : null,
    rnn: { ...toTorchConfig(cfg.rnn), batch_first: true, dropout: cfg.rnnDropout },
    readout: cfg.readout,
    head: cfg.head.map((l) => (l.type === 'Linear' ? { type: 'Linear', in_features: l.inFeatures, out_features: l.outFeatures, bias: l.bias }
      : l.type === 'Dropout' ? { type: 'Dropout', p: l.p } : { type: l.type })),
    head_sequential: cfg.headSequential,
    dtype: cfg.rnn.dtype,
  };
}

/** Parses `modelToJson`'s output or a fixture case.json's `model`; refuses anything malformed with a ConfigError. */
export function parseModelConfig(json: unknown): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError('model must be a JSON object');
  const o = json as Record<string, unknown>;
  const int = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(`${what} must be an integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${what} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const vocabSize = int(o.vocab_size, 'vocab_size');
  if (!positiveInt(vocabSize, MODEL_LIMITS.vocab)) throw new ConfigError(`vocab_size must be in 1..${MODEL_LIMITS.vocab}, got ${vocabSize}`);
  let embedding: EmbeddingConfig | null = null;
  if (o.embedding !== null && o.embedding !== undefined) {
    if (typeof o.embedding !== 'object') throw new ConfigError('embedding must be an object or null');
    const e = o.embedding as Record<string, unknown>;
    embedding = {
      numEmbeddings: int(e.num_embeddings, 'embedding.num_embeddings'),
      embeddingDim: int(e.embedding_dim, 'embedding.embedding_dim'),
      paddingIdx: e.padding_idx === null || e.padding_idx === undefined ? null : int(e.padding_idx, 'embedding.padding_idx'),
    };
  }
  if (typeof o.rnn !== 'object' || o.rnn === null) throw new ConfigError('model.rnn must be an object');
  const rnnJson = o.rnn as Record<string, unknown>;
  const rnn = parseRnnConfig({ dtype: o.dtype, ...rnnJson, batch_first: true, nonlinearity: rnnJson.nonlinearity ?? undefined });
  const readout = String(o.readout ?? 'per_step') as Readout;
  if (!Array.isArray(o.head)) throw new ConfigError('model.head must be a list of layers');
  if (o.head.length > MODEL_LIMITS.headLayers) throw new ConfigError(`model.head has more than ${MODEL_LIMITS.headLayers} layers`);
  const head = o.head.map((raw, i): HeadLayer => {
    const l = (raw ?? {}) as Record<string, unknown>;
    switch (l.type) {
      case 'Linear': return {
        type: 'Linear', inFeatures: int(l.in_features, `head[${i}].in_features`),
        outFeatures: int(l.out_features, `head[${i}].out_features`), bias: l.bias !== false,
      };
      case 'ReLU': case 'Tanh': return { type: l.type };
      case 'Dropout': return { type: 'Dropout', p: num(l.p ?? 0.5, `head[${i}].p`) };
      default: throw new ConfigError(`head[${i}]: unknown layer type ${JSON.stringify(l.type)} (expected Linear, ReLU, Tanh or Dropout)`);
    }
  });
  return modelConfig({
    rnn, vocabSize, embedding, readout, head,
    rnnDropout: rnnJson.dropout === undefined ? 0 : num(rnnJson.dropout, 'rnn.dropout'),
    headSequential: o.head_sequential === undefined ? true : o.head_sequential === true,
  });
}
