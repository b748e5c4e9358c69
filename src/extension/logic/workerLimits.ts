// How much memory the extension's workers may take, and what the user is told when one dies. Pure: the
// host passes the setting and os.totalmem(); services/workerBackend.ts starts the workers with the limits.

const MiB = 2 ** 20;

/** The automatic limit's ceiling and floor, in MB. */
export const AUTO_LIMIT_MAX_MB = 8192;
export const MIN_LIMIT_MB = 256;

/**
 * The workers' heap limit in MB: `gatescope.workerMemoryLimitMb` when set (> 0; at least 256 MB and at most
 * the machine's memory), else the smaller of 8 GB and half the machine's memory (at least 256 MB).
 */
export function workerMemoryLimitMb(setting: number | undefined, totalMemBytes: number): number {
  const total = Math.max(MIN_LIMIT_MB, Math.floor(totalMemBytes / MiB));
  if (setting !== undefined && Number.isFinite(setting) && setting > 0) return Math.round(Math.min(Math.max(setting, MIN_LIMIT_MB), total));
  return Math.max(MIN_LIMIT_MB, Math.min(AUTO_LIMIT_MAX_MB, Math.floor(total / 2)));
}

/** The V8 limits of a worker with that heap limit (young generation and code space keep Node's defaults). */
export function resourceLimitsFor(limitMb: number): { maxOldGenerationSizeMb: number } {
  return { maxOldGenerationSizeMb: limitMb };
}

/**
 * The memory watch of the compute worker (see MemoryWatch in src/worker/client.ts): data outside its heap
 * (tensors, inflated archives, WebAssembly) may add up to the heap limit again (its loaders are budgeted to
 * half of it each) plus slack, but never more than three quarters of the machine; and when the machine gets
 * down to its last 5% (at least 256 MB) while the worker grew by 512 MB or more, the worker ends before the
 * system's out-of-memory killer ends the editor. That second rule only where the OS reports memory that can
 * still be had (Linux: MemAvailable; Windows: available physical memory); macOS reports only free pages,
 * which are few on a healthy machine.
 */
export function memoryWatchFor(limitMb: number, totalMemBytes: number, platform = 'linux'): { maxGrowthBytes: number; minAvailableBytes: number; minGrowthBytes: number } {
  const reliableAvailable = platform === 'linux' || platform === 'win32';
  return {
    maxGrowthBytes: Math.min(2 * limitMb * MiB + 512 * MiB, 0.75 * totalMemBytes),
    minAvailableBytes: reliableAvailable ? Math.max(256 * MiB, 0.05 * totalMemBytes) : 0,
    minGrowthBytes: 512 * MiB,
  };
}

/** A worker died (from Backend.onDidCrash). */
export interface WorkerCrashInfo {
  readonly worker: 'compute' | 'training';
  readonly reason: 'out-of-memory' | 'crashed' | 'exited';
  /** What it was doing ("loading bomb.pt"). */
  readonly operations: readonly string[];
  readonly limitMb?: number;
  /** The one-line message in-flight requests were rejected with. */
  readonly message: string;
}

export const MEMORY_SETTING = 'gatescope.workerMemoryLimitMb';

/**
 * The notification for a crash: the rejection's message ("gatescope: loading X ran out of memory (limit N
 * MB); the compute worker was stopped; it starts again for the next request") and what follows for the
 * user: traces of that worker are gone; a file that really needs more memory needs a higher limit.
 */
export function crashNotice(c: WorkerCrashInfo, lostTraces: number): { message: string; offerSetting: boolean } {
  const parts = [c.message.replace(/\.?$/, '.')];
  if (lostTraces > 0) parts.push(`${lostTraces === 1 ? 'The traced document was' : `${lostTraces} traced documents were`} closed: trace again to see them.`);
  const oom = c.reason === 'out-of-memory';
  if (oom) parts.push(`If the model really needs more memory, raise ${MEMORY_SETTING}.`);
  return { message: parts.join(' '), offerSetting: oom };
}

/** A training run's error after its worker died: the crash, and where the last checkpoint it saved is. */
export function runFailureText(error: string, lastSaved: { path: string; step: number } | undefined): string {
  const text = error.replace(/^gatescope: /, '');
  return lastSaved ? `${text}. Its last checkpoint (step ${lastSaved.step}) is kept: ${lastSaved.path}` : text;
}
