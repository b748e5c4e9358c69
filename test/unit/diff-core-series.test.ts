import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { diffTensors, elementwiseDifference, epochSeries } from '../../src/core/diff/diff';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import type { FloatTensor, TensorMap } from '../../src/core/tensor';
import { fixturePath } from '../fixtures';

const clone = (m: TensorMap): TensorMap => new Map([...m].map(([k, v]) => [k, { ...v, data: v.data.slice() } as FloatTensor]));

test('per-gate rows carry max |a - b| of their block', () => {
  const a = parseSafetensors(readFileSync(fixturePath('lstm_1l_f64/weights.safetensors'))).tensors;
  const b = clone(a);
  const w = b.get('weight_ih_l0')!;
  (w.data as Float64Array)[w.data.length - 1] += 0.25; // last row: gate o
  const gates = diffTensors(a, b).tensors.find((t) => t.name === 'weight_ih_l0')!.gates!;
  assert.deepEqual(gates.slice(0, 3).map((g) => [g.gate, g.maxAbs]), [['i', 0], ['f', 0], ['g', 0]]);
  assert.equal(gates[3].gate, 'o');
  assert.ok(Math.abs(gates[3].maxAbs - 0.25) < 1e-12);
});

test('elementwiseDifference is b - a and refuses other shapes', () => {
  const a: FloatTensor = { dtype: 'float64', shape: [2, 2], data: Float64Array.of(1, 2, 3, 4) };
  const b: FloatTensor = { dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, 2.5, 3, 3) };
  assert.deepEqual([...elementwiseDifference(a, b)], [0, 0.5, 0, -1]);
  assert.throws(() => elementwiseDifference(a, { ...b, shape: [4] }), /same shape/);
});

test('epochSeries: one relative-error series per tensor over the epochs of a trajectory', () => {
  const t = parseSafetensors(readFileSync(fixturePath('seed000_sgd/trajectory.safetensors'))).tensors;
  const b = clone(t);
  for (const [k, v] of b) {
    const e = /^epoch(\d+)\.fc\.bias$/.exec(k);
    if (e) (v.data as Float32Array).forEach((x, i, d) => { d[i] = x + Number(e[1]) * 1e-2; });
  }
  const s = epochSeries(diffTensors(t, b))!;
  const names = new Set([...t.keys()].map((k) => k.replace(/^epoch\d+\./, '')));
  assert.deepEqual(s.series.map((x) => x.name).sort(), [...names].sort());
  assert.deepEqual(s.epochs, [...new Set([...t.keys()].map((k) => Number(/^epoch(\d+)/.exec(k)![1])))].sort((x, y) => x - y));
  const bias = s.series.find((x) => x.name === 'fc.bias')!.relErr;
  assert.ok(bias.every((v, i) => v > 0 && (i === 0 || v > bias[i - 1])), 'the error grows with the epoch');
  assert.ok(s.series.filter((x) => x.name !== 'fc.bias').every((x) => x.relErr.every((v) => v === 0)));
  assert.equal(epochSeries(diffTensors(new Map([['w', t.values().next().value!]]), new Map([['w', t.values().next().value!]]))), undefined);
});
