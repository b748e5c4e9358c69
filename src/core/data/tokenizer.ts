// One interface over char- and word-level vocabularies, so training, sampling and tracing need not care.
import { type CharVocab, buildCharVocab, charIndex, decodeChars, encodeChars } from './charVocab';
import { WORD_TOKENIZERS, type WordTokenizer, type WordVocab, type WordVocabOptions, buildWordVocab, decodeWords, encodeWords, splitWords, tokenizeWords } from './wordVocab';
import { normalizeNewlines } from './text';

export type Vocabulary = CharVocab | WordVocab;
export type TokenLevel = Vocabulary['kind'];

export function vocabularySize(vocab: Vocabulary): number {
  return vocab.kind === 'char' ? vocab.chars.length : vocab.words.length;
}

export function buildVocabulary(text: string, level: TokenLevel, wordOptions?: WordVocabOptions): Vocabulary {
  const clean = normalizeNewlines(text);
  switch (level) {
    case 'char': return buildCharVocab(clean);
    case 'word': return buildWordVocab(tokenizeWords(clean), wordOptions);
  }
}

/** Token ids of a text; unknown characters / words map to the documented fallback (see charVocab, <unk>). */
export function encodeText(vocab: Vocabulary, text: string): Int32Array {
  const clean = normalizeNewlines(text);
  switch (vocab.kind) {
    case 'char': return encodeChars(vocab, clean, charIndex(vocab)).ids;
    case 'word': return encodeWords(vocab, splitWords(vocab.tokenizer, clean).tokens);
  }
}

export function decodeTokens(vocab: Vocabulary, ids: ArrayLike<number>): string {
  switch (vocab.kind) {
    case 'char': return decodeChars(vocab, ids);
    case 'word': return decodeWords(vocab, ids);
  }
}

/** Display form of one token (for top-k predictions and hovers). */
export function tokenText(vocab: Vocabulary, id: number): string {
  return (vocab.kind === 'char' ? vocab.chars[id] : vocab.words[id]) ?? '';
}

/** Same vocabulary (ids mean the same tokens)? */
export function sameVocabulary(a: Vocabulary, b: Vocabulary): boolean {
  const ta = a.kind === 'char' ? a.chars : a.words;
  const tb = b.kind === 'char' ? b.chars : b.words;
  return a.kind === b.kind && ta.length === tb.length && ta.every((t, i) => t === tb[i]);
}

/** Parses a vocabulary saved in checkpoint metadata, refusing malformed ones. */
export function parseVocabulary(json: unknown): Vocabulary {
  const o = json as Record<string, unknown> | null;
  if (o && o.kind === 'char' && Array.isArray(o.chars) && o.chars.every((c) => typeof c === 'string')) {
    return { kind: 'char', chars: o.chars as string[] };
  }
  const tokenizer = (o?.tokenizer ?? 'basic_english') as WordTokenizer;
  if (o && o.kind === 'word' && Array.isArray(o.words) && o.words.every((c) => typeof c === 'string')
      && WORD_TOKENIZERS.includes(tokenizer)
      && (o.unkId === null || (typeof o.unkId === 'number' && Number.isInteger(o.unkId) && o.unkId >= 0 && o.unkId < o.words.length))) {
    return { kind: 'word', tokenizer, words: o.words as string[], unkId: o.unkId as number | null };
  }
  throw new Error('vocabulary metadata is missing or malformed');
}
