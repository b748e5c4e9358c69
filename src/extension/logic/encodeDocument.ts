// Token ids of an editor document for a char model, with each token's UTF-16 offset in the document
// (what hovers and decorations need). CRLF and lone CR count as one '\n' token spanning their code
// units, matching how training text is normalised, so positions stay aligned with the editor.
import { type CharVocab, charIndex, fallbackCharId } from '../../core/data/charVocab';

export interface DocumentEncoding {
  readonly ids: Int32Array;
  /** offsets[t] is where token t starts; offsets[tokens] is the text length. */
  readonly offsets: Int32Array;
  readonly unknown: number;
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
