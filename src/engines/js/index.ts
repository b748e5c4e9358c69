// The pure-TypeScript fast engine: the layer-wise driver over plain typed-array loops. Runs anywhere
// (no WebAssembly needed) and is the float64 fast path.
import type { ModelConfig } from '../../core/model';
import { createJsKernels } from '../../core/fast/jsKernels';
import { type FastEngineOptions, FastLmEngine } from '../../core/fast/lmDriver';
import type { TensorMap } from '../../core/tensor';

export function createJsLmEngine(cfg: ModelConfig, params?: TensorMap, options: FastEngineOptions = {}): FastLmEngine {
  return new FastLmEngine(cfg, createJsKernels(cfg.rnn.dtype), params, options);
}
