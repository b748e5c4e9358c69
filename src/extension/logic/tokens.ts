// Document offsets <-> token positions for char models (one token per code point; the encoder gives
// each token's UTF-16 offset plus the text length at the end).

/** The token whose UTF-16 range contains `offset` (offsets is ascending, length tokens + 1). */
export function tokenAtOffset(offsets: ArrayLike<number>, offset: number): number {
  const tokens = offsets.length - 1;
  if (tokens <= 0 || offset < offsets[0] || offset >= offsets[tokens]) return -1;
  let lo = 0;
  let hi = tokens - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A character as it should appear in a hover or a heatmap label (whitespace made visible). */
export function visibleChar(ch: string): string {
  switch (ch) {
    case '\n': return '⏎';
    case '\t': return '⇥';
    case ' ': return '␣';
    case '\r': return '␍';
    default: return ch.length === 0 ? '∅' : ch;
  }
}
