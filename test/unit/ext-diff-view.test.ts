import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { diffErrorView, diffView } from '../../src/extension/logic/diffView';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import type { FloatTensor, TensorMap } from '../../src/core/tensor';
import { fixturePath } from '../fixtures';

const H = 2;
function lstm(seed: number): TensorMap {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const t = (shape: number[]): FloatTensor => ({ dtype: 'float64', shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd) });
  return new Map([['weight_ih_l0', t([4 * H, 3])], ['weight_hh_l0', t([4 * H, H])], ['bias_ih_l0', t([4 * H])], ['bias_hh_l0', t([4 * H])]]);
}

/** Reorders gate blocks (i,f,g,o) -> the given order, as a mis-converted file would store them. */
function permuted(m: TensorMap, order: number[], only?: string): TensorMap {
  const out: TensorMap = new Map();
  for (const [k, t] of m) {
    if (only && k !== only) { out.set(k, t); continue; }
    const rows = t.shape[0] / 4;
    const width = t.data.length / t.shape[0];
    const data = new Float64Array(t.data.length);
    order.forEach((src, dst) => data.set((t.data as Float64Array).subarray(src * rows * width, (src + 1) * rows * width), dst * rows * width));
    out.set(k, { ...t, data } as FloatTensor);
  }
  return out;
}

const base = { title: 'weights', leftLabel: 'a.pt', rightLabel: 'b.onnx' };

test('identical models are EQUIVALENT: a row per quantity and per gate, rtol 1e-12 for float64', () => {
  const m = lstm(1);
  const r = diffView({ ...base, left: m, right: m });
  assert.ok(r.ok);
  assert.equal(r.status, 'equivalent');
  assert.equal(r.tolerance, 1e-12);
  assert.match(r.verdict, /^EQUIVALENT: A and B compute the same function/);
  assert.deepEqual(r.changes, []);
  assert.equal(r.rows.length, 4 + 4 * 4);
  assert.ok(r.rows.every((x) => x.ok));
  assert.deepEqual(r.rows.find((x) => x.name === 'weight_ih_l0 [g]')!.shape, [H, 3]);
  assert.equal(r.rows.find((x) => x.name === 'weight_ih_l0 [g]')!.gate, 'g');
});

