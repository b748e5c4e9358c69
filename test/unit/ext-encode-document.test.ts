// Document encoding for traces: one token per code point (CRLF and lone CR as one '\n'), unknown characters
// as the fallback id, UTF-16 offsets for every token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDocument } from '../../src/extension/logic/encodeDocument';

const vocab = { kind: 'char' as const, chars: ['\n', ' ', 'a', 'b', '\udc00', '😀'] };

test('CRLF, lone CR, surrogate pairs, lone surrogates and unknown characters', () => {
  const text = 'a\r\nb\r😀x\ud800b\udc00🙂a\ud800';
  const e = encodeDocument(vocab, text);
  //                       a  \r\n  b  \r  😀  x  \ud800  b  \udc00  🙂  a  \ud800(last)
  assert.deepEqual([...e.ids], [2, 0, 3, 0, 5, 1, 1, 3, 4, 1, 2, 1]);
  assert.deepEqual([...e.offsets], [0, 1, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 15]);
  assert.equal(e.unknown, 4); // x, lone \ud800 twice, 🙂
  assert.equal(e.offsets.at(-1), text.length);
});

test('maxTokens caps the tokens, the last offset is where the next token would start', () => {
  const e = encodeDocument(vocab, 'a\r\nbab', 2);
  assert.deepEqual([...e.ids], [2, 0]);
  assert.deepEqual([...e.offsets], [0, 1, 3]);
  assert.deepEqual([...encodeDocument(vocab, '').offsets], [0]);
});

test('a vocabulary without a space falls back to id 0', () => {
  const e = encodeDocument({ kind: 'char', chars: ['a', 'b'] }, 'abc');
  assert.deepEqual([...e.ids], [0, 1, 0]);
  assert.equal(e.unknown, 1);
});
