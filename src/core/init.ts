// PyTorch's default initialisation: nn.LSTM/GRU/RNN draw every parameter from U(-1/√H, 1/√H);
// nn.Linear draws weight and bias from U(-1/√fan_in, 1/√fan_in). (Our generator, not torch's: same law.)
import { type RnnConfig, directions, parameterSpecs } from './config';
import type { LmConfig } from './engine';
import type { Rng } from './random';
import { type FloatTensor, type TensorMap, floatArray } from './tensor';

function uniform(dtype: RnnConfig['dtype'], shape: readonly number[], bound: number, rng: Rng): FloatTensor {
  const data = floatArray(dtype, shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = (rng.uniform() * 2 - 1) * bound;
  return { dtype, shape: [...shape], data };
}

export function initRnnParameters(cfg: RnnConfig, rng: Rng): TensorMap {
  const bound = 1 / Math.sqrt(cfg.hiddenSize);
  return new Map(parameterSpecs(cfg).map((s) => [s.name, uniform(cfg.dtype, s.shape, bound, rng)]));
}

export function initLmParameters(cfg: LmConfig, rng: Rng): TensorMap {
  const params: TensorMap = new Map();
  for (const [name, t] of initRnnParameters(cfg.rnn, rng)) params.set(`rnn.${name}`, t);
  const fanIn = cfg.rnn.hiddenSize * directions(cfg.rnn);
  const bound = 1 / Math.sqrt(fanIn);
  params.set('head.weight', uniform(cfg.rnn.dtype, [cfg.outputSize, fanIn], bound, rng));
  params.set('head.bias', uniform(cfg.rnn.dtype, [cfg.outputSize], bound, rng));
  return params;
}
