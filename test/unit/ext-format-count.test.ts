import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCount } from '../../src/extension/logic/formatCount';

test('formatCount groups thousands like en-US', () => {
  for (const n of [0, 7, 999, 1000, 65536, 1234567, 1000000000]) assert.equal(formatCount(n), n.toLocaleString('en-US'));
});
