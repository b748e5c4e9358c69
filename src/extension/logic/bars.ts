// Unicode bar rendering for hovers: a value becomes a run of eighth blocks, so a bar chart fits in
// Markdown without images.

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar of |value| / scale × width cells, in eighth-cell resolution; width cells at most. */
export function bar(value: number, scale: number, width: number): string {
  if (!Number.isFinite(value) || !(scale > 0) || width < 1) return '';
  const eighths = Math.round(Math.min(1, Math.abs(value) / scale) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

/** A value in [0, 1] as one of eight block heights (for sparklines of gate means). */
export function level(value01: number): string {
  const blocks = '▁▂▃▄▅▆▇█';
  const v = Number.isFinite(value01) ? Math.max(0, Math.min(1, value01)) : 0;
  return blocks[Math.min(7, Math.floor(v * 8))];
}

/** A signed number with a fixed number of decimals and an explicit sign. */
export function signed(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  const s = Math.abs(value).toFixed(digits);
  return (value < 0 ? '−' : '+') + s;
}

const NBSP = '\u00a0';

/**
 * A bar that shows the sign: |value| / scale × `half` cells to the right of an axis for a positive value,
 * to its left for a negative one (right-aligned, half-cell resolution: ▐), padded with no-break spaces so
 * that every bar of a column is as wide and lines up in a monospace code span.
 */
export function signedBar(value: number, scale: number, half: number): string {
  const pad = (n: number): string => NBSP.repeat(Math.max(0, n));
  if (!Number.isFinite(value) || !(scale > 0) || half < 1) return pad(half) + '│' + pad(half);
  const f = Math.min(1, Math.abs(value) / scale);
  if (value >= 0) {
    const right = bar(value, scale, half);
    return pad(half) + '│' + right + pad(half - [...right].length);
  }
  const halves = Math.round(f * half * 2);
  const left = (halves % 2 ? '▐' : '') + '█'.repeat(Math.floor(halves / 2));
  return pad(half - [...left].length) + left + '│' + pad(half);
}

/** A bar for a value in [0, 1] (a sigmoid gate), padded to `width` cells with no-break spaces. */
export function paddedBar(value: number, scale: number, width: number): string {
  const b = bar(value, scale, width);
  return b + NBSP.repeat(Math.max(0, width - [...b].length));
}
