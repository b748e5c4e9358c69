// The run-history sidecar on disk (`<checkpoint>.history.json`, see logic/runHistory.ts): written atomically
// (a temp file renamed over the old one, so a reader never sees half a file) and asynchronously (the
// extension host never waits on the disk). One writer per run: writes happen one at a time and a write
// asked for while one is running is replaced by the newest.
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { decodeRunHistory, encodeRunHistory, historySidecarPath, type RunHistory } from '../logic/runHistory';

export async function writeRunHistoryFile(checkpointPath: string, encoded: string): Promise<void> {
  const target = historySidecarPath(checkpointPath);
  const temp = `${target}.${process.pid}.tmp`;
  try {
    await writeFile(temp, encoded);
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** A sidecar holds a few series of a run (a million steps take ~20 MB): a larger file is not one of ours. */
const MAX_SIDECAR_BYTES = 64 * 1024 * 1024;

/** The sidecar of a checkpoint; undefined when there is none (a run from the CLI or an older version). */
export async function readRunHistoryFile(checkpointPath: string): Promise<RunHistory | undefined> {
  const path = historySidecarPath(checkpointPath);
  let text: string;
  try {
    // Read on the extension host: never a file of any size (or a FIFO that never ends).
    const st = await stat(path);
    if (!st.isFile()) throw new Error(`${path}: not a regular file`);
    if (st.size > MAX_SIDECAR_BYTES) throw new Error(`${path}: ${st.size} bytes is larger than a run history can be (${MAX_SIDECAR_BYTES})`);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (!(e as NodeJS.ErrnoException).code) throw e;
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  return decodeRunHistory(text, path);
}

export type HistoryFileWriter = (checkpointPath: string, encoded: string) => Promise<void>;

export class RunHistoryWriter {
  private pending: { path: string; encoded: string } | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly write: HistoryFileWriter = writeRunHistoryFile,
    private readonly onError: (message: string) => void = (m) => console.warn(`gatescope: ${m}`),
  ) {}

  /** Encodes now (a snapshot of the live series) and writes soon. */
  save(checkpointPath: string, history: RunHistory): void {
    this.pending = { path: checkpointPath, encoded: encodeRunHistory(history) };
    this.running ??= this.drain();
  }

  /** Settles when every asked-for write has landed (or failed and been reported). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    for (let job = this.pending; job; job = this.pending) {
      this.pending = undefined;
      try {
        await this.write(job.path, job.encoded);
      } catch (err) {
        this.onError(`could not write the run history next to ${job.path}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.running = undefined;
  }
}
