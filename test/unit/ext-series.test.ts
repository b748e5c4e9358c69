import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lttb, SeriesBuilder, smoothEma, toPoints } from '../../src/extension/logic/series';

test('smoothEma is TensorBoard-debiased: weight 0 is identity, a constant stays constant', () => {
  assert.deepEqual(smoothEma([3, 1, 2], 0), [3, 1, 2]);
  assert.deepEqual(smoothEma([2, 2, 2], 0.9).map((v) => +v.toFixed(12)), [2, 2, 2]);
  const s = smoothEma([0, 10], 0.5);
  assert.equal(s[0], 0);
  assert.ok(Math.abs(s[1] - 10 * 0.5 / 0.75) < 1e-12);
  assert.ok(Number.isNaN(smoothEma([1, NaN, 1], 0.5)[1]));
  assert.throws(() => smoothEma([1], 1), /smoothing weight/);
});

test('lttb keeps endpoints and spikes and returns the requested count', () => {
  const pts = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: i === 5000 ? 100 : Math.sin(i / 100) }));
  const out = lttb(pts, 500);
  assert.equal(out.length, 500);
  assert.deepEqual(out[0], pts[0]);
  assert.deepEqual(out.at(-1), pts.at(-1));
  assert.ok(out.some((p) => p.y === 100), 'the spike survives decimation');
  assert.equal(lttb(pts.slice(0, 10), 500).length, 10);
});

test('toPoints drops values a log scale cannot show; SeriesBuilder grows', () => {
  assert.deepEqual(toPoints([1, 2, 3], [1, 0, NaN], true), [{ x: 1, y: 1 }]);
  const s = new SeriesBuilder();
  for (let i = 0; i < 1000; i++) s.push(i, i * 2);
  assert.equal(s.length, 1000);
  assert.equal(s.values()[999], 1998);
  assert.equal(s.steps().length, 1000);
  assert.equal(s.first(), 0);
  assert.equal(s.last(), 1998);
});
