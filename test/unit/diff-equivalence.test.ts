// core/diff/equivalence.ts: what two models compute, not how their files spell it. Each rule of the
// verdict on small synthetic models (split/merged biases, GRU n-gate bias, missing biases, forget-bias
// offsets, transposed layouts, gate swaps in each framework's words, architectures, heads aligned by
// function, io inputs, snapshots), and the verdict text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compareModels, type ModelDiffReport, type SideInfo } from '../../src/core/diff/equivalence';
import { structureOf, splitSnapshots } from '../../src/core/diff/structure';
import { verdictText } from '../../src/core/diff/verdict';
import { ownName } from '../../src/core/diff/naming';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { permuteRowBlocks, transpose2d } from '../../src/core/layouts/blocks';
import type { FloatTensor, Tensor, TensorMap } from '../../src/core/tensor';
import { fixturePath } from '../fixtures';

let seed = 7;
const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
const t = (shape: number[]): FloatTensor => ({ dtype: 'float64', shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd) });
const G = { LSTM: 4, GRU: 3, RNN: 1 } as const;

/** A PyTorch-named stack (+ optional prefix, head, embedding). */
function stack(module: keyof typeof G, { input = 3, hidden = 2, layers = 1, bidi = false, prefix = '', bias = true } = {}): TensorMap {
  const m: TensorMap = new Map();
  const D = bidi ? 2 : 1;
  for (let l = 0; l < layers; l++) {
    for (let d = 0; d < D; d++) {
      const s = `_l${l}${d ? '_reverse' : ''}`;
      m.set(`${prefix}weight_ih${s}`, t([G[module] * hidden, l ? hidden * D : input]));
      m.set(`${prefix}weight_hh${s}`, t([G[module] * hidden, hidden]));
      if (bias) {
        m.set(`${prefix}bias_ih${s}`, t([G[module] * hidden]));
        m.set(`${prefix}bias_hh${s}`, t([G[module] * hidden]));
      }
    }
  }
  return m;
}
const f64 = (x: Tensor): Float64Array => x.data as Float64Array;
const with_ = (m: TensorMap, edits: Record<string, Tensor | undefined>): TensorMap => {
  const out = new Map(m);
  for (const [k, v] of Object.entries(edits)) if (v) out.set(k, v); else out.delete(k);
  return out;
};
const vec = (data: ArrayLike<number>): FloatTensor => ({ dtype: 'float64', shape: [data.length], data: Float64Array.from(data) });
const changes = (r: ModelDiffReport): string[] => r.findings.map((f) => f.change);

test('merged vs split biases: only b_ih + b_hh matters (LSTM, Elman RNN)', () => {
  for (const module of ['LSTM', 'RNN'] as const) {
    const a = stack(module, { hidden: 3, input: 2 });
    const bi = f64(a.get('bias_ih_l0')!);
    const bh = f64(a.get('bias_hh_l0')!);
    const merged = with_(a, { bias_ih_l0: vec(bi.map((v, i) => v + bh[i])), bias_hh_l0: vec(new Float64Array(bh.length)) });
    const r = compareModels(a, merged);
    assert.equal(r.status, 'equivalent', module);
    assert.equal(r.differs, false);
    assert.ok(r.equivalences.some((e) => e.kind === 'bias-split' && /B holds one merged bias/.test(e.message)), module);
    assert.ok(r.tensors.some((x) => x.name === 'bias_ih_l0 + bias_hh_l0' && x.derived === 'bias_ih + bias_hh'));
    // One bias tensor only (Keras' b, a from-scratch b) is the same model too.
    assert.equal(compareModels(a, with_(merged, { bias_hh_l0: undefined })).status, 'equivalent');
    // A sum that differs is still a difference.
    const off = with_(merged, { bias_ih_l0: vec(f64(merged.get('bias_ih_l0')!).map((v, i) => (i === 0 ? v + 0.5 : v))) });
    assert.equal(compareModels(a, off).status, 'different');
  }
});

