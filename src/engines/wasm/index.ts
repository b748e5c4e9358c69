// The WASM SIMD engine: the fast LM driver over the C kernels, with relaxed-SIMD FMA when the runtime
// validates it (Node 20 needs --experimental-wasm-relaxed-simd) and plain SIMD128 otherwise. float32 only.
import type { ModelConfig } from '../../core/model';
import { type FastEngineOptions, FastLmEngine } from '../../core/fast/lmDriver';
import type { TensorMap } from '../../core/tensor';
import type { KernelVariant } from './kernelFiles';
import { createWasmKernels, forgetKernelModule, kernelModule } from './wasmKernels';

export type WasmSimd = 'simd' | 'relaxed';

export interface WasmAvailability {
  readonly available: boolean;
  /** The best instruction set this runtime runs. */
  readonly variant?: WasmSimd;
  /** 2 when a helper kernel thread on shared memory can run here (and GATESCOPE_WASM_THREADS is not 1). */
  readonly threads?: 1 | 2;
  readonly reason?: string;
}

export interface WasmEngineOptions extends FastEngineOptions {
  readonly variant?: WasmSimd;
  readonly threads?: 1 | 2;
}

let availability: WasmAvailability | undefined;

export function wasmAvailability(): WasmAvailability {
  if (availability) return availability;
  try {
    enableRelaxedSimd();
    const variant: WasmSimd | undefined = kernelModule('relaxed') ? 'relaxed' : kernelModule('simd') ? 'simd' : undefined;
    if (!variant) {
      availability = { available: false, reason: 'WebAssembly SIMD128 kernels do not load in this runtime' };
    } else {
      const threads = canRunHelperThread() && kernelModule(`${variant}-mt`) ? 2 : 1;
      availability = { available: true, variant, threads };
    }
  } catch (err) {
    availability = { available: false, reason: err instanceof Error ? err.message : String(err) };
  }
  return availability;
}

/**
 * Node 20 (V8 11.3) ships relaxed SIMD behind --experimental-wasm-relaxed-simd; newer runtimes (recent
 * Electron, Node 22) have it on. Turning the flag on before the first compile gives Node 20 the FMA build.
 */
function enableRelaxedSimd(): void {
  if (kernelModule('relaxed') || process.env.GATESCOPE_NO_RELAXED_SIMD) return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
    forgetKernelModule('relaxed');
    forgetKernelModule('relaxed-mt');
  } catch {
    // Not node, or the flag is unknown: plain SIMD128 it is.
  }
}

function canRunHelperThread(): boolean {
  if (process.env.GATESCOPE_WASM_THREADS === '1' || typeof SharedArrayBuffer !== 'function') return false;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('node:os') as typeof import('node:os')).cpus().length >= 2;
  } catch {
    return false;
  }
}

/** float32 only. Defaults: the best SIMD variant and the thread count wasmAvailability() reports. */
export function createWasmLmEngine(cfg: ModelConfig, params?: TensorMap, options: WasmEngineOptions = {}): FastLmEngine {
  if (cfg.rnn.dtype !== 'float32') throw new Error('the wasm engine computes in float32; use the js engine for float64');
  const a = wasmAvailability();
  const simd = options.variant ?? a.variant;
  if (!simd) throw new Error(`the wasm engine is unavailable: ${a.reason}`);
  const threads = options.threads ?? a.threads ?? 1;
  const variant: KernelVariant = threads === 2 ? `${simd}-mt` : simd;
  return new FastLmEngine(cfg, createWasmKernels(variant, threads), params, options);
}
