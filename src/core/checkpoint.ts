// One shareable model file: a safetensors file whose tensors are the PyTorch state_dict of the model
// (src/core/model.ts: `embedding.weight`, `rnn.weight_ih_l0`, ..., `head.weight` or `head.<i>.weight`), plus
// training extras under prefixes that
// `load_state_dict(..., strict=False)` ignores: `optimizer.<param>.<buffer>` and `train_state.{h,c}` (the
// carried hidden state of stateful BPTT). Everything else — config, vocabulary, training progress,
// loss history, engine, versions — is JSON in the header's `__metadata__["gatescope"]`.
import type { OptimizerConfig } from './engine';
import type { ModelConfig } from './model';
import type { GateSaturation } from './train/gateStats';
import { type RnnConfig, parseRnnConfig } from './config';
import { modelConfig, modelParameterShapes, modelToJson, parseModelConfig } from './model';
import { type TensorMap, formatShape, shapeEquals } from './tensor';
import { parseSafetensors, serializeSafetensors, FormatError } from './formats/safetensors';
import { type Vocabulary, parseVocabulary, vocabularySize } from './data/tokenizer';

/** 2: metadata `model` (the whole model description); 1: `config` (rnn) + vocabSize/outputSize, the char model. */
export const CHECKPOINT_FORMAT_VERSION = 2;
export const GATESCOPE_VERSION = '0.1.0';
const OPTIMIZER_PREFIX = 'optimizer.';
const STATE_PREFIX = 'train_state.';

/** Hyperparameters of a training run, saved so a resume continues it exactly. */
export interface TrainSettings {
  readonly seqLen: number;
  readonly batchSize: number;
  /** Total optimizer steps of the run. */
  readonly steps: number;
  readonly optimizer: OptimizerConfig;
  /** Max global gradient L2 norm; 0 disables clipping. */
  readonly clip: number;
  /** clip_grad_value_: clamp every gradient element to ±clipValue (before the norm clip); absent = off. */
  readonly clipValue?: number;
  /** Classifier: sequences longer than this many tokens are truncated. */
  readonly maxLength?: number;
  /** Step decay: lr * factor^floor(step / every). */
  readonly lrDecay?: { readonly every: number; readonly factor: number };
  readonly validationFraction: number;
  readonly evalEvery: number;
  /** Validation windows per evaluation; 0 = the whole validation split. */
  readonly evalBatches: number;
  /** Independent random windows instead of stateful contiguous streams. */
  readonly shuffle: boolean;
  readonly seed: number;
  readonly sampleEvery: number; // 0 = no samples during training
  readonly sampleLength: number;
}

export interface LossPoint {
  readonly step: number;
  readonly loss: number;
  /** Classifier validation points: accuracy. */
  readonly accuracy?: number;
  /** Training points: the gradient norm before clipping (a finished run's dashboard redraws it). */
  readonly gradNorm?: number;
  /** Validation points: gate saturation at that evaluation. */
  readonly saturation?: readonly GateSaturation[];
}

/** A text the model generated during its training run. */
export interface TextSample {
  readonly step: number;
  readonly temperature: number;
  readonly text: string;
}

/** Samples a checkpoint keeps: the dashboard lists the latest few; older ones are dropped to bound the header. */
export const MAX_KEPT_SAMPLES = 20;

/** Where a run stands: enough to continue it bit for bit. */
export interface TrainingState {
  readonly settings: TrainSettings;
  readonly step: number; // optimizer steps done
  /** Next window of the stream layout (stateful) — the data position. */
  readonly window: number;
  readonly epoch: number;
  /** Data RNG (random windows) state. */
  readonly rngState: readonly number[];
  readonly lossHistory: readonly LossPoint[];
  readonly validationHistory: readonly LossPoint[];
  /** The latest samples the run generated (at most MAX_KEPT_SAMPLES; absent in files from before they were kept). */
  readonly samples?: readonly TextSample[];
  readonly elapsedSeconds: number;
  /** Training text summary: files and token count, to notice a different corpus on resume. */
  readonly data: { readonly sources: readonly string[]; readonly tokens: number };
}

