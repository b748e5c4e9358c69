// Any supported model file → ImportedModel (the canonical model description and its state_dict, or the
// bare recurrent stack): Keras .h5 / .weights.h5 / .keras, TensorFlow.js model.json, recurrentjs'
// saveModel() JSON, ONNX, and plain tensor files (safetensors, torch.save — whole pickled models included —,
// .npz) whose names follow a layout that importNamed recognises. Every failure is a FormatError naming the
// file (or a ModelAmbiguityError naming the option that decides); the budgets of ./limits apply throughout.
import { ConfigError, type RnnConfig, parseRnnConfig } from '../config';
import { type ModelConfig, modelParameterSpecs, parseModelConfig } from '../model';
import { type ModelHints, hintsFromModules, mergeHints } from '../modelFromTensors';
import type { Tensor, TensorMap } from '../tensor';
import { FormatError, guardReadAsync } from './errors';
import { type TensorFile, isHdf5, looksLikeSafetensors, readTensorFile, readTensorZip } from './index';
import { importKerasArchive, importKerasH5, type KerasImportFlags } from './keras';
import { importOnnx } from './onnx';
import { isRecurrentjsJson, readRecurrentjs } from './recurrentjs';
import { checkTfjsModelJson, importTfjs, tfjsShardPaths } from './tfjs';
import { type LoadLimits, describe } from './limits';
import { ZipArchive, isZip } from './zip';
import { type NamedImportOptions, importNamed } from '../layouts/named';
import { type ImportedModel, type RecordedVocabulary, checkCanonical, checkImportedConfig, headView, rnnParams } from '../layouts/model';
import { asFloat } from '../layouts/blocks';

export interface ModelImportOptions extends NamedImportOptions, Omit<KerasImportFlags, 'assemble'> {
  /** A known config: plain PyTorch-named tensors are taken as exactly this model. */
  readonly config?: RnnConfig;
  /** What the weights do not record about the model around the stack (ModelHints: readout, activations, ...). */
  readonly hints?: ModelHints;
  /** The caller runs the model over text: a file without a whole model (or an open question) is an error. */
  readonly requireModel?: boolean;
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
  const assemble = { hints: options.hints, requireModel: options.requireModel };
  // JSON by name or by content; a safetensors header length whose low byte is 0x7b ('{') is not JSON.
  if (/\.json$/i.test(fileName) || (bytes[0] === 0x7b && !isZip(bytes) && !looksLikeSafetensors(bytes))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw new FormatError(`${fileName}: not valid JSON`);
    }
    if (isRecurrentjsJson(parsed)) {
      const r = readRecurrentjs(parsed, fileName, limits);
      // The demo's generators: 'lstm', or 'rnn' whose cell is ReLU (R.forwardRNN), recorded by the file.
      const nonlinearity = r.generator === 'rnn' ? 'relu' as const : undefined;
      if (nonlinearity && options.nonlinearity && options.nonlinearity !== nonlinearity) {
        throw new FormatError(`${fileName}: recurrentjs' "rnn" generator computes relu, not the ${options.nonlinearity} asked for`);
      }
      const m = importNamed(r.tensors, {
        ...options, format: 'recurrentjs', ...(nonlinearity ? { nonlinearity, recorded: { nonlinearity } } : {}),
        ...(r.vocabulary ? { vocabulary: r.vocabulary } : {}),
      });
      if (r.hiddenSizes && (m.source.hiddenSizes ?? [m.config.hiddenSize]).join() !== r.hiddenSizes.join() && !(r.hiddenSizes.length === m.config.numLayers && r.hiddenSizes.every((h) => h === m.config.hiddenSize))) {
        throw new FormatError(`${fileName}: hidden_sizes [${r.hiddenSizes.join(', ')}] do not match the matrices (${(m.source.hiddenSizes ?? [m.config.hiddenSize]).join(', ')})`);
      }
      return m;
    }
    const json = checkTfjsModelJson(parsed, fileName);
    const shards = new Map<string, Uint8Array>();
    for (const p of tfjsShardPaths(json)) {
      const b = readSibling?.(p);
      if (b) shards.set(p, b);
      else if (!readSibling) throw new FormatError(`${fileName}: weight shard ${describe(p)} cannot be read (open model.json from its folder)`);
    }
    return importTfjs(json, shards, fileName, { ...options, assemble });
  }
  if (isHdf5(bytes)) return importKerasH5(bytes, fileName, { ...options, assemble });
  let file: TensorFile;
  if (isZip(bytes)) {
    const zip = ZipArchive.open(bytes, fileName, limits);
    if (zip.has('model.weights.h5') || zip.has('config.json')) return importKerasArchive(zip, fileName, { ...options, assemble });
    file = readTensorZip(zip, fileName);
  } else {
    if (/\.onnx$/i.test(fileName)) return importOnnx(bytes, fileName, readSibling, limits, assemble);
    file = readTensorFile(bytes, fileName, limits);
  }
  return importTensorFile(file, fileName, options);
}

