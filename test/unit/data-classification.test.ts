import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClassificationDataError, DelimitedReader, bucketBatches, bucketIndices, buildClassificationVocabulary, classFolderExamples,
  classOf, describeEncoding, encodeExamples, labelSet, paddingFraction, parseDelimited, parseFastText, parseJsonArray,
  parseJsonLines, splitExamples, textEncoder,
} from '../../src/core/data/classification';
import { buildVocabulary, encodeText } from '../../src/core/data/tokenizer';
import { detectClassificationSource, readClassificationSource } from '../../src/node/classificationFiles';
import { createRng } from '../../src/core/random';

const records = (text: string, delimiter: ',' | '\t' = ',', chunk = Infinity) => {
  const r = new DelimitedReader(delimiter, 'auto');
  for (let i = 0; i < text.length; i += Math.min(chunk, text.length)) r.push(text.slice(i, i + Math.min(chunk, text.length)));
  return r.end().map((x) => ({ ...x, fields: [...x.fields] }));
};

test('RFC 4180: quoted commas, doubled quotes, newlines inside quotes, CRLF, blank lines', () => {
  const csv = 'text,label\r\n"Hello, world",pos\r\n"She said ""hi""",neg\r\n\r\n"two\r\nlines",pos\r\nplain "quote" inside,neg\r\n,\r\nlast,pos';
  const expected = [
    { fields: ['text', 'label'], line: 1 },
    { fields: ['Hello, world', 'pos'], line: 2 },
    { fields: ['She said "hi"', 'neg'], line: 3 },
    { fields: ['two\r\nlines', 'pos'], line: 5 },
    { fields: ['plain "quote" inside', 'neg'], line: 7 },
    { fields: ['last', 'pos'], line: 9 },
  ];
  assert.deepEqual(records(csv), expected);
  // Any chunking gives the same records (a chunk may end inside a quote, a doubled quote or a CRLF).
  for (const chunk of [1, 2, 3, 7]) assert.deepEqual(records(csv, ',', chunk), expected, `chunk ${chunk}`);
  assert.deepEqual(records('a,"b"c,d\n"x",\n'), [{ fields: ['a', 'bc', 'd'], line: 1 }, { fields: ['x', ''], line: 2 }]);
  assert.deepEqual(records('a\rb\r'), [{ fields: ['a'], line: 1 }, { fields: ['b'], line: 2 }]);
  assert.throws(() => records('text,label\n"unclosed,pos\nmore,neg\n'), /input:2: a quoted field opened here is never closed/);

  const parsed = parseDelimited(csv, { delimiter: ',' });
  assert.deepEqual(parsed.examples.map((e) => [e.text, e.label, e.line]),
    [['Hello, world', 'pos', 2], ['She said "hi"', 'neg', 3], ['two\r\nlines', 'pos', 5], ['plain "quote" inside', 'neg', 7], ['last', 'pos', 9]]);
  assert.deepEqual(parsed.columns, { text: ['"text"'], label: '"label"', header: true });
});

test('AG News: headerless "3","Title","Description" rows become label + title description', () => {
  const csv = '"3","Wall St. Bears Claw Back","Reuters - Short-sellers, Wall Street\'s dwindling band"\n'
    + '"4","Google IPO","Google said ""hello"" today"\n"1","Fifth","x"\n"2","Sport","y"\n';
  const parsed = parseDelimited(csv, { delimiter: ',' });
  assert.equal(parsed.examples.length, 4);
  assert.deepEqual(parsed.examples[0], { text: "Wall St. Bears Claw Back Reuters - Short-sellers, Wall Street's dwindling band", label: '3', line: 1 });
  assert.equal(parsed.examples[1].text, 'Google IPO Google said "hello" today');
  assert.equal(parsed.columns?.header, false);
  assert.match(parsed.notes.join(), /AG News/);
  const set = labelSet(parsed.examples);
  assert.deepEqual(set.names, ['1', '2', '3', '4']);
  assert.equal(set.kind, 'integer');
  assert.match(set.note ?? '', /1-based/);
  assert.equal(classOf(set, '3'), 2);
  // With Kaggle's header "Class Index,Title,Description": the names settle it.
  const withHeader = parseDelimited(`Class Index,Title,Description\n${csv}`, { delimiter: ',' });
  assert.deepEqual(withHeader.examples.map((e) => e.text), parsed.examples.map((e) => e.text));
  assert.deepEqual(withHeader.columns, { text: ['"Title"', '"Description"'], label: '"Class Index"', header: true });
});

