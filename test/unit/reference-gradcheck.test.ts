// Backward against central finite differences, for every cell variant, including the ones PyTorch has
// no module for (Keras' reset-before GRU, hard-sigmoid gates) and for packed, batch-first, unbatched input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RnnConfig, rnnConfig } from '../../src/core/config';
import { initRnnParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { rnnBackward, rnnForward } from '../../src/core/reference/rnn';
import type { FloatTensor, TensorMap } from '../../src/core/tensor';

function randomTensor(shape: number[], seed: number, scale = 1): FloatTensor {
  const rng = createRng(seed);
  const data = new Float64Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * scale;
  return { dtype: 'float64', shape, data };
}

function check(name: string, cfg: RnnConfig, xShape: number[], lengths?: number[]): void {
  test(`gradcheck ${name}`, () => {
    const params = initRnnParameters(cfg, createRng(3));
    const x = randomTensor(xShape, 4);
    const LD = cfg.numLayers * (cfg.bidirectional ? 2 : 1);
    const N = xShape.length === 2 ? 0 : cfg.batchFirst ? xShape[0] : xShape[1];
    const stateShape = N ? [LD, N, cfg.hiddenSize] : [LD, cfg.hiddenSize];
    const h0 = randomTensor(stateShape, 5, 0.5);
    const c0 = cfg.module === 'LSTM' ? randomTensor(stateShape, 6, 0.5) : undefined;
    const inputs = { x, h0, c0, lengths };
    const fwd = rnnForward(cfg, params, inputs, { forBackward: true });
    const R = randomTensor([...fwd.output.shape], 7);
    const loss = (p: TensorMap, xs = x, h = h0, c = c0): number => {
      const f = rnnForward(cfg, p, { x: xs, h0: h, c0: c, lengths });
      let s = 0;
      f.output.data.forEach((v, i) => { s += v * R.data[i]; });
      f.hN.data.forEach((v) => { s += 0.5 * v * v; });
      f.cN?.data.forEach((v) => { s += 0.25 * v; });
      return s;
    };
    const dCN = fwd.cN ? { ...fwd.cN, data: fwd.cN.data.map(() => 0.25) } : undefined;
    const g = rnnBackward(fwd, { dOutput: R, dHN: fwd.hN, dCN });
    const eps = 1e-6;
    const numeric = (t: FloatTensor, i: number, f: () => number): number => {
      const old = t.data[i];
      t.data[i] = old + eps; const up = f();
      t.data[i] = old - eps; const down = f();
      t.data[i] = old;
      return (up - down) / (2 * eps);
    };
    const close = (a: number, b: number, what: string): void =>
      assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a)), `${what}: analytic ${a} vs numeric ${b}`);
    for (const [pname, t] of params) {
      const ft = t as FloatTensor;
      for (const i of [0, Math.floor(ft.data.length / 2), ft.data.length - 1]) {
        close(g.grads.get(pname)!.data[i] as number, numeric(ft, i, () => loss(params)), `${pname}[${i}]`);
      }
    }
    for (const i of [0, Math.floor(x.data.length / 3), x.data.length - 1]) close(g.dx.data[i], numeric(x, i, () => loss(params)), `x[${i}]`);
    for (const i of [0, h0.data.length - 1]) close(g.dh0.data[i], numeric(h0, i, () => loss(params)), `h0[${i}]`);
    if (c0) for (const i of [0, c0.data.length - 1]) close(g.dc0!.data[i], numeric(c0, i, () => loss(params)), `c0[${i}]`);
  });
}

const f64 = { dtype: 'float64' as const };
check('GRU reset-before (Keras reset_after=False), 2 layers', rnnConfig({ module: 'GRU', inputSize: 3, hiddenSize: 4, numLayers: 2, gruReset: 'before', ...f64 }), [4, 2, 3]);
check('GRU reset-before, bidirectional, no bias', rnnConfig({ module: 'GRU', inputSize: 3, hiddenSize: 3, bidirectional: true, bias: false, gruReset: 'before', ...f64 }), [3, 2, 3]);
check('LSTM with hard-sigmoid gates', rnnConfig({ module: 'LSTM', inputSize: 3, hiddenSize: 4, recurrentActivation: 'hard_sigmoid', ...f64 }), [5, 2, 3]);
check('GRU with hard-sigmoid gates, batch first', rnnConfig({ module: 'GRU', inputSize: 2, hiddenSize: 3, batchFirst: true, recurrentActivation: 'hard_sigmoid', ...f64 }), [2, 4, 2]);
check('LSTM bidirectional packed, batch first', rnnConfig({ module: 'LSTM', inputSize: 3, hiddenSize: 3, bidirectional: true, batchFirst: true, ...f64 }), [3, 5, 3], [5, 2, 4]);
check('RNN relu unbatched input', rnnConfig({ module: 'RNN', inputSize: 3, hiddenSize: 4, nonlinearity: 'relu', numLayers: 2, ...f64 }), [6, 3]);

test('bad shapes and lengths are refused with messages naming the tensor', () => {
  const cfg = rnnConfig({ module: 'LSTM', inputSize: 3, hiddenSize: 2 });
  const params = initRnnParameters(cfg, createRng(1));
  assert.throws(() => rnnForward(cfg, params, { x: randomTensor([2, 2, 4], 1) }), /input x has shape \[2, 2, 4\]/);
  assert.throws(() => rnnForward(cfg, params, { x: randomTensor([2, 2, 3], 1), lengths: [3, 1] }), /lengths\[0\] = 3/);
  assert.throws(() => rnnForward(cfg, params, { x: randomTensor([2, 2, 3], 1), h0: randomTensor([1, 3, 2], 1) }), /h0 has shape/);
  params.delete('bias_hh_l0');
  assert.throws(() => rnnForward(cfg, params, { x: randomTensor([2, 2, 3], 1) }), /missing parameter bias_hh_l0/);
});
