// PyTorch's default initialisation: nn.LSTM/GRU/RNN draw every parameter from U(-1/√H, 1/√H);
// nn.Linear draws weight and bias from U(-1/√fan_in, 1/√fan_in); nn.Embedding N(0, 1). (Our generator, not torch's: same law.)
import { type RnnConfig, parameterSpecs } from './config';
import { type ModelConfig, headParamName } from './model';
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

/**
 * nn.Embedding draws N(0, 1) with the padding_idx row zeroed; nn.Linear U(-1/√in, 1/√in) for weight and bias.
 * Drawn in state_dict order (the char model's order is unchanged: rnn, then head weight and bias).
 */
export function initModelParameters(cfg: ModelConfig, rng: Rng): TensorMap {
  const dtype = cfg.rnn.dtype;
  const params: TensorMap = new Map();
  if (cfg.embedding) {
    const { numEmbeddings: V, embeddingDim: E, paddingIdx } = cfg.embedding;
    const data = floatArray(dtype, V * E);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    if (paddingIdx !== null) data.fill(0, paddingIdx * E, (paddingIdx + 1) * E);
    params.set('embedding.weight', { dtype, shape: [V, E], data });
  }
  for (const [name, t] of initRnnParameters(cfg.rnn, rng)) params.set(`rnn.${name}`, t);
  cfg.head.forEach((layer, i) => {
    if (layer.type !== 'Linear') return;
    const bound = 1 / Math.sqrt(layer.inFeatures);
    params.set(headParamName(cfg, i, 'weight'), uniform(dtype, [layer.outFeatures, layer.inFeatures], bound, rng));
    if (layer.bias) params.set(headParamName(cfg, i, 'bias'), uniform(dtype, [layer.outFeatures], bound, rng));
  });
  return params;
}
