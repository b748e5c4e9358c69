import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAD_BYTES, unusableReason, unusableSourceMessage } from '../../src/extension/logic/trainSource';

const bytes = (s: string) => new TextEncoder().encode(s);
const file = (name: string, content: Uint8Array, size = content.length) => ({ name, size, head: content.subarray(0, HEAD_BYTES) });

test('an empty, white-space-only or binary file is unusable; text is not', () => {
  assert.equal(unusableReason(file('a.txt', new Uint8Array())), 'is empty');
  assert.equal(unusableReason(file('a.txt', bytes(' \n\t\n'))), 'holds only white space');
  assert.match(unusableReason(file('a.bin', new Uint8Array([80, 75, 3, 4, 0, 0])))!, /looks binary \(it contains a NUL byte at offset 4\)/);
  assert.match(unusableReason(file('a.txt', new Uint8Array([0x66, 0xff, 0x66])))!, /not valid UTF-8/);
  assert.equal(unusableReason(file('a.txt', bytes('To be, or not to be'))), undefined);
});

test('a head cut inside a multi-byte character is not called binary; white space at the start of a long file is not judged', () => {
  const text = bytes('é'.repeat(HEAD_BYTES)); // 2 bytes each: the head ends on a boundary or not, both fine
  assert.equal(unusableReason({ name: 'a.txt', size: text.length, head: text.subarray(0, HEAD_BYTES - 1) }), undefined);
  assert.equal(unusableReason({ name: 'a.txt', size: HEAD_BYTES * 2, head: bytes(' '.repeat(HEAD_BYTES)) }), undefined);
});

test('the refusal names each file once, with the formats accepted; one usable file is enough', () => {
  const one = unusableSourceMessage([file('empty.txt', new Uint8Array())])!;
  assert.match(one, /^empty\.txt is empty: nothing to train on\. Train on UTF-8 text files, or on labelled examples: a CSV, TSV, JSON Lines or fastText file, or a folder of class folders\.$/);
  assert.equal(one.split('empty.txt').length, 2);
  const two = unusableSourceMessage([file('e.txt', new Uint8Array()), file('b.bin', new Uint8Array([0]))])!;
  assert.match(two, /^none of the 2 files can be trained on: e\.txt is empty; b\.bin looks binary/);
  assert.equal(unusableSourceMessage([file('e.txt', new Uint8Array()), file('ok.txt', bytes('hello'))]), undefined);
  assert.equal(unusableSourceMessage([]), undefined);
});
