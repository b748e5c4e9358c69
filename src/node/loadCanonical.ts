// Any supported file as canonical tensors for diffing: model formats (Keras, tfjs, recurrentjs, ONNX) and
// from-scratch layouts are imported to PyTorch names (weight_ih_l0, ... without the rnn. prefix, plus
// embedding.weight and head.*; per-epoch files as epoch{e}.<name>); plain tensor files with PyTorch names,
// traces and trajectories are taken as they are.
import { basename } from 'node:path';
import type { Tensor, TensorMap } from '../core/tensor';
import { isHdf5, readTensorFile } from '../core/formats';
import { guardRead } from '../core/formats/errors';
import { ZipArchive, isZip } from '../core/formats/zip';
import { type ModelImportOptions, importTensorFile } from '../core/formats/model';
import { LayoutUnknownError } from '../core/layouts/named';
import type { ImportedModel } from '../core/layouts/model';
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

const strip = (params: TensorMap, prefix = ''): [string, Tensor][] =>
  [...params].map(([k, v]) => [`${prefix}${k.startsWith('rnn.') ? k.slice(4) : k}`, v]);

/**
 * Imported models give canonical names without the rnn. prefix (plus embedding.weight, head.*); epochs as
 * epoch{e}.<name>. A stack-only import (no runnable model around it, e.g. a Keras LSTM with
 * return_sequences=false before its Dense) keeps the head it found as head.weight / head.bias.
 */
function modelTensors(m: ImportedModel): TensorMap {
  if (m.epochs && m.epochs.length > 1) return new Map(m.epochs.flatMap((e) => strip(e.params, `epoch${e.epoch}.`)));
  const out = new Map(strip(m.params));
  const h = m.head;
  if (h && ![...out.keys()].some((k) => k.startsWith('head.'))) {
    out.set('head.weight', h.weight);
    if (h.bias) out.set('head.bias', h.bias);
  }
  return out;
}

const describe = (m: ImportedModel, format: string): string => `${format} (${m.source.layout} layout)`;

export async function loadCanonical(path: string, options: ModelImportOptions = {}): Promise<CanonicalFile> {
  installEnvLoadLimits();
  const bytes = readRegularFile(path);
  const name = basename(path);
  if (guardRead(name, () => isModelFile(bytes, name, options))) {
    const m = await loadModelFile(path, options, bytes);
    return { tensors: modelTensors(m), model: m, description: describe(m, m.source.format) };
  }
  const file = readTensorFile(bytes, name, options.limits);
  const pytorchNames = [...file.tensors.keys()].some((n) => /(^|\.)weight_ih_l\d+$/.test(n));
  if (!pytorchNames) {
    // From-scratch arrays are imported; a file without any recurrent layout (a trace, an io file) is taken as it is.
    let m: ImportedModel | undefined;
    try {
      m = guardRead(name, () => importTensorFile(file, name, options));
    } catch (e) {
      if (!(e instanceof LayoutUnknownError && /no recurrent layout recognised/.test(e.message))) throw e;
    }
    if (m) return { tensors: modelTensors(m), model: m, description: describe(m, file.format) };
  }
  return { tensors: file.tensors, description: `${file.format} tensors` };
}
