// Any supported file as canonical tensors for diffing: model formats (Keras, tfjs, ONNX) and
// from-scratch layouts are imported to PyTorch names (+ head.weight / head.bias); plain tensor files
// with PyTorch names, traces and trajectories are taken as they are.
import { basename } from 'node:path';
import type { TensorMap } from '../core/tensor';
import { isHdf5, readTensorFile } from '../core/formats';
import { guardRead } from '../core/formats/errors';
import { ZipArchive, isZip } from '../core/formats/zip';
import type { ModelImportOptions } from '../core/formats/model';
import { importNamed } from '../core/layouts/named';
import { toLmParams, type ImportedModel } from '../core/layouts/model';
import { installEnvLoadLimits, loadModelFile, readRegularFile } from './loadModelFile';

export interface CanonicalFile {
  readonly tensors: TensorMap;
  readonly model?: ImportedModel;
  readonly description: string;
}

function isModelFile(bytes: Uint8Array, name: string, options: ModelImportOptions): boolean {
  if (/\.(onnx|json|h5|keras)$/i.test(name) || isHdf5(bytes)) return true;
  if (isZip(bytes)) {
    const zip = ZipArchive.open(bytes, name, options.limits); // the central directory only
    return zip.has('config.json') || zip.has('model.weights.h5');
  }
  return false;
}

/** Imported models give canonical names without the rnn. prefix, plus head.weight / head.bias. */
function modelTensors(m: ImportedModel): TensorMap {
  const lm = toLmParams(m);
  return new Map([...lm].map(([k, v]) => [k.startsWith('rnn.') ? k.slice(4) : k, v]));
}

export async function loadCanonical(path: string, options: ModelImportOptions = {}): Promise<CanonicalFile> {
  installEnvLoadLimits();
  const bytes = readRegularFile(path);
  const name = basename(path);
  if (guardRead(name, () => isModelFile(bytes, name, options))) {
    const m = await loadModelFile(path, options, bytes);
    return { tensors: modelTensors(m), model: m, description: `${m.source.format} (${m.source.layout} layout)` };
  }
  const file = readTensorFile(bytes, name, options.limits);
  const names = [...file.tensors.keys()];
  const pytorchNames = names.some((n) => /(^|\.)weight_ih_l\d+$/.test(n));
  const looksForeign = !pytorchNames && names.some((n) => /^[WU](_?[a-z])?$|^Wxh$/.test(n));
  if (looksForeign) {
    // An unknown or ambiguous layout is an error that lists the tensors and the flag to pass.
    const m = guardRead(name, () => importNamed(file.tensors, { ...options, format: file.format }));
    return { tensors: modelTensors(m), model: m, description: `${file.format} (${m.source.layout} layout)` };
  }
  return { tensors: file.tensors, description: `${file.format} tensors` };
}