test('header detection and column inference', () => {
  // A non-numeric header above integer labels, whatever its name.
  const p1 = parseDelimited('stars,words\n5,great\n1,awful\n', { delimiter: ',' });
  assert.deepEqual(p1.examples.map((e) => [e.label, e.text]), [['5', 'great'], ['1', 'awful']]);
  assert.equal(p1.columns?.header, true);
  // Headerless two columns: integer column is the label, either side.
  const p2 = parseDelimited('a fine film,1\nbad,0\n', { delimiter: ',' });
  assert.deepEqual(p2.examples.map((e) => [e.label, e.text]), [['1', 'a fine film'], ['0', 'bad']]);
  // Headerless name labels: fewer distinct, shorter values.
  const p3 = parseDelimited('pos,I loved it\nneg,Terrible acting\npos,Wonderful story\n', { delimiter: ',' });
  assert.deepEqual(p3.examples.map((e) => e.label), ['pos', 'neg', 'pos']);
  // Aliases: sentence / sentiment.
  const p4 = parseDelimited('id,sentiment,review\n7,positive,nice\n8,negative,meh\n', { delimiter: ',' });
  assert.deepEqual(p4.examples.map((e) => [e.label, e.text]), [['positive', 'nice'], ['negative', 'meh']]);
  // Unknown layout: the error names the columns found.
  assert.throws(() => parseDelimited('foo,bar,baz\nx,y,z\nu,v,w\n', { delimiter: ',' }),
    (e: Error) => e instanceof ClassificationDataError && /cannot tell which column holds the text and the label \(3 columns, no header; row 1: "foo", "bar", "baz"\)/.test(e.message));
  assert.throws(() => parseDelimited('id,a,b\n1,x,y\n', { delimiter: ',', source: 'f.csv' }), /f\.csv: cannot tell which column .*columns: "id", "a", "b"/);
  assert.throws(() => parseDelimited('', { delimiter: ',', source: 'e.csv' }), /e\.csv: is empty/);
  assert.throws(() => parseDelimited('\n\n  \n', { delimiter: ',' }), /is empty/);
  assert.throws(() => parseDelimited('text,label\n', { delimiter: ',' }), /header row but no data rows/);
  assert.throws(() => parseDelimited('text,label\nok,pos\nshort\n', { delimiter: ',', source: 'r.csv' }), /r\.csv:3: has 1 field, but "label" is needed/);
  assert.throws(() => parseDelimited('text,label\nok,pos\nno label,  \n', { delimiter: ',', source: 'r.csv' }), /r\.csv:3: empty label in "label"/);
});