export interface Checkpoint {
  readonly config: ModelConfig;
  readonly vocab: Vocabulary;
  /** `rnn.*` and `head.*` in PyTorch names and shapes. */
  readonly params: TensorMap;
  /** engine.getOptimizerState() (names `<param>.<buffer>` and `step`). */
  readonly optimizer?: TensorMap;
  /** Carried training state (`h`, `c`), [L*D, B, H]. */
  readonly carried?: TensorMap;
  readonly training?: TrainingState;
  readonly engine: string;
  /** Classifier: class names in label order (outputSize of them). */
  readonly labels?: readonly string[];
}

interface Metadata {
  readonly formatVersion: number;
  readonly gatescopeVersion: string;
  /** Version 2. */
  readonly model?: Record<string, unknown>;
  /** Version 1: the rnn config of a one-hot → rnn → Linear model. */
  readonly config?: Record<string, unknown>;
  readonly vocabSize?: number;
  readonly outputSize?: number;
  /** Classifier: the name of each class, in label order. */
  readonly labels?: readonly string[];
  readonly vocab: Vocabulary;
  readonly tokenizer: string;
  readonly engine: string;
  readonly training?: TrainingState;
}

/** A safetensors file whose header carries gatescope's metadata (a trained model's header holds its loss history: any size). */
export function isGatescopeModel(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return n > 0 && n <= bytes.length - 8 && n <= 100_000_000 && new TextDecoder().decode(bytes.subarray(8, 8 + n)).includes('"gatescope"');
}

export function serializeCheckpoint(ck: Checkpoint): Uint8Array {
  const tensors: TensorMap = new Map(ck.params);
  for (const [name, t] of ck.optimizer ?? []) tensors.set(OPTIMIZER_PREFIX + name, t);
  for (const [name, t] of ck.carried ?? []) tensors.set(STATE_PREFIX + name, t);
  const meta: Metadata = {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    gatescopeVersion: GATESCOPE_VERSION,
    model: modelToJson(ck.config),
    ...(ck.labels ? { labels: ck.labels } : {}),
    vocab: ck.vocab,
    tokenizer: ck.vocab.kind === 'char' ? 'char' : ck.vocab.tokenizer,
    engine: ck.engine,
    ...(ck.training ? { training: ck.training } : {}),
  };
  return serializeSafetensors(tensors, { format: 'pt', gatescope: JSON.stringify(meta) });
}

export function parseCheckpoint(bytes: Uint8Array, source = 'model'): Checkpoint {
  const file = parseSafetensors(bytes, source);
  const raw = file.metadata.gatescope;
  if (!raw) throw new FormatError(`${source}: not a gatescope model (no "gatescope" metadata in the safetensors header)`);
  let meta: Metadata;
  try {
    meta = JSON.parse(raw) as Metadata;
  } catch {
    throw new FormatError(`${source}: gatescope metadata is not valid JSON`);
  }
  if (meta.formatVersion !== 1 && meta.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new FormatError(`${source}: model format version ${meta.formatVersion} is not supported (expected 1 or ${CHECKPOINT_FORMAT_VERSION})`);
  }
  let vocab: Vocabulary;
  let config: ModelConfig;
  try {
    vocab = parseVocabulary(meta.vocab);
    config = meta.formatVersion === 1 ? legacyModel(meta) : parseModelConfig(meta.model);
  } catch (e) {
    throw new FormatError(`${source}: ${(e as Error).message}`);
  }
  if (vocabularySize(vocab) !== config.vocabSize) {
    throw new FormatError(`${source}: vocabulary has ${vocabularySize(vocab)} tokens but the model expects ${config.vocabSize}`);
  }
  const labels = meta.labels;
  if (labels !== undefined && !(Array.isArray(labels) && labels.length === config.outputSize && labels.every((l) => typeof l === 'string'))) {
    throw new FormatError(`${source}: labels must be ${config.outputSize} class names`);
  }
  const params: TensorMap = new Map();
  const optimizer: TensorMap = new Map();
  const carried: TensorMap = new Map();
  for (const [name, t] of file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) optimizer.set(name.slice(OPTIMIZER_PREFIX.length), t);
    else if (name.startsWith(STATE_PREFIX)) carried.set(name.slice(STATE_PREFIX.length), t);
    else params.set(name, t);
  }
  checkModelParameters(config, params, source);
  if (meta.training !== undefined) checkTrainingState(meta.training, source);
  checkExtras(config, params, optimizer, carried, meta.training, source);
  return {
    config, vocab, params, engine: String(meta.engine ?? ''),
    ...(labels ? { labels } : {}),
    ...(optimizer.size ? { optimizer } : {}),
    ...(carried.size ? { carried } : {}),
    ...(meta.training ? { training: meta.training } : {}),
  };
}

