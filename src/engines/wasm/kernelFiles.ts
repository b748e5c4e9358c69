// Locates and loads the prebuilt kernel binaries: next to the bundle (dist/, copied by scripts/build.mjs)
// or in src/kernels/wasm when running from source (tests, tsx).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type KernelVariant = 'simd' | 'relaxed' | 'simd-mt' | 'relaxed-mt';

const cache = new Map<KernelVariant, Uint8Array | null>();

export function kernelPath(variant: KernelVariant): string | undefined {
  const file = `kernels-${variant}.wasm`;
  const candidates = [join(__dirname, file), join(__dirname, '../../kernels/wasm', file), join(__dirname, '../src/kernels/wasm', file)];
  return candidates.find((p) => existsSync(p));
}

export function kernelBytes(variant: KernelVariant): Uint8Array | null {
  if (!cache.has(variant)) {
    const p = kernelPath(variant);
    cache.set(variant, p ? new Uint8Array(readFileSync(p)) : null);
  }
  return cache.get(variant)!;
}
