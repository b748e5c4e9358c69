// EditFollower: a document is traced again once edits pause, the latest edit restarting the wait; never twice at
// once (an edit during a re-trace's start schedules one more after it); forget and dispose cancel what is pending.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EditFollower } from '../../src/extension/logic/editFollower';

test('edits wait for a pause; one re-trace per document at a time; forget and dispose cancel', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calls: string[] = [];
  let release: (() => void) | undefined;
  const follower = new EditFollower((key) => {
    calls.push(key);
    return key === 'slow' ? new Promise<void>((resolve) => { release = resolve; }) : Promise.resolve();
  }, 1000);
  follower.edited('a');
  t.mock.timers.tick(600);
  follower.edited('a'); // typing on: the wait starts again
  t.mock.timers.tick(600);
  assert.deepEqual(calls, []);
  t.mock.timers.tick(400);
  assert.deepEqual(calls, ['a']);

  follower.edited('slow');
  t.mock.timers.tick(1000);
  assert.deepEqual(calls, ['a', 'slow']);
  follower.edited('slow'); // while that one starts
  t.mock.timers.tick(1000);
  assert.deepEqual(calls, ['a', 'slow'], 'not twice at once');
  release!();
  await new Promise((r) => setImmediate(r));
  t.mock.timers.tick(1000);
  assert.deepEqual(calls, ['a', 'slow', 'slow'], 'the edit made meanwhile is followed after');

  follower.edited('b');
  follower.forget('b');
  follower.edited('c');
  follower.dispose();
  follower.edited('d');
  t.mock.timers.tick(5000);
  assert.deepEqual(calls, ['a', 'slow', 'slow']);
});

test('a failing re-trace does not stop later ones', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let n = 0;
  const follower = new EditFollower(async () => { n++; throw new Error('worker gone'); }, 10);
  follower.edited('x');
  t.mock.timers.tick(10);
  await new Promise((r) => setImmediate(r));
  follower.edited('x');
  t.mock.timers.tick(10);
  assert.equal(n, 2);
  follower.dispose();
});
