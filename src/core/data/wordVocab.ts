// Word-level tokens: torchtext's `basic_english` tokenizer and `build_vocab_from_iterator` ordering.

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

export interface WordVocab {
  readonly kind: 'word';
  readonly tokenizer: 'basic_english';
  /** Token id -> word; specials first. */
  readonly words: readonly string[];
  /** Id of `<unk>`, the id every out-of-vocabulary word maps to. */
  readonly unkId: number;
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
  return Int32Array.from(tokens, (w) => index.get(w) ?? vocab.unkId);
}

export function decodeWords(vocab: WordVocab, ids: ArrayLike<number>): string {
  return Array.from({ length: ids.length }, (_, i) => vocab.words[ids[i]] ?? '<unk>').join(' ');
}
