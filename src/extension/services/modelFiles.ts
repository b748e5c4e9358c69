// Model files to ModelEntry: gatescope checkpoints (with vocabulary: traceable and sampleable) first,
// then any format the import helper's loadModelFile understands (PyTorch, Keras, ONNX, tfjs, npz).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseCheckpoint } from '../../core/checkpoint';
import { toLmParams } from '../../core/layouts/model';
import type { TensorMap } from '../../core/tensor';
import { loadModelFile } from '../../node/loadModelFile';
import type { ModelData } from './backend';
import type { ModelEntry } from './modelStore';

function isGatescopeCheckpoint(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n <= 0 || n > bytes.length - 8 || n > 100_000_000) return false;
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  return header.includes('"gatescope"');
}

export async function readCheckpointData(path: string): Promise<ModelData> {
  const ck = parseCheckpoint(new Uint8Array(await readFile(path)), path);
  return { config: ck.config, params: ck.params, vocab: ck.vocab };
}

export async function loadModelEntry(path: string): Promise<ModelEntry> {
  const bytes = new Uint8Array(await readFile(path));
  if (isGatescopeCheckpoint(bytes)) {
    const ck = parseCheckpoint(bytes, path);
    const loss = ck.training?.lossHistory.at(-1)?.loss;
    return {
      id: path, label: basename(path), path, origin: 'opened', engine: ck.engine,
      data: { config: ck.config, params: ck.params, vocab: ck.vocab },
      ...(loss !== undefined ? { loss } : {}),
    };
  }
  const imported = await loadModelFile(path);
  return { id: path, label: basename(path), path, origin: 'opened', imported };
}

/** Canonical parameters of an entry with the `rnn.` / `head.` names an LmEngine uses. */
export function lmParamsOf(entry: ModelEntry): TensorMap {
  if (entry.data) return entry.data.params;
  if (entry.imported) return toLmParams(entry.imported);
  return new Map();
}
