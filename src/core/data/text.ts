// Text hygiene shared by char- and word-level data: line endings, code points, binary detection.

/** CRLF (and lone CR, old Mac) become LF, so a model trained on Windows text samples Unix lines. */
export function normalizeNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** The text's code points as strings; surrogate pairs stay whole (for...of iterates code points). */
export function codePoints(text: string): string[] {
  return Array.from(text);
}

export type BinaryVerdict = { readonly binary: false; readonly text: string } | { readonly binary: true; readonly reason: string };

/**
 * Decodes bytes as UTF-8 text, or says why they look binary: a NUL byte (what git and grep use as the
 * binary signal) or bytes that are not valid UTF-8. A leading byte-order mark is dropped.
 */
export function decodeTextBytes(bytes: Uint8Array): BinaryVerdict {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { binary: true, reason: `contains a NUL byte at offset ${nul}` };
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    return { binary: false, text };
  } catch {
    return { binary: true, reason: 'is not valid UTF-8' };
  }
}
