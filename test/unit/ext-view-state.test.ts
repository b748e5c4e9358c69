import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultViewState, parseUnitFilter, parseViewState, sortUnits } from '../../src/extension/logic/viewState';
import { SpanScanner, unitsOnOverSpan } from '../../src/extension/logic/spans';

test('view state survives a round trip and bad state becomes defaults', () => {
  const s = { view: 'trace', traceId: 'x', selector: { layer: 1, direction: 1, tensor: 'gate_f' }, position: 500, unit: 3, sort: 'variance', filter: '1-4', threshold: 0.5 };
  assert.deepEqual(parseViewState('trace', JSON.parse(JSON.stringify(s))), s);
  assert.deepEqual(parseViewState('trace', { view: 'trace', selector: 'no', position: -5, unit: -1, sort: 'zzz' }), { ...defaultViewState('trace'), position: 0 });
  assert.deepEqual(parseViewState('dashboard', { view: 'dashboard', smoothing: 5, logScale: true }), { view: 'dashboard', smoothing: 0.99, logScale: true });
  assert.deepEqual(parseViewState('dashboard', { view: 'trace' }), defaultViewState('dashboard'));
  assert.deepEqual(parseViewState('diff', undefined), { view: 'diff' });
});

test('unit filters accept ids and ranges and name bad parts', () => {
  assert.equal(parseUnitFilter('  ', 10), null);
  assert.deepEqual([...parseUnitFilter('3, 7 1-2 8-20', 10)!].sort((a, b) => a - b), [1, 2, 3, 7, 8, 9]);
  assert.throws(() => parseUnitFilter('3,x', 10), /"x" is not a unit id/);
  assert.throws(() => parseUnitFilter('5-2', 10), /backwards/);
});

test('sortUnits orders by a statistic over the window', () => {
  // T=2, H=3: unit 0 constant 0, unit 1 mean 1 (0,2), unit 2 mean 0.5 constant
  const w = [0, 0, 0.5, 0, 2, 0.5];
  assert.deepEqual(sortUnits(w, 3, 'index'), [0, 1, 2]);
  assert.deepEqual(sortUnits(w, 3, 'mean'), [1, 2, 0]);
  assert.deepEqual(sortUnits(w, 3, 'variance'), [1, 0, 2]);
  assert.deepEqual(sortUnits(w, 3, 'max'), [1, 2, 0]);
});

test('LSTMVis: units on over a span, then matching spans across windows', () => {
  // H=2; unit 0 is on at t=1..3 and 6..8; unit 1 is always on.
  const on0 = [0, 1, 1, 1, 0, 0, 1, 1, 1, 0];
  const window = on0.flatMap((v) => [v, 1]);
  assert.deepEqual(unitsOnOverSpan(window, 2, 1, 3, 0.5), [0, 1]);
  assert.deepEqual(unitsOnOverSpan(window, 2, 0, 3, 0.5), [1]);
  assert.throws(() => unitsOnOverSpan(window, 2, 5, 20, 0.5), /outside/);
  const scanner = new SpanScanner([0, 1], 2, 0.5, 2);
  scanner.feed(0, window.slice(0, 14)); // t 0..6 (run 6.. continues into the next window)
  scanner.feed(7, window.slice(14));
  assert.deepEqual(scanner.finish(), [{ start: 1, end: 4 }, { start: 6, end: 9 }]);
  assert.throws(() => new SpanScanner([0], 2, 0.5, 1).feed(3, []), /expected timestep 0/);
});
