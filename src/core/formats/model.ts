// Any supported model file → ImportedModel (canonical config + PyTorch-named parameters + head):
// Keras .h5 / .weights.h5 / .keras, TensorFlow.js model.json, ONNX, and plain tensor files
// (safetensors, torch.save, .npz) whose names follow a layout that importNamed recognises.
import { unzipSync } from 'fflate';
import { type RnnConfig, parseRnnConfig } from '../config';
import { FormatError } from './safetensors';
import { isHdf5, readTensorFile } from './index';
import { isZip } from './pt';
import { importKerasArchive, importKerasH5, type KerasImportFlags } from './keras';
import { importOnnx } from './onnx';
import { importTfjs, type TfjsModelJson } from './tfjs';
import { type NamedImportOptions, importNamed } from '../layouts/named';
import { type ImportedModel, checkCanonical } from '../layouts/model';
import { asFloat } from '../layouts/blocks';

export interface ModelImportOptions extends NamedImportOptions, KerasImportFlags {
  /** A known config: plain PyTorch-named tensors are taken as exactly this model. */
  readonly config?: RnnConfig;
}

/** Reads a file next to the model (tfjs weight shards); undefined when it does not exist. */
export type SiblingReader = (relativePath: string) => Uint8Array | undefined;

export async function importModel(bytes: Uint8Array, fileName: string, options: ModelImportOptions = {}, readSibling?: SiblingReader): Promise<ImportedModel> {
  if (/\.json$/i.test(fileName) || (bytes[0] === 0x7b && !isZip(bytes))) {
    let json: TfjsModelJson;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes)) as TfjsModelJson;
    } catch {
      throw new FormatError(`${fileName}: not valid JSON`);
    }
    const shards = new Map<string, Uint8Array>();
    for (const p of (json.weightsManifest ?? []).flatMap((g) => g.paths)) {
      const b = readSibling?.(p);
      if (b) shards.set(p, b);
    }
    return importTfjs(json, shards, fileName, options);
  }
  if (isHdf5(bytes)) return importKerasH5(bytes, fileName, options);
  if (isZip(bytes)) {
    const entries = unzipSync(bytes);
    if (entries['model.weights.h5'] || entries['config.json']) return importKerasArchive(entries, fileName, options);
  }
  if (/\.onnx$/i.test(fileName)) return importOnnx(bytes, fileName);
  const file = readTensorFile(bytes, fileName);
  if (options.config) return fromConfig(file.tensors, options.config, fileName, file.format);
  // Our own safetensors exports record the full config (recurrent activation, GRU reset variant).
  if (file.metadata.gatescope_config) {
    let cfg: RnnConfig;
    try {
      cfg = parseRnnConfig(JSON.parse(file.metadata.gatescope_config));
    } catch (e) {
      throw new FormatError(`${fileName}: bad gatescope_config metadata (${(e as Error).message})`);
    }
    const m = fromConfig(file.tensors, cfg, fileName, file.format);
    return { ...m, source: { ...m.source, notes: [...m.source.notes, 'config from the file\'s gatescope_config metadata'] } };
  }
  return importNamed(file.tensors, { ...options, format: file.format });
}

function fromConfig(tensors: Map<string, import('../tensor').Tensor>, config: RnnConfig, fileName: string, format: string): ImportedModel {
  const m = importNamed(tensors, { module: config.module, nonlinearity: config.nonlinearity, recurrentActivation: config.recurrentActivation, gruReset: config.gruReset, format });
  const params = new Map([...m.params].map(([k, v]) => [k, asFloat(v, config.dtype)]));
  checkCanonical(config, params, fileName);
  return { ...m, config, params };
}
