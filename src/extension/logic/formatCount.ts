// Numbers, durations and names as the views show them. Pure: the host, the webviews and plain-node tests
// share it.

// 1234567 -> "1,234,567" without Intl: the first toLocaleString on the extension host loads ICU data and
// cost 25-45 ms of a single task there (measured with the host probe).
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * A value in a table cell: fixed digits for ordinary magnitudes, 1.2e6 / 3.4e-5 for very large or small
 * ones, a real minus sign (U+2212, as wide as a plus) for negatives.
 */
export function formatValue(v: number, digits = 3): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  const a = Math.abs(v);
  const text = a !== 0 && (a >= 1e5 || a < 10 ** -digits) ? a.toExponential(1).replace('e+', 'e') : a.toFixed(digits);
  return v < 0 && Number(text.replace(/e.*/, '')) !== 0 ? `−${text}` : text;
}

/** A count in a few characters: 950, 1.2k, 34k, 1.5M, 2B (for stat cards and tick labels). */
export function formatCompact(n: number): string {
  const a = Math.abs(n);
  const sign = n < 0 ? '−' : '';
  for (const [unit, size] of [['B', 1e9], ['M', 1e6], ['k', 1e3]] as const) {
    if (a >= size) {
      const x = a / size;
      return `${sign}${x >= 100 ? Math.round(x) : Number(x.toPrecision(2))}${unit}`;
    }
  }
  return `${sign}${Number.isInteger(a) ? a : Number(a.toPrecision(3))}`;
}

/** Seconds as "45 s", "3 min 05 s", "1 h 02 min" (elapsed time, ETA). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * Estimated seconds left of a run: the time per step so far times the steps left (undefined before the
 * first step, or without a time).
 */
export function etaSeconds(step: number, totalSteps: number, elapsedSeconds: number): number | undefined {
  if (!(step > 0) || !(elapsedSeconds > 0) || !(totalSteps >= step)) return undefined;
  return (elapsedSeconds / step) * (totalSteps - step);
}

/** A layer as every view names it: 1-based ("layer 1"), the reverse direction of a bidirectional one said. */
export function layerLabel(layer: number, reverse = false): string {
  return `layer ${layer + 1}${reverse ? ' reverse' : ''}`;
}

const GATE_NAMES: Record<string, string> = {
  i: 'input gate', f: 'forget gate', g: 'cell candidate', o: 'output gate', r: 'reset gate', z: 'update gate', n: 'new gate',
};

/** "f" or "gate_f" → "forget gate"; other tensor names ("h", "c") as given. */
export function gateName(gate: string): string {
  const g = gate.startsWith('gate_') ? gate.slice(5) : gate;
  return GATE_NAMES[g] ?? gate;
}
