import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSafetensors, serializeSafetensors, FormatError } from '../../src/core/formats/safetensors';
import { fromArray } from '../../src/core/tensor';
import { fixturePath } from '../fixtures';

test('safetensors round trip keeps names, order, dtypes, values and metadata', () => {
  const tensors = new Map([
    ['b', fromArray('float64', [2, 2], [1, 2, 3, Math.PI])],
    ['a', fromArray('float32', [3], [0.5, -1, 2])],
  ]);
  const back = parseSafetensors(serializeSafetensors(tensors, { format: 'pt' }));
  assert.deepEqual([...back.tensors.keys()], ['b', 'a']);
  assert.deepEqual(back.metadata, { format: 'pt' });
  assert.equal(back.tensors.get('b')!.data[3], Math.PI);
  assert.equal(back.tensors.get('a')!.dtype, 'float32');
});

test('safetensors reads PyTorch fixtures', () => {
  const f = parseSafetensors(readFileSync(fixturePath('lstm_1l_f64/weights.safetensors')));
  assert.deepEqual(f.tensors.get('weight_ih_l0')!.shape, [28, 5]);
  assert.equal(f.tensors.get('weight_ih_l0')!.dtype, 'float64');
});

test('safetensors refuses garbage with a clear error', () => {
  assert.throws(() => parseSafetensors(new TextEncoder().encode('not a tensor file at all')), FormatError);
});
