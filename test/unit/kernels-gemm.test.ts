// The WASM and native kernels' blocked GEMM (one and two threads) against a plain triple loop, over shapes that hit
// every edge: partial register tiles, several K/M/N blocks, full blocks, strided (transposed) A, accumulation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastKernels } from '../../src/core/fast/kernels';
import { createRng } from '../../src/core/random';
import { wasmAvailability } from '../../src/engines/wasm';
import { createWasmKernels } from '../../src/engines/wasm/wasmKernels';
import { createNativeFastKernels, nativeAvailability } from '../../src/engines/native';
import { createJsKernels } from '../../src/core/fast/jsKernels';

const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 40, 257], [2, 33, 130], [5, 20, 64], [3, 5, 7], [4, 8, 256], [37, 65, 300], [130, 520, 17], [32, 1024, 64], [70, 24, 600],
  // A whole 128-row block with a whole 256-deep K block: the packed A block's padded last panel (AVX2: 128 rows is
  // not a multiple of 6) once ran into the packed B block behind it.
  [300, 40, 300]];

function checkGemm(k: FastKernels): void {
  const rng = createRng(4);
  for (const [M, N, K] of SHAPES) for (const transposedA of [false, true]) for (const accumulate of [false, true]) {
    const a = 16, b = a + M * K, c = b + K * N;
    k.ensure(c + M * N);
    const h = k.heap();
    for (let i = a; i < c + M * N; i++) h[i] = rng.uniform() - 0.5;
    const before = h.slice(c, c + M * N);
    const [ars, acs] = transposedA ? [1, M] : [K, 1];
    k.gemm(M, N, K, a, ars, acs, b, N, c, N, accumulate);
    check(k, M, N, K, a, ars, acs, b, c, accumulate, before, 'gemm');
    // The same product with B pre-packed (how weights are used).
    const packed = c + M * N;
    k.ensure(packed + k.packedSize(K, N));
    k.heap().set(before, c);
    k.packB(K, N, b, N, packed);
    k.gemmPacked(M, N, K, a, ars, acs, packed, c, N, accumulate);
    check(k, M, N, K, a, ars, acs, b, c, accumulate, before, 'gemmPacked');
  }
}

function check(k: FastKernels, M: number, N: number, K: number, a: number, ars: number, acs: number, b: number, c: number,
  accumulate: boolean, before: ArrayLike<number>, what: string): void {
  {
    const out = k.heap();
    let worst = 0;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let s = accumulate ? before[m * N + n] : 0;
      for (let kk = 0; kk < K; kk++) s += out[a + m * ars + kk * acs] * out[b + kk * N + n];
      worst = Math.max(worst, Math.abs(out[c + m * N + n] - s) / (1 + Math.abs(s)));
    }
    assert.ok(worst < 1e-5, `${k.name} ${what} ${M}x${N}x${K} ars=${ars} accumulate=${accumulate}: error ${worst}`);
  }
}

const w = wasmAvailability();

test('wasm gemm matches a triple loop (one thread)', (t) => {
  if (!w.available) return t.skip(`no wasm: ${w.reason}`);
  const k = createWasmKernels(w.variant!);
  checkGemm(k);
  k.dispose();
});

test('wasm gemm matches a triple loop (two threads on shared memory)', (t) => {
  if (!w.available || w.threads !== 2) return t.skip('no shared-memory threads here');
  const k = createWasmKernels(`${w.variant!}-mt`, 2);
  checkGemm(k);
  k.dispose();
});

const n = nativeAvailability();
for (const threads of [1, 2] as const) {
  test(`native gemm matches a triple loop (${threads} thread${threads === 2 ? 's' : ''})`, (t) => {
    if (!n.available) return t.skip(`no native kernels: ${n.reason}`);
    const k = createNativeFastKernels(threads);
    k.setParallel?.(true);
    checkGemm(k);
    k.dispose();
  });
}

test('js gemm and gemmPacked match a triple loop', () => {
  checkGemm(createJsKernels('float64'));
});
