// The kernels the general fast model added, on every backend against the plain TypeScript ones: the fused
// softmax cross-entropy (bias, ignored rows), packing B = W^T straight from W, the gradient norm and scaling,
// scatterAddRows from a token offset, and two-thread GEMMs tall enough to split by rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNORE_INDEX } from '../../src/core/engine';
import { createOptimizer } from '../../src/core/optim';
import { createRng } from '../../src/core/random';
import type { FloatTensor } from '../../src/core/tensor';
import type { FastKernels } from '../../src/core/fast/kernels';
import { createJsKernels } from '../../src/core/fast/jsKernels';
import { createNativeFastKernels, nativeAvailability } from '../../src/engines/native';
import { createWasmKernels } from '../../src/engines/wasm/wasmKernels';
import { wasmAvailability } from '../../src/engines/wasm';

const backends: { name: string; make: () => FastKernels }[] = [{ name: 'js f32', make: () => createJsKernels('float32') }];
const w = wasmAvailability();
if (w.available) {
  backends.push({ name: `wasm ${w.variant}`, make: () => createWasmKernels(w.variant!, 1) });
  if (w.threads === 2) backends.push({ name: 'wasm 2 threads', make: () => createWasmKernels(`${w.variant!}-mt`, 2) });
}
const n = nativeAvailability();
if (n.available) {
  backends.push({ name: 'native', make: () => createNativeFastKernels(1) });
  if (n.threads === 2) backends.push({ name: 'native 2 threads', make: () => createNativeFastKernels(2) });
}

const values = (count: number, seed: number): Float32Array => Float32Array.from({ length: count }, (_, i) => Math.sin(seed + i * 0.37) * 1.5);

for (const b of backends) {
  test(`${b.name}: gemm and gemmPacked split by rows or columns equal the plain product`, () => {
    const k = b.make();
    k.setParallel?.(true);
    // The last three are big enough for the two threads to take blocks from a shared counter (by rows, by columns).
    for (const [M, N, K, transposedA] of [[300, 40, 50, false], [300, 40, 50, true], [257, 130, 33, false], [20, 300, 40, false],
      [600, 130, 300, false], [600, 130, 300, true], [200, 1100, 80, false]] as const) {
      const a = 16, bb = a + M * K, packed = bb + K * N, c = packed + k.packedSize(K, N), c2 = c + M * N;
      k.ensure(c2 + M * N + 16);
      const h = k.heap();
      h.set(values(M * K, 1), a);
      h.set(values(K * N, 2), bb);
      const [ars, acs] = transposedA ? [1, M] : [K, 1];
      k.gemm(M, N, K, a, ars, acs, bb, N, c, N, false);
      k.packB(K, N, bb, N, packed);
      k.gemmPacked(M, N, K, a, ars, acs, packed, c2, N, false);
      let worst = 0;
      for (let m = 0; m < M; m++) {
        for (let j = 0; j < N; j++) {
          let want = 0;
          for (let q = 0; q < K; q++) want += h[a + m * ars + q * acs] * h[bb + q * N + j];
          worst = Math.max(worst, Math.abs(h[c + m * N + j] - want), Math.abs(h[c2 + m * N + j] - want));
        }
      }
      assert.ok(worst < 1e-3, `${M}x${N}x${K}${transposedA ? ' (A^T)' : ''}: off by ${worst}`);
    }
    k.dispose();
  });

  // Only backends with the op get the test (js transposes, then packs).
  const withPackBT = b.make();
  const hasPackBT = !!withPackBT.packBT;
  withPackBT.dispose();
  if (hasPackBT) test(`${b.name}: packBT packs W^T exactly as transpose + packB`, () => {
    const k = b.make();
    if (!k.packBT) throw new Error('packBT vanished');
    for (const [K, N, ldw] of [[7, 33, 7], [40, 300, 50], [300, 17, 310]] as const) {
      const wOff = 16, tOff = wOff + N * ldw, p1 = tOff + K * N, p2 = p1 + k.packedSize(K, N);
      k.ensure(p2 + k.packedSize(K, N) + 16);
      const h = k.heap();
      h.set(values(N * ldw, 3), wOff);
      for (let r = 0; r < N; r++) for (let q = 0; q < K; q++) h[tOff + q * N + r] = h[wOff + r * ldw + q];
      k.packB(K, N, tOff, N, p1);
      k.packBT(K, N, wOff, ldw, p2);
      const size = k.packedSize(K, N);
      assert.deepEqual(h.slice(p2, p2 + size), h.slice(p1, p1 + size), `K ${K} N ${N} ldw ${ldw}`);
    }
    k.dispose();
  });

  test(`${b.name}: softmax cross-entropy with a fused bias and ignored rows`, () => {
    const k = b.make();
    const js = createJsKernels('float64');
    for (const [rows, V] of [[9, 13], [70, 1030], [300, 400]] as const) {
      const targets = Int32Array.from({ length: rows }, (_, r) => (r % 4 === 3 ? IGNORE_INDEX : (r * 7) % V));
      const logits = values(rows * V, 4), bias = values(V, 5);
      for (const scale of [0, 1 / 7]) {
        // The bias gradient (the gradient's column sums) lands after the bias; left alone without a gradient.
        const off = 16, bo = off + rows * V, go = bo + V;
        k.ensure(go + V + 16);
        k.heap().set(logits, off);
        k.heap().set(bias, bo);
        k.heap().fill(7, go, go + V);
        k.setTokens(new Int32Array(0), targets);
        const loss = k.softmaxCrossEntropy(off, rows, V, scale, bo, go);
        js.ensure(go + V + 16);
        js.heap().set(logits, off);
        js.heap().set(bias, bo);
        js.heap().fill(7, go, go + V);
        js.setTokens(new Int32Array(0), targets);
        const want = js.softmaxCrossEntropy(off, rows, V, scale, bo, go);
        assert.ok(Math.abs(loss - want) <= 1e-5 * Math.abs(want), `${rows}x${V} scale ${scale}: loss ${loss} vs ${want}`);
        let worst = 0;
        for (let i = 0; i < rows * V; i++) worst = Math.max(worst, Math.abs(k.heap()[off + i] - js.heap()[off + i]));
        assert.ok(worst < 1e-6, `${rows}x${V} scale ${scale}: ${scale ? 'gradients' : 'logits + bias'} off by ${worst}`);
        let biasWorst = 0;
        for (let j = 0; j < V; j++) {
          let sum = 0;
          for (let r = 0; r < rows; r++) sum += js.heap()[off + r * V + j];
          if (scale === 0) sum = 7;
          biasWorst = Math.max(biasWorst, Math.abs(k.heap()[go + j] - sum), Math.abs(js.heap()[go + j] - sum));
        }
        assert.ok(biasWorst < 1e-6, `${rows}x${V} scale ${scale}: bias gradient off by ${biasWorst}`);
      }
    }
    k.dispose();
  });

  test(`${b.name}: gradient norm and scaling; scatterAddRows from a token offset`, () => {
    const k = b.make();
    const count = 70_001, off = 16;
    k.ensure(off + count + 16);
    const x = values(count, 6);
    k.heap().set(x, off);
    const want = x.reduce((s, v) => s + v * v, 0);
    if (k.sumSquares && k.scale) {
      assert.ok(Math.abs(k.sumSquares(off, count) - want) <= 1e-12 * want);
      k.scale(off, count, 0.5);
      assert.equal(k.heap()[off + 12345], Math.fround(x[12345] * 0.5));
    }
    const width = 5, rows = 6, dst = off + 100;
    k.heap().fill(0, dst, dst + 4 * width);
    k.heap().set(values(rows * width, 7), off);
    k.setTokens(Int32Array.of(9, 9, 9, 2, 0, 2, 1, 3, 2), new Int32Array(0));
    k.scatterAddRows(off, width, rows, dst, 3); // tokens 2 0 2 1 3 2
    const src = k.heap().slice(off, off + rows * width);
    const expected = new Float32Array(4 * width);
    [2, 0, 2, 1, 3, 2].forEach((id, r) => { for (let j = 0; j < width; j++) expected[id * width + j] += src[r * width + j]; });
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(k.heap()[dst + i] - expected[i]) < 1e-6);
    k.dispose();
  });
}

