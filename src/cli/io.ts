// Reading the user's files and writing results, with one-line errors that name the file.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../node/atomicWrite';
import { UsageError } from './errors';

/** A file's bytes, or a one-line error naming it. */
export function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
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
