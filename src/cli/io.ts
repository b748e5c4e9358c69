// Reading the user's files and writing results, with one-line errors that name the file.
import { writeFileAtomic } from '../node/atomicWrite';
import { readRegularFile } from '../node/loadModelFile';
import { UsageError } from './errors';

/** A file's bytes, or a one-line error naming it (missing, a folder, a device or pipe, over 2 GiB). */
export function readInput(path: string): Uint8Array {
  return readRegularFile(path, (m) => new UsageError(m));
}

export function readJson(path: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(readInput(path)));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** Writes atomically, so an interrupted run never leaves a half-written file; errors name the file. */
export function writeOutput(path: string, bytes: Uint8Array | string): void {
  try {
    writeFileAtomic(path, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  } catch (err) {
    throw new UsageError(`${path}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
