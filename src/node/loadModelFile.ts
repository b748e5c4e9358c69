// File-system glue for imports: reads the model file and the files it refers to (tfjs weight shards,
// ONNX external data), which must stay inside the model's folder after symlinks are resolved. Only
// regular files are read (never a FIFO or a device, which could block or never end), at most 2 GiB. The
// budgets of src/core/formats/limits.ts come from the environment (GATESCOPE_MAX_INFLATE_BYTES, ...).
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { TensorMap } from '../core/tensor';
import { loadTensorFile } from '../core/formats';
import { type ModelImportOptions, type SiblingReader, importModel } from '../core/formats/model';
import type { ImportedModel } from '../core/layouts/model';
import { FormatError } from '../core/formats/errors';
import { loadLimitsFromEnv, setLoadLimits } from '../core/formats/limits';

/** Node reads at most 2 GiB into one buffer. */
export const MAX_FILE_BYTES = 2 ** 31 - 1;

/** Installs the limits the environment sets (a bad value is a FormatError naming the variable). */
export function installEnvLoadLimits(env: NodeJS.ProcessEnv = process.env): void {
  setLoadLimits(loadLimitsFromEnv(env));
}

const errnoOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * A regular file's bytes, or an error made by `fail` naming it: missing, a folder, a device or pipe
 * (opened non-blocking, so a FIFO cannot hang the read), or larger than 2 GiB.
 */
export function readRegularFile(path: string, fail: (message: string) => Error = (m) => new FormatError(m), missing = 'no such file'): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = errnoOf(e);
    throw fail(`${path}: ${code === 'ENOENT' ? missing : code === 'EISDIR' ? 'is a directory, not a file' : `cannot read (${code})`}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw fail(`${path}: is a directory, not a file`);
    if (!st.isFile()) throw fail(`${path}: is not a regular file (a device, pipe or socket); refused`);
    if (st.size > MAX_FILE_BYTES) throw fail(`${path}: is ${(st.size / 1024 ** 3).toFixed(1)} GiB; files over 2 GiB cannot be read at once`);
    try {
      return new Uint8Array(readFileSync(fd));
    } catch (e) {
      throw fail(`${path}: cannot read (${errnoOf(e)})`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Is `p` strictly inside folder `dir` (compared by path components, not by string prefix)? */
export function isInside(dir: string, p: string): boolean {
  const r = relative(dir, p);
  return r !== '' && r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r);
}

/**
 * Reads files a model refers to, relative to its folder. A path that leaves the folder, before or after
 * resolving symlinks, is refused with a FormatError; a missing file gives undefined.
 */
export function siblingReader(modelPath: string): SiblingReader {
  const name = basename(modelPath);
  let dir: string;
  try {
    dir = realpathSync(dirname(resolve(modelPath)));
  } catch (e) {
    throw new FormatError(`${modelPath}: cannot resolve its folder (${errnoOf(e)})`);
  }
  return (rel) => {
    const shown = JSON.stringify(rel);
    if (rel.includes('\0') || isAbsolute(rel) || !isInside(dir, resolve(dir, rel))) {
      throw new FormatError(`${name}: refers to ${shown}, outside the model's folder; refused`);
    }
    let real: string;
    try {
      real = realpathSync(resolve(dir, rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new FormatError(`${name}: cannot read ${shown} (${errnoOf(e)})`);
    }
    if (!isInside(dir, real)) throw new FormatError(`${name}: ${shown} is a link to a file outside the model's folder; refused`);
    return readRegularFile(real, (m) => new FormatError(`${name}: ${shown}: ${m.slice(real.length + 2)}`));
  };
}

/** Imports a model file (bytes may be passed when already read). */
export async function loadModelFile(path: string, options: ModelImportOptions = {}, bytes?: Uint8Array): Promise<ImportedModel> {
  installEnvLoadLimits();
  const data = bytes ?? readRegularFile(path);
  return importModel(data, basename(path), options, siblingReader(path));
}

export function loadTensorFileAt(path: string): TensorMap {
  installEnvLoadLimits();
  return loadTensorFile(readRegularFile(path), basename(path));
}
