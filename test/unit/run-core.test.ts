// src/core/run: a run directory (python/gatescope's contract) read without a file system: tailed lines
// (partial last lines, UTF-8 split across chunks), records, the session state and how it ended, probe
// files' module prefixes, saturation and heatmap slabs, and the diff of two watched modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LineSplitter, RunState, dashboardSeries, diffModules, modulePair, moduleTensors, parseRunLine, probeSaturation,
  probeTokenText, probedModules, traceSlab, unprefixTraces, weightModules, type RunRecord,
} from '../../src/core/run';
import type { Tensor, TensorMap } from '../../src/core/tensor';
import { compareModels } from '../../src/core/diff/equivalence';

const enc = new TextEncoder();

test('LineSplitter returns complete lines only and keeps a partial last line', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push(enc.encode('{"a":1}\n{"b"')), ['{"a":1}']);
  assert.equal(s.pendingBytes, 4);
  assert.equal(s.consumed, 8);
  assert.deepEqual(s.push(enc.encode(':2}\r\n\n')), ['{"b":2}', '']);
  assert.equal(s.pendingBytes, 0);
  // a multi-byte character split between two chunks
  const bytes = enc.encode('{"t":"é"}\n');
  assert.deepEqual(s.push(bytes.subarray(0, 7)), []);
  assert.deepEqual(s.push(bytes.subarray(7)), ['{"t":"é"}']);
  s.reset();
  assert.equal(s.consumed, 0);
});

const lines = [
  '{"kind":"start","version":1,"time":1,"pid":42,"model":{"torch":{"module":"LSTM","input_size":3,"hidden_size":4,"num_layers":1,"bidirectional":false,"dtype":"float64"},"mine":{"module":"LSTM","input_size":3,"hidden_size":4,"num_layers":1,"bidirectional":false,"dtype":"float64"}},"modules":{"mine":{"class":"MyLSTM","layout":"mapped"},"torch":{"class":"LSTM","layout":"pytorch"}}}',
  '{"kind":"probe","names":null,"shape":[5,1],"input":"tokens","embedding":false,"text":["hello"]}',
  '{"kind":"scalar","step":1,"loss":2.5,"lr":0.01,"time":2}',
  '{"kind":"scalar","step":2,"loss":null,"lr":0.01,"time":3}',
  '{"kind":"snapshot","tag":"step2","step":2,"weights":"snapshots/step2.safetensors","probe":"probes/step2.safetensors","time":4}',
];

const records = (ls: string[]): RunRecord[] => ls.map((l) => {
  const p = parseRunLine(l);
  assert.ok('record' in p, l);
  return p.record;
});

test('records and the session state: scalars (null skipped), snapshots, modules, probe', () => {
  const st = new RunState();
  const change = st.apply(records(lines));
  assert.equal(change.reset, true);
  assert.deepEqual(change.points.map((p) => `${p.name}@${p.step}=${p.value}`), ['loss@1=2.5', 'lr@1=0.01', 'lr@2=0.01']);
  assert.deepEqual([...st.scalars.keys()], ['loss', 'lr']);
  assert.deepEqual(st.snapshotList().map((s) => s.tag), ['step2']);
  assert.deepEqual(st.probedModules(), ['torch', 'mine']);
  assert.equal(st.start?.pid, 42);
  assert.equal(st.outcome(true).text, 'running, step 2');
  assert.equal(st.outcome(false).text, 'stopped at step 2, no end record');
  assert.equal(st.outcome(false).phase, 'stopped');
  // A snapshot tag written again replaces the earlier one; an end record ends the session.
  st.apply(records(['{"kind":"snapshot","tag":"step2","step":2,"weights":"w","probe":null}', '{"kind":"end","step":3,"status":"error","error":"boom"}']));
  assert.equal(st.snapshotList().length, 1);
  assert.equal(st.snapshotList()[0].weights, 'w');
  assert.equal(st.outcome(false).text, 'failed at step 3: boom');
  // A new session starts afresh; one without an end before it counts as stopped.
  const again = new RunState();
  again.apply(records([lines[0], lines[2], lines[0]]));
  assert.equal(again.sessions, 2);
  assert.equal(again.stoppedSessions, 1);
  assert.equal(again.scalars.size, 0);
});

test('bad lines are errors, not exceptions; unknown kinds are kept', () => {
  assert.ok('error' in parseRunLine('{"kind":"scalar"'));
  assert.ok('error' in parseRunLine('[1,2]'));
  assert.ok('error' in parseRunLine('{"kind":"scalar","loss":1}'));
  assert.deepEqual(parseRunLine('{"kind":"future","x":1}'), { record: { kind: 'other', type: 'future' } });
});

test('dashboard series of scalar names', () => {
  assert.equal(dashboardSeries('loss'), 'train');
  assert.equal(dashboardSeries('val_loss'), 'validation');
  assert.equal(dashboardSeries('grad_norm'), 'gradNorm');
  assert.equal(dashboardSeries('lr'), undefined);
});

const f64 = (shape: number[], fill: (i: number) => number): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float64', shape, data: Float64Array.from({ length: n }, (_, i) => fill(i)) };
};