/** A version-1 checkpoint: the char model, one-hot → rnn → nn.Linear named `head`. */
function legacyModel(meta: Metadata): ModelConfig {
  const rnn: RnnConfig = parseRnnConfig(meta.config);
  if (typeof meta.vocabSize !== 'number' || typeof meta.outputSize !== 'number') throw new FormatError('the version-1 metadata lacks vocabSize / outputSize');
  return modelConfig({ rnn, vocabSize: meta.vocabSize, outputSize: meta.outputSize });
}

function checkModelParameters(cfg: ModelConfig, params: TensorMap, source: string): void {
  for (const [name, shape] of modelParameterShapes(cfg)) {
    const t = params.get(name);
    if (!t) throw new FormatError(`${source}: missing tensor ${name} ${formatShape(shape)}`);
    if (!shapeEquals(t.shape, shape)) {
      throw new FormatError(`${source}: tensor ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
    }
  }
}

const OPTIMIZER_KINDS = ['sgd', 'adam', 'rmsprop', 'adagrad'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The training state a --resume continues from, checked so a damaged or hostile file cannot steer the run. */
function checkTrainingState(t: TrainingState, source: string): void {
  const fail = (what: string): never => { throw new FormatError(`${source}: training state: ${what}`); };
  if (!isObject(t)) fail('not an object');
  const count = (v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${what} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  };
  const finite = (v: unknown, what: string, min = 0): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(`${what} must be a finite number >= ${min}, got ${JSON.stringify(v)}`);
  };
  const st = t.settings as unknown as Record<string, unknown>;
  if (!isObject(st)) fail('settings missing');
  count(st.seqLen, 'settings.seqLen', 1, 1_000_000);
  count(st.batchSize, 'settings.batchSize', 1, 1_000_000);
  count(st.steps, 'settings.steps', 0);
  finite(st.clip, 'settings.clip');
  if (st.clipValue !== undefined) finite(st.clipValue, 'settings.clipValue');
  if (st.maxLength !== undefined) count(st.maxLength, 'settings.maxLength', 1);
  if (!(typeof st.validationFraction === 'number' && st.validationFraction >= 0 && st.validationFraction < 1)) fail('settings.validationFraction must be in [0, 1)');
  count(st.evalEvery, 'settings.evalEvery', 0);
  count(st.evalBatches, 'settings.evalBatches', 0);
  count(st.sampleEvery, 'settings.sampleEvery', 0);
  count(st.sampleLength, 'settings.sampleLength', 0, 1_000_000);
  if (typeof st.seed !== 'number' || !Number.isInteger(st.seed)) fail('settings.seed must be an integer');
  const opt = st.optimizer as Record<string, unknown>;
  if (!isObject(opt) || !OPTIMIZER_KINDS.includes(String(opt.kind))) fail(`settings.optimizer.kind must be one of ${OPTIMIZER_KINDS.join(', ')}`);
  finite(opt.lr, 'settings.optimizer.lr');
  for (const k of ['momentum', 'dampening', 'eps', 'weightDecay', 'alpha', 'lrDecay', 'initialAccumulatorValue']) if (opt[k] !== undefined) finite(opt[k], `settings.optimizer.${k}`);
  if (opt.betas !== undefined && !(Array.isArray(opt.betas) && opt.betas.length === 2 && opt.betas.every((b) => typeof b === 'number' && b >= 0 && b < 1))) fail('settings.optimizer.betas must be two numbers in [0, 1)');
  if (st.lrDecay !== undefined) {
    const d = st.lrDecay as Record<string, unknown>;
    if (!isObject(d)) fail('settings.lrDecay must be an object');
    count(d.every, 'settings.lrDecay.every', 1);
    finite(d.factor, 'settings.lrDecay.factor');
  }
  count(t.step, 'step');
  count(t.window, 'window');
  count(t.epoch, 'epoch');
  finite(t.elapsedSeconds, 'elapsedSeconds');
  if (!(Array.isArray(t.rngState) && t.rngState.length === 4 && t.rngState.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff))) fail('rngState must be four 32-bit integers');
  for (const [name, h] of [['lossHistory', t.lossHistory], ['validationHistory', t.validationHistory]] as const) {
    if (!Array.isArray(h) || !h.every((p) => isObject(p) && Number.isInteger(p.step) && typeof p.loss === 'number')) fail(`${name} must be a list of {step, loss}`);
    if (!h.every((p) => p.gradNorm === undefined || typeof p.gradNorm === 'number')) fail(`${name}: gradNorm must be a number`);
    if (!h.every((p) => p.saturation === undefined || (Array.isArray(p.saturation) && p.saturation.every(isSaturation)))) {
      fail(`${name}: saturation must be a list of {layer, reverse, gate, low, high}`);
    }
  }
  if (t.samples !== undefined && !(Array.isArray(t.samples) && t.samples.length <= MAX_KEPT_SAMPLES
    && t.samples.every((x) => isObject(x) && Number.isInteger(x.step) && typeof x.temperature === 'number' && typeof x.text === 'string'))) {
    fail(`samples must be a list of at most ${MAX_KEPT_SAMPLES} {step, temperature, text}`);
  }
  if (!isObject(t.data) || !Array.isArray(t.data.sources) || typeof t.data.tokens !== 'number') fail('data must be {sources, tokens}');
}

function isSaturation(x: unknown): boolean {
  if (!isObject(x)) return false;
  const fraction = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;
  return Number.isInteger(x.layer) && typeof x.reverse === 'boolean' && typeof x.gate === 'string' && x.gate.length <= 2 && fraction(x.low) && fraction(x.high);
}

/** Optimizer buffers shaped as their parameters, and a carried state shaped [L*D, B, H]. */
function checkExtras(cfg: ModelConfig, params: TensorMap, optimizer: TensorMap, carried: TensorMap, training: TrainingState | undefined, source: string): void {
  for (const [name, t] of optimizer) {
    if (name === 'step') {
      if (t.shape.length !== 0 && !(t.shape.length === 1 && t.shape[0] === 1)) throw new FormatError(`${source}: optimizer step has shape ${formatShape(t.shape)}, expected a scalar`);
      continue;
    }
    const param = name.slice(0, name.lastIndexOf('.'));
    const p = params.get(param);
    if (!p) throw new FormatError(`${source}: optimizer buffer ${name} belongs to no parameter`);
    if (!shapeEquals(p.shape, t.shape)) throw new FormatError(`${source}: optimizer buffer ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(p.shape)}`);
  }
  // The carried batch is the streams' count, which a small text can make smaller than settings.batchSize.
  const first = carried.values().next().value;
  for (const [name, t] of carried) {
    if (name !== 'h' && name !== 'c') throw new FormatError(`${source}: unknown carried state ${name}`);
    const B = first!.shape[1];
    const want = [cfg.rnn.numLayers * (cfg.rnn.bidirectional ? 2 : 1), B, cfg.rnn.hiddenSize];
    if (!(Number.isInteger(B) && B >= 1 && B <= (training?.settings.batchSize ?? Infinity)) || !shapeEquals(t.shape, want)) {
      throw new FormatError(`${source}: carried state ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(want)} with 1..${training?.settings.batchSize ?? 'B'} streams`);
    }
  }
}
