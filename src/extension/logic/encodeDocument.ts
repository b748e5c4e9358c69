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

export function encodeDocument(vocab: CharVocab, text: string, maxTokens = Infinity): DocumentEncoding {
  const index = charIndex(vocab);
  const fallback = fallbackCharId(vocab);
  const cap = Math.min(text.length, maxTokens);
  const ids = new Int32Array(cap);
  const offsets = new Int32Array(cap + 1);
  let n = 0;
  let unknown = 0;
  let i = 0;
  while (i < text.length && n < cap) {
    const code = text.charCodeAt(i);
    let ch: string;
    let width: number;
    if (code === 13) {
      ch = '\n';
      width = text.charCodeAt(i + 1) === 10 ? 2 : 1;
    } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      width = low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
      ch = text.slice(i, i + width);
    } else {
      ch = text[i];
      width = 1;
    }
    const id = index.get(ch);
    if (id === undefined) unknown++;
    ids[n] = id ?? fallback;
    offsets[n] = i;
    n++;
    i += width;
  }
  offsets[n] = i;
  return { ids: ids.subarray(0, n), offsets: offsets.subarray(0, n + 1), unknown };
}