for (const b of backends) {
  // Only backends with an Adam kernel get the test (js runs optim.ts itself).
  const withAdam = b.make();
  const hasAdam = !!withAdam.adamStep;
  withAdam.dispose();
  if (hasAdam) test(`${b.name}: adamStep equals optim.ts Adam bit for bit`, () => {
    const k = b.make();
    if (!k.adamStep) throw new Error('adamStep vanished');
    k.setParallel?.(true);
    const n = 10_003, rng = createRng(8);
    const [P, G, M, V] = [16, 16 + n + 5, 16 + 2 * n + 10, 16 + 3 * n + 15];
    k.ensure(V + n);
    for (const weightDecay of [0, 0.1]) {
      const p = Float32Array.from({ length: n }, () => rng.normal());
      const cfg = { kind: 'adam' as const, lr: 0.01, betas: [0.8, 0.99] as const, eps: 1e-6, weightDecay };
      const ref = createOptimizer(cfg);
      const refP: FloatTensor = { dtype: 'float32', shape: [n], data: p.slice() };
      k.heap().set(p, P);
      k.fill(M, n, 0);
      k.fill(V, n, 0);
      for (let step = 1; step <= 3; step++) {
        const g = Float32Array.from({ length: n }, () => rng.normal() * 0.1);
        ref.step(new Map([['w', refP]]), new Map([['w', { dtype: 'float32', shape: [n], data: g } as FloatTensor]]));
        k.heap().set(g, G);
        k.adamStep!(n, P, G, M, V, [0.8, 0.99, cfg.lr / (1 - 0.8 ** step), Math.sqrt(1 - 0.99 ** step), 1e-6, weightDecay]);
        assert.deepEqual(k.heap().slice(P, P + n), refP.data, `weight decay ${weightDecay} step ${step}`);
      }
    }
    k.dispose();
  });
}