test('probe files: module prefixes, saturation, slabs, token text; unprefixed for trace/diff readers', () => {
  const T = 5, N = 2, H = 4;
  const probe: TensorMap = new Map([
    ['mine.trace_l0_h', f64([T, N, H], (i) => Math.sin(i))],
    ['mine.trace_l0_gate_i', f64([T, N, H], (i) => (i % 4 === 0 ? 0.05 : i % 4 === 1 ? 0.95 : 0.5))],
    ['mine.probe_tokens', { dtype: 'int64', shape: [T, N], data: BigInt64Array.from({ length: T * N }, (_, i) => BigInt(i)) }],
    ['torch.trace_l0_h', f64([T, N, H], (i) => Math.sin(i))],
    ['torch.trace_l0_reverse_c', f64([T, N, H], () => 0)],
  ]);
  const mods = probedModules(probe.keys());
  assert.deepEqual(mods.map((m) => [m.name, m.kinds.join(','), m.layers, m.directions, m.tokens ?? '']),
    [['mine', 'h,gate_i', 1, 1, 'mine.probe_tokens'], ['torch', 'h,c', 1, 2, '']]);
  const sat = probeSaturation(probe);
  assert.equal(sat.length, 1);
  assert.equal(sat[0].gate, 'i');
  assert.equal(sat[0].low, 0.25);
  assert.equal(sat[0].high, 0.25);
  const slab = traceSlab(probe.get('mine.trace_l0_h')!, 1);
  assert.equal(slab.rows, T);
  assert.equal(slab.cols, H);
  assert.ok(Math.abs(slab.data[H + 2] - Math.sin((1 * N + 1) * H + 2)) < 1e-6);
  assert.deepEqual(probeTokenText({ probe_text: '[["a","b"],["c","d"]]' }, 1), ['c', 'd']);
  assert.equal(probeTokenText({ probe_text: 'nope' }), undefined);
  assert.deepEqual([...moduleTensors(probe, 'torch').keys()], ['trace_l0_h', 'trace_l0_reverse_c']);
  assert.throws(() => unprefixTraces(probe), /mine, torch/);
  assert.deepEqual([...unprefixTraces(probe, 'mine').tensors.keys()], ['trace_l0_h', 'trace_l0_gate_i', 'probe_tokens']);
  const plain: TensorMap = new Map([['trace_l0_h', f64([1, 1, 1], () => 0)]]);
  assert.equal(unprefixTraces(plain).tensors, plain);
  assert.deepEqual(weightModules(['mine.weight_ih_l0', 'torch.bias_hh_l1_reverse', 'weight_hh_l0', 'head.weight']), ['mine', 'torch', '']);
});

test('two watched modules: equal ones agree; gates i and f swapped are named', () => {
  const H = 3, I = 2;
  const w: TensorMap = new Map();
  const rnd = (seed: number) => (i: number) => Math.sin(seed * 97 + i * 1.7);
  const ref: Record<string, Tensor> = {
    weight_ih_l0: f64([4 * H, I], rnd(1)), weight_hh_l0: f64([4 * H, H], rnd(2)), bias_ih_l0: f64([4 * H], rnd(3)), bias_hh_l0: f64([4 * H], rnd(4)),
  };
  const swap = (t: Tensor, cols: number): Tensor => {
    const d = Float64Array.from(t.data as Float64Array);
    for (let r = 0; r < H * cols; r++) [d[r], d[H * cols + r]] = [d[H * cols + r], d[r]];
    return { ...t, data: d };
  };
  for (const [k, t] of Object.entries(ref)) {
    w.set(`torch.${k}`, t);
    w.set(`mine.${k}`, t);
    w.set(`bad.${k}`, k.startsWith('weight_ih') ? swap(t, I) : k.startsWith('weight_hh') ? swap(t, H) : swap(t, 1));
  }
  const modules = new Map([['mine', { layout: 'mapped' }], ['torch', { layout: 'pytorch' }], ['bad', { layout: 'mapped' }]]);
  assert.deepEqual(modulePair(['mine', 'torch'], modules), ['torch', 'mine']);
  assert.equal(modulePair(['torch'], modules), undefined);
  const same = diffModules(w, undefined, 'torch', 'mine', modules);
  assert.equal(same.ok, true, same.verdict);
  assert.match(same.verdict, /^EQUIVALENT/);
  const wrong = diffModules(w, undefined, 'torch', 'bad', modules);
  assert.equal(wrong.ok, false);
  assert.match(wrong.verdict, /gates i and f swapped/);
  assert.ok(wrong.weights.some((r) => r.gates?.some((g) => g.gate === 'i' && g.relErr > 0)));
});

test('gatescope diff: a probe file\'s one-module traces meet plain trace names (the prefix is removed, with a note)', () => {
  const t = f64([5, 1, 4], (i) => Math.tanh(i / 7));
  const probe: TensorMap = new Map([['lstm.trace_l0_h', t], ['lstm.trace_l0_gate_i', t]]);
  const plain: TensorMap = new Map([['trace_l0_h', t], ['trace_l0_gate_i', t]]);
  const r = compareModels(probe, plain);
  assert.equal(r.status, 'equivalent');
  assert.equal(r.compared, 2);
  assert.match(r.notes.join('\n'), /"lstm\." prefix was removed/);
  const two: TensorMap = new Map([...probe, ['mine.trace_l0_h', t]]);
  assert.equal(compareModels(two, plain).status, 'disjoint', 'two modules: which one is meant is not guessed');
});
