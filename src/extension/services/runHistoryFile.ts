// The run-history sidecar on disk (`<checkpoint>.history.json`, see logic/runHistory.ts): written atomically
// (a temp file renamed over the old one, so a reader never sees half a file) and asynchronously (the
// extension host never waits on the disk). One writer per run: writes happen one at a time and a write
// asked for while one is running is replaced by the newest.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** The sidecar of a checkpoint; undefined when there is none (a run from the CLI or an older version). */
export async function readRunHistoryFile(checkpointPath: string): Promise<RunHistory | undefined> {
  const path = historySidecarPath(checkpointPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
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