test('TSV with header and column flags (names, indices, numeric strings)', () => {
  const tsv = 'id\tsentence\tscore\tsplit\n1\the said "wow"\t1\ttrain\n2\t"quoted ""pandas"" field"\t0\ttrain\n';
  const byName = parseDelimited(tsv, { delimiter: '\t', textColumn: 'sentence', labelColumn: 'score' });
  assert.deepEqual(byName.examples.map((e) => [e.text, e.label]), [['he said "wow"', '1'], ['quoted "pandas" field', '0']]);
  const byIndex = parseDelimited(tsv, { delimiter: '\t', header: true, textColumn: 1, labelColumn: '2' });
  assert.deepEqual(byIndex.examples, byName.examples);
  // Only the text column named: the label is the one integer column left, if there is one.
  assert.throws(() => parseDelimited(tsv, { delimiter: '\t', textColumn: 'SENTENCE' }), /cannot tell which column holds the label/);
  const noId = tsv.replace(/^\w+\t/gm, '');
  assert.deepEqual(parseDelimited(noId, { delimiter: '\t', textColumn: 'SENTENCE' }).examples, byName.examples);
  assert.throws(() => parseDelimited(tsv, { delimiter: '\t', textColumn: 'body', labelColumn: 'score' }),
    /no text column named "body" \(columns: "id", "sentence", "score", "split"\)/);
  assert.throws(() => parseDelimited(tsv, { delimiter: '\t', textColumn: 9, labelColumn: 2 }), /text column 9 does not exist/);
  // Headerless TSV, flags by index.
  const bare = parseDelimited('x\tgood one\tpos\ny\tbad one\tneg\n', { delimiter: '\t', header: false, textColumn: 1, labelColumn: 2 });
  assert.deepEqual(bare.examples.map((e) => [e.text, e.label]), [['good one', 'pos'], ['bad one', 'neg']]);
});

test('JSON Lines: keys, aliases, integer/boolean labels, one-line errors with the line number', () => {
  const jl = '{"text": "good", "label": "pos"}\n\n{"text": "bad", "label": "neg"}\r\n{"text":"ok","label":1}';
  assert.deepEqual(parseJsonLines(jl).examples, [
    { text: 'good', label: 'pos', line: 1 }, { text: 'bad', label: 'neg', line: 3 }, { text: 'ok', label: '1', line: 4 },
  ]);
  const sst = parseJsonLines('{"idx":0,"sentence":"hide new secretions","label":0}\n{"idx":1,"sentence":"fine","label":1}\n');
  assert.deepEqual(sst.columns, { text: ['sentence'], label: 'label', header: false });
  const dbp = parseJsonLines('{"title":"Abbott","content":"a company","label":true}\n{"title":"B","content":"c","label":false}\n');
  assert.deepEqual(dbp.examples.map((e) => [e.text, e.label]), [['Abbott a company', 'true'], ['B c', 'false']]);
  const custom = parseJsonLines('{"body":"x","y":"a"}\n{"body":"z","y":"b"}', { textKey: 'body', labelKey: 'y' });
  assert.deepEqual(custom.examples.map((e) => e.label), ['a', 'b']);

  const oneLine = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error) => e instanceof ClassificationDataError && re.test(e.message) && !e.message.includes('\n'));
  oneLine(() => parseJsonLines('{"text":"a","label":"x"}\n{"text": "b", "label": \n', { source: 'd.jsonl' }), /^d\.jsonl:2: not valid JSON/);
  oneLine(() => parseJsonLines('{"text":"a","label":"x"}\n{"txt":"b","label":"y"}\n', { source: 'd.jsonl' }), /^d\.jsonl:2: no "text" key \(keys: "txt", "label"\)/);
  oneLine(() => parseJsonLines('{"text":"a","label":0.5}\n'), /^input:1: label 0\.5 is a fractional number/);
  oneLine(() => parseJsonLines('{"text":"a","label":null}\n'), /^input:1: label is null/);
  oneLine(() => parseJsonLines('{"text":"a","label":["x","y"]}\n'), /multi-label/);
  oneLine(() => parseJsonLines('[1, 2]\n'), /^input:1: expected an object/);
  oneLine(() => parseJsonLines('{"foo":"a","bar":"b"}\n'), /^input:1: no text key \(keys: "foo", "bar"\)/);
  oneLine(() => parseJsonLines('\n \n'), /is empty/);

  assert.deepEqual(parseJsonArray('[{"text":"a","label":"x"},{"text":"b","label":"y"}]').examples.map((e) => e.label), ['x', 'y']);
  assert.throws(() => parseJsonArray('[{"text":"a","label":"x"},{"label":"y"}]', { source: 'a.json' }), /a\.json\[1\]: no "text" key/);
});

