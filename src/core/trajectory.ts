// Replaying a PyTorch training trajectory (fixtures' `kind: "trajectory"` cases): the model from case.json,
// the initial weights, one batch per optimizer step, and the weights after every step — so a user can
// check that gatescope (or their own implementation) trains exactly as PyTorch did.
import { ConfigError } from './config';
import type { ClipConfig, LmBatch, LmEngine, OptimizerConfig, OptimizerKind } from './engine';
import { IGNORE_INDEX } from './engine';
import { type ModelConfig, parseModelConfig, taskOf } from './model';
import { type Tensor, type TensorMap, formatShape, toNumbers } from './tensor';

export interface TrajectoryCase {
  readonly model: ModelConfig;
  readonly optimizer: OptimizerConfig;
  readonly clip?: ClipConfig;
  readonly steps: number;
  readonly batchSize: number;
  readonly seqLen: number;
  /** PyTorch's loss and gradient norm at each step, when the case records them. */
  readonly losses?: readonly number[];
  readonly gradNorms?: readonly number[];
}

const OPTIMIZERS: readonly OptimizerKind[] = ['sgd', 'adam', 'rmsprop', 'adagrad'];

/** torch.optim arguments in PyTorch's spelling (`weight_decay`, `betas`, ...) as an OptimizerConfig. */
export function parseOptimizerJson(json: unknown, where = 'optimizer'): OptimizerConfig {
  if (typeof json !== 'object' || json === null) throw new ConfigError(`${where} must be an object`);
  const o = json as Record<string, unknown>;
  const kind = String(o.kind ?? o.type ?? '').toLowerCase() as OptimizerKind;
  if (!OPTIMIZERS.includes(kind)) throw new ConfigError(`${where}.kind must be one of ${OPTIMIZERS.join(', ')}, got ${JSON.stringify(o.kind)}`);
  const num = (key: string): number | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`${where}.${key} must be a non-negative number, got ${JSON.stringify(v)}`);
    return v;
  };
  const lr = num('lr');
  if (lr === undefined) throw new ConfigError(`${where}.lr is required`);
  const bool = (key: string): boolean | undefined => (o[key] === undefined ? undefined : o[key] === true);
  let betas: readonly [number, number] | undefined;
  if (o.betas !== undefined) {
    const b = o.betas;
    if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number' && x >= 0 && x < 1)) {
      throw new ConfigError(`${where}.betas must be two numbers in [0, 1)`);
    }
    betas = [b[0] as number, b[1] as number];
  }
  const pick = <T>(key: string, v: T | undefined): Record<string, T> => (v === undefined ? {} : { [key]: v });
  return {
    kind, lr,
    ...pick('momentum', num('momentum')), ...pick('dampening', num('dampening')), ...pick('nesterov', bool('nesterov')),
    ...pick('betas', betas), ...pick('eps', num('eps')), ...pick('weightDecay', num('weight_decay')),
    ...pick('alpha', num('alpha')), ...pick('centered', bool('centered')), ...pick('lrDecay', num('lr_decay')),
    ...pick('initialAccumulatorValue', num('initial_accumulator_value')),
  };
}

export function parseClipJson(json: unknown): ClipConfig | undefined {
  if (json === null || json === undefined) return undefined;
  const o = json as Record<string, unknown>;
  const positive = (v: unknown, key: string): number => {
    if (typeof v !== 'number' || !(v > 0)) throw new ConfigError(`clip.${key} must be a positive number`);
    return v;
  };
  if (o.max_norm !== undefined) return { maxNorm: positive(o.max_norm, 'max_norm') };
  if (o.value !== undefined) return { value: positive(o.value, 'value') };
  throw new ConfigError('clip must be {"max_norm": N}, {"value": V} or null');
}

export function isTrajectoryCase(json: unknown): boolean {
  return typeof json === 'object' && json !== null && (json as Record<string, unknown>).kind === 'trajectory';
}

