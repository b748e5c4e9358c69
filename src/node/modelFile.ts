// Model files on disk: read and parse a checkpoint, write one atomically.
import { unlinkSync } from 'node:fs';
import { type Checkpoint, parseCheckpoint, serializeCheckpoint } from '../core/checkpoint';
import { guardRead } from '../core/formats/errors';
import { writeFileAtomic } from './atomicWrite';
import { installEnvLoadLimits, readRegularFile } from './loadModelFile';

export class ModelFileError extends Error {}

/**
 * Reads and parses a gatescope checkpoint: ModelFileError when the file cannot be read (missing, a
 * folder, a device or pipe, over 2 GiB), FormatError (one line naming it) when its content is bad.
 */
export function readModelFile(path: string): Checkpoint {
  installEnvLoadLimits();
  const bytes = readRegularFile(path, (m) => new ModelFileError(m), 'cannot read (ENOENT)');
  return guardRead(path, () => parseCheckpoint(bytes, path));
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
