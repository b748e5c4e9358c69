// A language model's configuration from a vocabulary and a few size choices, and its seeded initial
// weights (PyTorch's default init), independent of the engine that will train it.
import { type ModelConfig, modelConfig } from '../model';
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
}

export const DEFAULT_MODEL: ModelShape = { module: 'LSTM', hiddenSize: 128, numLayers: 1, dtype: 'float32' };

export function lmConfigFor(vocab: Vocabulary, shape: Partial<ModelShape> = {}): ModelConfig {
  const s = { ...DEFAULT_MODEL, ...shape };
  const V = vocabularySize(vocab);
  return modelConfig({
    rnn: rnnConfig({ module: s.module, inputSize: V, hiddenSize: s.hiddenSize, numLayers: s.numLayers, dtype: s.dtype }),
    vocabSize: V,
  });
}

/** Initial weights from the run's seed (a stream of its own, so data shuffling does not shift it). */
export function initialWeights(cfg: ModelConfig, seed: number): TensorMap {
  return initModelParameters(cfg, createRng(seed ^ 0x5eed));
}