test('GRU: the r and z biases merge, the n gate\'s b_hn does not (it sits inside r ⊙ (W_hn h + b_hn))', () => {
  const H = 2;
  const a = stack('GRU', { hidden: H });
  const bi = f64(a.get('bias_ih_l0')!);
  const bh = f64(a.get('bias_hh_l0')!);
  // r, z moved into b_ih: same model.
  const rz = with_(a, {
    bias_ih_l0: vec(bi.map((v, i) => (i < 2 * H ? v + bh[i] : v))),
    bias_hh_l0: vec(bh.map((v, i) => (i < 2 * H ? 0 : v))),
  });
  const ok = compareModels(a, rz);
  assert.equal(ok.status, 'equivalent');
  assert.match(ok.equivalences[0].message, /r and z gates only b_ih \+ b_hh enters/);
  assert.deepEqual(ok.tensors.find((x) => x.role === 'rnn' && x.derived)!.gates!.map((g) => g.gate), ['r', 'z', 'n']);
  // Everything merged (as a Keras reset_after=False bias would be): n differs.
  const all = with_(a, { bias_ih_l0: vec(bi.map((v, i) => v + bh[i])), bias_hh_l0: vec(new Float64Array(3 * H)) });
  const r = compareModels(a, all);
  assert.equal(r.status, 'different');
  assert.equal(r.findings[0].kind, 'gru-n-bias');
  assert.match(r.findings[0].change, /keep the n block of bias_hh_l0 separate from bias_ih_l0/);
  // A GRU with the reset gate before the matmul merges every block.
  const before: SideInfo = { gruReset: 'before' };
  assert.equal(compareModels(a, all, before, before).status, 'equivalent');
});

