import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { diffTensors } from '../../src/core/diff/diff';
import { alignRecurrentPrefixes } from '../../src/core/diff/align';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { permuteRowBlocks, transpose2d } from '../../src/core/layouts/blocks';
import { type FloatTensor, type TensorMap } from '../../src/core/tensor';
import { fixturePath } from '../fixtures';

const lstm = (): TensorMap => parseSafetensors(readFileSync(fixturePath('lstm_1l_f64/weights.safetensors'))).tensors;
const clone = (m: TensorMap): TensorMap => new Map([...m].map(([k, v]) => [k, { ...v, data: v.data.slice() } as FloatTensor]));

test('identical weights: no difference, per-gate errors all zero', () => {
  const r = diffTensors(lstm(), lstm());
  assert.equal(r.differs, false);
  assert.equal(r.rtol, 1e-12);
  assert.deepEqual(r.tensors.find((t) => t.name === 'weight_ih_l0')!.gates!.map((g) => g.gate), ['i', 'f', 'g', 'o']);
});

test('gates f and i swapped is named', () => {
  const a = lstm();
  const b = clone(a);
  b.set('weight_ih_l0', permuteRowBlocks(a.get('weight_ih_l0') as FloatTensor, [1, 0, 2, 3]));
  const r = diffTensors(a, b);
  assert.equal(r.differs, true);
  const t = r.tensors.find((x) => x.name === 'weight_ih_l0')!;
  assert.equal(t.gates!.find((g) => g.gate === 'g')!.relErr, 0);
  assert.ok(t.gates!.find((g) => g.gate === 'i')!.relErr > 0);
  assert.deepEqual(r.diagnoses.map((d) => d.message), ['gates i and f swapped in weight_ih_l0']);
});

test('any permutation, a transposed kernel, and transposed + permuted', () => {
  const a = lstm();
  const b = clone(a);
  b.set('weight_hh_l0', permuteRowBlocks(a.get('weight_hh_l0') as FloatTensor, [3, 2, 0, 1]));
  b.set('weight_ih_l0', transpose2d(a.get('weight_ih_l0') as FloatTensor));
  const r = diffTensors(a, b);
  const msgs = r.diagnoses.map((d) => d.message).join('\n');
  assert.match(msgs, /permuted: B has \(o,g,i,f\)/);
  assert.match(msgs, /weight_ih_l0: B is the transpose of A/);
  const c = clone(a);
  c.set('weight_ih_l0', transpose2d(permuteRowBlocks(a.get('weight_ih_l0') as FloatTensor, [0, 1, 3, 2])));
  assert.match(diffTensors(a, c).diagnoses[0].message, /transposed and gates g and o swapped/);
});

test('merged bias and forget-bias offset', () => {
  const a = lstm();
  const merged = clone(a);
  const bi = merged.get('bias_ih_l0')!.data as Float64Array;
  const bh = merged.get('bias_hh_l0')!.data as Float64Array;
  for (let i = 0; i < bi.length; i++) { bi[i] += bh[i]; bh[i] = 0; }
  assert.equal(diffTensors(a, merged).diagnoses[0].kind, 'bias-merged');
  const one = clone(a);
  one.delete('bias_hh_l0');
  (one.get('bias_ih_l0')!.data as Float64Array).set(bi);
  const r1 = diffTensors(a, one);
  assert.deepEqual(r1.onlyInA, ['bias_hh_l0']);
  assert.equal(r1.diagnoses[0].kind, 'bias-merged');
  const off = clone(a);
  const H = 7;
  const b2 = off.get('bias_ih_l0')!.data as Float64Array;
  for (let i = H; i < 2 * H; i++) b2[i] += 1;
  const r2 = diffTensors(a, off);
  assert.equal(r2.diagnoses[0].kind, 'forget-bias-offset');
  assert.match(r2.diagnoses[0].message, /offset by \+1 in bias_l0/);
});

test('hard sigmoid recognised from gate traces', () => {
  const io = parseSafetensors(readFileSync(fixturePath('lstm_1l_f64/io.safetensors'))).tensors;
  const b = clone(io);
  const g = b.get('trace_l0_gate_i')!.data as Float64Array;
  for (let i = 0; i < g.length; i++) { const z = Math.log(g[i] / (1 - g[i])); g[i] = Math.min(1, Math.max(0, 0.2 * z + 0.5)); }
  const r = diffTensors(io, b);
  assert.ok(r.diagnoses.some((d) => d.kind === 'hard-sigmoid' && d.tensors[0] === 'trace_l0_gate_i'));
  assert.ok(!r.notes.some((n) => /hard-sigmoid/.test(n)));
});

test('trajectories give a per-epoch table', () => {
  const t = parseSafetensors(readFileSync(fixturePath('seed000_sgd/trajectory.safetensors'))).tensors;
  const b = clone(t);
  (b.get('epoch3.lstm.weight_hh_l0')!.data as Float32Array)[0] += 0.5;
  const r = diffTensors(t, b);
  assert.deepEqual(r.epochs!.map((e) => e.exceeds), r.epochs!.map((e) => e.epoch >= 3 && e.epoch === 3));
  assert.equal(r.epochs!.find((e) => e.epoch === 3)!.worst, 'lstm.weight_hh_l0');
});

test('state_dicts with different module prefixes are aligned', () => {
  const a = lstm();
  const b: TensorMap = new Map([...a].map(([k, v]) => [`rnn.${k}`, v]));
  b.set('head.weight', a.get('weight_hh_l0')!);
  const al = alignRecurrentPrefixes(a, b);
  const r = diffTensors(al.a, al.b);
  assert.deepEqual(r.onlyInB, ['head.weight']);
  assert.ok(r.tensors.every((t) => !t.exceeds));
  assert.match(al.note!, /"rnn\."/);
});
