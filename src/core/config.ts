// Recurrent module configuration with PyTorch's constructor arguments, and the canonical parameter
// layout that follows from it (PyTorch names, shapes and gate order).
import type { FloatDType } from './tensor';

export type RnnModule = 'LSTM' | 'GRU' | 'RNN';
export type Nonlinearity = 'tanh' | 'relu';
/** sigmoid (PyTorch, Keras default) or Keras/tfjs hard sigmoid clip(0.2x + 0.5, 0, 1). */
export type RecurrentActivation = 'sigmoid' | 'hard_sigmoid';
/**
 * GRU candidate: PyTorch / Keras reset_after=true applies r to (W_hn h + b_hn);
 * Keras reset_after=false applies it before the matmul: W_hn (r * h) (+ b_hn, zero for Keras' single bias).
 */
export type GruReset = 'after' | 'before';

export interface RnnConfig {
  readonly module: RnnModule;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly batchFirst: boolean;
  readonly bias: boolean;
  readonly nonlinearity: Nonlinearity;
  readonly dtype: FloatDType;
  readonly recurrentActivation: RecurrentActivation;
  readonly gruReset: GruReset;
}

export const GATES: Record<RnnModule, readonly string[]> = {
  LSTM: ['i', 'f', 'g', 'o'],
  GRU: ['r', 'z', 'n'],
  RNN: [],
};

/** Row blocks of weight_ih / weight_hh / biases: 4 for LSTM, 3 for GRU, 1 for Elman RNN. */
export function gateBlocks(module: RnnModule): number {
  return module === 'LSTM' ? 4 : module === 'GRU' ? 3 : 1;
}

export function directions(cfg: RnnConfig): number {
  return cfg.bidirectional ? 2 : 1;
}

export function suffix(layer: number, reverse: boolean): string {
  return `_l${layer}${reverse ? '_reverse' : ''}`;
}

export interface ParameterSpec {
  readonly name: string;
  readonly shape: readonly [number, number] | readonly [number];
  readonly layer: number;
  readonly reverse: boolean;
  readonly kind: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh';
}

/** Parameters in nn.LSTM/GRU/RNN state_dict order. */
export function parameterSpecs(cfg: RnnConfig): ParameterSpec[] {
  const G = gateBlocks(cfg.module) * cfg.hiddenSize;
  const D = directions(cfg);
  const specs: ParameterSpec[] = [];
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    const inSize = layer === 0 ? cfg.inputSize : cfg.hiddenSize * D;
    for (let d = 0; d < D; d++) {
      const reverse = d === 1;
      const s = suffix(layer, reverse);
      specs.push({ name: `weight_ih${s}`, shape: [G, inSize], layer, reverse, kind: 'weight_ih' });
      specs.push({ name: `weight_hh${s}`, shape: [G, cfg.hiddenSize], layer, reverse, kind: 'weight_hh' });
      if (cfg.bias) {
        specs.push({ name: `bias_ih${s}`, shape: [G], layer, reverse, kind: 'bias_ih' });
        specs.push({ name: `bias_hh${s}`, shape: [G], layer, reverse, kind: 'bias_hh' });
      }
    }
  }
  return specs;
}

/** Per-timestep trace tensor names for one layer/direction, as in the PyTorch fixtures. */
export function traceNames(cfg: RnnConfig, layer: number, reverse: boolean): string[] {
  const s = suffix(layer, reverse);
  const names = [`trace${s}_h`];
  if (cfg.module === 'LSTM') names.push(`trace${s}_c`);
  for (const g of GATES[cfg.module]) names.push(`trace${s}_gate_${g}`);
  return names;
}

export class ConfigError extends Error {}

/** Largest sizes accepted from files: far beyond real models, small enough that a hostile config cannot exhaust memory. */
export const SIZE_LIMITS = { vocab: 5_000_000, width: 65_536, layers: 64 } as const;

/**
 * A config from JSON in PyTorch's spelling (`input_size`, `hidden_size`, ...; as in the fixtures'
 * case.json) or camelCase. Unknown modules and bad sizes are refused with a message naming the key.
 */
