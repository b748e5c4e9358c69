import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffModels, relativeError } from '../../src/extension/logic/tensorDiff';
import type { TensorMap } from '../../src/core/tensor';

const H = 2;
function lstm(seed: number): TensorMap {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const t = (shape: number[]) => ({ dtype: 'float64' as const, shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd) });
  return new Map([['weight_ih_l0', t([4 * H, 3])], ['weight_hh_l0', t([4 * H, H])], ['bias_ih_l0', t([4 * H])], ['bias_hh_l0', t([4 * H])]]);
}

/** Reorders gate blocks (i,f,g,o) -> the given order, as a mis-converted file would store them. */
function permuted(m: TensorMap, order: number[]): TensorMap {
  const out: TensorMap = new Map();
  for (const [k, t] of m) {
    const rows = t.shape[0] / 4;
    const width = t.data.length / t.shape[0];
    const data = new Float64Array(t.data.length);
    order.forEach((src, dst) => data.set((t.data as Float64Array).subarray(src * rows * width, (src + 1) * rows * width), dst * rows * width));
    out.set(k, { ...t, data });
  }
  return out;
}

const base = { title: 'weights', leftLabel: 'a.pt', rightLabel: 'b.onnx', module: 'LSTM' as const, tolerance: 1e-12 };

test('identical models agree', () => {
  const m = lstm(1);
  const r = diffModels({ ...base, left: m, right: m });
  assert.ok(r.ok);
  assert.match(r.verdict, /agree/);
  assert.equal(r.rows.length, 4 + 4 * 4); // per tensor + per gate
});

test('a gate-order mistake is named in words, with per-gate rows and a heatmap', () => {
  const m = lstm(2);
  const r = diffModels({ ...base, left: m, right: permuted(m, [0, 3, 1, 2]) }); // ONNX's i,o,f,c
  assert.ok(!r.ok);
  assert.match(r.verdict, /gate order mismatch: b\.onnx stores the gate blocks as \(i,o,f,g\) instead of \(i,f,g,o\)/);
  assert.ok(r.rows.find((x) => x.name === 'weight_ih_l0 [i]')!.ok);
  assert.ok(!r.rows.find((x) => x.name === 'weight_ih_l0 [f]')!.ok);
  assert.ok(r.heatmap && r.heatmap.data.byteLength === r.heatmap.rows * r.heatmap.cols * 4);
});

test('biases split differently and transposed matrices are recognised', () => {
  const m = lstm(3);
  const moved = new Map(m);
  const bi = m.get('bias_ih_l0')!.data as Float64Array;
  const bh = m.get('bias_hh_l0')!.data as Float64Array;
  moved.set('bias_ih_l0', { ...m.get('bias_ih_l0')!, data: bi.map((v, i) => v + bh[i]) });
  moved.set('bias_hh_l0', { ...m.get('bias_hh_l0')!, data: new Float64Array(bh.length) });
  assert.match(diffModels({ ...base, left: m, right: moved }).verdict, /splits bias_l0 differently/);
  const tr = new Map(m);
  tr.set('weight_hh_l0', { ...m.get('weight_hh_l0')!, shape: [H, 4 * H] });
  assert.match(diffModels({ ...base, left: m, right: tr }).verdict, /weight_hh_l0 is transposed/);
  assert.deepEqual(relativeError([1, 2], [1, 2.5]), { maxAbs: 0.5, rel: 0.2 });
});

test('per-epoch trajectories: rows for the last epoch, one error series per tensor', async () => {
  const { diffTrajectories, splitEpochs, inferModule } = await import('../../src/extension/logic/tensorDiff');
  const { parseSafetensors } = await import('../../src/core/formats/safetensors');
  const { readFileSync } = await import('node:fs');
  const { fixturePath } = await import('../fixtures');
  const traj = splitEpochs(parseSafetensors(new Uint8Array(readFileSync(fixturePath('seed000_sgd/trajectory.safetensors')))).tensors)!;
  assert.deepEqual([...traj.keys()], [1, 2, 3, 4].slice(0, traj.size));
  assert.equal(inferModule(traj.get(1)!), 'LSTM');
  const same = diffTrajectories({ title: 't', leftLabel: 'a', rightLabel: 'b', left: traj, right: traj, tolerance: 1e-12 });
  assert.ok(same.ok);
  assert.equal(same.trajectory!.series.length, traj.get(1)!.size);
  assert.deepEqual([...new Float64Array(same.trajectory!.epochs)], [...traj.keys()]);
  const shifted = new Map([...traj].map(([e, m]) => [e, new Map([...m].map(([k, t]) => [k, k.endsWith('fc.bias') ? { ...t, data: (t.data as Float64Array).map((v) => v + e * 1e-3) } : t]))]));
  const r = diffTrajectories({ title: 't', leftLabel: 'a', rightLabel: 'b', left: traj, right: shifted, tolerance: 1e-12 });
  assert.ok(!r.ok);
  const bias = new Float64Array(r.trajectory!.series.find((s) => s.name === 'fc.bias')!.values);
  assert.ok(bias.every((v, i) => i === 0 || v > bias[i - 1]), 'error grows with the epoch');
  assert.equal(splitEpochs(new Map([['weight', traj.get(1)!.values().next().value!]])), null);
});
