// Markdown for hovers and tooltips built from text of any origin (vocabulary tokens, class names, file
// names, a checkpoint's engine string, error messages): the one escaping helper, so that such text always
// renders as the text it is — no link, image, HTML, heading, list, table cell or line break of its own.
// Pure (no vscode); the host wraps the result in an untrusted MarkdownString (providers/markdownString.ts).
//
// Why this is enough: CommonMark lets every ASCII punctuation character be backslash-escaped, and an
// escaped character is literal text: no delimiter (`*_~`), no code span (`` ` ``), no link or image
// (`[]()!`), no autolink (`<>`, and GFM's bare `http://`, `www.` and `a@b.c`, which need an unescaped `:`
// `.` or `@`), no HTML (`<`), no entity (`&`), no table cell (`|`), no heading or list marker at a line
// start (`#-+*` and `1.`). Line breaks become a visible ⏎ so that text cannot start a block of its own,
// control characters become their visible pictures and bidi overrides are dropped (they could make a name
// read as another).

/** Every ASCII punctuation character. */
const PUNCTUATION = /[!-/:-@[-`{-~]/g;
/** C0 controls other than \t \n \r, DEL and C1 controls. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
/** Bidi embeddings, overrides and isolates. */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g;
const LINE_BREAK = /\r\n|\r|\n|\u2028|\u2029|\u0085/g;

/** Text from anywhere made printable on one line: ⏎ for line breaks, ␇-style pictures for controls. */
export function printable(text: string): string {
  return text
    .replace(LINE_BREAK, '⏎')
    .replace(/\t/g, ' ')
    .replace(BIDI, '')
    .replace(CONTROL, (c) => {
      const code = c.charCodeAt(0);
      return code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? '␡' : '\ufffd';
    });
}

/** Markdown that renders exactly as `text` (made printable on one line, see printable()). */
export function escapeMarkdown(text: string): string {
  // Runs of spaces would collapse (and four at a line start would open a code block): keep them as NBSPs.
  return printable(text).replace(PUNCTUATION, '\\$&').replace(/ {2,}/g, (run) => ' ' + '\u00a0'.repeat(run.length - 1));
}

/**
 * A code span that holds any text (a token of the document, a class name from a data file): the fence is one
 * backtick longer than the longest run inside (CommonMark: the span ends only at a run of the same length),
 * padded with spaces so that text starting or ending with a backtick stays inside. Inside a code span nothing
 * is parsed (no link, no HTML); line breaks and controls are made printable first. Not for table cells (GFM
 * splits those at a `|` before it reads code spans).
 */
export function codeSpan(text: string): string {
  const flat = printable(text);
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence} ${flat} ${fence}`;
}

/** Bold text (escaped). */
export function bold(text: string): string {
  return text ? `**${escapeMarkdown(text)}**` : '';
}

/**
 * A tooltip: the title in bold with an optional plain suffix, then one paragraph per non-empty line. Every
 * piece is text (names, paths, engine strings, errors from files), escaped.
 */
export function tooltipMarkdown(title: string, suffix: string | undefined, lines: readonly string[]): string {
  const head = bold(title) + (suffix ? escapeMarkdown(suffix) : '');
  return [head, ...lines.filter(Boolean).map(escapeMarkdown)].join('\n\n');
}
