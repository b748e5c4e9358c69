// Any supported file as canonical tensors for diffing: model formats (Keras, tfjs, ONNX) and
// from-scratch layouts are imported to PyTorch names (+ head.weight / head.bias); plain tensor files
// with PyTorch names, traces and trajectories are taken as they are.
import { basename } from 'node:path';
import type { TensorMap } from '../core/tensor';
import { isHdf5, readTensorFile } from '../core/formats';
import { isZip } from '../core/formats/pt';
import type { ModelImportOptions } from '../core/formats/model';
import { importNamed } from '../core/layouts/named';
import { toLmParams, type ImportedModel } from '../core/layouts/model';
import { loadModelFile } from './loadModelFile';
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';

export interface CanonicalFile {
  readonly tensors: TensorMap;
  readonly model?: ImportedModel;
  readonly description: string;
}

function isModelFile(bytes: Uint8Array, name: string): boolean {
  if (/\.(onnx|json|h5|keras)$/i.test(name) || isHdf5(bytes)) return true;
  if (isZip(bytes)) {
    const names = Object.keys(unzipSync(bytes, { filter: (f) => f.name === 'config.json' || f.name === 'model.weights.h5' }));
    return names.length > 0;
  }
  return false;
}

/** Imported models give canonical names without the rnn. prefix, plus head.weight / head.bias. */
function modelTensors(m: ImportedModel): TensorMap {
  const lm = toLmParams(m);
  return new Map([...lm].map(([k, v]) => [k.startsWith('rnn.') ? k.slice(4) : k, v]));
}

export async function loadCanonical(path: string, options: ModelImportOptions = {}): Promise<CanonicalFile> {
  const bytes = readFileSync(path);
  const name = basename(path);
  if (isModelFile(bytes, name)) {
    const m = await loadModelFile(path, options);
    return { tensors: modelTensors(m), model: m, description: `${m.source.format} (${m.source.layout} layout)` };
  }
  const file = readTensorFile(bytes, name);
  const names = [...file.tensors.keys()];
  const pytorchNames = names.some((n) => /(^|\.)weight_ih_l\d+$/.test(n));
  const looksForeign = !pytorchNames && names.some((n) => /^[WU](_?[a-z])?$|^Wxh$/.test(n));
  if (looksForeign) {
    // An unknown or ambiguous layout is an error that lists the tensors and the flag to pass.
    const m = importNamed(file.tensors, { ...options, format: file.format });
    return { tensors: modelTensors(m), model: m, description: `${file.format} (${m.source.layout} layout)` };
  }
  return { tensors: file.tensors, description: `${file.format} tensors` };
}
