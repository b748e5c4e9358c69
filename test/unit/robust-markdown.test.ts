// Escaping (issue 14): every Markdown gatescope builds for hovers and tooltips goes through
// src/extension/logic/markdown.ts, so a token, class name, file name or engine string of any content renders
// as text: no live link, no remote image, no HTML, no line break of its own. Checked structurally (every
// ASCII punctuation character outside a code span is backslash-escaped; a code span's fence is longer than
// any backtick run inside it), and on the hover and tree tooltip built from hostile names. Also: webview
// nonces never come from Math.random, and the VS Code-facing code marks its Markdown untrusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bold, codeSpan, escapeMarkdown, printable, tooltipMarkdown } from '../../src/extension/logic/markdown';
import { formatHover } from '../../src/extension/logic/hoverFormat';

const HOSTILE = [
  '`x`](http://evil.example/a) ![pixel](http://evil.example/p.png)',
  '``` ![x](https://evil.example/p.png) `',
  '<img src="http://evil.example/x.png" onerror=alert(1)>',
  '<script>alert(1)</script>',
  'http://evil.example/a www.evil.example a@evil.example',
  '[a]: http://evil.example\n[a]',
  '# heading\n- item\n\n    indented code\n---',
  '| a | b |\n|---|---|',
  '&lt;b&gt; &#60;img&#62; &amp;',
  '*em* _em_ **strong** ~~del~~ \\* \\',
  '<http://evil.example>',
  '$(zap) [run](command:workbench.action.terminal.new)',
  '1. one\r\n2) two\u2028three\u0085four',
  'right\u202eto\u2066left\u0007bell\u0000nul\u009bcsi',
  '`',
  '``',
  '',
];

/**
 * What CommonMark reads as text in `md` outside code spans, once backslash escapes are taken: an
 * unescaped ASCII punctuation character there could start markup. Returns those characters.
 */
