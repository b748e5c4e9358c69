// Engine selection: every LmEngine implementation behind one factory. 'auto' picks the fastest engine
// that can run the config here: WASM SIMD kernels (float32) > pure-TS fast engine > reference.
// tfjs is used by 'auto' only when the user has @tensorflow/tfjs-node installed (never a dependency).
import type { LmConfig, LmEngine } from '../core/engine';
import { type FastLmEngine, fastUnsupportedReason } from '../core/fast/lmDriver';
import { type LmTraceOptions, traceTokens } from '../core/fast/trace';
import type { FloatArray } from '../core/tensor';
import { createReferenceLmEngine } from '../core/reference/lmEngine';
import type { TensorMap } from '../core/tensor';
import { createJsLmEngine } from './js';
import { createWasmLmEngine, wasmAvailability } from './wasm';

export type EngineChoice = 'auto' | 'reference' | 'wasm' | 'js' | 'tfjs';

export interface CreateEngineOptions {
  readonly engine?: EngineChoice;
  readonly params?: TensorMap;
}

export class EngineUnavailableError extends Error {}

type TfjsFactory = (cfg: LmConfig, params?: TensorMap) => LmEngine;

let tfjsFactory: TfjsFactory | null | undefined;

/** src/engines/tfjs when it is built in and its backend loads; null otherwise. */
function loadTfjs(): TfjsFactory | null {
  if (tfjsFactory !== undefined) return tfjsFactory;
  tfjsFactory = null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('./tfjs') as { createTfjsLmEngine?: TfjsFactory };
    if (typeof mod.createTfjsLmEngine === 'function') tfjsFactory = mod.createTfjsLmEngine;
  } catch {
    // Not built in, or its TensorFlow.js backend is missing: the engine is simply not offered.
  }
  return tfjsFactory;
}

/** Whether @tensorflow/tfjs-node (native TensorFlow) is installed: only then may 'auto' prefer tfjs. */
function hasTfjsNode(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/** Engine names usable here, fastest first. */
export function availableEngines(): string[] {
  const names: string[] = [];
  if (wasmAvailability().available) names.push('wasm');
  names.push('js');
  if (loadTfjs()) names.push('tfjs');
  names.push('reference');
  return names;
}

export function createLmEngine(cfg: LmConfig, options: CreateEngineOptions = {}): LmEngine {
  const choice = options.engine ?? 'auto';
  const params = options.params;
  const fastWhy = fastUnsupportedReason(cfg);
  switch (choice) {
    case 'reference':
      return createReferenceLmEngine(cfg, params);
    case 'js':
      if (fastWhy) throw new EngineUnavailableError(`the js engine does not support ${fastWhy}; use the reference engine`);
      return createJsLmEngine(cfg, params);
    case 'wasm': {
      if (fastWhy) throw new EngineUnavailableError(`the wasm engine does not support ${fastWhy}; use the reference engine`);
      const w = wasmAvailability();
      if (!w.available) throw new EngineUnavailableError(`the wasm engine is unavailable here: ${w.reason}`);
      if (cfg.rnn.dtype !== 'float32') throw new EngineUnavailableError('the wasm engine computes in float32; use the js engine for float64');
      return createWasmLmEngine(cfg, params);
    }
    case 'tfjs': {
      const f = loadTfjs();
      if (!f) throw new EngineUnavailableError('the tfjs engine is not available in this build');
      return f(cfg, params);
    }
    case 'auto': {
      // Configs the fast driver does not cover (bidirectional, Keras reset-before GRU) use the reference.
      if (fastWhy) return createReferenceLmEngine(cfg, params);
      if (hasTfjsNode()) {
        const f = loadTfjs();
        if (f) {
          try {
            return f(cfg, params);
          } catch {
            // fall through to the built-in engines
          }
        }
      }
      if (cfg.rnn.dtype === 'float32' && wasmAvailability().available) return createWasmLmEngine(cfg, params);
      return createJsLmEngine(cfg, params);
    }
    default: {
      const never: never = choice;
      throw new EngineUnavailableError(`unknown engine "${String(never)}"`);
    }
  }
}

export type { LmTraceChunk, LmTraceOptions } from '../core/fast/trace';

/**
 * Fast forward-with-trace for the trace service: runs `tokens` (vocabulary ids) through the model and hands
 * every chunk's per-step h, c and gates to options.onChunk. Returns the final state [L, streams, H].
 * Uses the WASM kernels for float32 when available, else the js engine (float64 too). Bidirectional and
 * reset-before GRU configs are not covered: use the reference lmForward for them.
 */
export function traceLm(cfg: LmConfig, params: TensorMap, tokens: ArrayLike<number>,
  options: LmTraceOptions & { readonly engine?: 'auto' | 'wasm' | 'js' }): { h: FloatArray; c?: FloatArray } {
  const why = fastUnsupportedReason(cfg);
  if (why) throw new EngineUnavailableError(`fast tracing does not support ${why}; use the reference lmForward`);
  const useWasm = options.engine === 'wasm' || ((options.engine ?? 'auto') === 'auto' && cfg.rnn.dtype === 'float32' && wasmAvailability().available);
  const engine: FastLmEngine = useWasm ? createWasmLmEngine(cfg, params) : createJsLmEngine(cfg, params);
  try {
    return traceTokens(engine, tokens, options);
  } finally {
    engine.dispose();
  }
}
