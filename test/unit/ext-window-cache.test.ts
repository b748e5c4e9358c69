import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blocksCovering, WindowCache } from '../../src/extension/logic/windowCache';

test('blocksCovering returns aligned blocks clipped to the length', () => {
  assert.deepEqual(blocksCovering(10, 300, 256, 1000), [{ block: 0, start: 0, end: 256 }, { block: 1, start: 256, end: 512 }]);
  assert.deepEqual(blocksCovering(990, 2000, 256, 1000), [{ block: 3, start: 768, end: 1000 }]);
  assert.deepEqual(blocksCovering(5, 5, 256, 1000), []);
  assert.throws(() => blocksCovering(0, 1, 0, 10), /block size/);
});

test('WindowCache loads each block once, evicts least recently used, and ignores loads after clear', async () => {
  const loads: number[] = [];
  let release: (() => void) | undefined;
  const cache = new WindowCache<string>(10, 2, async (r) => {
    loads.push(r.block);
    if (r.block === 9) await new Promise<void>((res) => { release = res; });
    return `b${r.block}`;
  });
  const [a, b] = await Promise.all([cache.get({ block: 0, start: 0, end: 10 }), cache.get({ block: 0, start: 0, end: 10 })]);
  assert.equal(a, 'b0');
  assert.equal(b, 'b0');
  await cache.get({ block: 1, start: 10, end: 20 });
  cache.peek(0); // 0 is now the most recent
  await cache.get({ block: 2, start: 20, end: 30 }); // evicts 1
  assert.equal(cache.peek(1), undefined);
  assert.equal(cache.peek(0), 'b0');
  assert.deepEqual(loads, [0, 1, 2]);
  const late = cache.get({ block: 9, start: 90, end: 100 });
  cache.clear();
  release!();
  assert.equal(await late, 'b9');
  assert.equal(cache.peek(9), undefined);
  assert.equal(cache.size, 0);
});
