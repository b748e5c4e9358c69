// The compute worker's kept models, counted the same way on both sides (src/worker/keptModels.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEPT_MODELS } from '../../src/protocol/worker';
import { KeptKeys } from '../../src/worker/keptModels';

test('the KEPT_MODELS keys used last are kept; a use pushes out the one used longest ago', () => {
  assert.equal(KEPT_MODELS, 2);
  const kept = new KeptKeys();
  assert.equal(kept.use(1), undefined);
  assert.equal(kept.use(2), undefined);
  assert.equal(kept.use(1), undefined); // already kept: now used last
  assert.equal(kept.use(3), 2);
  assert.ok(kept.has(1) && kept.has(3) && !kept.has(2));
  assert.equal(kept.use(2), 1);
});
