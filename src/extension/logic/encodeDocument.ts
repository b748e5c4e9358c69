// Token ids of an editor document, with each token's UTF-16 offset in the document (what hovers and
// decorations need). Char models: CRLF and lone CR count as one '\n' token spanning their code units,
// matching how training text is normalised, so positions stay aligned with the editor. Word models: the
// core's basic_english tokens and word offsets (the same ids the worker and `gatescope trace` use).
import { type CharVocab, charIndex, fallbackCharId } from '../../core/data/charVocab';
import type { Vocabulary } from '../../core/data/tokenizer';
import { type WordVocab, encodeWords, tokenizeWords, wordOffsets } from '../../core/data/wordVocab';

export interface DocumentEncoding {
  readonly ids: Int32Array;
  /**
   * offsets[t] is where token t starts; offsets[tokens] is where the last one ends (the text length for a
   * char model). A word's range [offsets[t], offsets[t+1]) covers the word and the gap after it.
   */
  readonly offsets: Int32Array;
  /** Characters (char model) or words (word model) outside the vocabulary. */
  readonly unknown: number;
}

/** Any model's document encoding: the char fast path below, or words. */
export function encodeVocabularyDocument(vocab: Vocabulary, text: string, maxTokens = Infinity): DocumentEncoding {
  return vocab.kind === 'char' ? encodeDocument(vocab, text, maxTokens) : encodeWordDocument(vocab, text, maxTokens);
}

/**
 * Words as the core tokenizes them (torchtext basic_english: lower-cased, punctuation split off). CR and
 * CRLF are whitespace to it, so the editor's own text gives the same tokens as the normalised one, with
 * offsets straight into the editor's text.
 */
export function encodeWordDocument(vocab: WordVocab, text: string, maxTokens = Infinity): DocumentEncoding {
  const all = tokenizeWords(text);
  const tokens = all.length > maxTokens ? all.slice(0, maxTokens) : all;
  const ids = encodeWords(vocab, tokens);
  let unknown = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] === vocab.unkId && vocab.words[vocab.unkId] !== tokens[i]) unknown++;
  return { ids, offsets: wordOffsets(text, tokens), unknown };
}

/**
 * Runs on the extension host for every traced document (up to a million characters): one typed-array
 * lookup per UTF-16 unit, the Map only for characters outside the BMP (a Map lookup per character made
 * this the host's longest task while tracing).
 */
export function encodeDocument(vocab: CharVocab, text: string, maxTokens = Infinity): DocumentEncoding {
  const index = charIndex(vocab);
  const fallback = fallbackCharId(vocab);
  const bmp = new Int32Array(0x10000).fill(-1); // id by UTF-16 code unit, -1 when not in the vocabulary
  for (const [ch, id] of index) if (ch.length === 1) bmp[ch.charCodeAt(0)] = id;
  const cap = Math.min(text.length, maxTokens);
  const ids = new Int32Array(cap);
  const offsets = new Int32Array(cap + 1);
  let n = 0;
  let unknown = 0;
  let i = 0;
  while (i < text.length && n < cap) {
    const code = text.charCodeAt(i);
    let id: number;
    let width = 1;
    if (code === 13) {
      id = bmp[10];
      if (text.charCodeAt(i + 1) === 10) width = 2;
    } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        width = 2;
        id = index.get(text.slice(i, i + 2)) ?? -1;
      } else {
        id = bmp[code];
      }
    } else {
      id = bmp[code];
    }
    if (id < 0) {
      unknown++;
      id = fallback;
    }
    ids[n] = id;
    offsets[n] = i;
    n++;
    i += width;
  }
  offsets[n] = i;
  return { ids: ids.subarray(0, n), offsets: offsets.subarray(0, n + 1), unknown };
}
