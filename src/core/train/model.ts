// A model's description from a vocabulary and the user's choices (the CLI flags, the Train command), and
// its seeded initial weights (PyTorch's default init), independent of the engine that will train it.
import { type ModelConfig, type Readout, modelConfig, parseHeadSpec } from '../model';
import { type RnnModule, rnnConfig } from '../config';
import type { FloatDType, TensorMap } from '../tensor';
import { initModelParameters } from '../init';
import { createRng } from '../random';
import { type Vocabulary, vocabularySize } from '../data/tokenizer';

export interface ModelShape {
  readonly module: RnnModule;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly dtype: FloatDType;
  readonly bidirectional: boolean;
  readonly bias: boolean;
  readonly nonlinearity: 'tanh' | 'relu';
  /** nn.Embedding width; 0 = one-hot tokens (the char model). */
  readonly embeddingDim: number;
  /** Row of the embedding that padding uses (nn.Embedding's padding_idx), or null. */
  readonly paddingIdx: number | null;
  /** nn.LSTM's dropout between layers. */
  readonly dropout: number;
  /** per_step for a language model; last, mean or max for a classifier. */
  readonly readout: Readout;
  /** Hidden head layers before the output Linear, e.g. `128,relu,dropout0.2`; empty = one Linear. */
  readonly head: string;
}

export const DEFAULT_MODEL: ModelShape = {
  module: 'LSTM', hiddenSize: 128, numLayers: 1, dtype: 'float32', bidirectional: false, bias: true, nonlinearity: 'tanh',
  embeddingDim: 0, paddingIdx: null, dropout: 0, readout: 'per_step', head: '',
};

/** A language model over `vocab` (outputs = vocabulary), or a classifier into `classes` classes. */
export function modelConfigFor(vocab: Vocabulary, shape: Partial<ModelShape> = {}, classes?: number): ModelConfig {
  const s = { ...DEFAULT_MODEL, ...shape };
  const V = vocabularySize(vocab);
  const rnn = rnnConfig({
    module: s.module, inputSize: s.embeddingDim > 0 ? s.embeddingDim : V, hiddenSize: s.hiddenSize, numLayers: s.numLayers,
    dtype: s.dtype, bidirectional: s.bidirectional, bias: s.bias, nonlinearity: s.nonlinearity,
  });
  const classify = s.readout !== 'per_step';
  if (classify && !(classes !== undefined && classes >= 2)) throw new RangeError('a classifier needs two or more classes');
  const outputs = classify ? classes! : V;
  const head = s.head.trim() ? parseHeadSpec(s.head, s.hiddenSize * (s.bidirectional ? 2 : 1), outputs) : undefined;
  return modelConfig({
    rnn, vocabSize: V, outputSize: outputs, readout: s.readout, rnnDropout: s.dropout,
    embedding: s.embeddingDim > 0 ? { numEmbeddings: V, embeddingDim: s.embeddingDim, paddingIdx: s.paddingIdx } : null,
    // The char model keeps its single nn.Linear named `head`; any other head is an nn.Sequential.
    ...(head ? { head, headSequential: true } : {}),
  });
}

/** Initial weights from the run's seed (a stream of its own, so data shuffling does not shift it). */
export function initialWeights(cfg: ModelConfig, seed: number): TensorMap {
  return initModelParameters(cfg, createRng(seed ^ 0x5eed));
}
