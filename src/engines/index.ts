// Engine selection: every LmEngine implementation behind one factory. 'auto' picks the fastest engine
// that can run the config here: native AVX2 kernels (float32, when built) > WASM SIMD kernels (float32)
// > pure-TS fast engine > reference (only for what the fast driver refuses: a Keras reset-before GRU).
// tfjs is used by 'auto' only when the user has @tensorflow/tfjs-node installed (never a dependency).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LmEngine } from '../core/engine';
import type { ModelConfig } from '../core/model';
import { type NextTokenScorer, type SampleOptions, type SampleResult, sampleText } from '../core/sample';
import type { Vocabulary } from '../core/data/tokenizer';
import { type FastEngineOptions, type FastLmEngine, fastEngineUnsupportedReason, fastTraceUnsupportedReason } from '../core/fast/lmDriver';
import { type LmTraceOptions, traceTokens } from '../core/fast/trace';
import type { FloatArray } from '../core/tensor';
import { createReferenceLmEngine } from '../core/reference/lmEngine';
import type { TensorMap } from '../core/tensor';
import { createJsLmEngine } from './js';
import { createNativeLmEngine, nativeAvailability } from './native';
import { createWasmLmEngine, wasmAvailability } from './wasm';

export type EngineChoice = 'auto' | 'reference' | 'native' | 'wasm' | 'js' | 'tfjs';

export interface CreateEngineOptions {
  readonly engine?: EngineChoice;
  readonly params?: TensorMap;
}

export class EngineUnavailableError extends Error {}

type TfjsFactory = (cfg: ModelConfig, params?: TensorMap) => LmEngine;

interface TfjsModule {
  readonly createTfjsLmEngine: TfjsFactory;
  readonly tfjsUnsupportedReason: (cfg: ModelConfig) => string | undefined;
  readonly initTfjsBackend: (wasmDir?: string) => Promise<string>;
}

// The tfjs engine (all of TensorFlow.js) is its own bundle, dist/tfjs-engine.js, loaded only when the
// tfjs engine is asked for: scripts/build.mjs defines this name in the other bundles. Run from source
// (tests, tsx) it is undefined and ./tfjs is loaded directly.
declare const GATESCOPE_TFJS_BUNDLE: string | undefined;

function tfjsBundlePath(): string | undefined {
  return typeof GATESCOPE_TFJS_BUNDLE === 'string' ? join(__dirname, GATESCOPE_TFJS_BUNDLE) : undefined;
}

/** Whether the tfjs engine is there to load, without loading it (TensorFlow.js is large). */
function tfjsPresent(): boolean {
  const bundle = tfjsBundlePath();
  if (bundle) return existsSync(bundle);
  try {
    require.resolve('@tensorflow/tfjs');
    return true;
  } catch {
    return false;
  }
}

let tfjsModule: TfjsModule | null | undefined;

/** src/engines/tfjs (or its bundle) when it is there and loads; null otherwise. */
function loadTfjs(): TfjsModule | null {
  if (tfjsModule !== undefined) return tfjsModule;
  tfjsModule = null;
  if (!tfjsPresent()) return null;
  try {
    // A path computed at run time: esbuild must not bundle TensorFlow.js into the caller.
    const mod = require(tfjsBundlePath() ?? './tfjs') as Partial<TfjsModule>;
    if (typeof mod.createTfjsLmEngine === 'function' && typeof mod.initTfjsBackend === 'function' && typeof mod.tfjsUnsupportedReason === 'function') tfjsModule = mod as TfjsModule;
  } catch {
    // Its TensorFlow.js backend is missing: the engine is simply not offered.
  }
  return tfjsModule;
}

/**
 * Picks TensorFlow.js' backend before the first tfjs engine is made: WASM (SIMD) when its .wasm files
 * are found (next to the bundle, or wasmDir), else the pure-JS cpu backend. Returns the backend's name.
 */
export async function initTfjsBackend(wasmDir?: string): Promise<string> {
  const m = loadTfjs();
  if (!m) throw new EngineUnavailableError('the tfjs engine is not available in this build');
  return m.initTfjsBackend(wasmDir);
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
  if (nativeAvailability().available) names.push('native');
  if (wasmAvailability().available) names.push('wasm');
  names.push('js');
  if (tfjsPresent()) names.push('tfjs');
  names.push('reference');
  return names;
}

