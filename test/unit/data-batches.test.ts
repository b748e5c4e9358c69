import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitTrainValidation } from '../../src/core/data/split';
import { randomBatch, streamBatch, streamLayout } from '../../src/core/data/streams';
import { oneHotTimeMajor, padBatch } from '../../src/core/data/sequences';
import { createRng } from '../../src/core/random';

const ids = Int32Array.from({ length: 101 }, (_, i) => i);

test('contiguous 90/10 split keeps the tail for validation', () => {
  const s = splitTrainValidation(ids);
  assert.equal(s.train.length, 91);
  assert.equal(s.validation[0], 91);
  assert.throws(() => splitTrainValidation(ids, 1));
});

test('stream batches: B contiguous streams, window k continues window k-1, targets shifted by one', () => {
  const layout = streamLayout(ids.length, 4, 5); // streams of 25 tokens, 5 windows
  assert.deepEqual(layout, { batchSize: 4, seqLen: 5, streamLen: 25, windowsPerEpoch: 5 });
  const b0 = streamBatch(ids, layout, 0);
  const b1 = streamBatch(ids, layout, 1);
  assert.deepEqual([...b0.inputs.subarray(0, 5)], [0, 1, 2, 3, 4]);
  assert.deepEqual([...b0.inputs.subarray(5, 10)], [25, 26, 27, 28, 29]);
  assert.deepEqual([...b1.inputs.subarray(5, 10)], [30, 31, 32, 33, 34]);
  assert.deepEqual([...b1.targets.subarray(5, 10)], [31, 32, 33, 34, 35]);
  const last = streamBatch(ids, layout, 4);
  assert.equal(last.targets[last.targets.length - 1], 100);
  assert.throws(() => streamBatch(ids, layout, 5));
});

test('random windows are reproducible from the seed and stay inside the data', () => {
  const a = randomBatch(ids, 8, 10, createRng(3));
  const b = randomBatch(ids, 8, 10, createRng(3));
  assert.deepEqual(a, b);
  for (let i = 0; i < a.inputs.length; i++) assert.equal(a.targets[i], a.inputs[i] + 1);
});

test('variable-length sequences pad time-major and keep lengths', () => {
  const b = padBatch([{ ids: [1, 2, 3], label: 1 }, { ids: [4], label: 0 }], 0);
  assert.equal(b.maxLen, 3);
  assert.deepEqual([...b.ids], [1, 4, 2, 0, 3, 0]);
  assert.deepEqual(b.lengths, [3, 1]);
  const x = oneHotTimeMajor(b, 5, 'float64');
  assert.equal(x[(0 * 2 + 1) * 5 + 4], 1);
  assert.deepEqual([...x.slice((1 * 2 + 1) * 5, (1 * 2 + 2) * 5)], [0, 0, 0, 0, 0]);
});