export function parseRnnConfig(json: unknown): RnnConfig {
  if (typeof json !== 'object' || json === null) throw new ConfigError('config must be a JSON object');
  const o = json as Record<string, unknown>;
  const get = (snake: string, camel: string): unknown => (o[snake] !== undefined ? o[snake] : o[camel]);
  const rawModule = String(get('module', 'mode') ?? '').toUpperCase();
  const module = rawModule === 'RNN_TANH' || rawModule === 'RNN_RELU' ? 'RNN' : rawModule;
  if (module !== 'LSTM' && module !== 'GRU' && module !== 'RNN') {
    throw new ConfigError(`unknown module "${String(get('module', 'mode'))}" (expected LSTM, GRU or RNN)`);
  }
  const int = (snake: string, camel: string, max: number, dflt?: number): number => {
    const v = get(snake, camel) ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw new ConfigError(`${snake} must be an integer in 1..${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const bool = (snake: string, camel: string, dflt: boolean): boolean => {
    const v = get(snake, camel) ?? dflt;
    if (typeof v !== 'boolean') throw new ConfigError(`${snake} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const nl = String(get('nonlinearity', 'nonlinearity') ?? (rawModule === 'RNN_RELU' ? 'relu' : 'tanh'));
  if (nl !== 'tanh' && nl !== 'relu') throw new ConfigError(`nonlinearity must be "tanh" or "relu", got "${nl}"`);
  const dtypeRaw = String(get('dtype', 'dtype') ?? 'float32').replace(/^torch\./, '');
  const dtype = dtypeRaw === 'float64' || dtypeRaw === 'double' ? 'float64'
    : dtypeRaw === 'float32' || dtypeRaw === 'float' ? 'float32' : undefined;
  if (!dtype) throw new ConfigError(`dtype must be float32 or float64, got "${dtypeRaw}"`);
  const ra = String(get('recurrent_activation', 'recurrentActivation') ?? 'sigmoid');
  if (ra !== 'sigmoid' && ra !== 'hard_sigmoid') {
    throw new ConfigError(`recurrent_activation must be "sigmoid" or "hard_sigmoid", got "${ra}"`);
  }
  const reset = String(get('gru_reset', 'gruReset') ?? 'after');
  if (reset !== 'after' && reset !== 'before') throw new ConfigError(`gru_reset must be "after" or "before", got "${reset}"`);
  return {
    module,
    inputSize: int('input_size', 'inputSize', SIZE_LIMITS.vocab),
    hiddenSize: int('hidden_size', 'hiddenSize', SIZE_LIMITS.width),
    numLayers: int('num_layers', 'numLayers', SIZE_LIMITS.layers, 1),
    bidirectional: bool('bidirectional', 'bidirectional', false),
    batchFirst: bool('batch_first', 'batchFirst', false),
    bias: bool('bias', 'bias', true),
    nonlinearity: nl,
    dtype,
    recurrentActivation: ra,
    gruReset: reset,
  };
}

/** A config with defaults filled in, for code that builds one directly. */
export function rnnConfig(partial: Partial<RnnConfig> & Pick<RnnConfig, 'module' | 'inputSize' | 'hiddenSize'>): RnnConfig {
  return {
    numLayers: 1, bidirectional: false, batchFirst: false, bias: true, nonlinearity: 'tanh',
    dtype: 'float32', recurrentActivation: 'sigmoid', gruReset: 'after', ...partial,
  };
}

/** The config in PyTorch's spelling, e.g. for checkpoint metadata. */
export function toTorchConfig(cfg: RnnConfig): Record<string, unknown> {
  return {
    module: cfg.module, input_size: cfg.inputSize, hidden_size: cfg.hiddenSize, num_layers: cfg.numLayers,
    bidirectional: cfg.bidirectional, batch_first: cfg.batchFirst, bias: cfg.bias,
    nonlinearity: cfg.module === 'RNN' ? cfg.nonlinearity : null, dtype: cfg.dtype,
    recurrent_activation: cfg.recurrentActivation, gru_reset: cfg.gruReset,
  };
}