/** A plain tensor file (safetensors, torch.save, .npz) as a model: by its recorded config, its module tree, or its names. */
export function importTensorFile(file: TensorFile, fileName: string, options: ModelImportOptions = {}): ImportedModel {
  // A whole pickled model's module types say what its weights do not (an RNN's mode, a Sequential's activations).
  let hints = options.hints;
  const fromTree = file.modules ? hintsFromModules(file.modules, fileName) : undefined;
  const notes = [...(fromTree?.notes ?? [])];
  if (fromTree?.problem) {
    if (options.requireModel) throw new ConfigError(fromTree.problem);
    notes.push(`not a whole model: ${fromTree.problem}`);
  }
  const treeNonlinearity = fromTree?.hints.nonlinearity;
  if (treeNonlinearity && options.nonlinearity && options.nonlinearity !== treeNonlinearity) {
    throw new FormatError(`${fileName}: the pickled ${fromTree!.rnnType ?? 'RNN'} computes ${treeNonlinearity}, not the ${options.nonlinearity} asked for; drop --nonlinearity (the file's own mode is used)`);
  }
  if (fromTree && !fromTree.problem) hints = mergeHints(fromTree.hints, hints ?? {}, fileName);
  const named: NamedImportOptions = {
    ...options, format: file.format, ...(hints ? { hints } : {}), ...(file.modules ? { perEpoch: false } : {}),
    ...(treeNonlinearity ? { nonlinearity: treeNonlinearity, recorded: { nonlinearity: treeNonlinearity } } : {}),
  };
  const withNotes = (m: ImportedModel, notes: readonly string[]): ImportedModel => (notes.length ? { ...m, source: { ...m.source, notes: [...notes, ...m.source.notes] } } : m);
  if (options.config) return withNotes(fromConfig(file.tensors, options.config, fileName, named), notes);
  // Our own exports record the model (gatescope_model) and the recurrent config (recurrent activation, GRU reset variant).
  if (file.metadata.gatescope_model) {
    const m = fromModelMetadata(file, fileName);
    const vocabulary = metadataVocabulary(file, fileName);
    return vocabulary ? { ...m, vocabulary } : m;
  }
  if (file.metadata.gatescope_config) {
    let cfg: RnnConfig;
    try {
      cfg = parseRnnConfig(JSON.parse(file.metadata.gatescope_config));
    } catch (e) {
      throw new FormatError(`${fileName}: bad gatescope_config metadata (${(e as Error).message})`);
    }
    const m = fromConfig(file.tensors, cfg, fileName, named);
    return { ...m, source: { ...m.source, notes: [...m.source.notes, 'config from the file\'s gatescope_config metadata'], recorded: { recurrentActivation: cfg.recurrentActivation, nonlinearity: cfg.nonlinearity, gruReset: cfg.gruReset } } };
  }
  const vocabulary = stringVocabulary(file, options);
  const m = importNamed(file.tensors, { ...named, ...(vocabulary && !named.vocabulary ? { vocabulary } : {}) });
  return withNotes(m, notes);
}

