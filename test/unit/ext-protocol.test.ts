import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactBuffer, isFromWebviewMessage, isToWebviewMessage } from '../../src/protocol/webview';

test('webview messages are validated field by field', () => {
  const sel = { layer: 0, direction: 0, tensor: 'c' };
  assert.ok(isFromWebviewMessage({ type: 'ready', view: 'trace' }));
  assert.ok(!isFromWebviewMessage({ type: 'ready', view: 'nope' }));
  assert.ok(isFromWebviewMessage({ type: 'requestWindow', id: 1, traceId: 't', selector: sel, start: 0, end: 256 }));
  assert.ok(!isFromWebviewMessage({ type: 'requestWindow', id: 1, traceId: 't', selector: sel, start: 10, end: 5 }));
  assert.ok(!isFromWebviewMessage({ type: 'requestWindow', id: 1.5, traceId: 't', selector: sel, start: 0, end: 5 }));
  assert.ok(!isFromWebviewMessage({ type: 'requestWindow', id: 1, traceId: 't', selector: { ...sel, direction: 2 }, start: 0, end: 5 }));
  assert.ok(isFromWebviewMessage({ type: 'selectUnit', traceId: 't', selector: sel, unit: null }));
  assert.ok(isFromWebviewMessage({ type: 'findSpans', id: 2, traceId: 't', selector: sel, start: 3, end: 9, threshold: 0.5 }));
  assert.ok(!isFromWebviewMessage({ type: 'findSpans', id: 2, traceId: 't', selector: sel, start: 3, end: 9, threshold: NaN }));
  assert.ok(!isFromWebviewMessage({ type: 'unknown' }));
  assert.ok(!isFromWebviewMessage(null));
  assert.ok(isToWebviewMessage({ type: 'window' }));
  assert.ok(!isToWebviewMessage({ type: 'bogus' }));
});

test('exactBuffer copies only the view bytes of a pooled buffer', () => {
  const pool = new Float32Array([1, 2, 3, 4, 5, 6]);
  const view = pool.subarray(2, 4);
  const buf = exactBuffer(view);
  assert.equal(buf.byteLength, 8);
  assert.deepEqual([...new Float32Array(buf)], [3, 4]);
  const whole = new Float64Array([7, 8]);
  assert.equal(exactBuffer(whole), whole.buffer); // no copy when the view is the whole buffer
  const node = Buffer.from('abcdef').subarray(1, 3);
  assert.deepEqual([...new Uint8Array(exactBuffer(node))], [98, 99]);
});