test('fastText __label__ lines', () => {
  const p = parseFastText('__label__pos I liked it\n\n__label__neg  meh  \n');
  assert.deepEqual(p.examples, [{ text: 'I liked it', label: 'pos', line: 1 }, { text: 'meh', label: 'neg', line: 3 }]);
  assert.throws(() => parseFastText('__label__a x\nno label here\n', { source: 'f.txt' }), /f\.txt:2: no __label__ label/);
  assert.throws(() => parseFastText('__label__a __label__b x\n'), /multi-label/);
});

test('labels: 0-based integers keep their ids, 1-based and sparse integers map in order, names sort', () => {
  const ex = (labels: string[]) => labels.map((label) => ({ text: 'x', label }));
  const zero = labelSet(ex(['1', '0', '2', '1']));
  assert.deepEqual([zero.names, zero.kind, zero.counts, zero.note], [['0', '1', '2'], 'integer', [1, 2, 1], undefined]);
  const gap = labelSet(ex(['0', '2']));
  assert.deepEqual(gap.names, ['0', '1', '2']);
  assert.match(gap.note ?? '', /class 1 never occur/);
  const sparse = labelSet(ex(['-1', '1', '-1']));
  assert.deepEqual(sparse.names, ['-1', '1']);
  assert.match(sparse.note ?? '', /not 0\.\.K-1/);
  const names = labelSet(ex(['sports', 'World', 'business', 'sports']));
  assert.deepEqual([names.names, names.kind, names.counts], [['World', 'business', 'sports'], 'name', [1, 1, 2]]);
  const mixed = labelSet(ex(['10', '2', 'other']));
  assert.deepEqual(mixed.names, ['10', '2', 'other']);
  assert.equal(classOf(zero, '02'), 2);
  assert.equal(classOf(names, 'nope'), undefined);
  assert.throws(() => labelSet(ex(['pos', 'pos']), { source: 'one.csv' }), /one\.csv: has only one class \("pos"\)/);
  assert.throws(() => labelSet(ex(['3', '3'])), /only one class \(label 3\)/);
  // The model's saved names: validation labels map to them, strangers are an error.
  const saved = labelSet([{ text: 'x', label: 'neg', line: 4 }], { names: ['neg', 'pos'] });
  assert.deepEqual([saved.names, saved.counts], [['neg', 'pos'], [1, 0]]);
  assert.throws(() => labelSet([{ text: 'x', label: 'meh', line: 4 }], { names: ['neg', 'pos'], source: 'v.csv' }),
    /v\.csv:4: label "meh" is not one of the model's classes \("neg", "pos"\)/);
});

test('encoding: truncation counted and said, empty texts dropped and counted, same ids as encodeText', () => {
  const examples = [
    { text: 'one two three four five six', label: 'a', line: 1 },
    { text: '  ', label: 'b', line: 2 },
    { text: 'one two', label: 'b', line: 3 },
    { text: 'zzz one two three', label: 'a', line: 4 },
  ];
  const { vocab, paddingId, paddingIdx } = buildClassificationVocabulary(examples.slice(0, 3).map((e) => e.text), 'word');
  assert.deepEqual([vocab.kind === 'word' && vocab.words.slice(0, 2), paddingId, paddingIdx], [['<unk>', '<pad>'], 1, 1]);
  const enc = encodeExamples(examples, vocab, { maxLength: 3 });
  assert.deepEqual(enc.sequences.map((s) => s.length), [3, 2, 3]);
  assert.deepEqual([...enc.labels], [0, 1, 0]);
  assert.deepEqual([...enc.indices], [0, 2, 3]);
  assert.deepEqual([enc.truncated, enc.longest, enc.empty, enc.emptyLines, enc.tokens, enc.unknownTokens], [2, 6, 1, [2], 8, 1]);
  assert.deepEqual([...enc.sequences[0]], [...encodeText(vocab, examples[0].text).slice(0, 3)]);
  const tail = encodeExamples(examples, vocab, { maxLength: 3, keep: 'tail' });
  assert.deepEqual([...tail.sequences[0]], [...encodeText(vocab, examples[0].text).slice(-3)]);
  const said = describeEncoding(enc).join('\n');
  assert.match(said, /truncated 2 of 4 examples to 3 tokens \(longest had 6\)/);
  assert.match(said, /dropped 1 empty example \(line 2\)/);
  // Char level: the same ids as encodeText, CRLF normalised.
  const chars = buildClassificationVocabulary(['ab\r\nc', 'ba'], 'char');
  assert.equal(chars.paddingIdx, null);
  assert.deepEqual([...textEncoder(chars.vocab)('cab\r\n').ids], [...encodeText(chars.vocab, 'cab\n')]);
  assert.deepEqual(buildVocabulary('ab\nc\nba', 'char'), chars.vocab);
  assert.throws(() => encodeExamples(examples, vocab, { labels: labelSet(examples.slice(0, 1).concat({ text: 'x', label: 'c', line: 9 })) }), /label "b" is not one of the classes/);
});

test('validation split: seeded, disjoint, covers every example', () => {
  const s = splitExamples(1000, 0.1, 7);
  assert.equal(s.validation.length, 100);
  assert.equal(s.train.length, 900);
  assert.deepEqual([...s.train, ...s.validation].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(splitExamples(1000, 0.1, 7), s);
  assert.notDeepEqual(splitExamples(1000, 0.1, 8).validation, s.validation);
  assert.equal(splitExamples(5, 0.01, 0).validation.length, 1);
  assert.equal(splitExamples(5, 0, 0).validation.length, 0);
  assert.throws(() => splitExamples(1, 0.5, 0), /cannot be split/);
  assert.throws(() => splitExamples(10, 1, 0), RangeError);
});

test('bucketing: padding under 10% on lengths 20–200, deterministic, every example once per epoch', () => {
  const rng = createRng(3);
  const n = 5000;
  const sequences = Array.from({ length: n }, (_, i) => Int32Array.from({ length: 20 + rng.int(181) }, () => 2 + (i % 50)));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
  const opts = { batchSize: 64, paddingId: 1, seed: 11 };
  const batches = bucketBatches(sequences, labels, opts);
  const pad = paddingFraction(batches);
  assert.ok(pad < 0.1, `padding ${pad}`);
  // Unbucketed random batches of the same data pad far more (about a third).
  const perm = Array.from({ length: n }, (_, i) => i);
  const random = [];
  for (let i = 0; i < n; i += 64) random.push(perm.slice(i, i + 64));
  const naive = paddingFraction(random.map((idx) => bucketBatches(idx.map((i) => sequences[i]), idx.map((i) => labels[i]), { batchSize: 64, shuffle: false, poolBatches: 1 })[0]));
  assert.ok(naive > 3 * pad, `naive ${naive} vs bucketed ${pad}`);

  assert.deepEqual(bucketBatches(sequences, labels, opts), batches, 'same seed, same batches');
  for (const epoch of [0, 1, 2]) {
    const idx = bucketIndices(sequences.map((s) => s.length), { ...opts, epoch });
    const seen = idx.flat().sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i), `epoch ${epoch}: each example exactly once`);
    assert.equal(idx.filter((b) => b.length !== 64).length, 1, 'one short batch');
    if (epoch) assert.notDeepEqual(idx, bucketIndices(sequences.map((s) => s.length), { ...opts, epoch: epoch - 1 }));
  }
  // The batches themselves: row-major, padded with paddingId, lengths and targets per row.
  const idx = bucketIndices(sequences.map((s) => s.length), opts);
  const b = batches[0];
  assert.equal(b.seqLen, Math.max(...b.lengths!));
  assert.equal(b.inputs.length, b.batchSize * b.seqLen);
  idx[0].forEach((i, r) => {
    assert.equal(b.lengths![r], sequences[i].length);
    assert.equal(b.targets[r], labels[i]);
    assert.deepEqual([...b.inputs.subarray(r * b.seqLen, r * b.seqLen + sequences[i].length)], [...sequences[i]]);
    assert.ok(b.inputs.subarray(r * b.seqLen + sequences[i].length, (r + 1) * b.seqLen).every((v) => v === 1));
  });
  // No shuffle: sorted by length (least padding), for evaluation.
  const evalBatches = bucketBatches(sequences, labels, { batchSize: 64, shuffle: false });
  assert.ok(paddingFraction(evalBatches) <= pad);
  assert.ok(evalBatches.every((x, i) => i === 0 || x.seqLen >= evalBatches[i - 1].seqLen));
  assert.throws(() => bucketBatches([new Int32Array(0)], [0], { batchSize: 2 }), /at least one token/);
});

