import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Disposable, DisposableStore, Emitter, MutableDisposable, toDisposable } from '../../src/extension/lifecycle';

test('MutableDisposable disposes the old value when a new one is set, and everything on dispose', () => {
  const log: string[] = [];
  const holder = new MutableDisposable<{ dispose(): void }>();
  holder.value = toDisposable(() => log.push('a'));
  holder.value = toDisposable(() => log.push('b'));
  assert.deepEqual(log, ['a']);
  holder.dispose();
  assert.deepEqual(log, ['a', 'b']);
  holder.value = toDisposable(() => log.push('c')); // set after dispose: disposed at once
  assert.deepEqual(log, ['a', 'b', 'c']);
});

test('Emitter listeners unsubscribe; a Disposable owns its emitters and children', () => {
  class Thing extends Disposable {
    readonly emitter = this.register(new Emitter<number>());
    readonly child = this.register(new DisposableStore());
  }
  const thing = new Thing();
  const got: number[] = [];
  const sub = thing.emitter.event((n) => got.push(n));
  thing.emitter.fire(1);
  sub.dispose();
  thing.emitter.fire(2);
  thing.emitter.event((n) => got.push(n * 10));
  thing.emitter.fire(3);
  assert.deepEqual(got, [1, 30]);
  thing.dispose();
  assert.equal(thing.emitter.listenerCount, 0);
  assert.ok(thing.child.isDisposed);
});
