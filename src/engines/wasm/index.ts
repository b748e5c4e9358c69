// The WASM SIMD engine: the fast LM driver over the C kernels, with relaxed-SIMD FMA when the runtime
// validates it (Node 20 needs --experimental-wasm-relaxed-simd) and plain SIMD128 otherwise. float32 only.
import type { LmConfig } from '../../core/engine';
import { FastLmEngine } from '../../core/fast/lmDriver';
import type { TensorMap } from '../../core/tensor';
import type { KernelVariant } from './kernelFiles';
import { createWasmKernels, forgetKernelModule, kernelModule } from './wasmKernels';

export interface WasmAvailability {
  readonly available: boolean;
  /** The best variant this runtime runs. */
  readonly variant?: KernelVariant;
  readonly reason?: string;
}

let availability: WasmAvailability | undefined;

export function wasmAvailability(): WasmAvailability {
  if (availability) return availability;
  try {
    enableRelaxedSimd();
    const variant: KernelVariant | undefined = kernelModule('relaxed') ? 'relaxed' : kernelModule('simd') ? 'simd' : undefined;
    availability = variant ? { available: true, variant } : { available: false, reason: 'WebAssembly SIMD128 kernels do not load in this runtime' };
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
  } catch {
    // Not node, or the flag is unknown: plain SIMD128 it is.
  }
}

export function createWasmLmEngine(cfg: LmConfig, params?: TensorMap, variant?: KernelVariant): FastLmEngine {
  if (cfg.rnn.dtype !== 'float32') throw new Error('the wasm engine computes in float32; use the js engine for float64');
  const v = variant ?? wasmAvailability().variant;
  if (!v) throw new Error(`the wasm engine is unavailable: ${wasmAvailability().reason}`);
  return new FastLmEngine(cfg, createWasmKernels(v), params);
}
