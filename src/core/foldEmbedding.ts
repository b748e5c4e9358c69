// An embedding followed by the first layer's input weights is, for inference, one table: token v's input
// projection W_ih · E[v] is column v of W_ih · Eᵀ. Folding it turns any embedding model into the equivalent
// one-hot model, so the token-stream trace paths (row-gather kernels) serve both; exact up to rounding.
import { type ModelConfig, modelConfig } from './model';
import { type FloatArray, type FloatDType, type FloatTensor, type TensorMap, floatArray, toFloat } from './tensor';

export interface FoldedModel {
  readonly config: ModelConfig;
  readonly params: TensorMap;
}

/** out[r*V + v] = Σ_k W[r*E + k] · table[v*E + k]: W·tableᵀ, [rows, V] in `dtype`. */
export type FoldProduct = (W: ArrayLike<number>, table: ArrayLike<number>, rows: number, V: number, E: number, dtype: FloatDType) => FloatArray;

/** The product as written: float64 sums, one dot product per entry. */
const plainProduct: FoldProduct = (W, table, rows, V, E, dtype) => {
  const folded = floatArray(dtype, rows * V);
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let k = 0; k < E; k++) s += W[r * E + k] * table[v * E + k];
      folded[r * V + v] = s;
    }
  }
  return folded;
};

/** `product`: how to multiply (rows·V·E multiply-adds: a word model's is a GEMM worth the fast kernels). */
export function foldEmbedding(config: ModelConfig, params: TensorMap, product: FoldProduct = plainProduct): FoldedModel {
  if (!config.embedding) return { config, params };
  const dtype = config.rnn.dtype;
  const V = config.vocabSize, E = config.embedding.embeddingDim;
  const table = params.get('embedding.weight');
  if (!table || table.shape[0] !== V || table.shape[1] !== E) throw new RangeError(`embedding.weight must be [${V}, ${E}]`);
  const T = toFloat(table, 'float64').data;
  const layer0 = config.rnn.bidirectional ? ['rnn.weight_ih_l0', 'rnn.weight_ih_l0_reverse'] : ['rnn.weight_ih_l0'];
  const out: TensorMap = new Map();
  for (const [name, t] of params) {
    if (name === 'embedding.weight') continue;
    if (!layer0.includes(name)) {
      out.set(name, t);
      continue;
    }
    const rows = t.shape[0];
    if (t.shape[1] !== E) throw new RangeError(`${name} [${t.shape}] does not take the ${E}-wide embedding`);
    const folded = product(toFloat(t, 'float64').data, T, rows, V, E, dtype);
    out.set(name, { dtype, shape: [rows, V], data: folded } as FloatTensor);
  }
  return {
    config: modelConfig({ ...config, embedding: null, rnn: { ...config.rnn, inputSize: V } }),
    params: out,
  };
}
