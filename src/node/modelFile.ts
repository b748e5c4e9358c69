// Model files on disk: read and parse a checkpoint, write one atomically.
import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { type Checkpoint, parseCheckpoint, serializeCheckpoint } from '../core/checkpoint';
import { writeFileAtomic } from './atomicWrite';

export class ModelFileError extends Error {}

export function readModelFile(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory()) throw new ModelFileError(`${path}: is a directory, not a model file`);
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseCheckpoint(bytes, path);
}

export function writeModelFile(path: string, ck: Checkpoint): void {
  try {
    writeFileAtomic(path, serializeCheckpoint(ck));
  } catch (e) {
    throw new ModelFileError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Fails early (before any training) when the output location cannot be written. */
export function checkWritable(path: string): void {
  const probe = `${path}.probe`;
  try {
    writeFileAtomic(probe, new Uint8Array(0));
  } catch (e) {
    throw new ModelFileError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try { unlinkSync(probe); } catch { /* already gone */ }
}
