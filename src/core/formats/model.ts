// Any supported model file → ImportedModel (canonical config + PyTorch-named parameters + head):
// Keras .h5 / .weights.h5 / .keras, TensorFlow.js model.json, ONNX, and plain tensor files
// (safetensors, torch.save, .npz) whose names follow a layout that importNamed recognises.
// Every failure is a FormatError naming the file; the budgets of ./limits apply throughout.
import { type RnnConfig, parseRnnConfig } from '../config';
import { FormatError, guardReadAsync } from './errors';
import { isHdf5, readTensorFile, readTensorZip } from './index';
import { importKerasArchive, importKerasH5, type KerasImportFlags } from './keras';
import { importOnnx } from './onnx';
import { checkTfjsModelJson, importTfjs, tfjsShardPaths } from './tfjs';
import { type LoadLimits, describe } from './limits';
import { ZipArchive, isZip } from './zip';
import { type NamedImportOptions, importNamed } from '../layouts/named';
import { type ImportedModel, checkCanonical, checkImportedConfig } from '../layouts/model';
import { asFloat } from '../layouts/blocks';

export interface ModelImportOptions extends NamedImportOptions, KerasImportFlags {
  /** A known config: plain PyTorch-named tensors are taken as exactly this model. */
  readonly config?: RnnConfig;
  /** Overrides of the installed budgets (see ./limits). */
  readonly limits?: Partial<LoadLimits>;
}

/**
 * Reads a file the model refers to (tfjs weight shards, ONNX external data), relative to the model's
 * folder; undefined when it does not exist. It must refuse paths that leave the folder (throw a
 * FormatError): src/node/loadModelFile.ts does, after resolving symlinks.
 */
export type SiblingReader = (relativePath: string) => Uint8Array | undefined;

export async function importModel(bytes: Uint8Array, fileName: string, options: ModelImportOptions = {}, readSibling?: SiblingReader): Promise<ImportedModel> {
  return guardReadAsync(fileName, () => importModelUnguarded(bytes, fileName, options, readSibling));
}

async function importModelUnguarded(bytes: Uint8Array, fileName: string, options: ModelImportOptions, readSibling?: SiblingReader): Promise<ImportedModel> {
  const { limits } = options;
  if (/\.json$/i.test(fileName) || (bytes[0] === 0x7b && !isZip(bytes))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw new FormatError(`${fileName}: not valid JSON`);
    }
    const json = checkTfjsModelJson(parsed, fileName);
    const shards = new Map<string, Uint8Array>();
    for (const p of tfjsShardPaths(json)) {
      const b = readSibling?.(p);
      if (b) shards.set(p, b);
      else if (!readSibling) throw new FormatError(`${fileName}: weight shard ${describe(p)} cannot be read (open model.json from its folder)`);
    }
    return importTfjs(json, shards, fileName, options);
  }
  if (isHdf5(bytes)) return importKerasH5(bytes, fileName, options);
  let file;
  if (isZip(bytes)) {
    const zip = ZipArchive.open(bytes, fileName, limits);
    if (zip.has('model.weights.h5') || zip.has('config.json')) return importKerasArchive(zip, fileName, options);
    file = readTensorZip(zip, fileName);
  } else {
    if (/\.onnx$/i.test(fileName)) return importOnnx(bytes, fileName, readSibling, limits);
    file = readTensorFile(bytes, fileName, limits);
  }
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
  checkImportedConfig(config, fileName);
  const m = importNamed(tensors, { module: config.module, nonlinearity: config.nonlinearity, recurrentActivation: config.recurrentActivation, gruReset: config.gruReset, format });
  const params = new Map([...m.params].map(([k, v]) => [k, asFloat(v, config.dtype)]));
  checkCanonical(config, params, fileName);
  return { ...m, config, params };
}
