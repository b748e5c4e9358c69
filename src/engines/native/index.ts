// The native engine: the fast LM driver over the C kernels compiled for this CPU (AVX2 + FMA) as a
// Node-API addon. Optional: it exists only where scripts/build-native.sh could build the addon (a C
// compiler and Node's headers at build time) and the CPU runs it; everywhere else the wasm engine is used.
// float32 only. GATESCOPE_NATIVE=0 turns it off.
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { ModelConfig } from '../../core/model';
import type { FastKernels } from '../../core/fast/kernels';
import { type FastEngineOptions, FastLmEngine } from '../../core/fast/lmDriver';
import type { TensorMap } from '../../core/tensor';
import { type NativeAddon, createNativeKernels } from './nativeKernels';

const ADDON = 'gatescope-kernels.node';

export interface NativeAvailability {
  readonly available: boolean;
  readonly threads?: 1 | 2;
  readonly reason?: string;
}

/** Next to the bundle (dist/), or dist/ of the checkout when running from source (tests, tsx). */
export function nativeAddonPath(): string | undefined {
  return [join(__dirname, ADDON), join(__dirname, '../../../dist', ADDON)].find((p) => existsSync(p));
}

let loaded: { addon?: NativeAddon; availability: NativeAvailability } | undefined;

function load(): { addon?: NativeAddon; availability: NativeAvailability } {
  if (loaded) return loaded;
  const path = nativeAddonPath();
  if (process.env.GATESCOPE_NATIVE === '0') {
    loaded = { availability: { available: false, reason: 'turned off by GATESCOPE_NATIVE=0' } };
  } else if (!path) {
    loaded = { availability: { available: false, reason: `${ADDON} was not built (scripts/build-native.sh needs a C compiler and Node's headers)` } };
  } else {
    try {
      // A path computed at run time: esbuild leaves the addon out of the bundle.
      const addon = require(path) as NativeAddon;
      if (addon.unsupported) {
        loaded = { availability: { available: false, reason: addon.unsupported } };
      } else {
        const threads = process.env.GATESCOPE_NATIVE_THREADS === '1' || cpus().length < 2 ? 1 : 2;
        loaded = { addon, availability: { available: true, threads } };
      }
    } catch (err) {
      loaded = { availability: { available: false, reason: `${ADDON} does not load here: ${err instanceof Error ? err.message : String(err)}` } };
    }
  }
  return loaded;
}

export function nativeAvailability(): NativeAvailability {
  return load().availability;
}

/** The native kernels alone (float32), for drivers other than the LM engine (e.g. bidirectional traces). */
export function createNativeFastKernels(threads?: 1 | 2): FastKernels {
  const { addon, availability } = load();
  if (!addon) throw new Error(`the native engine is unavailable: ${availability.reason}`);
  return createNativeKernels(addon, threads ?? availability.threads ?? 1);
}

export function createNativeLmEngine(cfg: ModelConfig, params?: TensorMap, options: { readonly threads?: 1 | 2 } & FastEngineOptions = {}): FastLmEngine {
  if (cfg.rnn.dtype !== 'float32') throw new Error('the native engine computes in float32; use the js engine for float64');
  return new FastLmEngine(cfg, createNativeFastKernels(options.threads), params, options);
}
