// From-scratch layouts as students and small programs save them: every naming scheme, layer suffix, module
// prefix and per-epoch container is read back to exactly the model that wrote it (float64 outputs equal to
// 1e-12, or the very parameters), and where the shapes cannot tell W x from x W, or the input weight from
// the recurrent one (square matrices), the import asks for the flag and says why instead of guessing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RnnConfig, GATES, rnnConfig } from '../../src/core/config';
import { initRnnParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { rnnForward } from '../../src/core/reference/rnn';
import { type FloatTensor, type Tensor, type TensorMap, fromArray } from '../../src/core/tensor';
import { importNamed, type NamedImportOptions } from '../../src/core/layouts/named';
import { type ImportedModel, rnnParams } from '../../src/core/layouts/model';
import { ModelAmbiguityError } from '../../src/core/modelFromTensors';
import { transpose2d } from '../../src/core/layouts/blocks';
import { relativeError } from '../../src/core/diff/metrics';

const f64 = (cfg: Omit<Parameters<typeof rnnConfig>[0], 'dtype'>): RnnConfig => rnnConfig({ ...cfg, dtype: 'float64' });

/** Rows [k*H, (k+1)*H) of a [G*H, ...] tensor (one gate block). */
function block(t: Tensor, k: number, H: number): FloatTensor {
  const cols = t.shape.length === 2 ? t.shape[1] : 1;
  const data = (t.data as Float64Array).slice(k * H * cols, (k + 1) * H * cols);
  return { dtype: 'float64', shape: t.shape.length === 2 ? [H, cols] : [H], data };
}

function outputOf(cfg: RnnConfig, params: TensorMap, seed = 3): Float64Array {
  const T = 5, N = 2;
  const x = fromArray('float64', [T, N, cfg.inputSize], Array.from({ length: T * N * cfg.inputSize }, (_, i) => Math.sin(i * 0.37 + seed)));
  return rnnForward(cfg, params, { x }).output.data as Float64Array;
}

/** The import computes what the original computes (biases may be merged: compare outputs). */
function same(m: ImportedModel, cfg: RnnConfig, params: TensorMap, what: string): void {
  assert.equal(m.config.module, cfg.module, what);
  assert.equal(m.config.numLayers, cfg.numLayers, what);
  const e = relativeError(outputOf(cfg, params), outputOf({ ...m.config, dtype: 'float64' }, rnnParams(m)));
  assert.ok(e < 1e-12, `${what}: output relative error ${e}`);
}

type Orientation = 'out-in' | 'in-out';
const orient = (t: FloatTensor, o: Orientation): FloatTensor => (o === 'out-in' ? t : transpose2d(t));

/**
 * Per-gate arrays of a canonical stack: names(gate letter, layer) → [input, recurrent, bias (b_ih + b_hh)]
 * or, with two biases, → [input, recurrent, bias_ih, bias_hh].
 */
function perGate(cfg: RnnConfig, params: TensorMap, o: Orientation, names: (g: string, l: number) => string[], letters?: Record<string, string>): TensorMap {
  const out: TensorMap = new Map();
  const H = cfg.hiddenSize;
  const gates = cfg.module === 'RNN' ? ['x'] : GATES[cfg.module];
  for (let l = 0; l < cfg.numLayers; l++) {
    gates.forEach((g, k) => {
      const n = names(letters?.[g] ?? g, l);
      out.set(n[0], orient(block(params.get(`weight_ih_l${l}`)!, k, H), o));
      out.set(n[1], orient(block(params.get(`weight_hh_l${l}`)!, k, H), o));
      const bi = block(params.get(`bias_ih_l${l}`)!, k, H), bh = block(params.get(`bias_hh_l${l}`)!, k, H);
      if (n.length === 4) {
        out.set(n[2], bi);
        out.set(n[3], bh);
      } else if (n[2]) {
        out.set(n[2], { ...bi, data: bi.data.map((v, j) => v + bh.data[j]) });
      }
    });
  }
  return out;
}

const lstm = f64({ module: 'LSTM', inputSize: 3, hiddenSize: 4 });
const lstmP = initRnnParameters(lstm, createRng(1));
// A GRU's merged bias changes its candidate: from-scratch GRUs here have bias_hh = 0 for the n gate.
const zeroBiasHh = (p: TensorMap): TensorMap => new Map([...p].map(([k, t]) => [k, k.startsWith('bias_hh') ? { ...t, data: new Float64Array(t.data.length) } : t]));

test('W_g / U_g / b_g: W x or x W and which one is the input weight, from the shapes', () => {
  for (const o of ['out-in', 'in-out'] as const) {
    same(importNamed(perGate(lstm, lstmP, o, (g) => [`W_${g}`, `U_${g}`, `b_${g}`], { g: 'c' })), lstm, lstmP, `W_i/U_i ${o}`);
    // The U = input, W = recurrent convention of another course: the square one is recurrent.
    const swapped = importNamed(perGate(lstm, lstmP, o, (g) => [`U_${g}`, `W_${g}`, `b_${g}`]));
    same(swapped, lstm, lstmP, `U_i input, W_i recurrent (${o})`);
    assert.match(swapped.source.notes[0], /U is the input weight/);
  }
});

test('square matrices: the import asks which letter is the input weight and which orientation, never guesses', () => {
  const sq = f64({ module: 'LSTM', inputSize: 4, hiddenSize: 4 });
  const p = initRnnParameters(sq, createRng(2));
  for (const [inputLetter, o] of [['W', 'out-in'], ['U', 'in-out'], ['U', 'out-in']] as const) {
    const arrays = perGate(sq, p, o, (g) => (inputLetter === 'W' ? [`W_${g}`, `U_${g}`, `b_${g}`] : [`U_${g}`, `W_${g}`, `b_${g}`]));
    assert.throws(() => importNamed(arrays), (e: Error) => e instanceof ModelAmbiguityError && /--input-weight W\|U/.test(e.message) && /same shape/.test(e.message));
    assert.throws(() => importNamed(arrays, { inputWeight: inputLetter }), (e: Error) => e instanceof ModelAmbiguityError && /--orientation out-in\|in-out/.test(e.message) && /every weight is square/.test(e.message));
    same(importNamed(arrays, { inputWeight: inputLetter, orientation: o }), sq, p, `square ${inputLetter} input, ${o}`);
    // The wrong answer is a different model: that is why it is asked (the swapped reading is far off).
    const wrong = importNamed(arrays, { inputWeight: inputLetter === 'W' ? 'U' : 'W', orientation: o });
    assert.ok(relativeError(outputOf(sq, p), outputOf({ ...wrong.config, dtype: 'float64' }, rnnParams(wrong))) > 1e-2);
  }
  // A flag the shapes contradict is refused.
  const arrays = perGate(lstm, lstmP, 'out-in', (g) => [`W_${g}`, `U_${g}`, `b_${g}`]);
  assert.throws(() => importNamed(arrays, { orientation: 'in-out' }), /--orientation in-out, but the shapes show out-in/);
  assert.throws(() => importNamed(arrays, { inputWeight: 'U' }), /--input-weight U, but the shapes show W is the input weight/);
});

test("d2l's W_xg / W_hg / b_g with the W_hq / b_q output layer: a whole one-hot model", () => {
  const arrays = perGate(lstm, lstmP, 'in-out', (g) => [`W_x${g}`, `W_h${g}`, `b_${g}`], { g: 'c' });
  const head = fromArray('float64', [5, 4], Array.from({ length: 20 }, (_, i) => Math.cos(i)));
  arrays.set('W_hq', transpose2d(head)); // d2l: Y = H @ W_hq + b_q
  arrays.set('b_q', fromArray('float64', [5], [0.1, 0.2, 0.3, 0.4, 0.5]));
  const m = importNamed(arrays, { hints: { readout: 'last' } });
  same(m, lstm, lstmP, 'd2l');
  assert.ok(m.model, m.source.modelProblem ?? 'no model');
  assert.equal(m.model!.readout, 'last');
  assert.deepEqual([...m.params.get('head.weight')!.data], [...head.data]);
  // Without the readout (5 classes for 3 inputs) the stack is still read, and it says why it is not a model.
  const bare = importNamed(arrays);
  assert.equal(bare.model, undefined);
  assert.match(bare.source.modelProblem!, /readout/);
  assert.throws(() => importNamed(arrays, { requireModel: true }), (e: Error) => e instanceof ModelAmbiguityError && /--readout/.test(e.message));
});

test("PyTorch's documentation names W_ig / W_hg / b_ig / b_hg, two layers with _l suffixes: exactly PyTorch's parameters", () => {
  const two = f64({ module: 'LSTM', inputSize: 3, hiddenSize: 4, numLayers: 2 });
  const p = initRnnParameters(two, createRng(5));
  const m = importNamed(perGate(two, p, 'out-in', (g, l) => [`W_i${g}_l${l}`, `W_h${g}_l${l}`, `b_i${g}_l${l}`, `b_h${g}_l${l}`]));
  for (const [k, t] of p) assert.deepEqual([...rnnParams(m).get(k)!.data], [...t.data], k);
  // GRU in the same names (r, z, n), from-scratch: where the reset gate applies is asked.
  const gru = f64({ module: 'GRU', inputSize: 3, hiddenSize: 4 });
  const gp = initRnnParameters(gru, createRng(6));
  const arrays = perGate(gru, gp, 'out-in', (g) => [`W_i${g}`, `W_h${g}`, `b_i${g}`, `b_h${g}`]);
  assert.throws(() => importNamed(arrays), (e: Error) => e instanceof ModelAmbiguityError && /--gru-reset/.test(e.message));
  same(importNamed(arrays, { gruReset: 'after' }), gru, gp, 'PyTorch-doc GRU');
});

test('layer suffixes: W_i0, W_i_1 (1-based), W_i_layer0, Wxh0 — and a module prefix', () => {
  const two = f64({ module: 'GRU', inputSize: 3, hiddenSize: 4, numLayers: 2 });
  const p = zeroBiasHh(initRnnParameters(two, createRng(7)));
  for (const names of [(g: string, l: number) => [`W_${g}${l}`, `U_${g}${l}`, `b_${g}${l}`], (g: string, l: number) => [`W_${g}_${l + 1}`, `U_${g}_${l + 1}`, `b_${g}_${l + 1}`],
    (g: string, l: number) => [`gru.W_${g}_layer${l}`, `gru.U_${g}_layer${l}`, `gru.b_${g}_layer${l}`]]) {
    const m = importNamed(perGate(two, p, 'in-out', names, { n: 'h' }), { gruReset: 'after' });
    same(m, two, p, names('z', 0).join(','));
  }
  // min-char-rnn grown to two layers (Wxh0, Whh0, bh0, ...; Why, by): tanh, W x.
  const rnn = f64({ module: 'RNN', inputSize: 6, hiddenSize: 5, numLayers: 2 });
  const rp = initRnnParameters(rnn, createRng(8));
  const arrays = perGate(rnn, rp, 'out-in', (_, l) => [`Wxh${l}`, `Whh${l}`, `bh${l}`]);
  arrays.set('Why', fromArray('float64', [6, 5], Array.from({ length: 30 }, (_, i) => Math.sin(i))));
  arrays.set('by', fromArray('float64', [6, 1], [0, 1, 2, 3, 4, 5]));
  const m = importNamed(arrays);
  same(m, rnn, rp, 'Wxh0/Whh0/bh0');
  assert.equal(m.source.layout, 'min-char-rnn');
  assert.equal(m.model?.vocabSize, 6);
  // lstm.W_i under a module, with a PyTorch Linear after it.
  const prefixed = perGate(lstm, lstmP, 'out-in', (g) => [`lstm.W_${g}`, `lstm.U_${g}`, `lstm.b_${g}`]);
  prefixed.set('fc.weight', fromArray('float64', [3, 4], Array.from({ length: 12 }, (_, i) => i / 10)));
  prefixed.set('fc.bias', fromArray('float64', [3], [1, 2, 3]));
  const whole = importNamed(prefixed);
  same(whole, lstm, lstmP, 'lstm.W_i');
  assert.equal(whole.model?.readout, 'per_step', 'a one-hot language model: fc predicts the 3 input tokens');
  assert.deepEqual([...whole.params.get('head.bias')!.data], [1, 2, 3]);
});

test('recurrentjs names (Wix0, Wih0, bi0, ..., Wil, Whd, bd) in an npz: layers of different sizes are padded with zero units', () => {
  const H = [4, 3], E = 2, V = 5;
  const rng = createRng(9);
  const arrays: TensorMap = new Map();
  const mat = (r: number, c: number): FloatTensor => fromArray('float64', [r, c], Array.from({ length: r * c }, () => rng.uniform() - 0.5));
  arrays.set('Wil', mat(V, E));
  H.forEach((h, l) => {
    const inSize = l === 0 ? E : H[l - 1];
    for (const g of ['i', 'f', 'o', 'c']) {
      arrays.set(`W${g}x${l}`, mat(h, inSize));
      arrays.set(`W${g}h${l}`, mat(h, h));
      arrays.set(`b${g}${l}`, mat(h, 1));
    }
  });
  arrays.set('Whd', mat(V, H[1]));
  arrays.set('bd', mat(V, 1));
  const m = importNamed(arrays);
  assert.equal(m.source.layout, 'recurrentjs');
  assert.deepEqual(m.source.hiddenSizes, [4, 3]);
  assert.equal(m.config.hiddenSize, 4);
  assert.equal(m.model?.embedding?.numEmbeddings, V);
  // Layer 1's fourth unit is padding: its rows and its column in the head are zero.
  const whh1 = m.params.get('rnn.weight_hh_l1')!.data as Float64Array;
  for (let k = 0; k < 4; k++) for (let j = 0; j < 4; j++) assert.equal(whh1[(k * 4 + 3) * 4 + j], 0);
  const head = m.params.get('head.weight')!.data as Float64Array;
  for (let v = 0; v < V; v++) assert.equal(head[v * 4 + 3], 0);
});

test('per-epoch files: a dict of lists (weight[k][epoch]), a list of state_dicts, epoch{e}. names; the last epoch is the model', () => {
  const ps = [1, 2, 3].map((s) => initRnnParameters(lstm, createRng(20 + s)));
  const arrays = ps.map((p) => perGate(lstm, p, 'out-in', (g) => [`W_${g}`, `U_${g}`, `b_${g}`]));
  const layouts: [string, TensorMap][] = [
    ['dict of lists', new Map(arrays.flatMap((a, e) => [...a].map(([n, t]) => [`${n}.${e}`, t] as [string, Tensor])))],
    ['list of state_dicts', new Map(arrays.flatMap((a, e) => [...a].map(([n, t]) => [`${e}.${n}`, t] as [string, Tensor])))],
    ['epoch{e}.', new Map(arrays.flatMap((a, e) => [...a].map(([n, t]) => [`epoch${e}.${n}`, t] as [string, Tensor])))],
    ['_epoch{e}', new Map(arrays.flatMap((a, e) => [...a].map(([n, t]) => [`${n}_epoch${e}`, t] as [string, Tensor])))],
  ];
  for (const [what, tensors] of layouts) {
    const m = importNamed(tensors);
    assert.deepEqual(m.epochs?.map((e) => e.epoch), [0, 1, 2], what);
    same(m, lstm, ps[2], `${what}: the last epoch`);
    m.epochs!.forEach((e, i) => same({ ...m, params: e.params }, lstm, ps[i], `${what}: epoch ${i}`));
    same(importNamed(tensors, { epoch: 1 }), lstm, ps[1], `${what}: --epoch 1`);
  }
  // PyTorch names in a list of state_dicts (torch.save([model.state_dict() for each epoch])).
  const torchList = new Map(ps.flatMap((p, e) => [...p].map(([n, t]) => [`${e}.${n}`, t] as [string, Tensor])));
  same(importNamed(torchList), lstm, ps[2], 'list of PyTorch state_dicts');
});

test('unknown or contradictory layouts are refused with the tensors listed', () => {
  const opts: NamedImportOptions = {};
  assert.throws(() => importNamed(new Map([['foo', fromArray('float64', [2, 2], [1, 2, 3, 4])]]), opts), /no recurrent layout recognised.*Tensors found: foo \[2, 2\]/);
  const arrays = perGate(lstm, lstmP, 'out-in', (g) => [`W_${g}`, `U_${g}`, `b_${g}`]);
  arrays.delete('U_f');
  assert.throws(() => importNamed(arrays), /gate f needs both an input and a recurrent weight/);
  const rnn = f64({ module: 'RNN', inputSize: 3, hiddenSize: 4 });
  const elman = perGate(rnn, initRnnParameters(rnn, createRng(4)), 'in-out', () => ['W_xh', 'W_hh', 'b_h']);
  assert.throws(() => importNamed(elman), (e: Error) => e instanceof ModelAmbiguityError && /--nonlinearity/.test(e.message));
});
