// Character-level vocabulary: one token per Unicode code point seen in the training text, in code point
// order, saved with the model so sampling and tracing use the same ids.
import { codePoints } from './text';

export interface CharVocab {
  readonly kind: 'char';
  /** Token id -> code point string, sorted by code point. */
  readonly chars: readonly string[];
}

/**
 * What a character the model never saw becomes when encoding a prompt or a document to trace: the id of
 * the fallback character (a space when the vocabulary has one, else id 0). One token per code point is
 * kept so token positions stay aligned with the document; `unknown` counts the substitutions.
 */
export interface CharEncoding {
  readonly ids: Int32Array;
  /** UTF-16 offset of each token in the text (what editors use), plus the text length at the end. */
  readonly offsets: Int32Array;
  readonly unknown: number;
}

export function buildCharVocab(text: string): CharVocab {
  const seen = new Set<string>(codePoints(text));
  const chars = [...seen].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  return { kind: 'char', chars };
}

export function charIndex(vocab: CharVocab): Map<string, number> {
  return new Map(vocab.chars.map((c, i) => [c, i]));
}

export function fallbackCharId(vocab: CharVocab): number {
  const space = vocab.chars.indexOf(' ');
  return space >= 0 ? space : 0;
}

export function encodeChars(vocab: CharVocab, text: string, index = charIndex(vocab)): CharEncoding {
  const ids: number[] = [];
  const offsets: number[] = [];
  const fallback = fallbackCharId(vocab);
  let unknown = 0;
  let offset = 0;
  for (const ch of text) {
    const id = index.get(ch);
    if (id === undefined) unknown++;
    ids.push(id ?? fallback);
    offsets.push(offset);
    offset += ch.length;
  }
  offsets.push(offset);
  return { ids: Int32Array.from(ids), offsets: Int32Array.from(offsets), unknown };
}

export function decodeChars(vocab: CharVocab, ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) s += vocab.chars[ids[i]] ?? '';
  return s;
}
