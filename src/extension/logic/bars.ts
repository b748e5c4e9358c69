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
