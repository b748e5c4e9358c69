// Keras weight files → the layer records the Keras layout converter takes.
//   Keras 2 (`save_weights('x.h5')`, `model.save('x.h5')`): root (or /model_weights) attribute
//     layer_names; per layer a group with attribute weight_names ("lstm/lstm_cell/kernel:0", ...) and
//     the datasets at those paths; a full model also has the root attribute model_config (JSON).
//   Keras 3 (`x.weights.h5`, and model.weights.h5 inside a `.keras` zip next to config.json):
//     layers/<snake_case class>[_k]/cell/vars/{0,1,2} = kernel, recurrent_kernel, bias; Bidirectional
//     under forward_layer/ and backward_layer/; Dense under layers/dense/vars/{0,1}.
import type { FloatTensor, Tensor } from '../tensor';
import { FormatError } from './errors';
import { type H5Group, type H5Node, attrString, attrStrings, h5Get, readHdf5 } from './hdf5';
import type { LoadLimits } from './limits';
import type { ZipArchive } from './zip';
import {
  type KerasCellWeights, type KerasDense, type KerasRnnClass, type KerasRnnLayer, type KerasRnnSettings, type KerasSurroundings,
  kerasClassFromShapes, kerasToCanonical,
} from '../layouts/keras';
import type { AssembleOptions, ImportedModel } from '../layouts/model';
import type { RnnConfig } from '../config';

const RNN_CLASSES = new Set(['LSTM', 'GRU', 'SimpleRNN', 'CuDNNLSTM', 'CuDNNGRU']);

/** One layer of the model, in model order, as far as the file tells. */
export interface KerasLayerRecord {
  readonly className: string; // LSTM, GRU, SimpleRNN, Bidirectional, Dense, Embedding, ...
  readonly name: string;
  readonly config?: Record<string, unknown>;
  /** Recurrent cells: one, or forward + backward for Bidirectional. */
  readonly cells?: KerasCellWeights[];
  readonly dense?: { kernel: FloatTensor; bias?: FloatTensor };
  readonly other?: Tensor[];
}

export interface KerasImportFlags {
  readonly recurrentActivation?: RnnConfig['recurrentActivation'];
  readonly limits?: Partial<LoadLimits>;
  /** The model around the stack (hints, and whether a whole model is required). */
  readonly assemble?: AssembleOptions;
}

export type LayerConfig = { class_name?: string; config?: Record<string, unknown>; name?: string };