function unescapedPunctuation(md: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < md.length; i++) {
    const c = md[i];
    if (c === '\\' && i + 1 < md.length && /[!-/:-@[-`{-~]/.test(md[i + 1])) { i++; continue; }
    if (c === '`') {
      // A code span: a run of n backticks up to the next run of exactly n.
      let n = 1;
      while (md[i + n] === '`') n++;
      const close = new RegExp(`(?<!\`)\`{${n}}(?!\`)`, 'g');
      close.lastIndex = i + n;
      const m = close.exec(md);
      if (!m) { found.push('`'); i += n - 1; continue; }
      i = m.index + n - 1;
      continue;
    }
    if (/[!-/:-@[-`{-~]/.test(c)) found.push(c);
  }
  return found;
}

/** The text of a code span built by codeSpan (CommonMark strips one space on each side). */
function codeSpanText(span: string): string {
  const fence = /^`+/.exec(span)![0];
  assert.ok(span.endsWith(` ${fence}`) && span.startsWith(`${fence} `), `not a padded code span: ${span}`);
  const inner = span.slice(fence.length + 1, -fence.length - 1);
  for (const run of inner.match(/`+/g) ?? []) assert.ok(run.length < fence.length, `a run of ${run.length} backticks closes a fence of ${fence.length}`);
  return inner;
}

test('escapeMarkdown: every punctuation character escaped, text round-trips, one line, no controls', () => {
  for (const text of HOSTILE) {
    const md = escapeMarkdown(text);
    assert.deepEqual(unescapedPunctuation(md), [], `unescaped markup in ${JSON.stringify(md)}`);
    assert.doesNotMatch(md, /[\r\n\u2028\u2029\u0085]/, 'a line break of its own');
    assert.doesNotMatch(md, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, 'a control or bidi character');
    // Reading the escapes back gives the printable text (spaces kept as spaces and no-break spaces).
    assert.equal(md.replace(/\\([!-/:-@[-`{-~])/g, '$1').replace(/\u00a0/g, ' '), printable(text));
  }
  assert.equal(escapeMarkdown('![x](http://e/p.png)'), '\\!\\[x\\]\\(http\\:\\/\\/e\\/p\\.png\\)');
  assert.equal(escapeMarkdown('a\nb'), 'a⏎b');
  assert.equal(printable('bell\u0007 tab\t nul\u0000 del\u007f'), 'bell␇ tab  nul␀ del␡');
  assert.equal(printable('a\u202eb'), 'ab');
});

test('codeSpan holds any text: the fence outgrows every backtick run inside, no line breaks', () => {
  for (const text of HOSTILE) {
    const span = codeSpan(text);
    assert.equal(codeSpanText(span), printable(text));
    assert.deepEqual(unescapedPunctuation(`x ${span} y`), [], `the span does not close where it should: ${span}`);
    assert.doesNotMatch(span, /[\r\n]/);
  }
  assert.equal(codeSpan('a``b'), '``` a``b ```');
  assert.equal(codeSpan('`'), '`` ` ``');
});

test('tooltips: bold title and one escaped paragraph per line, whatever the names and engine strings hold', () => {
  const evil = HOSTILE[0];
  const md = tooltipMarkdown(evil, ' (current)', ['LSTM 1×8, vocab 3', '', `engine: ${evil}`, `/models/${HOSTILE[2]}.pt`, 'error: line1\nline2']);
  const paragraphs = md.split('\n\n');
  assert.equal(paragraphs.length, 5, 'empty lines dropped, no extra paragraphs from line breaks');
  assert.ok(paragraphs[0].startsWith('**') && paragraphs[0].includes('** \\(current\\)'));
  for (const p of paragraphs) {
    const body = p.startsWith('**') ? p.replace(/^\*\*(.*?)\*\*/, '$1') : p;
    assert.deepEqual(unescapedPunctuation(body), [], `markup in tooltip paragraph ${JSON.stringify(p)}`);
  }
  assert.equal(bold(''), '');
});

test('hover: hostile vocabulary tokens and class names stay inside their code spans', () => {
  const tensors = new Map<string, ArrayLike<number>>([['h', [0.5, -0.2]], ['gate_r', [0.1, 0.9]], ['gate_z', [0.3, 0.3]], ['gate_n', [0, 0]]]);
  for (const evil of HOSTILE) {
    const md = formatHover({
      module: 'GRU', layer: 0, numLayers: 1, direction: 0, position: 3, length: 10, char: evil, tensors, topUnits: 2,
      predictions: [{ id: 0, token: evil, probability: 0.6 }, { id: 1, token: '`)![i](http://e/i.png)', probability: 0.4 }],
      predicting: 'classes-if-ended',
    });
    for (const line of md.split('\n')) {
      // Outside code spans only gatescope's own markup: bold, table pipes and rules, list dashes, "t = 3", "+0.50", colons.
      const outside = unescapedPunctuation(line).filter((c) => !'*|-:.%/()=+'.includes(c));
      assert.deepEqual(outside, [], `hover line leaks markup for ${JSON.stringify(evil)}: ${line}`);
      assert.doesNotMatch(line.replace(/(`+) .*? \1/g, ''), /\]\(|!\[|<img|<script|https?:/, `live link or image in: ${line}`);
    }
  }
});

const files = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.tsx?$/.test(f)).map((f) => join(dir, f));
const ROOT = resolve(__dirname, '../..');

test('webview nonces come from the OS CSPRNG, never Math.random; every MarkdownString is made untrusted in one place', () => {
  const sources = [...files(join(ROOT, 'src/extension')), join(ROOT, 'src/extension.ts'), ...files(join(ROOT, 'webview'))];
  for (const f of sources) assert.doesNotMatch(readFileSync(f, 'utf8'), /Math\.random/, `${f} uses Math.random`);
  assert.match(readFileSync(join(ROOT, 'src/extension/panels/webviewHtml.ts'), 'utf8'), /randomBytes\(18\)\.toString\('base64url'\)/);
  const makers = sources.filter((f) => /new vscode\.MarkdownString/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(makers.map((f) => f.slice(ROOT.length + 1)), ['src/extension/providers/markdownString.ts']);
  const one = readFileSync(join(ROOT, 'src/extension/providers/markdownString.ts'), 'utf8');
  for (const flag of ['isTrusted = false', 'supportHtml = false', 'supportThemeIcons = false']) assert.ok(one.includes(flag), flag);
});
