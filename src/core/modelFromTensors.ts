// Any state_dict → the canonical model (src/core/model.ts), by names and shapes: the recurrent stack under
// any prefix (`rnn.`, `lstm.`, `encoder.`, `model.rnn.`), an embedding before it (`embedding`, `encoder`,
// `embed`, ...), and the Linear layers after it (`decoder`, `fc`, `fc1`/`fc2`, `classifier.0`, `head.2`).
// What a state_dict cannot say (an RNN's nonlinearity, the activations between head layers, a classifier's
// readout, which of two candidates is meant) is asked for by name — the error names the option — never guessed.
import { ConfigError, type GruReset, type Nonlinearity, type RecurrentActivation, type RnnModule, rnnConfig } from './config';
import { type HeadLayer, type ModelConfig, type Readout, modelConfig } from './model';
import { type FloatDType, type Tensor, type TensorMap, formatShape, isFloat } from './tensor';

export type HeadActivation = 'relu' | 'tanh' | 'none';
export const HEAD_ACTIVATIONS: readonly HeadActivation[] = ['relu', 'tanh', 'none'];

export interface ModelHints {
  /** The recurrent stack's prefix when there are several (`encoder.rnn.`). */
  readonly rnnPrefix?: string;
  readonly nonlinearity?: Nonlinearity;
  /** A classifier's readout (a state_dict cannot tell last, mean and max apart). */
  readonly readout?: Readout;
  /** Activations between the head's Linear layers, in order (one per gap; none: Linear straight into Linear). */
  readonly headActivations?: readonly HeadActivation[];
  /** The embedding module's name when several tensors could be it (`encoder`). */
  readonly embeddingName?: string;
  /** The tokens' count, from a vocabulary given with the model: a language model predicts exactly these. */
  readonly vocabSize?: number;
  /** nn.Embedding's padding_idx (a pickled module records it; it only matters for training). */
  readonly paddingIdx?: number | null;
  /** The stack's dropout between layers (training only). */
  readonly rnnDropout?: number;
  /** Gate activation and GRU reset variant when the file (or a flag) says; PyTorch's sigmoid / after otherwise. */
  readonly recurrentActivation?: RecurrentActivation;
  readonly gruReset?: GruReset;
}

/** Why a state_dict does not determine the model, and the option that decides it. */
export class ModelAmbiguityError extends ConfigError {
  constructor(message: string, readonly option: string) {
    super(message);
  }

  /**
   * The question as data, for a quick pick: the CLI flag (`--readout`) and, when the answer is one of a few,
   * the choices (`last`, `mean`, `max`); the extension asks it and passes the answer as the matching option.
   */
  get question(): { readonly flag: string; readonly choices?: readonly string[] } {
    const m = /^(--[a-z-]+)(?:\s+([\w-]+(?:\|[\w-]+)+))?/.exec(this.option);
    if (!m) return { flag: this.option };
    return { flag: m[1], ...(m[2] ? { choices: m[2].split('|') } : {}) };
  }
}

export interface AssembledModel {
  readonly config: ModelConfig;
  /** Canonical names: `embedding.weight`, `rnn.*`, `head.weight` or `head.<i>.*`. */
  readonly params: TensorMap;
  /** canonical name → the file's name. */
  readonly renamed: ReadonlyMap<string, string>;
  /** The file's tensors that are not part of the model (buffers, optimizer state, ...). */
  readonly ignored: readonly string[];
}