function float(t: Tensor, what: string): FloatTensor {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new FormatError(`${what}: ${t.dtype} weights are not supported (float32/float64)`);
  return t as FloatTensor;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * The layer list of a Keras model_config / config.json (or a tfjs modelTopology), checked for shape:
 * each layer an object with a string class_name and an object config.
 */
export function configLayers(modelConfig: unknown, source = 'model config'): LayerConfig[] {
  if (modelConfig === undefined || modelConfig === null) return [];
  if (!isObject(modelConfig)) throw new FormatError(`${source}: model config is not a JSON object`);
  const c = modelConfig.config;
  // very old Keras: a Sequential config is the layer list itself
  const layers = Array.isArray(c) ? c : isObject(c) ? c.layers : undefined;
  if (layers === undefined || layers === null) return [];
  if (!Array.isArray(layers)) throw new FormatError(`${source}: model config "layers" is not a list`);
  return layers.map((l, i) => {
    if (!isObject(l)) throw new FormatError(`${source}: model config layer ${i} is not an object`);
    if (l.class_name !== undefined && typeof l.class_name !== 'string') throw new FormatError(`${source}: model config layer ${i} has a class_name that is not a string`);
    if (l.config !== undefined && l.config !== null && !isObject(l.config)) throw new FormatError(`${source}: model config layer ${i} has a config that is not an object`);
    return { class_name: l.class_name as string | undefined, config: (l.config ?? undefined) as Record<string, unknown> | undefined, name: typeof l.name === 'string' ? l.name : undefined };
  });
}

/** JSON text from a Keras file (model_config attribute, config.json), or a FormatError naming it. */
export function parseKerasJson(text: string, source: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${source}: ${what} is not valid JSON (${(e as Error).message.split('\n')[0].slice(0, 120)})`);
  }
}

function layerName(l: LayerConfig): string {
  return String(l.config?.name ?? l.name ?? '');
}

/** The recurrent settings of a layer config (Bidirectional: of its inner layer). */
function settingsOf(cfg: Record<string, unknown> | undefined, mergeMode?: string): KerasRnnSettings {
  if (!cfg) return { mergeMode };
  return {
    activation: cfg.activation as string | undefined,
    recurrentActivation: cfg.recurrent_activation as string | undefined,
    resetAfter: cfg.reset_after as boolean | undefined,
    goBackwards: cfg.go_backwards as boolean | undefined,
    returnSequences: cfg.return_sequences as boolean | undefined,
    mergeMode,
  };
}

// ---------------------------------------------------------------- Keras 2 (legacy h5)

function legacyLayers(root: H5Group, source: string): { layers: KerasLayerRecord[]; configKnown: boolean; version?: string } {
  const modelWeights = root.children.get('model_weights');
  const weightsRoot = modelWeights?.kind === 'group' ? modelWeights : root;
  const names = attrStrings(weightsRoot.attrs, 'layer_names');
  if (!names) throw new FormatError(`${source}: no layer_names attribute (not a Keras weights file)`);
  const configText = attrString(root.attrs, 'model_config');
  const cfgLayers = configText ? configLayers(parseKerasJson(configText, source, 'model_config'), source) : [];
  const byName = new Map(cfgLayers.map((l) => [layerName(l), l]));
  const layers: KerasLayerRecord[] = [];
  for (const name of names) {
    const g = weightsRoot.children.get(name);
    if (!g || g.kind !== 'group') throw new FormatError(`${source}: layer group "${name}" listed but missing`);
    const weightNames = attrStrings(g.attrs, 'weight_names') ?? [];
    const weights = weightNames.map((wn) => {
      const d = h5Get(g, wn);
      if (!d || d.kind !== 'dataset') throw new FormatError(`${source}: weight "${wn}" of layer "${name}" is missing`);
      return { name: wn, tensor: d.tensor };
    });
    const lc = byName.get(name);
    layers.push(classify(name, lc, weights, source));
  }
  return { layers, configKnown: cfgLayers.length > 0, version: attrString(root.attrs, 'keras_version') ?? attrString(weightsRoot.attrs, 'keras_version') };
}

/** Sorts a layer's weights into cells / dense from their names (…/kernel:0 …) and shapes. */
function classify(name: string, lc: LayerConfig | undefined, weights: { name: string; tensor: Tensor }[], source: string): KerasLayerRecord {
  const base = (wn: string): string => wn.split('/').pop()!.replace(/:\d+$/, '');
  const what = `${source} layer "${name}"`;
  if (!weights.length) return { className: lc?.class_name ?? 'unknown', name, config: lc?.config };
  const cells: KerasCellWeights[] = [];
  // Bidirectional: forward_* weights then backward_* weights; plain layers: one group of three.
  const groups: { name: string; tensor: Tensor }[][] = [];
  for (const w of weights) {
    const dir = /(^|\/)backward_/.test(w.name) ? 1 : 0;
    (groups[dir] ??= []).push(w);
  }
  const hasRecurrent = weights.some((w) => base(w.name) === 'recurrent_kernel');
  if (hasRecurrent) {
    for (const grp of groups.filter(Boolean)) {
      const get = (b: string): Tensor | undefined => grp.find((w) => base(w.name) === b)?.tensor;
      const kernel = get('kernel');
      const rk = get('recurrent_kernel');
      if (!kernel || !rk) throw new FormatError(`${what}: kernel / recurrent_kernel missing (found ${grp.map((w) => w.name).join(', ')})`);
      const bias = get('bias');
      cells.push({ kernel: float(kernel, what), recurrentKernel: float(rk, what), bias: bias ? float(bias, what) : undefined });
    }
    const className = lc?.class_name ?? (cells.length === 2 ? 'Bidirectional' : kerasClassFromShapes(cells[0], what));
    return { className, name, config: lc?.config, cells };
  }
  const kernel = weights.find((w) => base(w.name) === 'kernel');
  if (kernel && kernel.tensor.shape.length === 2) {
    const bias = weights.find((w) => base(w.name) === 'bias');
    return { className: lc?.class_name ?? 'Dense', name, config: lc?.config, dense: { kernel: float(kernel.tensor, what), bias: bias ? float(bias.tensor, what) : undefined } };
  }
  return { className: lc?.class_name ?? 'unknown', name, config: lc?.config, other: weights.map((w) => w.tensor) };
}

// ---------------------------------------------------------------- Keras 3 (.weights.h5 / .keras)

function vars(node: H5Node | undefined): Tensor[] {
  if (!node || node.kind !== 'group') return [];
  const v = node.children.get('vars');
  if (!v || v.kind !== 'group') return [];
  return [...v.children.entries()].filter(([, n]) => n.kind === 'dataset').sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([, n]) => (n as { tensor: Tensor }).tensor);
}

function cellOf(layer: H5Node | undefined, what: string): KerasCellWeights | undefined {
  if (!layer || layer.kind !== 'group') return undefined;
  const v = vars(layer.children.get('cell'));
  if (v.length < 2) return undefined;
  return { kernel: float(v[0], what), recurrentKernel: float(v[1], what), bias: v[2] ? float(v[2], what) : undefined };
}

function snakeCase(className: string): string {
  return className.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

function v3Layers(root: H5Group, config: unknown, source: string): { layers: KerasLayerRecord[]; configKnown: boolean; notes: string[] } {
  const notes: string[] = [];
  let container = root.children.get('layers') ?? root.children.get('_layer_checkpoint_dependencies');
  if (!container || container.kind !== 'group') throw new FormatError(`${source}: no layers/ group (not a Keras 3 weights file)`);
  const paths = [...container.children.keys()];
  let order: { path: string; lc?: LayerConfig }[];
  const cfgLayers = configLayers(config, source).filter((l) => l.class_name !== 'InputLayer');
  if (cfgLayers.length) {
    const used = new Map<string, number>();
    order = cfgLayers.map((lc) => {
      const base = snakeCase(String(lc.class_name));
      const k = used.get(base);
      used.set(base, k === undefined ? 0 : k + 1);
      return { path: k === undefined ? base : `${base}_${k + 1}`, lc };
    });
  } else {
    // Without config.json the container order is lost (HDF5 lists names alphabetically); the
    // numbering Keras gives (lstm, lstm_1, ...) restores it within a class, and Dense comes last.
    const rank = (p: string): [number, number] => {
      const m = /^(.*?)(?:_(\d+))?$/.exec(p)!;
      return [/dense/.test(m[1]) ? 1 : 0, m[2] ? Number(m[2]) : 0];
    };
    order = paths.sort((a, b) => rank(a)[0] - rank(b)[0] || rank(a)[1] - rank(b)[1]).map((path) => ({ path }));
    notes.push('no config.json: layer order taken from Keras\' numbering (lstm, lstm_1, ...; dense last)');
  }
  const layers: KerasLayerRecord[] = [];
  for (const { path, lc } of order) {
    const node = (container as H5Group).children.get(path);
    const what = `${source} layer "${path}"`;
    if (!node || node.kind !== 'group') {
      if (lc) throw new FormatError(`${source}: config layer ${lc.class_name} expected at layers/${path}, not found (found ${paths.join(', ')})`);
      continue;
    }
    const name = lc ? layerName(lc) || path : path;
    const fwd = node.children.get('forward_layer');
    if (fwd) {
      const f = cellOf(fwd, what);
      const b = cellOf(node.children.get('backward_layer'), what);
      if (!f || !b) throw new FormatError(`${what}: Bidirectional without forward/backward cell weights`);
      layers.push({ className: 'Bidirectional', name, config: lc?.config, cells: [f, b] });
      continue;
    }
    const cell = cellOf(node, what);
    if (cell) {
      layers.push({ className: lc?.class_name ?? kerasClassFromShapes(cell, what), name, config: lc?.config, cells: [cell] });
      continue;
    }
    const v = vars(node);
    if (v.length >= 1 && v[0].shape.length === 2 && (lc?.class_name ?? 'Dense') === 'Dense' && !/embedding/.test(path)) {
      layers.push({ className: 'Dense', name, config: lc?.config, dense: { kernel: float(v[0], what), bias: v[1] ? float(v[1], what) : undefined } });
      continue;
    }
    layers.push({ className: lc?.class_name ?? path, name, config: lc?.config, other: v });
  }
  return { layers, configKnown: cfgLayers.length > 0, notes };
}

// ---------------------------------------------------------------- to the canonical model

/**
 * The recurrent stack (consecutive recurrent layers), the Embedding right before it and the Dense layers
 * after it (Dropout between them is inactive when the model runs; an Activation layer sets the activation
 * of the Dense before it).
 */
export function kerasRecordsToModel(records: readonly KerasLayerRecord[], format: string, configKnown: boolean, keras3: boolean, notes: string[], flags: KerasImportFlags = {}): ImportedModel {
  const isRnn = (r: KerasLayerRecord): boolean => !!r.cells;
  const start = records.findIndex(isRnn);
  if (start < 0) {
    throw new FormatError(`${format}: no LSTM, GRU or SimpleRNN layer found (layers: ${records.map((r) => `${r.name} (${r.className})`).join(', ')})`);
  }
  let end = start;
  while (end < records.length && isRnn(records[end])) end++;
  if (records.slice(end).some(isRnn)) throw new FormatError(`${format}: recurrent layers are split by other layers; only one contiguous recurrent stack is supported`);
  // Before the stack: an Embedding (its table is `embeddings` [V, E]) next to it, inputs and masking aside.
  let embedding: KerasSurroundings['embedding'];
  for (const r of records.slice(0, start)) {
    const table = r.other?.find((t) => t.shape.length === 2);
    if (r.className === 'Embedding' && table && !embedding) {
      if (r.config?.mask_zero === true) {
        notes.push(`Embedding "${r.name}" has mask_zero=true: steps reading token 0 are skipped, which the model description cannot do; not part of the model`);
        continue;
      }
      embedding = { name: `Embedding "${r.name}"`, weight: float(table, `${format} layer "${r.name}"`) };
    } else if (r.className !== 'InputLayer' && (r.other?.length || r.dense)) {
      notes.push(`layer "${r.name}" (${r.className}) before the recurrent stack is not part of the canonical model`);
    }
  }
  const layers: KerasRnnLayer[] = records.slice(start, end).map((r) => {
    const bidi = r.className === 'Bidirectional' || r.cells!.length === 2;
    const inner = bidi ? ((r.config?.layer as LayerConfig | undefined)?.config) : r.config;
    const innerClass = bidi ? ((r.config?.layer as LayerConfig | undefined)?.class_name ?? kerasClassFromShapes(r.cells![0], r.name)) : r.className;
    const cls = (innerClass === 'CuDNNLSTM' ? 'LSTM' : innerClass === 'CuDNNGRU' ? 'GRU' : innerClass) as KerasRnnClass;
    if (!RNN_CLASSES.has(cls)) throw new FormatError(`${format}: layer "${r.name}" is a ${innerClass}, not LSTM/GRU/SimpleRNN`);
    if (innerClass.startsWith('CuDNN')) throw new FormatError(`${format}: ${innerClass} layer "${r.name}" uses cuDNN's bias layout; convert it with Keras first`);
    return {
      className: cls, name: r.name, forward: r.cells![0], backward: bidi ? r.cells![1] : undefined,
      settings: settingsOf(inner, bidi ? (r.config?.merge_mode as string | undefined) : undefined),
    };
  });
  // After the stack: Dense layers, with Dropout (inactive) and Activation layers between them.
  const dense: KerasDense[] = [];
  let next = end;
  for (; next < records.length; next++) {
    const r = records[next];
    const inner = r.className === 'TimeDistributed' ? (r.config?.layer as LayerConfig | undefined) : undefined;
    if (r.dense && (r.className === 'Dense' || inner?.class_name === 'Dense')) {
      const cfg = inner?.config ?? r.config;
      dense.push({ name: r.name, kernel: r.dense.kernel, bias: r.dense.bias, activation: activationName(cfg?.activation) });
    } else if (r.className === 'Dropout' || r.className === 'SpatialDropout1D') {
      continue;
    } else if (r.className === 'Activation' && dense.length && (dense[dense.length - 1].activation ?? 'linear') === 'linear') {
      dense[dense.length - 1] = { ...dense[dense.length - 1], activation: activationName(r.config?.activation) };
    } else break;
  }
  for (const r of records.slice(next)) notes.push(`layer "${r.name}" (${r.className}) after the recurrent stack${dense.length ? ' and its Dense head' : ''} is not part of the canonical model`);
  return kerasToCanonical(layers, { dense, ...(embedding ? { embedding } : {}) }, {
    format, keras3, notes, configKnown, recurrentActivation: flags.recurrentActivation, assemble: flags.assemble,
  });
}