test('no biases vs zero biases is the same model; vs non-zero biases names the missing bias', () => {
  const a = stack('LSTM', { bias: false });
  const zero = with_(a, { bias_ih_l0: vec(new Float64Array(8)), bias_hh_l0: vec(new Float64Array(8)) });
  const r = compareModels(a, zero);
  assert.equal(r.status, 'equivalent');
  assert.match(r.equivalences[0].message, /A has no biases \(bias=False\); B's are all zero/);
  const some = with_(a, { bias_ih_l0: t([8]), bias_hh_l0: t([8]) });
  const d = compareModels(a, some);
  assert.equal(d.findings[0].kind, 'bias-missing');
  assert.match(d.findings[0].change, /build file B without biases \(bias=False\), or set them to zero/);
});

test('a forget-bias offset: named with its fix, and equivalent once the run-time forget_bias is folded', () => {
  const H = 2;
  const a = stack('LSTM', { hidden: H });
  const plus1 = with_(a, { bias_ih_l0: vec(f64(a.get('bias_ih_l0')!).map((v, i) => (i >= H && i < 2 * H ? v + 1 : v))) });
  const r = compareModels(a, plus1);
  assert.equal(r.findings[0].kind, 'forget-bias-offset');
  assert.match(r.findings[0].message, /B's forget-gate bias is A's \+ 1 \(layer 0\)/);
  assert.match(r.findings[0].change, /subtract 1 from the f block \(rows 2\.\.3\) of bias_ih_l0 in file B.*pass --forget-bias-a 1/);
  // A's code adds forget_bias=1 at run time (TF1 LSTMCell); B has it folded into its bias.
  const folded = compareModels(a, plus1, { forgetBias: 1 }, {});
  assert.equal(folded.status, 'equivalent');
  assert.deepEqual(folded.equivalences.map((e) => e.kind), ['forget-bias-folded']);
});

test('transposed layouts: consistent is the same model; one odd matrix, or a square one, is a transpose to fix', () => {
  const a = stack('LSTM', { hidden: 2, input: 3 });
  const tr = new Map([...a].map(([k, v]) => [k, v.shape.length === 2 ? transpose2d(v as FloatTensor) : v]));
  const r = compareModels(a, tr);
  assert.equal(r.status, 'equivalent');
  assert.match(r.equivalences[0].message, /B stores every weight matrix transposed \(\[in, out\], for x @ W\), consistently/);
  const mixed = with_(a, { weight_ih_l0: transpose2d(a.get('weight_ih_l0') as FloatTensor) });
  const m = compareModels(a, mixed);
  assert.equal(m.status, 'different');
  assert.equal(m.findings[0].kind, 'transposed');
  assert.deepEqual(changes(m), ['transpose your weight_ih_l0 in file B']);
  // An Elman RNN's W_hh is square: its file's other matrices say how to read it.
  const rnn = stack('RNN', { hidden: 3, input: 2, prefix: 'rnn.' });
  const sq = with_(rnn, { 'rnn.weight_hh_l0': transpose2d(rnn.get('rnn.weight_hh_l0') as FloatTensor) });
  const s = compareModels(rnn, sq);
  assert.equal(s.findings[0].kind, 'transposed');
  assert.match(s.findings[0].message, /rnn\.weight_hh_l0: B's is the transpose of A's/);
  assert.deepEqual(changes(s), ['transpose your rnn.weight_hh_l0 in file B']);
  // ... and a whole file of x @ W matrices reads its square W_hh the same way.
  const allT = new Map([...rnn].map(([k, v]) => [k, v.shape.length === 2 ? transpose2d(v as FloatTensor) : v]));
  assert.equal(compareModels(rnn, allT).status, 'equivalent');
});

test('a gate swap in every tensor of a layer is one finding, in the file\'s own names and framework order', () => {
  const a = stack('LSTM', { prefix: 'rnn.' });
  const order = [0, 1, 3, 2]; // B holds i,f,o,g (Lua char-rnn's order) under PyTorch names
  const swapped: TensorMap = new Map([...a].map(([k, v]) => [k.replace('rnn.', 'lstm.'), permuteRowBlocks(v as FloatTensor, order)]));
  const r = compareModels(a, swapped, undefined, { label: 'file B (mine.pt)' });
  assert.equal(r.status, 'different');
  assert.equal(r.findings.length, 1);
  assert.equal(r.findings[0].message, 'gates g and o swapped in weight_ih_l0, weight_hh_l0 and bias_ih_l0 + bias_hh_l0');
  assert.equal(r.findings[0].change, "reorder your gate blocks i,f,o,g → PyTorch's i,f,g,o in lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 and lstm.bias_hh_l0 of file B (mine.pt)");
  assert.match(r.notes.join('\n'), /A's "rnn\.\*" ↔ B's "lstm\.\*"/);
  // Only W_ih swapped (i and f).
  const one = with_(a, { 'rnn.weight_ih_l0': permuteRowBlocks(a.get('rnn.weight_ih_l0') as FloatTensor, [1, 0, 2, 3]) });
  assert.deepEqual(changes(compareModels(a, one)), ["reorder your gate blocks f,i,g,o → PyTorch's i,f,g,o in rnn.weight_ih_l0 of file B"]);
  // In a Keras file (after import: canonical tensors, the file's kernel / recurrent_kernel / bias).
  const k = compareModels(a, new Map([...swapped].map(([n, v]) => [n.replace('lstm.', ''), v])), undefined, { layout: 'keras', format: 'keras-h5' });
  assert.deepEqual(changes(k), ["reorder your gate blocks i,f,o,c → Keras' i,f,c,o in kernel, recurrent_kernel and bias of recurrent layer 0 of file B"]);
  const o = compareModels(a, swapped, undefined, { layout: 'onnx', format: 'onnx' });
  assert.deepEqual(changes(o), ["reorder your gate blocks i,c,f,o → ONNX's i,o,f,c in W, R, B (its Wb half) and B (its Rb half) of the layer-0 node of file B"]);
});

test('the learner\'s from-scratch side is the one to change, in its own names', () => {
  const a = stack('LSTM');
  const swapped = new Map([...a].map(([k, v]) => [k, permuteRowBlocks(v as FloatTensor, [1, 0, 2, 3])]));
  const r = compareModels(swapped, a, { layout: 'scratch-per-gate', label: 'file A (mine.npz)' }, { layout: 'pytorch' });
  assert.equal(r.target, 'A');
  assert.deepEqual(changes(r), ['W_i, U_i and b_i hold the forget gate (f); W_f, U_f and b_f hold the input gate (i): rename them in file A (mine.npz)']);
  // Fused W/U/b read with --gate-order: the declared order is what to fix.
  const fused = compareModels(swapped, a, { layout: 'scratch-fused', gateOrder: ['i', 'f', 'c', 'o'] }, {});
  assert.deepEqual(changes(fused), ['your W, U and b hold gate blocks in the order f,i,c,o, not the i,f,c,o declared: pass --gate-order f,i,c,o for file A (or reorder the blocks)']);
  const doc = compareModels(swapped, a, { layout: 'doc-style' }, {});
  assert.match(changes(doc)[0], /^W_ii, W_hi and b_ii \+ b_hi|^W_ii, W_hi, b_ii and b_hi hold the forget gate/);
});

test('architectures are summarised, not listed tensor by tensor', () => {
  const a = stack('LSTM', { hidden: 6, layers: 1 });
  const b = stack('LSTM', { hidden: 4, layers: 2, bidi: true });
  const r = compareModels(a, b);
  assert.equal(r.status, 'different');
  assert.deepEqual(r.architecture, { a: 'LSTM, 1 layer × 6, one direction (input 3)', b: 'LSTM, 2 layers × 4, bidirectional (input 3)' });
  assert.deepEqual(r.onlyInA, []);
  assert.deepEqual(r.onlyInB, []);
  assert.equal(r.findings.length, 1);
  assert.match(r.findings[0].change, /build file B as file A: LSTM, 1 layer × 6, one direction \(input 3\) \(nn\.LSTM\(3, 6\)\)/);
  assert.match(verdictText(r).headline, /^DIFFERENT: different architectures — A: LSTM, 1 layer × 6, one direction \(input 3\); B: LSTM, 2 layers × 4, bidirectional \(input 3\)$/);
  assert.equal(compareModels(a, stack('GRU', { hidden: 6 })).findings[0].kind, 'architecture');
});

test('heads and embeddings align by function: fc vs head, fc1/fc2 vs head.0/head.2, encoder vs embedding', () => {
  const rnn = stack('LSTM', { hidden: 4, prefix: 'lstm.' });
  const emb = t([10, 3]);
  const w1 = t([6, 4]); const b1 = t([6]); const w2 = t([10, 6]); const b2 = t([10]);
  const a = new Map([...rnn, ['encoder.weight', emb], ['fc1.weight', w1], ['fc1.bias', b1], ['fc2.weight', w2], ['fc2.bias', b2]]);
  const b = new Map([...[...rnn].map(([k, v]) => [k.replace('lstm.', 'rnn.'), v] as const), ['embedding.weight', emb], ['head.0.weight', w1], ['head.0.bias', b1], ['head.2.weight', w2], ['head.2.bias', b2]]);
  const s = structureOf(b);
  assert.deepEqual(s.head.map((l) => l.prefix), ['head.0.', 'head.2.']);
  const r = compareModels(a, b);
  assert.equal(r.status, 'equivalent');
  assert.deepEqual(r.onlyInA, []);
  assert.deepEqual(r.onlyInB, []);
  assert.deepEqual(r.tensors.filter((x) => x.role !== 'rnn').map((x) => `${x.name}: ${x.nameA} ↔ ${x.nameB}`), [
    'embedding: encoder.weight ↔ embedding.weight', 'head.0.weight: fc1.weight ↔ head.0.weight', 'head.0.bias: fc1.bias ↔ head.0.bias',
    'head.1.weight: fc2.weight ↔ head.2.weight', 'head.1.bias: fc2.bias ↔ head.2.bias',
  ]);
  // A head or an embedding only one side has is listed, and fails only when strict.
  const bare = new Map([...rnn, ['head.weight', w1.shape[1] === 4 ? t([10, 4]) : w1]]);
  const fc = new Map([...rnn, ['fc.weight', bare.get('head.weight')!], ['encoder.weight', emb]]);
  const one = compareModels(fc, bare);
  assert.equal(one.status, 'equivalent');
  assert.deepEqual(one.unmatched.map((u) => u.summary), ['embedding encoder.weight [10, 3]']);
  assert.match(one.notes.join('\n'), /heads aligned by function: A's fc ↔ B's head/);
  const strict = compareModels(fc, bare, undefined, undefined, { strict: true });
  assert.equal(strict.differs, true);
  assert.match(verdictText(strict).headline, /^DIFFERENT \(--strict\): what both hold agrees, but 1 tensor only one side holds/);
  // Different heads are an architecture difference.
  const other = new Map([...rnn, ['fc.weight', t([7, 4])]]);
  assert.match(compareModels(fc, other).findings[0].message, /the heads differ: A: head 4→10; B: head 4→7/);
});

test('an io file\'s inputs are never differences; a trace against its inputs file', () => {
  const io = parseSafetensors(readFileSync(fixturePath('lstm_1l_f64/io.safetensors'))).tensors;
  const outputs = new Map([...io].filter(([k]) => !['x', 'h0', 'c0', 'loss_projection'].includes(k)));
  assert.equal(structureOf(io).rnn, undefined, 'grad_weight_ih_l0 is a gradient, not a recurrent stack under the prefix "grad_"');
  assert.deepEqual([...structureOf(io).inputs.keys()].sort(), ['c0', 'h0', 'loss_projection', 'x']);
  const r = compareModels(outputs, io);
  assert.equal(r.status, 'equivalent');
  assert.deepEqual(r.unmatched.map((u) => [u.side, u.role]), [['B', 'input']]);
  assert.equal(compareModels(outputs, io, undefined, undefined, { strict: true }).differs, false, 'inputs never count, even with strict');
  // Other inputs: noted, not a difference themselves (the outputs that follow from them would be).
  const x = io.get('x')!;
  const other = with_(io, { x: { ...x, data: f64(x).map((v) => v + 1) } as FloatTensor });
  const d = compareModels(io, other);
  assert.equal(d.status, 'equivalent');
  assert.ok(d.tensors.find((r2) => r2.name === 'x')!.exceeds);
  assert.match(d.notes.join('\n'), /inputs differ \(x\)/);
  // Inputs alone against outputs alone: nothing in common.
  const inputs = new Map([...io].filter(([k]) => ['x', 'h0', 'c0'].includes(k)));
  const n = compareModels(inputs, outputs);
  assert.equal(n.status, 'disjoint');
  assert.equal(n.differs, false);
  assert.match(verdictText(n).headline, /^NOTHING IN COMMON/);
});

test('hard sigmoid and the GRU reset variant from what each file records', () => {
  const a = stack('LSTM');
  const r = compareModels(a, a, { layout: 'keras', format: 'tfjs', recurrentActivation: 'hard_sigmoid' }, { recurrentActivation: 'sigmoid', assumed: ['recurrentActivation'] });
  assert.equal(r.status, 'different');
  assert.equal(r.findings[0].kind, 'hard-sigmoid');
  assert.equal(r.findings[0].side, 'A');
  assert.match(r.findings[0].message, /A's gates apply hard_sigmoid.*B's apply sigmoid \(assumed: the file does not record it\)/);
  assert.match(r.findings[0].change, /set recurrent_activation: 'sigmoid' on the LSTM layer of file A \(TensorFlow\.js and Keras 2 default to hard_sigmoid/);
  assert.match(r.notes.join('\n'), /pass --recurrent-activation hard_sigmoid/);
  const g = stack('GRU');
  const reset = compareModels(g, g, { gruReset: 'after' }, { layout: 'keras', gruReset: 'before' });
  assert.equal(reset.findings[0].kind, 'gru-reset');
  assert.match(reset.findings[0].change, /reset_after=True/);
});

test('snapshots (epoch{e}. and step{s}.) are compared one by one, with a per-index table', () => {
  for (const label of ['epoch', 'step']) {
    const a: TensorMap = new Map();
    const b: TensorMap = new Map();
    for (let e = 1; e <= 4; e++) {
      const m = stack('LSTM', { prefix: 'lstm.' });
      for (const [k, v] of m) {
        a.set(`${label}${e}.${k}`, v);
        b.set(`${label}${e}.${k}`, e >= 3 && k === 'lstm.weight_ih_l0' ? permuteRowBlocks(v as FloatTensor, [1, 0, 2, 3]) : v);
      }
    }
    a.set('losses', vec([1, 2, 3, 4]));
    b.set('losses', vec([1, 2, 3, 4]));
    assert.equal(splitSnapshots(a).snapshots!.label, label);
    const r = compareModels(a, b);
    assert.equal(r.status, 'different');
    assert.deepEqual(r.epochs!.map((e) => [e.epoch, e.label, e.exceeds]), [[1, label, false], [2, label, false], [3, label, true], [4, label, true]]);
    assert.equal(r.findings.length, 1);
    assert.deepEqual(r.findings[0].indices, [3, 4]);
    assert.match(verdictText(r).headline, new RegExp(`^DIFFERENT: gates i and f swapped in lstm\\.weight_ih_l0 \\(${label}s 3, 4\\)$`));
    const same = compareModels(a, a);
    assert.match(verdictText(same).headline, new RegExp(`^EQUIVALENT: A and B compute the same 4 ${label}s \\(`));
  }
});

test('training trajectories that diverge: where they start to', () => {
  const traj = parseSafetensors(readFileSync(fixturePath('seed000_sgd/trajectory.safetensors'))).tensors;
  const b: TensorMap = new Map([...traj].map(([k, v]) => {
    const e = /^epoch(\d+)\.lstm\.weight_hh_l0$/.exec(k);
    return [k, e && Number(e[1]) >= 2 ? { ...v, data: f64(v).map((x) => x * (1 + 1e-3 * Number(e[1]))) } as FloatTensor : v];
  }));
  const r = compareModels(traj, b);
  assert.equal(r.status, 'different');
  assert.equal(r.findings.length, 1);
  assert.match(r.findings[0].message, /^the snapshots differ from epoch 2 on \(3 of 4\), worst at epoch 4: lstm\.weight_hh_l0/);
  assert.deepEqual(r.epochs!.map((e) => e.exceeds), [false, true, true, true]);
  assert.equal(r.epochs![1].worst, 'lstm.weight_hh_l0');
});

test('hard sigmoid recognised from gate traces, and the states that follow from it explained by it', () => {
  const io = parseSafetensors(readFileSync(fixturePath('lstm_1l_f64/io.safetensors'))).tensors;
  const b = new Map([...io].map(([k, v]) => {
    if (!/^trace_l0_gate_[ifo]$/.test(k) && k !== 'output') return [k, v];
    const d = f64(v).map((g) => (k === 'output' ? g + 1e-3 : Math.min(1, Math.max(0, 0.2 * Math.log(g / (1 - g)) + 0.5))));
    return [k, { ...v, data: d } as FloatTensor];
  }));
  const r = compareModels(io, b);
  assert.equal(r.status, 'different');
  assert.deepEqual(r.findings.map((f) => [f.kind, f.side]), [['hard-sigmoid', 'B']]);
  assert.equal(r.findings[0].message, 'B applies hard_sigmoid (clip(0.2x + 0.5, 0, 1)) where A applies sigmoid, in trace_l0_gate_f, trace_l0_gate_i and trace_l0_gate_o');
  assert.match(r.findings[0].change, /compute the gates of file B with sigmoid, not hard_sigmoid/);
});

test('the user\'s own names of a from-scratch file: per gate, documentation style, d2l, prefixed, per layer, recurrentjs', () => {
  const raw = ['W_xi', 'W_hi', 'b_i', 'lstm.W_f', 'lstm.U_f', 'lstm.b_f', 'W_ii_l1', 'W_hi_l1', 'b_ii_l1', 'b_hi_l1', 'Wix0', 'Wih0', 'bi0', 'W_xc', 'U_h'];
  assert.equal(ownName(raw, 'LSTM', 'weight_ih', 0, 'i'), 'W_xi');
  assert.equal(ownName(raw, 'LSTM', 'weight_hh', 0, 'i'), 'W_hi');
  assert.equal(ownName(raw, 'LSTM', 'bias_ih', 0, 'i'), 'b_i');
  assert.equal(ownName(raw, 'LSTM', 'weight_ih', 0, 'f'), 'lstm.W_f');
  assert.equal(ownName(raw, 'LSTM', 'weight_hh', 0, 'f'), 'lstm.U_f');
  assert.equal(ownName(raw, 'LSTM', 'weight_ih', 1, 'i'), 'W_ii_l1');
  assert.equal(ownName(raw, 'LSTM', 'bias_hh', 1, 'i'), 'b_hi_l1');
  assert.equal(ownName(raw, 'LSTM', 'weight_ih', 0, 'g'), 'W_xc', 'c is the cell candidate g');
  assert.equal(ownName(['Wix0', 'Wih0', 'bi0'], 'LSTM', 'weight_hh', 0, 'i'), 'Wih0');
  assert.equal(ownName(['U_i', 'W_i'], 'LSTM', 'weight_ih', 0, 'i', 'U'), 'U_i', 'a file whose U is the input weight');
  assert.equal(ownName(['enc.W', 'enc.U', 'enc.b'], 'LSTM', 'weight_hh', 0, undefined), 'enc.U');
  assert.equal(ownName(raw, 'LSTM', 'weight_ih', 2, 'i'), undefined);
  // In a verdict: the names the file has.
  const a = stack('LSTM');
  const swapped = new Map([...a].map(([k, v]) => [k, permuteRowBlocks(v as FloatTensor, [1, 0, 2, 3])]));
  const doc = ['W_ii', 'W_hi', 'b_ii', 'W_if', 'W_hf', 'b_if', 'W_ig', 'W_hg', 'b_ig', 'W_io', 'W_ho', 'b_io'];
  const r = compareModels(a, swapped, {}, { layout: 'scratch-per-gate', rawNames: doc });
  assert.deepEqual(changes(r), ['W_ii, W_hi and b_ii hold the forget gate (f); W_if, W_hf and b_if hold the input gate (i): rename them in file B']);
});