test('a gate swap: DIFFERENT, which side to change and how, per-gate rows and a heatmap with its gate blocks', () => {
  const m = lstm(2);
  const r = diffView({ ...base, left: m, right: permuted(m, [1, 0, 2, 3], 'weight_ih_l0') });
  assert.ok(!r.ok);
  assert.equal(r.status, 'different');
  assert.equal(r.verdict, 'DIFFERENT: gates i and f swapped in weight_ih_l0');
  assert.equal(r.changes!.length, 1);
  assert.equal(r.changes![0].side, 'B');
  assert.equal(r.changes![0].label, 'file B (b.onnx)');
  assert.match(r.changes![0].items[0], /reorder your gate blocks f,i,g,o → PyTorch's i,f,g,o in weight_ih_l0 of file B \(b\.onnx\)/);
  assert.ok(r.rows.find((x) => x.name === 'weight_ih_l0 [g]')!.ok);
  assert.ok(!r.rows.find((x) => x.name === 'weight_ih_l0 [f]')!.ok);
  assert.ok(r.rows.find((x) => x.name === 'weight_hh_l0')!.ok);
  const hm = r.heatmap!;
  assert.equal(hm.name, 'weight_ih_l0');
  assert.deepEqual([hm.rows, hm.cols, hm.data.byteLength], [4 * H, 3, 4 * H * 3 * 4]);
  assert.deepEqual([hm.gates, hm.gateAxis], [['i', 'f', 'g', 'o'], 'rows']);
  const d = new Float32Array(hm.data);
  const a = m.get('weight_ih_l0')!.data as Float64Array;
  assert.equal(d[0], Math.fround(a[H * 3] - a[0]), 'right - left, row-major'); // B's row 0 is A's f row 0
  const all = diffView({ ...base, left: m, right: permuted(m, [1, 0, 2, 3]) });
  assert.equal(all.heatmap!.name.startsWith('weight_'), true, 'a matrix, not a bias vector, goes to the heatmap');
  const onnx = diffView({ ...base, left: m, right: permuted(m, [0, 3, 1, 2]) }); // ONNX's i,o,f,c
  assert.match(onnx.verdict, /gate blocks permuted: B has \(i,o,f,g\) where A has \(i,f,g,o\)/);
  const mine = diffView({ ...base, left: permuted(m, [1, 0, 2, 3], 'weight_ih_l0'), right: m, leftInfo: { layout: 'scratch-fused', label: 'file A (mine.npz)' } });
  assert.equal(mine.changes![0].side, 'A', 'the learner\'s own from-scratch file is the one to change');
});

test('what computes the same: merged biases EQUIVALENT with the reason; a transposed matrix and noise DIFFERENT', () => {
  const m = lstm(3);
  const merged = new Map(m);
  const bi = m.get('bias_ih_l0')!.data as Float64Array;
  const bh = m.get('bias_hh_l0')!.data as Float64Array;
  merged.set('bias_ih_l0', { ...m.get('bias_ih_l0')!, data: bi.map((v, i) => v + bh[i]) } as FloatTensor);
  merged.delete('bias_hh_l0');
  const b = diffView({ ...base, left: m, right: merged });
  assert.ok(b.ok, b.verdict);
  assert.match(b.verdict, /^EQUIVALENT/);
  assert.ok(b.why!.some((w) => /bias/.test(w)), `no reason given: ${JSON.stringify(b.why)}`);

  const whh = m.get('weight_hh_l0')!.data as Float64Array;
  const tr = new Map(m);
  tr.set('weight_hh_l0', { dtype: 'float64', shape: [H, 4 * H], data: Float64Array.from({ length: whh.length }, (_, k) => whh[(k % (4 * H)) * H + Math.floor(k / (4 * H))]) });
  const t = diffView({ ...base, left: m, right: tr });
  assert.ok(!t.ok);
  assert.match(t.verdict, /weight_hh_l0/);
  assert.match(t.changes![0].items.join(' '), /transpose your weight_hh_l0 in file B/);

  const noisy = new Map(m);
  noisy.set('weight_ih_l0', { ...m.get('weight_ih_l0')!, data: (m.get('weight_ih_l0')!.data as Float64Array).map((v) => v * 1.001) } as FloatTensor);
  const r = diffView({ ...base, left: m, right: noisy });
  assert.ok(!r.ok);
  assert.match(r.verdict, /worst weight_ih_l0 \(relative error 1\.00e-3\); no known layout mistake explains it/);
  assert.equal(r.heatmap!.name, 'weight_ih_l0');
});

test('tensors only one side holds are listed, and fail only with strict', () => {
  const m = lstm(4);
  const withHead = new Map(m);
  withHead.set('head.weight', { dtype: 'float64', shape: [5, H], data: new Float64Array(5 * H).fill(0.5) });
  const r = diffView({ ...base, left: m, right: withHead });
  assert.ok(r.ok, r.verdict);
  assert.deepEqual(r.notCompared, ['only in B: head 2→5 (head)']);
  const strict = diffView({ ...base, left: m, right: withHead, strict: true });
  assert.ok(!strict.ok);
  assert.match(strict.verdict, /^DIFFERENT \(--strict\)/);
});

test('an architecture mismatch is summarised side by side, with nothing compared tensor by tensor', () => {
  const one = lstm(5);
  const two: TensorMap = new Map(lstm(6));
  for (const [k, t] of lstm(7)) {
    const d = t.data as Float64Array;
    two.set(k.replace('_l0', '_l1'), k === 'weight_ih_l0' ? { dtype: 'float64', shape: [4 * H, H], data: d.slice(0, 4 * H * H) } : t);
  }
  const r = diffView({ ...base, left: one, right: two });
  assert.ok(!r.ok);
  assert.match(r.verdict, /^DIFFERENT: different architectures — A: LSTM, 1 layer × 2, one direction \(input 3\); B: LSTM, 2 layers × 2, one direction/);
  assert.deepEqual(r.architecture, { a: 'LSTM, 1 layer × 2, one direction (input 3)', b: 'LSTM, 2 layers × 2, one direction (input 3)' });
  assert.match(r.changes![0].items[0], /build file B \(b\.onnx\) as file A \(a\.pt\): LSTM, 1 layer × 2/);
  assert.deepEqual(r.rows, []);
  assert.equal(r.heatmap, undefined);
});

test('a failed comparison is a model of its own: the error, nothing of a previous result', () => {
  const r = diffErrorView('Weights', 'a.pt', 'b.h5', 'b.h5: not an HDF5 file');
  assert.equal(r.ok, false);
  assert.equal(r.status, 'error');
  assert.equal(r.error, 'b.h5: not an HDF5 file');
  assert.match(r.verdict, /^Compare failed: b\.h5: not an HDF5 file/);
  assert.deepEqual(r.rows, []);
  assert.equal(r.heatmap, undefined);
  assert.equal(r.trajectory, undefined);
});

test('trajectory files: rows of the last epoch, one relative-error series per tensor', () => {
  const traj = parseSafetensors(new Uint8Array(readFileSync(fixturePath('seed000_sgd/trajectory.safetensors')))).tensors;
  const epochs = [...new Set([...traj.keys()].map((k) => Number(/^epoch(\d+)\./.exec(k)![1])))].sort((a, b) => a - b);
  const last = epochs[epochs.length - 1];
  const perEpoch = [...traj.keys()].filter((k) => k.startsWith(`epoch${last}.`)).length;
  const same = diffView({ ...base, left: traj, right: traj });
  assert.ok(same.ok);
  assert.ok(same.rows.every((x) => x.name.startsWith(`epoch${last}.`)));
  assert.equal(same.rows.filter((x) => !x.name.includes(' [')).length, perEpoch);
  assert.equal(same.trajectory!.series.length, perEpoch);
  assert.deepEqual([...new Float64Array(same.trajectory!.epochs)], epochs);
  const shifted: TensorMap = new Map([...traj].map(([k, t]) => {
    const e = /^epoch(\d+)\.fc\.bias$/.exec(k);
    return [k, e ? { ...t, data: (t.data as Float32Array).map((v) => v + Number(e[1]) * 1e-3) } as FloatTensor : t];
  }));
  const r = diffView({ ...base, left: traj, right: shifted });
  assert.ok(!r.ok);
  assert.ok(r.rows.some((x) => x.name === `epoch${epochs[0]}.fc.bias` && !x.ok), 'differing rows of earlier epochs are shown');
  const bias = new Float64Array(r.trajectory!.series.find((s) => s.name === 'fc.bias')!.values);
  assert.ok(bias.every((v, i) => i === 0 || v > bias[i - 1]), 'error grows with the epoch');
});

test('an explicit trajectory (engines per step) and rtol are passed through', () => {
  const m = lstm(4);
  const r = diffView({ ...base, left: m, right: m, rtol: 1e-4, trajectory: { label: 'per step', epochs: [1, 2], series: [{ name: 'loss', values: [2.5, 2.25] }] } });
  assert.equal(r.tolerance, 1e-4);
  assert.equal(r.trajectory!.label, 'per step');
  assert.deepEqual([...new Float64Array(r.trajectory!.series[0].values)], [2.5, 2.25]);
});
