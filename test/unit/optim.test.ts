// torch.optim rules and gradient clipping, step for step against PyTorch (scripts/gen_core_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OptimizerConfig } from '../../src/core/engine';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { relativeError } from '../../src/core/metrics';
import { applyClipping, clipGradNorm, clipGradValue, createOptimizer } from '../../src/core/optim';
import { type FloatTensor, toFloat } from '../../src/core/tensor';

const { tensors, metadata } = parseSafetensors(readFileSync(join(__dirname, '../fixtures/core/optim.safetensors')));
const get = (k: string): FloatTensor => toFloat(tensors.get(k)!, 'float64');
const copy = (t: FloatTensor): FloatTensor => ({ ...t, data: t.data.slice() });
const torchArgs: Record<string, Record<string, unknown>> = JSON.parse(metadata.cases);

function optimizerConfig(name: string): OptimizerConfig {
  const a = torchArgs[name];
  const kind = name.split('_')[0] as OptimizerConfig['kind'];
  return {
    kind, lr: a.lr as number, momentum: a.momentum as number | undefined, dampening: a.dampening as number | undefined,
    nesterov: a.nesterov as boolean | undefined, betas: a.betas as [number, number] | undefined, eps: a.eps as number | undefined,
    weightDecay: a.weight_decay as number | undefined, alpha: a.alpha as number | undefined, centered: a.centered as boolean | undefined,
    lrDecay: a.lr_decay as number | undefined, initialAccumulatorValue: a.initial_accumulator_value as number | undefined,
  };
}

for (const name of Object.keys(torchArgs)) {
  test(`${name}: five steps equal torch.optim to 1e-14`, () => {
    const opt = createOptimizer(optimizerConfig(name));
    const p = copy(get('p0'));
    for (let s = 1; s <= 5; s++) {
      opt.step(new Map([['p', p]]), new Map([['p', copy(get(`grad${s - 1}`))]]));
      const err = relativeError(get(`${name}.step${s}`), p);
      assert.ok(err < 1e-14, `step ${s}: ${err}`);
    }
  });
}

test('optimizer state round-trips: a restored optimizer continues identically', () => {
  const cfg = optimizerConfig('adam_wd');
  const a = createOptimizer(cfg), pa = copy(get('p0'));
  for (let s = 0; s < 2; s++) a.step(new Map([['p', pa]]), new Map([['p', copy(get(`grad${s}`))]]));
  const b = createOptimizer(cfg), pb = copy(pa);
  b.loadState(a.state());
  for (let s = 2; s < 5; s++) {
    a.step(new Map([['p', pa]]), new Map([['p', copy(get(`grad${s}`))]]));
    b.step(new Map([['p', pb]]), new Map([['p', copy(get(`grad${s}`))]]));
  }
  assert.deepEqual(Array.from(pb.data), Array.from(pa.data));
});

test('clip_grad_norm_ and clip_grad_value_ match PyTorch', () => {
  const a = copy(get('grad0'));
  const g1 = get('grad1');
  const b: FloatTensor = { dtype: 'float64', shape: [2, 4], data: g1.data.slice(0, 8) };
  const total = clipGradNorm([a, b], 1.5);
  assert.ok(Math.abs(total - get('clip_norm.total').data[0]) < 1e-14);
  assert.ok(relativeError(get('clip_norm.a'), a) < 1e-15 && relativeError(get('clip_norm.b'), b) < 1e-15);
  const a2 = copy(get('grad0')), b2: FloatTensor = { ...b, data: g1.data.slice(0, 8) };
  clipGradValue([a2, b2], 0.3);
  assert.equal(relativeError(get('clip_value.a'), a2), 0);
  assert.equal(relativeError(get('clip_value.b'), b2), 0);
  assert.ok(applyClipping(new Map([['a', copy(get('grad0'))]]), undefined) > 0);
});

test('a negative learning rate is refused', () => {
  assert.throws(() => createOptimizer({ kind: 'sgd', lr: -1 }), /learning rate/);
});