test('folder per class (pure records)', () => {
  const p = classFolderExamples([{ className: 'neg', text: 'bad\n' }, { className: 'pos', text: ' good ' }]);
  assert.deepEqual(p.examples, [{ text: 'bad', label: 'neg' }, { text: 'good', label: 'pos' }]);
  assert.throws(() => classFolderExamples([{ className: 'pos', text: 'x' }], 'dir'), /dir: has only one class folder \("pos"\)/);
});

test('files: detection and reading of CSV, TSV, JSONL, JSON, fastText, class folders and aclImdb train/test', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-classif-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, data: string | Uint8Array) => {
    const p = join(dir, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, data);
    return p;
  };
  const csv = write('ag.csv', '\uFEFF"3","Wall St.","Bears claw back"\r\n"4","Google","IPO"\r\n');
  const tsv = write('sst.tsv', 'sentence\tlabel\nhide new secretions\t0\ncharming\t1\n');
  const jsonl = write('d.jsonl', '{"text":"a","label":"x"}\n{"text":"b","label":"y"}\n');
  const json = write('d.json', '[{"text":"a","label":"x"},{"text":"b","label":"y"}]');
  const ft = write('ft.txt', '__label__x a\n__label__y b\n');
  const plain = write('notes.txt', 'just some text\n');
  const bin = write('bin.csv', new Uint8Array([0x74, 0x2c, 0x6c, 0x0a, 0x00, 0x01]));
  const bad = write('bad.jsonl', '{"text":"a","label":"x"}\n{"text":"b" "label":"y"}\n');
  for (const [p, f] of [[csv, 'csv'], [tsv, 'tsv'], [jsonl, 'jsonl'], [json, 'jsonl'], [ft, 'fasttext'], [plain, undefined]] as const) {
    assert.equal(detectClassificationSource(p), f, p);
  }
  const ag = readClassificationSource(csv);
  assert.deepEqual(ag.examples.map((e) => [e.label, e.text]), [['3', 'Wall St. Bears claw back'], ['4', 'Google IPO']]);
  assert.deepEqual(ag.sources, [{ path: csv, bytes: statSync(csv).size, examples: 2 }]);
  assert.deepEqual(readClassificationSource(tsv).examples.map((e) => e.label), ['0', '1']);
  assert.deepEqual(readClassificationSource(jsonl).examples.map((e) => e.label), ['x', 'y']);
  assert.deepEqual(readClassificationSource(json).examples.map((e) => e.label), ['x', 'y']);
  assert.deepEqual(readClassificationSource(ft).examples.map((e) => e.label), ['x', 'y']);
  assert.throws(() => readClassificationSource(plain), /not a classification file/);
  assert.throws(() => readClassificationSource(bin), /bin\.csv: looks binary \(a NUL byte at offset 4\)/);
  assert.throws(() => readClassificationSource(bad), /bad\.jsonl:2: not valid JSON/);
  assert.throws(() => readClassificationSource(tsv, { maxBytes: 10 }), /files over 0\.0 GB are refused/);
  assert.throws(() => readClassificationSource(join(dir, 'missing.csv')), /missing\.csv: cannot read \(ENOENT\)/);

  // Keras layout: one folder per class; hidden files ignored, binary/empty/non-.txt files skipped and reported.
  write('news/sports/a.txt', 'goal!\n');
  write('news/sports/deep/b.txt', 'match');
  write('news/world/c.txt', 'summit');
  write('news/world/.DS_Store', 'x');
  write('news/world/d.txt', new Uint8Array([0x61, 0xff, 0x62]));
  write('news/world/e.txt', '  \n');
  write('news/world/f.html', '<p>');
  write('news/README', 'about');
  write('news/.hidden/z.txt', 'no');
  assert.equal(detectClassificationSource(join(dir, 'news')), 'folders');
  const news = readClassificationSource(join(dir, 'news'));
  assert.equal(news.format, 'folders');
  assert.deepEqual(news.examples, [{ text: 'goal!', label: 'sports' }, { text: 'match', label: 'sports' }, { text: 'summit', label: 'world' }]);
  assert.deepEqual(news.sources.map((s) => [s.path, s.examples]), [[join(dir, 'news/sports'), 2], [join(dir, 'news/world'), 1]]);
  assert.deepEqual(news.skipped.map((s) => [s.path, s.reason]), [
    [join(dir, 'news'), '1 file beside the class folders ignored (README)'],
    [join(dir, 'news/world/d.txt'), 'binary: is not valid UTF-8'],
    [join(dir, 'news/world/e.txt'), 'is empty'],
    [join(dir, 'news/world'), '1 file without the .txt extension ignored'],
  ]);

  // aclImdb layout: train/ and test/ of class folders, unsup/ beside them; train/ by default.
  write('aclImdb/train/pos/0_9.txt', 'Great movie<br />loved it');
  write('aclImdb/train/neg/1_2.txt', 'Awful');
  write('aclImdb/train/unsup/2_0.txt', 'unlabelled');
  write('aclImdb/train/urls_pos.txt', 'http://');
  write('aclImdb/test/pos/0_10.txt', 'Superb');
  write('aclImdb/test/neg/1_1.txt', 'Dull');
  write('aclImdb/imdb.vocab', 'the');
  assert.equal(detectClassificationSource(join(dir, 'aclImdb')), 'folders');
  const imdb = readClassificationSource(join(dir, 'aclImdb'));
  assert.equal(imdb.root, join(dir, 'aclImdb/train'));
  assert.deepEqual(imdb.examples.map((e) => [e.label, e.text]), [['neg', 'Awful'], ['pos', 'Great movie<br />loved it']]);
  assert.match(imdb.notes.join('\n'), /reading train\/ \(test\/ is there too/);
  assert.ok(imdb.skipped.some((s) => s.path === join(dir, 'aclImdb/train/unsup') && /unlabelled/.test(s.reason)));
  const test2 = readClassificationSource(join(dir, 'aclImdb'), { split: 'test' });
  assert.deepEqual(test2.examples.map((e) => e.text), ['Dull', 'Superb']);

  write('single/pos/a.txt', 'x');
  assert.equal(detectClassificationSource(join(dir, 'single')), undefined);
  assert.throws(() => readClassificationSource(join(dir, 'single'), { format: 'folders' }), /needs two or more class folders holding \.txt files \(found only "pos"\)/);
});

test('a file read in chunks gives the same examples as one string (multi-byte characters across reads)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-classif-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Over 16 MiB so the reader takes two chunks; a 3-byte character and a quoted newline straddle reads.
  const row = '"héllo, wörld — €\nnext line",pos\n';
  const rows = Math.ceil((17 * 1024 * 1024) / Buffer.byteLength(row));
  const text = `text,label\n${row.repeat(rows)}"last",neg\n`;
  const p = join(dir, 'big.csv');
  writeFileSync(p, text);
  const read = readClassificationSource(p);
  assert.equal(read.examples.length, rows + 1);
  assert.ok(read.examples.slice(0, -1).every((e) => e.text === 'héllo, wörld — €\nnext line' && e.label === 'pos'));
  assert.deepEqual(read.examples.at(-1), { text: 'last', label: 'neg', line: 2 + 2 * rows });
});
