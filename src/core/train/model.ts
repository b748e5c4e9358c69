// A language model's configuration from a vocabulary and a few size choices, and its seeded initial
// weights (PyTorch's default init), independent of the engine that will train it.
import type { LmConfig } from '../engine';
import { type RnnModule, rnnConfig } from '../config';
import type { FloatDType, TensorMap } from '../tensor';
import { initLmParameters } from '../init';
import { createRng } from '../random';
import { type Vocabulary, vocabularySize } from '../data/tokenizer';

export interface ModelShape {
  readonly module: RnnModule;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly dtype: FloatDType;
}

export const DEFAULT_MODEL: ModelShape = { module: 'LSTM', hiddenSize: 128, numLayers: 1, dtype: 'float32' };

export function lmConfigFor(vocab: Vocabulary, shape: Partial<ModelShape> = {}): LmConfig {
  const s = { ...DEFAULT_MODEL, ...shape };
  const V = vocabularySize(vocab);
  return {
    rnn: rnnConfig({ module: s.module, inputSize: V, hiddenSize: s.hiddenSize, numLayers: s.numLayers, dtype: s.dtype }),
    vocabSize: V,
    outputSize: V,
  };
}

/** Initial weights from the run's seed (a stream of its own, so data shuffling does not shift it). */
export function initialWeights(cfg: LmConfig, seed: number): TensorMap {
  return initLmParameters(cfg, createRng(seed ^ 0x5eed));
}