const RNN_TENSOR = /^(.*?)(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$/;
const EMBEDDING_NAMES = ['embedding', 'embeddings', 'encoder', 'embed', 'emb', 'word_embeddings', 'wte', 'lookup', 'embedding_layer'];
const MODULES: Record<number, RnnModule> = { 4: 'LSTM', 3: 'GRU', 1: 'RNN' };

interface Linear {
  readonly name: string; // module name, e.g. `decoder`, `head.0`
  readonly weight: Tensor;
  readonly bias?: Tensor;
}

const moduleOf = (name: string): string => name.slice(0, name.lastIndexOf('.'));
const leafOf = (name: string): string => name.slice(name.lastIndexOf('.') + 1);

export function modelFromTensors(tensors: TensorMap, hints: ModelHints = {}, source = 'model'): AssembledModel {
  const fail = (msg: string): never => { throw new ConfigError(`${source}: ${msg}`); };
  const ask = (msg: string, option: string): never => { throw new ModelAmbiguityError(`${source}: ${msg}; give ${option}`, option); };
  const floats = [...tensors].filter(([, t]) => isFloat(t));
  // 1. The recurrent stack.
  const prefixes = new Set<string>();
  for (const [name] of floats) {
    const m = RNN_TENSOR.exec(name);
    if (m) prefixes.add(m[1]);
  }
  if (!prefixes.size) fail('no nn.LSTM / nn.GRU / nn.RNN weights (weight_ih_l0, weight_hh_l0, ...) found');
  let prefix: string;
  if (hints.rnnPrefix !== undefined) {
    const p = hints.rnnPrefix === '' || hints.rnnPrefix.endsWith('.') ? hints.rnnPrefix : `${hints.rnnPrefix}.`;
    if (!prefixes.has(p)) fail(`no recurrent stack under "${p}" (found ${[...prefixes].map((x) => `"${x}"`).join(', ')})`);
    prefix = p;
  } else if (prefixes.size > 1) {
    prefix = ask(`${prefixes.size} recurrent stacks (${[...prefixes].map((x) => `"${x || '(no prefix)'}"`).join(', ')})`, '--rnn-prefix');
  } else prefix = [...prefixes][0];
  const get = (name: string): Tensor | undefined => tensors.get(name);
  const whh = get(`${prefix}weight_hh_l0`), wih = get(`${prefix}weight_ih_l0`);
  if (!whh || !wih || whh.shape.length !== 2 || wih.shape.length !== 2) fail(`${prefix}weight_ih_l0 / weight_hh_l0 missing or not matrices`);
  const H = whh!.shape[1];
  const G = whh!.shape[0] / H;
  const module = MODULES[G];
  if (!module) fail(`${prefix}weight_hh_l0 is ${formatShape(whh!.shape)}: not 4H (LSTM), 3H (GRU) or H (RNN) rows of H = ${H}`);
  let layers = 0, bidirectional = false;
  for (const [name] of floats) {
    const m = RNN_TENSOR.exec(name);
    if (!m || m[1] !== prefix) continue;
    layers = Math.max(layers, Number(m[3]) + 1);
    bidirectional ||= !!m[4];
  }
  const bias = get(`${prefix}bias_ih_l0`) !== undefined;
  const dtype: FloatDType = whh!.dtype === 'float64' ? 'float64' : 'float32';
  if (module === 'RNN' && !hints.nonlinearity) ask(`${prefix}is an Elman RNN whose nonlinearity the weights do not record`, '--nonlinearity tanh|relu');
  const rnn = rnnConfig({
    module: module!, inputSize: wih!.shape[1], hiddenSize: H, numLayers: layers, bidirectional, bias, dtype,
    nonlinearity: hints.nonlinearity ?? 'tanh', recurrentActivation: hints.recurrentActivation ?? 'sigmoid', gruReset: hints.gruReset ?? 'after',
  });
  const width = H * (bidirectional ? 2 : 1);

  // 2. Linear layers outside the stack: the head is the chain that starts from its output width.
  const linears = new Map<string, Linear>();
  for (const [name, t] of floats) {
    if (name.startsWith(prefix) && RNN_TENSOR.test(name)) continue;
    if (leafOf(name) !== 'weight' || t.shape.length !== 2) continue;
    const mod = moduleOf(name);
    const b = tensors.get(`${mod}.bias`);
    linears.set(mod, { name: mod, weight: t, ...(b && b.shape.length === 1 && b.shape[0] === t.shape[0] ? { bias: b } : {}) });
  }
  const chain: Linear[] = [];
  let inWidth = width;
  for (;;) {
    const next = [...linears.values()].filter((l) => l.weight.shape[1] === inWidth && !chain.includes(l) && !isEmbeddingName(l.name, hints));
    if (!next.length) break;
    if (next.length > 1) {
      // Sequential neighbours: prefer the one that continues the chain's own container (head.0 → head.2).
      const container = chain.length ? containerOf(chain[chain.length - 1].name) : undefined;
      const same = container !== undefined ? next.filter((l) => containerOf(l.name) === container) : [];
      if (same.length !== 1) {
        ask(`${next.length} layers take the ${inWidth} features after ${chain.length ? chain[chain.length - 1].name : 'the recurrent stack'} (${next.map((l) => l.name).join(', ')})`, '--head NAMES');
      }
      chain.push(same[0]);
    } else chain.push(next[0]);
    inWidth = chain[chain.length - 1].weight.shape[0];
    if (chain.length > 64) fail('the head chain is longer than 64 layers');
  }
  if (!chain.length) fail(`no output layer: no Linear weight [out, ${width}] after the recurrent stack "${prefix}" (a bare recurrent module can be diffed and traced with --weights, not run over text)`);

  // 3. The embedding: a [V, E] table of the stack's input width that is not a head layer.
  const tables = [...linears.values()].filter((l) => l.weight.shape[1] === rnn.inputSize && !chain.includes(l));
  let embedding: Linear | undefined;
  if (hints.embeddingName !== undefined) {
    embedding = tables.find((l) => l.name === hints.embeddingName);
    if (!embedding) fail(`no [tokens, ${rnn.inputSize}] table named "${hints.embeddingName}"`);
  } else {
    const named = tables.filter((l) => isEmbeddingName(l.name, hints));
    const pool = named.length ? named : tables;
    if (pool.length > 1) ask(`${pool.length} tables could be the embedding (${pool.map((l) => l.name).join(', ')})`, '--embedding-name NAME');
    embedding = pool[0];
  }
  const outputs = chain[chain.length - 1].weight.shape[0];
  const vocabSize = embedding ? embedding.weight.shape[0] : rnn.inputSize;
  if (hints.vocabSize !== undefined && hints.vocabSize !== vocabSize) {
    fail(`the vocabulary has ${hints.vocabSize} tokens but the model's ${embedding ? `embedding ${embedding.name}` : 'one-hot input'} takes ${vocabSize}`);
  }
  // 4. Language model or classifier.
  let readout: Readout;
  if (hints.readout) readout = hints.readout;
  else if (outputs === vocabSize) readout = 'per_step';
  else readout = ask(`the head predicts ${outputs} classes for a vocabulary of ${vocabSize}: a classifier, whose readout the weights do not record`, '--readout last|mean|max');
  if (readout === 'per_step' && outputs !== vocabSize) fail(`a language model must predict the ${vocabSize} tokens; the head predicts ${outputs}`);

  // 5. The head's layers: activations between Linear layers come from the hints.
  const gaps = chain.length - 1;
  const acts = hints.headActivations ?? [];
  if (gaps > 0 && acts.length !== gaps) {
    ask(`the head has ${chain.length} Linear layers (${chain.map((l) => l.name).join(' → ')}); the activations between them are not in the weights`, `--head-activation relu|tanh|none (${gaps} of them, comma-separated)`);
  }
  const head: HeadLayer[] = [];
  /** Index of each chain Linear in the head's Sequential. */
  const at: number[] = [];
  chain.forEach((l, i) => {
    at.push(head.length);
    head.push({ type: 'Linear', inFeatures: l.weight.shape[1], outFeatures: l.weight.shape[0], bias: !!l.bias });
    if (i < gaps && acts[i] !== 'none') head.push({ type: acts[i] === 'relu' ? 'ReLU' : 'Tanh' });
  });
  const config = modelConfig({
    rnn, vocabSize, readout, head, headSequential: chain.length > 1,
    embedding: embedding ? { numEmbeddings: vocabSize, embeddingDim: rnn.inputSize, paddingIdx: hints.paddingIdx ?? null } : null,
    ...(hints.rnnDropout !== undefined ? { rnnDropout: hints.rnnDropout } : {}),
  });
  const params: TensorMap = new Map();
  const renamed = new Map<string, string>();
  const take = (canonical: string, original: string, t: Tensor): void => {
    params.set(canonical, t);
    renamed.set(canonical, original);
  };
  if (embedding) take('embedding.weight', `${embedding.name}.weight`, embedding.weight);
  for (const [name, t] of floats) {
    const m = RNN_TENSOR.exec(name);
    if (m && m[1] === prefix) take(`rnn.${name.slice(prefix.length)}`, name, t);
  }
  chain.forEach((l, i) => {
    const name = chain.length > 1 ? `head.${at[i]}` : 'head';
    take(`${name}.weight`, `${l.name}.weight`, l.weight);
    if (l.bias) take(`${name}.bias`, `${l.name}.bias`, l.bias);
  });
  const used = new Set(renamed.values());
  return { config, params, renamed, ignored: [...tensors.keys()].filter((n) => !used.has(n)) };
}

function isEmbeddingName(module: string, hints: ModelHints): boolean {
  if (hints.embeddingName !== undefined) return module === hints.embeddingName;
  return EMBEDDING_NAMES.includes(module.slice(module.lastIndexOf('.') + 1).toLowerCase());
}

/** `head` for `head.2`, `model.classifier` for `model.classifier.0`; undefined for a module of its own. */
function containerOf(module: string): string | undefined {
  const m = /^(.*)\.\d+$/.exec(module);
  return m ? m[1] : undefined;
}

// ---- whole pickled models: what the module types say -------------------------------------------------

/** What a pickled module tree (src/core/formats/torchModules.ts) tells about the model. */
export interface ModuleTreeHints {
  readonly hints: ModelHints;
  /** How each hint was read, for the user. */
  readonly notes: readonly string[];
  /** The recurrent module's class, for messages (`LSTM`). */
  readonly rnnType?: string;
  /** Something the tree shows that the model description cannot run (a trailing activation, max_norm, ...). */
  readonly problem?: string;
}

interface ModuleRecord {
  readonly path: string;
  readonly kind: string;
  readonly attributes: ReadonlyMap<string, unknown>;
  readonly children: readonly string[];
}

const RNN_MODES: Record<string, { module: RnnModule; nonlinearity?: Nonlinearity }> = {
  LSTM: { module: 'LSTM' }, GRU: { module: 'GRU' }, RNN_TANH: { module: 'RNN', nonlinearity: 'tanh' }, RNN_RELU: { module: 'RNN', nonlinearity: 'relu' },
};
const SKIPPED_IN_HEAD = new Set(['Dropout', 'Identity', 'AlphaDropout', 'Dropout1d']);
const FINAL_IN_HEAD = new Set(['Softmax', 'LogSoftmax']);

/**
 * Hints from the types and constructor attributes of a pickled module tree: the recurrent module (its
 * prefix, and an nn.RNN's nonlinearity from `mode`), the nn.Embedding (its name, padding_idx), and the
 * activations between the Linear layers of an nn.Sequential head, from its children in order.
 */
export function hintsFromModules(modules: readonly ModuleRecord[], source = 'model'): ModuleTreeHints {
  const notes: string[] = [];
  const hints: { -readonly [K in keyof ModelHints]: ModelHints[K] } = {};
  let problem: string | undefined;
  const byPath = new Map(modules.map((m) => [m.path, m]));
  const rnns = modules.filter((m) => typeof m.attributes.get('mode') === 'string' && Object.hasOwn(RNN_MODES, m.attributes.get('mode') as string) && m.attributes.has('hidden_size'));
  let rnnType: string | undefined;
  if (rnns.length === 1) {
    const r = rnns[0];
    const mode = RNN_MODES[r.attributes.get('mode') as string];
    rnnType = r.kind;
    hints.rnnPrefix = r.path ? `${r.path}.` : '';
    if (mode.nonlinearity) hints.nonlinearity = mode.nonlinearity;
    const dropout = r.attributes.get('dropout');
    if (typeof dropout === 'number' && dropout >= 0 && dropout < 1) hints.rnnDropout = dropout;
    const proj = r.attributes.get('proj_size');
    if (typeof proj === 'number' && proj > 0) problem = `${r.path || 'the model'} is an LSTM with proj_size=${proj} (projections), which is not supported`;
    notes.push(`${r.path || '(root)'}: ${r.kind}(mode='${r.attributes.get('mode')}') from the pickled module${mode.nonlinearity ? `: nonlinearity ${mode.nonlinearity}` : ''}`);
  } else if (rnns.length > 1) notes.push(`${rnns.length} recurrent modules (${rnns.map((m) => m.path).join(', ')})`);
  const embeddings = modules.filter((m) => m.kind === 'Embedding' && m.attributes.has('embedding_dim'));
  if (embeddings.length === 1) {
    const e = embeddings[0];
    hints.embeddingName = e.path;
    const pad = e.attributes.get('padding_idx');
    if (typeof pad === 'number' && Number.isSafeInteger(pad)) hints.paddingIdx = pad < 0 ? Number(e.attributes.get('num_embeddings')) + pad : pad;
    const maxNorm = e.attributes.get('max_norm');
    if (maxNorm !== null && maxNorm !== undefined) problem ??= `embedding ${e.path} has max_norm=${String(maxNorm)}: it renormalises rows as it reads them, which the model description cannot do`;
    notes.push(`${e.path}: Embedding from the pickled module`);
  }
  // A Sequential head: the children between its Linear layers are the activations.
  const heads = modules.filter((m) => m.kind === 'Sequential' && m.children.filter((c) => byPath.get(child(m, c))?.kind === 'Linear').length >= 1
    && !m.children.some((c) => rnns.some((r) => r.path === child(m, c))));
  if (heads.length === 1) {
    const seq = heads[0];
    const kinds = seq.children.map((c) => byPath.get(child(seq, c))?.kind ?? '?');
    const linear = kinds.flatMap((k, i) => (k === 'Linear' ? [i] : []));
    const acts: HeadActivation[] = [];
    for (let j = 0; j + 1 < linear.length && !problem; j++) {
      const between = kinds.slice(linear[j] + 1, linear[j + 1]).filter((k) => !SKIPPED_IN_HEAD.has(k));
      if (between.length === 0) acts.push('none');
      else if (between.length === 1 && (between[0] === 'ReLU' || between[0] === 'Tanh')) acts.push(between[0] === 'ReLU' ? 'relu' : 'tanh');
      else problem = `${seq.path}: ${between.join(', ')} between its Linear layers; the model description has ReLU and Tanh`;
    }
    const after = kinds.slice(linear[linear.length - 1] + 1).filter((k) => !SKIPPED_IN_HEAD.has(k) && !FINAL_IN_HEAD.has(k));
    if (after.length) problem ??= `${seq.path} ends with ${after.join(', ')} after its last Linear; the model's scores are the last Linear's output`;
    if (!problem && acts.length) {
      hints.headActivations = acts;
      notes.push(`${seq.path}: ${kinds.join(' → ')} from the pickled Sequential`);
    }
  }
  return { hints, notes, ...(rnnType ? { rnnType } : {}), ...(problem ? { problem: `${source}: ${problem}` } : {}) };
}

const child = (m: ModuleRecord, c: string): string => (m.path ? `${m.path}.${c}` : c);

/** The file's hints and the user's flags together; a flag that contradicts what the file records is refused. */
export function mergeHints(file: ModelHints, user: ModelHints, source = 'model'): ModelHints {
  const out: Record<string, unknown> = { ...file };
  for (const [k, v] of Object.entries(user)) {
    if (v === undefined) continue;
    const f = (file as Record<string, unknown>)[k];
    const norm = (x: unknown): string => JSON.stringify(k === 'rnnPrefix' && typeof x === 'string' && x && !x.endsWith('.') ? `${x}.` : x);
    if (f !== undefined && norm(f) !== norm(v)) {
      throw new ConfigError(`${source}: the file's module tree gives ${k} ${JSON.stringify(f)}, not the ${JSON.stringify(v)} asked for; drop the flag (the file's own setting is used)`);
    }
    out[k] = v;
  }
  return out as ModelHints;
}
