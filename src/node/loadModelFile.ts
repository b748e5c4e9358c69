// File-system glue for imports: reads the file (and, for TensorFlow.js, the shards next to it).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, basename, resolve } from 'node:path';
import type { TensorMap } from '../core/tensor';
import { loadTensorFile } from '../core/formats';
import { type ModelImportOptions, importModel } from '../core/formats/model';
import type { ImportedModel } from '../core/layouts/model';
import { FormatError } from '../core/formats/safetensors';

function readOrFail(path: string): Uint8Array {
  if (!existsSync(path)) throw new FormatError(`${path}: no such file`);
  return readFileSync(path);
}

export async function loadModelFile(path: string, options: ModelImportOptions = {}): Promise<ImportedModel> {
  const dir = dirname(resolve(path));
  return importModel(readOrFail(path), basename(path), options, (rel) => {
    const p = join(dir, rel);
    if (!resolve(p).startsWith(dir)) return undefined; // shards stay inside the model's folder
    return existsSync(p) ? readFileSync(p) : undefined;
  });
}

export function loadTensorFileAt(path: string): TensorMap {
  return loadTensorFile(readOrFail(path), basename(path));
}
