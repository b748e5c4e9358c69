// What a checkpoint does not keep but the dashboard shows: the gradient-norm history, the gate saturation
// history and the samples of a run. The extension keeps them in a small JSON file next to the checkpoint
// (`<checkpoint>.history.json`), rewritten each time the run saves, so a restored dashboard is complete.
// Series travel as base64 of little-endian float64 (exact values, cheap to encode for long runs).
// Pure: no vscode, no fs.
import type { GateSaturation } from '../../core/train/gateStats';
import type { SampleAtTemperature, SaturationPoint } from '../../protocol/webview';

export const RUN_HISTORY_VERSION = 1;

export interface SeriesArrays {
  readonly steps: Float64Array;
  readonly values: Float64Array;
}

export interface RunHistory {
  readonly runId: string;
  /** The last optimizer step the history covers (the step of the checkpoint it was written with). */
  readonly step: number;
  readonly gradNorm: SeriesArrays;
  readonly saturation: readonly SaturationPoint[];
  readonly samples: readonly SampleAtTemperature[];
}

/** The sidecar file of a checkpoint. */
export function historySidecarPath(checkpointPath: string): string {
  return `${checkpointPath}.history.json`;
}

// btoa/atob exist in Node and in webviews alike (this module is also type-checked for the webview).
function toBase64(a: Float64Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: unknown, what: string): Float64Array {
  if (typeof text !== 'string') throw new Error(`${what} is missing`);
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new Error(`${what} is not base64`);
  }
  if (binary.length % 8 !== 0) throw new Error(`${what} is not a float64 series (${binary.length} bytes)`);
  const out = new Float64Array(binary.length / 8);
  const bytes = new Uint8Array(out.buffer);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return out;
}

export function encodeRunHistory(h: RunHistory): string {
  return JSON.stringify({
    version: RUN_HISTORY_VERSION, runId: h.runId, step: h.step,
    gradNorm: { steps: toBase64(h.gradNorm.steps), values: toBase64(h.gradNorm.values) },
    saturation: h.saturation, samples: h.samples,
  });
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function isGateSaturation(x: unknown): x is GateSaturation {
  if (typeof x !== 'object' || x === null) return false;
  const g = x as Record<string, unknown>;
  return isFiniteNumber(g.layer) && typeof g.reverse === 'boolean' && typeof g.gate === 'string' && isFiniteNumber(g.low) && isFiniteNumber(g.high);
}

function isSaturationPoint(x: unknown): x is SaturationPoint {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as Record<string, unknown>;
  return isFiniteNumber(p.step) && Array.isArray(p.entries) && p.entries.every(isGateSaturation);
}

function isSample(x: unknown): x is SampleAtTemperature {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  return isFiniteNumber(s.step) && isFiniteNumber(s.temperature) && typeof s.text === 'string';
}

/** Parses a sidecar; throws a message naming `source` and the problem. */
export function decodeRunHistory(text: string, source: string): RunHistory {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) throw new Error(`${source}: not a run history`);
  const o = raw as Record<string, unknown>;
  if (o.version !== RUN_HISTORY_VERSION) throw new Error(`${source}: unsupported run history version ${String(o.version)}`);
  if (typeof o.runId !== 'string' || !isFiniteNumber(o.step)) throw new Error(`${source}: runId or step missing`);
  const g = (o.gradNorm ?? {}) as Record<string, unknown>;
  const steps = fromBase64(g.steps, `${source}: gradNorm.steps`);
  const values = fromBase64(g.values, `${source}: gradNorm.values`);
  if (steps.length !== values.length) throw new Error(`${source}: gradNorm has ${steps.length} steps but ${values.length} values`);
  if (!Array.isArray(o.saturation) || !o.saturation.every(isSaturationPoint)) throw new Error(`${source}: malformed saturation history`);
  const samples = Array.isArray(o.samples) ? o.samples.filter(isSample) : [];
  return { runId: o.runId, step: o.step, gradNorm: { steps, values }, saturation: o.saturation, samples };
}

/**
 * The history as of checkpoint step `step`: a checkpoint written after the sidecar's last rewrite (or a
 * sidecar written a little after its checkpoint) must not show points the weights never saw.
 */
export function historyUpTo(h: RunHistory, step: number): RunHistory {
  if (h.step <= step) return h;
  let n = 0;
  while (n < h.gradNorm.steps.length && h.gradNorm.steps[n] <= step) n++;
  return {
    ...h, step,
    gradNorm: { steps: h.gradNorm.steps.slice(0, n), values: h.gradNorm.values.slice(0, n) },
    saturation: h.saturation.filter((p) => p.step <= step),
    samples: h.samples.filter((s) => s.step <= step),
  };
}

/**
 * Samples appended to a run's list, each (step, temperature) listed once: the end-of-run sample at the
 * temperature the trainer also samples at replaces the trainer's sample of that step. Keeps the last `max`.
 */
export function mergeSamples(existing: readonly SampleAtTemperature[], added: readonly SampleAtTemperature[], max: number): SampleAtTemperature[] {
  const key = (s: SampleAtTemperature): string => `${s.step}@${s.temperature}`;
  const all = [...existing, ...added];
  const lastAt = new Map(all.map((s, k) => [key(s), k]));
  return all.filter((s, k) => lastAt.get(key(s)) === k).slice(-max);
}
