import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHover, pastTraceNote, topUnitsByMagnitude } from '../../src/extension/logic/hoverFormat';
import { headLogits, topK } from '../../src/extension/logic/predictions';
import { tokenAtOffset, visibleChar } from '../../src/extension/logic/tokens';
import { bar, paddedBar, signedBar } from '../../src/extension/logic/bars';
import { encodeDocument } from '../../src/extension/logic/encodeDocument';

test('bars use eighth blocks and clamp to the width', () => {
  assert.equal(bar(1, 1, 4), '████');
  assert.equal(bar(0.5, 1, 2), '█');
  assert.equal(bar(-0.0625, 1, 2), '▎'.slice(0, 0) + '▏');
  assert.equal(bar(5, 1, 3), '███');
  assert.equal(bar(NaN, 1, 3), '');
});

test('signed bars: positives right of the axis, negatives left, all as wide', () => {
  const N = '\u00a0';
  assert.equal(signedBar(1, 1, 2), `${N}${N}│██`);
  assert.equal(signedBar(-1, 1, 2), `██│${N}${N}`);
  assert.equal(signedBar(-0.25, 1, 2), `${N}▐│${N}${N}`);
  assert.equal(signedBar(0.5, 1, 2), `${N}${N}│█${N}`);
  assert.equal(signedBar(0, 1, 2), `${N}${N}│${N}${N}`);
  assert.equal(signedBar(NaN, 1, 2), `${N}${N}│${N}${N}`);
  for (const v of [-2, -0.7, -0.1, 0, 0.13, 0.5, 3]) assert.equal([...signedBar(v, 1, 3)].length, 7, String(v));
  assert.equal(paddedBar(0.5, 1, 4), `██${N}${N}`);
  assert.equal([...paddedBar(0.99, 1, 3)].length, 3);
});

test('headLogits and topK give the softmax top tokens', () => {
  const head = { weight: [1, 0, 0, 1, 1, 1], bias: [0, 0, -10], outputs: 3, inputs: 2 };
  const logits = headLogits(head, [2, 1]);
  assert.deepEqual([...logits], [2, 1, -7]);
  const top = topK(logits, 2, (id) => 'abc'[id]);
  assert.deepEqual(top.map((p) => p.token), ['a', 'b']);
  const z = Math.exp(2) + Math.exp(1) + Math.exp(-7);
  assert.ok(Math.abs(top[0].probability - Math.exp(2) / z) < 1e-12);
  assert.throws(() => headLogits(head, [1]), /expects 2 inputs/);
});

test('formatHover shows gate means, top units by |h| with bars, and predictions', () => {
  const tensors = new Map<string, ArrayLike<number>>([
    ['h', [0.1, -0.9, 0.5]], ['c', [0.2, -2, 1]], ['gate_i', [0.5, 0.9, 0.1]], ['gate_f', [1, 1, 1]], ['gate_g', [0, -1, 1]], ['gate_o', [0.2, 0.2, 0.2]],
  ]);
  const md = formatHover({
    module: 'LSTM', layer: 0, numLayers: 2, direction: 0, position: 41, length: 100, char: '\n', tensors, topUnits: 2,
    predictions: [{ id: 0, token: 'e', probability: 0.5 }, { id: 1, token: '`', probability: 0.25 }],
  });
  assert.match(md, /LSTM · layer 1 of 2 · t = 41 of 100 · ` ⏎ `/);
  assert.match(md, /mean gates: i \S 0\.50 · f █ 1\.00 · g \S 0\.00 · o \S 0\.20/);
  assert.match(md, /\| unit \| i \| f \| g \| o \| c \| h \|/);
  const rows = md.split('\n').filter((l) => /^\| \d/.test(l));
  assert.deepEqual(rows.map((r) => r.split('|')[1].trim()), ['1', '2']); // |h| order: 0.9, 0.5
  assert.match(rows[0], /−0\.90/);
  assert.match(md, /next token: ` e ` 50\.0% · `` ` `` 25\.0%\n/);
  // Predictions come before the gates and the table (visible without scrolling).
  assert.ok(md.indexOf('next token:') < md.indexOf('mean gates') && md.indexOf('mean gates') < md.indexOf('| unit'));
  // Cells never wrap: each is one code span without a plain space inside; h of unit 1 (−0.9) is left of the axis.
  const cells = rows[0].split('|').slice(2, -1).map((c) => c.trim());
  for (const c of cells) assert.match(c, /^` [^ ]+ `$/, `cell with a breakable space: ${JSON.stringify(c)}`);
  assert.match(cells[5], /−0\.90\u00a0\u00a0?█+▐?│|−0\.90\u00a0\S*█│/);
  assert.match(cells[5], /█│\u00a0\u00a0 `$/);
  const reverse = formatHover({ module: 'GRU', layer: 1, numLayers: 2, direction: 1, position: 1234567, length: 2000000, char: 'a',
    tensors: new Map([['h', [0.5]]]), topUnits: 1, predictions: [] });
  assert.match(reverse, /GRU · layer 2 of 2 · reverse · t = 1,234,567 of 2,000,000/);
  assert.match(formatHover({ module: 'RNN', layer: 0, numLayers: 1, direction: 0, position: 0, length: 3, char: 'a', tensors: new Map([['h', [0.5]]]), topUnits: 1, predictions: [] }), /RNN · layer 1 · t = 0 of 3/);
  assert.match(pastTraceNote(100_000), /first 100,000 characters/);
  assert.deepEqual(topUnitsByMagnitude([0, -3, 3, 1], 3), [1, 2, 3]);
});

test('tokens map document offsets back to timesteps, CRLF and surrogate pairs included', () => {
  const vocab = { kind: 'char' as const, chars: ['\n', ' ', 'a', 'b', '😀'] };
  const enc = encodeDocument(vocab, 'ab\r\nz😀a');
  assert.deepEqual([...enc.ids], [2, 3, 0, 1, 4, 2]); // z unknown -> space
  assert.deepEqual([...enc.offsets], [0, 1, 2, 4, 5, 7, 8]);
  assert.equal(enc.unknown, 1);
  assert.equal(tokenAtOffset(enc.offsets, 3), 2); // the \n of \r\n
  assert.equal(tokenAtOffset(enc.offsets, 6), 4); // second half of the emoji
  assert.equal(tokenAtOffset(enc.offsets, 8), -1);
  assert.equal(encodeDocument(vocab, 'abab', 3).ids.length, 3);
  assert.equal(visibleChar(' '), '␣');
});