export function parseTrajectoryCase(json: unknown): TrajectoryCase {
  const o = json as Record<string, unknown>;
  const int = (key: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000) throw new ConfigError(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const model = parseModelConfig(o.model);
  if (o.task !== undefined && o.task !== taskOf(model)) {
    throw new ConfigError(`task "${String(o.task)}" does not match the ${model.readout} readout`);
  }
  const numbers = (key: string): number[] | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new ConfigError(`"${key}" must be a list of numbers`);
    return v as number[];
  };
  return {
    model, optimizer: parseOptimizerJson(o.optimizer), clip: parseClipJson(o.clip),
    steps: int('steps'), batchSize: int('batch_size'), seqLen: int('seq_len'),
    losses: numbers('losses'), gradNorms: numbers('grad_norms'),
  };
}

function required(map: TensorMap, name: string, file: string, shape: readonly number[]): number[] {
  const t: Tensor | undefined = map.get(name);
  if (!t) throw new ConfigError(`${file}: no tensor named "${name}"`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ConfigError(`${file}: ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
  }
  return toNumbers(t);
}

/** The case's batches from data.safetensors (`tokens`, `lengths`, and `targets` or `labels`), checked. */
export function trajectoryBatches(c: TrajectoryCase, data: TensorMap, file = 'data.safetensors'): LmBatch[] {
  const { steps: S, batchSize: B, seqLen: T } = c;
  const tokens = required(data, 'tokens', file, [S, B, T]);
  const lengths = required(data, 'lengths', file, [S, B]);
  const classify = taskOf(c.model) === 'classify';
  const targets = classify ? required(data, 'labels', file, [S, B]) : required(data, 'targets', file, [S, B, T]);
  const V = c.model.vocabSize, C = c.model.outputSize;
  const batches: LmBatch[] = [];
  for (let s = 0; s < S; s++) {
    const len = Int32Array.from(lengths.slice(s * B, (s + 1) * B));
    len.forEach((l, b) => {
      if (!(l >= 1 && l <= T)) throw new ConfigError(`${file}: lengths[${s}, ${b}] = ${l} is outside 1..${T}`);
    });
    const inputs = Int32Array.from(tokens.slice(s * B * T, (s + 1) * B * T));
    inputs.forEach((id, i) => {
      if (!(id >= 0 && id < V)) throw new ConfigError(`${file}: token ${id} at step ${s + 1}, position ${i} is outside the vocabulary of ${V}`);
    });
    const tg = Int32Array.from(classify ? targets.slice(s * B, (s + 1) * B) : targets.slice(s * B * T, (s + 1) * B * T));
    tg.forEach((y) => {
      if (!(y === IGNORE_INDEX && !classify) && !(y >= 0 && y < C)) throw new ConfigError(`${file}: ${classify ? 'label' : 'target'} ${y} at step ${s + 1} is outside 0..${C - 1}`);
    });
    batches.push({ batchSize: B, seqLen: T, inputs, targets: tg, lengths: len });
  }
  return batches;
}

export interface TrajectoryStep {
  readonly step: number;
  readonly loss: number;
  readonly gradNorm: number;
  /** `step{s}.<param>` after the step's update. */
  readonly snapshot: TensorMap;
}

/** Trains `engine` (built for c.model from the case's init) one step per batch, reporting each. */
export function replayTrajectory(c: TrajectoryCase, engine: LmEngine, batches: readonly LmBatch[], onStep: (s: TrajectoryStep) => void): void {
  batches.forEach((batch, i) => {
    const r = engine.trainStep(batch, { optimizer: c.optimizer, clip: c.clip, stateful: false });
    const snapshot: TensorMap = new Map();
    for (const [name, t] of engine.getParameters()) snapshot.set(`step${i + 1}.${name}`, t);
    onStep({ step: i + 1, loss: r.loss, gradNorm: r.gradNorm, snapshot });
  });
}
