// Word-level tokens: torchtext's `basic_english` tokenizer and `build_vocab_from_iterator` ordering, and
// pytorch/examples word_language_model's `data.Corpus` tokens (whitespace-split words, `<eos>` per line).

/** torchtext.data.utils._basic_english_normalize: exactly its pattern list, in its order. */
const BASIC_ENGLISH: ReadonlyArray<readonly [RegExp, string]> = [
  [/'/g, " '  "],
  [/"/g, ''],
  [/\./g, ' . '],
  [/<br \/>/g, ' '],
  [/,/g, ' , '],
  [/\(/g, ' ( '],
  [/\)/g, ' ) '],
  [/!/g, ' ! '],
  [/\?/g, ' ? '],
  [/;/g, ' '],
  [/:/g, ' '],
  [/\s+/g, ' '],
];

export function basicEnglish(line: string): string[] {
  let s = line.toLowerCase();
  for (const [pattern, replacement] of BASIC_ENGLISH) s = s.replace(pattern, replacement);
  return s.split(/\s+/).filter((w) => w.length > 0);
}

/** Python's str.splitlines(keepends=True). */
export function splitLinesKeepEnds(text: string): string[] {
  const lines = text.split(/(?<=\r\n|\r(?!\n)|[\n\v\f\x1c-\x1e\x85\u2028\u2029])/);
  return lines.length === 1 && lines[0] === '' ? [] : lines;
}

export function tokenizeWords(text: string): string[] {
  return splitLinesKeepEnds(text).flatMap(basicEnglish);
}

/** basic_english: torchtext's; whitespace_eos: `line.split() + ['<eos>']` for every line, as word_language_model. */
export type WordTokenizer = 'basic_english' | 'whitespace_eos';
export const WORD_TOKENIZERS: readonly WordTokenizer[] = ['basic_english', 'whitespace_eos'];

export interface WordVocab {
  readonly kind: 'word';
  readonly tokenizer: WordTokenizer;
  /** Token id -> word; specials first. */
  readonly words: readonly string[];
  /** Id of `<unk>`, the id every out-of-vocabulary word maps to; null when the vocabulary has none. */
  readonly unkId: number | null;
}

/** A word the vocabulary does not have, in a vocabulary without `<unk>`. */
export class UnknownWordError extends RangeError {}

/** Tokens of a text and where each starts (offsets[T] = end of the last), for either tokenizer. */
export function splitWords(tokenizer: WordTokenizer, text: string): { tokens: string[]; offsets: Int32Array } {
  if (tokenizer === 'basic_english') {
    const tokens = tokenizeWords(text);
    return { tokens, offsets: wordOffsets(text, tokens) };
  }
  // word_language_model reads the file line by line (a final line without '\n' still ends with <eos>).
  const tokens: string[] = [];
  const starts: number[] = [];
  let end = 0;
  let lineStart = 0;
  while (lineStart < text.length) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl < 0 ? text.length : nl;
    for (const m of text.slice(lineStart, lineEnd).matchAll(/\S+/g)) {
      tokens.push(m[0]);
      starts.push(lineStart + m.index!);
    }
    tokens.push('<eos>');
    starts.push(lineEnd);
    end = Math.min(text.length, lineEnd + 1);
    lineStart = lineEnd + 1;
  }
  const offsets = new Int32Array(tokens.length + 1);
  offsets.set(starts);
  offsets[tokens.length] = end;
  return { tokens, offsets };
}

export interface WordVocabOptions {
  readonly minFreq?: number; // default 1
  readonly specials?: readonly string[]; // default ['<unk>']; must contain '<unk>'
}

export function countWords(words: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

/** Code point order, as Python compares strings. */
export function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0)!);
  const cb = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i] - cb[i];
  return ca.length - cb.length;
}

/** Words with count >= minFreq, most frequent first, ties in code point order (torchtext's order). */
export function frequentWords(counts: Map<string, number>, minFreq: number): string[] {
  return [...counts.entries()]
    .filter(([, c]) => c >= minFreq)
    .sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]))
    .map(([w]) => w);
}

/** torchtext.vocab.build_vocab_from_iterator(tokens, min_freq, specials, special_first=True). */
export function buildWordVocab(tokens: Iterable<string>, options: WordVocabOptions = {}): WordVocab {
  const specials = options.specials ?? ['<unk>'];
  const unkId = specials.indexOf('<unk>');
  if (unkId < 0) throw new Error('word vocabulary specials must include "<unk>"');
  const counts = countWords(tokens);
  for (const s of specials) counts.delete(s);
  const words = [...specials, ...frequentWords(counts, options.minFreq ?? 1)];
  return { kind: 'word', tokenizer: 'basic_english', words, unkId };
}

export function encodeWords(vocab: WordVocab, tokens: readonly string[]): Int32Array {
  const index = new Map(vocab.words.map((w, i) => [w, i]));
  const unk = vocab.unkId;
  if (unk === null) {
    const unknown = [...new Set(tokens.filter((w) => !index.has(w)))];
    if (unknown.length) {
      throw new UnknownWordError(`${unknown.length} word(s) are not in the vocabulary, which has no <unk> (${unknown.slice(0, 8).map((w) => JSON.stringify(w)).join(' ')})`);
    }
  }
  return Int32Array.from(tokens, (w) => index.get(w) ?? unk!);
}

export function decodeWords(vocab: WordVocab, ids: ArrayLike<number>): string {
  const words = Array.from({ length: ids.length }, (_, i) => vocab.words[ids[i]] ?? '<unk>');
  if (vocab.tokenizer !== 'whitespace_eos') return words.join(' ');
  // word_language_model's <eos> ends a line.
  return words.map((w) => (w === '<eos>' ? '\n' : w)).join(' ').replace(/ ?\n ?/g, '\n');
}

/**
 * Where each basic_english token of `text` came from, as UTF-16 offsets: token i starts at offsets[i], and
 * offsets[T] is the end of the last token (so [offsets[i], offsets[i+1]) also covers the gap after token i,
 * as a char model's offsets cover one character). Tokens are found in order in the lower-cased text; the
 * characters the tokenizer drops (quotes, `;`, `:`, `<br />`) are skipped over.
 */
export function wordOffsets(text: string, tokens: readonly string[]): Int32Array {
  // Lower-case code point by code point, remembering where each lower-cased unit came from.
  let lower = '';
  const origin: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    const l = String.fromCodePoint(cp).toLowerCase();
    for (let k = 0; k < l.length; k++) origin.push(i);
    lower += l;
    i += width;
  }
  origin.push(text.length);
  const offsets = new Int32Array(tokens.length + 1);
  let p = 0, end = 0;
  tokens.forEach((token, i) => {
    let at = lower.indexOf(token, p);
    let stop = at + token.length;
    if (at < 0) {
      // The token spans a dropped character (a quote inside a word): match it unit by unit, skipping those.
      at = p;
      while (at < lower.length && lower[at] !== token[0]) at++;
      let j = at, k = 0;
      while (j < lower.length && k < token.length) {
        if (lower[j] === token[k]) k++;
        else if (lower[j] !== '"') break;
        j++;
      }
      stop = j;
    }
    offsets[i] = origin[Math.min(at, lower.length)];
    end = origin[Math.min(stop, lower.length)];
    p = stop;
  });
  offsets[tokens.length] = tokens.length ? end : 0;
  return offsets;
}