export function createLmEngine(cfg: ModelConfig, options: CreateEngineOptions = {}): LmEngine {
  const choice = options.engine ?? 'auto';
  const params = options.params;
  const fastWhy = fastEngineUnsupportedReason(cfg);
  switch (choice) {
    case 'reference':
      return createReferenceLmEngine(cfg, params);
    case 'js':
      if (fastWhy) throw new EngineUnavailableError(`the js engine does not support ${fastWhy}; use the reference engine`);
      return createJsLmEngine(cfg, params);
    case 'native':
    case 'wasm': {
      if (fastWhy) throw new EngineUnavailableError(`the ${choice} engine does not support ${fastWhy}; use the reference engine`);
      const a = choice === 'native' ? nativeAvailability() : wasmAvailability();
      if (!a.available) throw new EngineUnavailableError(`the ${choice} engine is unavailable here: ${a.reason}`);
      if (cfg.rnn.dtype !== 'float32') throw new EngineUnavailableError(`the ${choice} engine computes in float32; use the js engine for float64`);
      return choice === 'native' ? createNativeLmEngine(cfg, params) : createWasmLmEngine(cfg, params);
    }
    case 'tfjs': {
      const m = loadTfjs();
      if (!m) throw new EngineUnavailableError('the tfjs engine is not available in this build');
      const why = m.tfjsUnsupportedReason(cfg);
      if (why) throw new EngineUnavailableError(`the tfjs engine does not support ${why}`);
      return m.createTfjsLmEngine(cfg, params);
    }
    case 'auto': {
      // Configs the fast driver does not cover (Keras reset-before GRU) use the reference.
      if (fastWhy) return createReferenceLmEngine(cfg, params);
      if (hasTfjsNode()) {
        const m = loadTfjs();
        if (m) {
          try {
            return m.createTfjsLmEngine(cfg, params);
          } catch {
            // fall through to the built-in engines
          }
        }
      }
      return createFastLmEngine(cfg, params);
    }
    default: {
      const never: never = choice;
      throw new EngineUnavailableError(`unknown engine "${String(never)}"`);
    }
  }
}

/** The fastest fast-driver engine for a model the driver supports: native > wasm (float32) > js. */
function createFastLmEngine(cfg: ModelConfig, params?: TensorMap, options: FastEngineOptions = {}): FastLmEngine {
  if (cfg.rnn.dtype === 'float32' && nativeAvailability().available) return createNativeLmEngine(cfg, params, options);
  if (cfg.rnn.dtype === 'float32' && wasmAvailability().available) return createWasmLmEngine(cfg, params, options);
  return createJsLmEngine(cfg, params, options);
}

/**
 * Sampling on the fast kernels (forward only, float32 models a traced document runs fast): the next token's scores
 * as the model's own float32 arithmetic gives them. Undefined where the fast engines do not trace the model
 * (float64 samples on the reference, exactly).
 */
export function fastNextTokenScorer(cfg: ModelConfig, params: TensorMap): NextTokenScorer | undefined {
  if (cfg.rnn.dtype !== 'float32' || fastTraceUnsupportedReason(cfg)) return undefined;
  const engine = createFastLmEngine(cfg, params, { inference: true });
  const O = cfg.outputSize;
  let started = false;
  return {
    next(ids) {
      const w = engine.traceWindow(ids, 1, ids.length, started ? 'carry' : 'zero');
      started = true;
      return w.logits.subarray((ids.length - 1) * O, ids.length * O);
    },
    dispose: () => engine.dispose(),
  };
}

/** sampleText on the fast kernels where they run the model (fastNextTokenScorer), else on the reference. */
export function sampleFast(cfg: ModelConfig, params: TensorMap, vocab: Vocabulary, options: SampleOptions): SampleResult {
  const scorer = fastNextTokenScorer(cfg, params);
  try {
    return sampleText(cfg, params, vocab, options, scorer);
  } finally {
    scorer?.dispose?.();
  }
}

export type { LmTraceChunk, LmTraceOptions } from '../core/fast/trace';

/**
 * Fast forward-with-trace for the trace service: runs `tokens` (vocabulary ids) through the model and hands
 * every chunk's per-step h, c and gates to options.onChunk. Returns the final state [L, streams, H].
 * Uses the native or WASM kernels for float32 when available, else the js engine (float64 too). Bidirectional
 * stacks (src/core/fast/bidiTrace.ts), classifier readouts and reset-before GRUs are not covered.
 */
export function traceLm(cfg: ModelConfig, params: TensorMap, tokens: ArrayLike<number>,
  options: LmTraceOptions & { readonly engine?: 'auto' | 'native' | 'wasm' | 'js' }): { h: FloatArray; c?: FloatArray } {
  const why = fastTraceUnsupportedReason(cfg);
  if (why) throw new EngineUnavailableError(`fast tracing does not support ${why}; use the reference lmForward`);
  const choice = options.engine ?? 'auto';
  const inference = { inference: true } as const;
  const engine: FastLmEngine = choice === 'auto' ? createFastLmEngine(cfg, params, inference)
    : choice === 'native' ? createNativeLmEngine(cfg, params, inference)
      : choice === 'wasm' ? createWasmLmEngine(cfg, params, inference) : createJsLmEngine(cfg, params, inference);
  try {
    return traceTokens(engine, tokens, options);
  } finally {
    engine.dispose();
  }
}
