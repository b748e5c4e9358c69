// Budgets for reading files from anywhere: checked before anything is allocated, generous for real
// models, small enough that a hostile file (a zip bomb, a broadcast tensor, a memo bomb) fails with one
// line instead of taking the process down. Each limit has an environment variable that raises it; the
// Node side reads the environment (see src/node/loadModelFile.ts) and installs it with setLoadLimits, so
// this module stays pure.
import { FormatError } from './errors';

export interface LoadLimits {
  /** Bytes the members of one zip archive may inflate to, together (and so each one). */
  readonly maxInflateBytes: number;
  /** Bytes of all tensors materialised from one file (and so of each one). */
  readonly maxTensorBytes: number;
  /** Bytes a tensor may take beyond the data it reads (stride-0 broadcasts, overlapping views). */
  readonly maxExpandedBytes: number;
  /** Containers (lists, tuples, dicts, sets) one pickle may create. */
  readonly maxPickleObjects: number;
  /** Nesting depth of pickled containers, HDF5 groups and JSON configs. */
  readonly maxNesting: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const DEFAULT_LOAD_LIMITS: LoadLimits = Object.freeze({
  maxInflateBytes: 4 * GiB,
  maxTensorBytes: 4 * GiB,
  maxExpandedBytes: 256 * MiB,
  maxPickleObjects: 2_000_000,
  maxNesting: 1000,
});

/** The environment variable that raises each limit. */
export const LIMIT_ENV: Readonly<Record<keyof LoadLimits, string>> = Object.freeze({
  maxInflateBytes: 'GATESCOPE_MAX_INFLATE_BYTES',
  maxTensorBytes: 'GATESCOPE_MAX_TENSOR_BYTES',
  maxExpandedBytes: 'GATESCOPE_MAX_EXPANDED_BYTES',
  maxPickleObjects: 'GATESCOPE_MAX_PICKLE_OBJECTS',
  maxNesting: 'GATESCOPE_MAX_NESTING',
});

const IS_BYTES: Readonly<Record<keyof LoadLimits, boolean>> = {
  maxInflateBytes: true, maxTensorBytes: true, maxExpandedBytes: true, maxPickleObjects: false, maxNesting: false,
};

let installed: LoadLimits = DEFAULT_LOAD_LIMITS;

/** Sets the limits used when a call passes none (the CLI and the worker install the environment's). */
export function setLoadLimits(limits: Partial<LoadLimits>): void {
  installed = { ...DEFAULT_LOAD_LIMITS, ...limits };
}

/** The limits for one load: the installed ones, overridden by what the caller passes. */
export function loadLimits(overrides?: Partial<LoadLimits>): LoadLimits {
  return overrides ? { ...installed, ...overrides } : installed;
}

/** "4 GiB", "256 MiB", "1000": how a limit reads in a message. */
export function formatLimit(key: keyof LoadLimits, value: number): string {
  if (!IS_BYTES[key]) return String(value);
  for (const [unit, size] of [['GiB', GiB], ['MiB', MiB], ['KiB', 1024]] as const) {
    if (value >= size) return `${Number((value / size).toFixed(2))} ${unit}`;
  }
  return `${value} bytes`;
}

/** The tail of a message about a limit: its value and how to raise it. */
export function limitHint(key: keyof LoadLimits, limits: LoadLimits): string {
  return `the limit is ${formatLimit(key, limits[key])}; set ${LIMIT_ENV[key]} to raise it`;
}

/** A FormatError for an exceeded limit: "FILE: WHAT (the limit is …; set … to raise it)". */
export function limitError(source: string, what: string, key: keyof LoadLimits, limits: LoadLimits): FormatError {
  return new FormatError(`${source}: ${what} (${limitHint(key, limits)})`);
}

/** Parses "8G", "512M", "1000000", "64KiB" (binary units) into a positive integer. */
export function parseLimitValue(text: string, key: keyof LoadLimits): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const scale = m ? ({ '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB } as Record<string, number>)[m[2].toLowerCase()] : NaN;
  const v = m ? Math.floor(Number(m[1]) * scale) : NaN;
  if (!Number.isSafeInteger(v) || v < 1 || (!IS_BYTES[key] && m![2] !== '')) {
    throw new FormatError(`${LIMIT_ENV[key]}: expected a positive ${IS_BYTES[key] ? 'byte count such as 8G or 536870912' : 'integer'}, got "${text}"`);
  }
  return v;
}

/** The limits an environment sets (unset variables keep their defaults). */
export function loadLimitsFromEnv(env: Readonly<Record<string, string | undefined>>): Partial<LoadLimits> {
  const out: Partial<Record<keyof LoadLimits, number>> = {};
  for (const key of Object.keys(LIMIT_ENV) as (keyof LoadLimits)[]) {
    const text = env[LIMIT_ENV[key]];
    if (text !== undefined && text !== '') out[key] = parseLimitValue(text, key);
  }
  return out;
}

/** Running total of tensor bytes materialised from one file. */
export class TensorBudget {
  private used = 0;
  constructor(readonly source: string, readonly limits: LoadLimits) {}

  /** Reserves `bytes` for one tensor (before allocating it) or throws naming the limit. */
  take(bytes: number, what: string): void {
    const max = this.limits.maxTensorBytes;
    if (bytes > max) throw limitError(this.source, `${what} would take ${formatLimit('maxTensorBytes', bytes)}`, 'maxTensorBytes', this.limits);
    if (this.used + bytes > max) {
      throw limitError(this.source, `its tensors would take more than ${formatLimit('maxTensorBytes', max)} in all (at ${what})`, 'maxTensorBytes', this.limits);
    }
    this.used += bytes;
  }
}

/** Element count of a shape whose dimensions were validated, or Infinity when past 2^53. */
export function checkedNumel(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n) ? n : Infinity;
}

/**
 * A shape from a file: an array of non-negative safe integers (at most 64 dimensions, as in PyTorch).
 * Returns the reason it is not one, or undefined.
 */
export function badShape(shape: unknown): string | undefined {
  if (!Array.isArray(shape)) return `shape ${describe(shape)} is not a list`;
  if (shape.length > 64) return `shape has ${shape.length} dimensions (at most 64)`;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return `shape [${shape.map(describe).join(', ')}] has a dimension that is not a non-negative integer`;
  }
  return undefined;
}

/** A short rendering of a value from a file for an error message. */
export function describe(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}` : JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
