// The samples a dashboard lists. Pure: also bundled into the webview.
import type { SampleAtTemperature } from '../../protocol/webview';

/** Samples a dashboard keeps (the newest). */
export const MAX_SAMPLES = 12;

/**
 * Samples appended to a run's list, each (step, temperature) listed once: the end-of-run sample at the
 * temperature the trainer also samples at replaces the trainer's sample of that step. Keeps the last `max`.
 */
export function mergeSamples(existing: readonly SampleAtTemperature[], added: readonly SampleAtTemperature[], max = MAX_SAMPLES): SampleAtTemperature[] {
  const key = (s: SampleAtTemperature): string => `${s.step}@${s.temperature}`;
  const all = [...existing, ...added];
  const lastAt = new Map(all.map((s, k) => [key(s), k]));
  return all.filter((s, k) => lastAt.get(key(s)) === k).slice(-max);
}