/** An activation as Keras writes it: a name, or (Keras 3) a serialised function {class_name, config: name}. */
function activationName(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.config === 'string') return v.config;
  if (isObject(v) && typeof v.class_name === 'string') return v.class_name;
  return JSON.stringify(v).slice(0, 40);
}

/** A Keras .h5 / .weights.h5 file (either generation). */
export async function importKerasH5(bytes: Uint8Array, source: string, flags: KerasImportFlags = {}, config?: unknown, format?: string): Promise<ImportedModel> {
  const root = await readHdf5(bytes, source, flags.limits);
  if (root.children.has('layers') || root.children.has('_layer_checkpoint_dependencies')) {
    const { layers, configKnown, notes } = v3Layers(root, config, source);
    return kerasRecordsToModel(layers, format ?? 'keras-v3', configKnown, true, notes, flags);
  }
  const { layers, configKnown, version } = legacyLayers(root, source);
  const notes = version ? [`keras_version ${version}`] : [];
  return kerasRecordsToModel(layers, format ?? 'keras-h5', configKnown, false, notes, flags);
}

/** A Keras 3 `.keras` archive: config.json + model.weights.h5. */
export async function importKerasArchive(zip: ZipArchive, source: string, flags: KerasImportFlags = {}): Promise<ImportedModel> {
  const weights = zip.read('model.weights.h5');
  if (!weights) {
    if (zip.has('model.weights.npz')) throw new FormatError(`${source}: .keras archives with npz weights are not supported (h5 only)`);
    throw new FormatError(`${source}: .keras archive without model.weights.h5`);
  }
  const cfgBytes = zip.read('config.json');
  const config = cfgBytes ? parseKerasJson(new TextDecoder().decode(cfgBytes), source, 'config.json') : undefined;
  return importKerasH5(weights, source, { ...flags, limits: flags.limits ?? zip.limits }, config, 'keras');
}
