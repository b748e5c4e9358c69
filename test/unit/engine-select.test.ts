// createLmEngine / availableEngines: what 'auto' picks, fallbacks and clear refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { EngineUnavailableError, availableEngines, createLmEngine } from '../../src/engines';

const lm = (extra: object): ModelConfig => (modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: 5, hiddenSize: 4, ...extra }), vocabSize: 5, outputSize: 5 }));

test('availableEngines lists the built-in engines, fastest first', () => {
  const names = availableEngines();
  assert.ok(names.includes('js') && names.includes('reference'));
  assert.equal(names.at(-1), 'reference');
  const fastest = ['native', 'wasm'].filter((n) => names.includes(n));
  assert.deepEqual(names.slice(0, fastest.length), fastest);
});

test("'auto' picks native or wasm for float32, js for float64, the reference for Keras' reset-before GRU", () => {
  const f32 = createLmEngine(lm({}));
  const expected = availableEngines().find((n) => n === 'native' || n === 'wasm') ?? 'js';
  assert.ok(f32.name.startsWith(expected), `auto made ${f32.name}, expected ${expected}`);
  f32.dispose();
  assert.equal(createLmEngine(lm({ dtype: 'float64' })).name, 'js');
  const bi = createLmEngine(lm({ bidirectional: true }));
  assert.ok(bi.name.startsWith(expected), `bidirectional: auto made ${bi.name}, expected ${expected}`);
  bi.dispose();
  assert.equal(createLmEngine(lm({ module: 'GRU', gruReset: 'before' })).name, 'reference');
  assert.equal(createLmEngine(lm({}), { engine: 'reference' }).name, 'reference');
});

test('engines that cannot run a config say why', () => {
  assert.throws(() => createLmEngine(lm({ module: 'GRU', gruReset: 'before' }), { engine: 'js' }), /reset before the matmul/);
  assert.throws(() => createLmEngine(lm({ module: 'GRU', gruReset: 'before' }), { engine: 'js' }), EngineUnavailableError);
  for (const engine of ['native', 'wasm'] as const) {
    if (availableEngines().includes(engine)) assert.throws(() => createLmEngine(lm({ dtype: 'float64' }), { engine }), /float32/);
  }
  assert.throws(() => createLmEngine(lm({}), { engine: 'nope' as 'js' }), /unknown engine/);
});

test('all engines start from the same parameters when none are given', () => {
  const a = createLmEngine(lm({}), { engine: 'js' }).getParameters();
  const b = createLmEngine(lm({}), { engine: 'reference' }).getParameters();
  for (const [name, t] of b) assert.deepEqual(a.get(name)!.data, t.data, name);
});