/** The vocabulary gatescope convert carried over from the source file (gatescope_vocabulary metadata). */
function metadataVocabulary(file: TensorFile, fileName: string): RecordedVocabulary | undefined {
  const raw = file.metadata.gatescope_vocabulary;
  if (raw === undefined) return undefined;
  let tokens: unknown;
  try {
    tokens = JSON.parse(raw);
  } catch {
    throw new FormatError(`${fileName}: gatescope_vocabulary metadata is not valid JSON`);
  }
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) throw new FormatError(`${fileName}: gatescope_vocabulary metadata is not a list of strings`);
  return { tokens, note: `vocabulary: ${tokens.length} tokens from the file's gatescope_vocabulary metadata (carried over by gatescope convert)` };
}

/** A string array in the file (min-char-rnn's `chars`) as its vocabulary: one token per id. */
function stringVocabulary(file: TensorFile, options: ModelImportOptions): RecordedVocabulary | undefined {
  if (!file.strings?.size || options.vocabulary) return undefined;
  const names = ['chars', 'vocab', 'vocabulary', 'itos', 'tokens', 'words', 'idx2word', 'index_to_token', 'ix_to_char'];
  const name = names.find((n) => file.strings!.has(n)) ?? (file.strings.size === 1 ? [...file.strings.keys()][0] : undefined);
  if (!name) return undefined;
  const tokens = file.strings.get(name)!;
  return { tokens, note: `vocabulary: ${tokens.length} tokens from the file's "${name}" array, in its order` };
}

function fromConfig(tensors: TensorMap, config: RnnConfig, fileName: string, options: NamedImportOptions): ImportedModel {
  checkImportedConfig(config, fileName);
  const m = importNamed(tensors, { ...options, module: config.module, nonlinearity: config.nonlinearity, recurrentActivation: config.recurrentActivation, gruReset: config.gruReset });
  const params = new Map([...m.params].map(([k, v]) => [k, asFloat(v, config.dtype)]));
  checkCanonical(config, rnnParams({ params }), fileName);
  const model: ModelConfig | undefined = m.model ? { ...m.model, rnn: { ...config, batchFirst: true } } : undefined;
  return { ...m, config, params, ...(model ? { model } : {}) };
}

/** A file gatescope convert wrote: the whole model in the metadata, the state_dict in the tensors. */
function fromModelMetadata(file: TensorFile, fileName: string): ImportedModel {
  let model: ModelConfig;
  try {
    model = parseModelConfig(JSON.parse(file.metadata.gatescope_model));
  } catch (e) {
    throw new FormatError(`${fileName}: bad gatescope_model metadata (${(e as Error).message})`);
  }
  const params: TensorMap = new Map<string, Tensor>();
  for (const spec of modelParameterSpecs(model)) {
    const t = file.tensors.get(spec.name);
    if (!t || t.shape.join() !== spec.shape.join()) throw new FormatError(`${fileName}: ${spec.name} ${t ? `has shape [${t.shape.join(', ')}]` : 'is missing'}, the gatescope_model metadata needs [${spec.shape.join(', ')}]`);
    params.set(spec.name, asFloat(t, model.rnn.dtype));
  }
  const r = model.rnn;
  const head = headView(model, params);
  return {
    config: { ...r, batchFirst: false }, model, params, ...(head ? { head } : {}),
    source: {
      format: file.format, layout: 'pytorch', notes: ['model from the file\'s gatescope_model metadata', 'config from the file\'s gatescope_config metadata'],
      recorded: { recurrentActivation: r.recurrentActivation, nonlinearity: r.nonlinearity, gruReset: r.gruReset },
    },
  };
}
