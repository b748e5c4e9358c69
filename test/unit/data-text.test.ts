import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../fixtures';
import { buildCharVocab, decodeChars, encodeChars, fallbackCharId } from '../../src/core/data/charVocab';
import { decodeTextBytes, normalizeNewlines } from '../../src/core/data/text';
import { basicEnglish, buildWordVocab, encodeWords, tokenizeWords } from '../../src/core/data/wordVocab';
import { seedTaskData } from '../../src/core/data/seedTask';
import { buildVocabulary, encodeText, sameVocabulary, parseVocabulary } from '../../src/core/data/tokenizer';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { toNumbers } from '../../src/core/tensor';

test('char vocabulary is sorted by code point and keeps surrogate pairs whole', () => {
  const text = 'b😀a\uE000a😀';
  const v = buildCharVocab(text);
  assert.deepEqual(v.chars, ['a', 'b', '\uE000', '😀']); // U+E000 < U+1F600 although its UTF-16 unit is larger
  const enc = encodeChars(v, text);
  assert.equal(enc.ids.length, 6);
  assert.deepEqual([...enc.offsets], [0, 1, 3, 4, 5, 6, 8]);
  assert.equal(decodeChars(v, enc.ids), text);
});

test('unknown characters map to the space (or id 0) and are counted, positions stay aligned', () => {
  const v = buildCharVocab('ab a');
  const enc = encodeChars(v, 'aXb');
  assert.equal(enc.unknown, 1);
  assert.equal(enc.ids[1], fallbackCharId(v));
  assert.equal(v.chars[enc.ids[1]], ' ');
  assert.equal(fallbackCharId(buildCharVocab('xyz')), 0);
});

test('CRLF and lone CR become LF before building a vocabulary', () => {
  assert.equal(normalizeNewlines('a\r\nb\rc\n'), 'a\nb\nc\n');
  const v = buildVocabulary('a\r\nb', 'char');
  assert.ok(v.kind === 'char' && !v.chars.includes('\r'));
  assert.deepEqual([...encodeText(v, 'a\r\nb')], [...encodeText(v, 'a\nb')]);
});

test('binary bytes are recognised: NUL bytes and invalid UTF-8', () => {
  assert.deepEqual(decodeTextBytes(new TextEncoder().encode('héllo')), { binary: false, text: 'héllo' });
  assert.equal(decodeTextBytes(new Uint8Array([0x61, 0, 0x62])).binary, true);
  assert.equal(decodeTextBytes(new Uint8Array([0x61, 0xff, 0x62])).binary, true);
});

test('basic_english matches torchtext on the tricky characters', () => {
  // torchtext.data.utils.get_tokenizer('basic_english')("Don't STOP, (now)! \"Yes\"; a:b. <br />ok?")
  assert.deepEqual(basicEnglish("Don't STOP, (now)! \"Yes\"; a:b. <br />ok?"),
    ['don', "'", 't', 'stop', ',', '(', 'now', ')', '!', 'yes', 'a', 'b', '.', 'ok', '?']);
});

test('word vocabulary: specials first, then by frequency, ties in code point order; min_freq; <unk>', () => {
  const v = buildWordVocab(tokenizeWords('b a b c a b d'), { minFreq: 2, specials: ['<unk>', '<pad>'] });
  assert.deepEqual(v.words, ['<unk>', '<pad>', 'b', 'a']);
  assert.deepEqual([...encodeWords(v, ['a', 'zzz', 'b'])], [3, 0, 2]);
  assert.throws(() => buildWordVocab(['a'], { specials: ['<pad>'] }), /<unk>/);
});

test('seed task reproduces the PyTorch fixture: vocabulary, contexts and targets', () => {
  const dir = fixturePath('seed000_sgd');
  const cas = JSON.parse(readFileSync(`${dir}/case.json`, 'utf8'));
  const text = readFileSync(`${dir}/text.txt`, 'utf8');
  const data = seedTaskData(text, { minFreq: cas.min_freq, context: cas.context_size });
  assert.deepEqual(data.vocab, cas.vocab);
  const ref = parseSafetensors(new Uint8Array(readFileSync(`${dir}/data.safetensors`))).tensors;
  assert.deepEqual([...data.contexts], toNumbers(ref.get('contexts')!));
  assert.deepEqual([...data.targets], toNumbers(ref.get('targets')!));
});

test('vocabularies round-trip through JSON and compare by content', () => {
  const c = buildVocabulary('hello', 'char');
  assert.ok(sameVocabulary(c, parseVocabulary(JSON.parse(JSON.stringify(c)))));
  const w = buildVocabulary('hello world', 'word');
  assert.ok(sameVocabulary(w, parseVocabulary(JSON.parse(JSON.stringify(w)))));
  assert.ok(!sameVocabulary(c, buildVocabulary('hellp', 'char')));
  assert.throws(() => parseVocabulary({ kind: 'char' }), /malformed/);
});
