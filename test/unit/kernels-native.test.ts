// The native addon's safety net: offsets are checked against the heap, so a driver bug is a RangeError in
// JavaScript instead of a wild write that would take the extension host down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNativeFastKernels, nativeAddonPath, nativeAvailability } from '../../src/engines/native';
import type { NativeAddon } from '../../src/engines/native/nativeKernels';

const n = nativeAvailability();

test('native kernels refuse offsets outside the heap, bad tokens and use after dispose', (t) => {
  if (!n.available) return t.skip(`no native kernels: ${n.reason}`);
  const addon = require(nativeAddonPath()!) as NativeAddon;
  assert.equal(addon.lanes, 8);
  const k = addon.create(2);
  k.setHeap(new Float32Array(1000).buffer);
  assert.throws(() => k.gemm(10, 10, 10, 0, 10, 1, 100, 10, 995, 10, false), RangeError);
  assert.throws(() => k.transpose(-1, 2, 2, 10), RangeError);
  assert.throws(() => k.lstmForward(4, 64, 0, 0, 0, 0, 0, false), RangeError);
  k.setTokens(Int32Array.of(0, 1, -2));
  assert.throws(() => k.gatherRows(0, 100, 4, 3, 200, 0), /negative token/);
  k.setTokens(Int32Array.of(0, 1));
  assert.throws(() => k.gatherRows(0, 100, 4, 3, 200, 0), /more rows than tokens/);
  assert.throws(() => k.gatherRows(0, 100, 4, 1, 200, 2), /more rows than tokens/);
  assert.throws(() => k.setTokens([1, 2] as unknown as Int32Array), TypeError);
  k.gatherRows(0, 100, 4, 2, 200, 0); // in bounds: fine
  k.gatherRows(0, 100, 4, 1, 200, 1);
  k.dispose();
  assert.throws(() => k.colSum(0, 1, 1, 4), /disposed/);
  assert.throws(() => k.setTokens(Int32Array.of(1)), /disposed/);
  assert.throws(() => k.setHeap(new ArrayBuffer(8)), /disposed/);
});

test('native gatherRows split across two threads equals the row-by-row definition', (t) => {
  if (!n.available) return t.skip(`no native kernels: ${n.reason}`);
  const k = createNativeFastKernels(2);
  const V = 7, W = 512, rows = 64, first = 3;
  const table = 16, bias = table + V * W, out = bias + W;
  k.ensure(out + rows * W);
  const h = k.heap();
  for (let i = table; i < out; i++) h[i] = Math.sin(i);
  const tokens = Int32Array.from({ length: first + rows }, (_, i) => (i * 5) % V);
  k.setTokens(tokens, tokens);
  k.gatherRows(out, table, W, rows, bias, first);
  for (let r = 0; r < rows; r++) for (let j = 0; j < W; j++) {
    const want = Math.fround(h[table + tokens[first + r] * W + j] + h[bias + j]);
    assert.equal(h[out + r * W + j], want, `row ${r} column ${j}`);
  }
  k.dispose();
});
