// TensorFlow.js layers models: model.json (topology + weightsManifest) and its binary weight shards.
// The shards of each manifest group are one byte stream, weights laid out in manifest order.
import type { DType, Tensor } from '../tensor';
import { FormatError } from './errors';
import { typedArrayOf, BYTES_PER_ELEMENT } from './safetensors';
import { type KerasImportFlags, type KerasLayerRecord, type LayerConfig, configLayers, kerasRecordsToModel } from './keras';
import type { ImportedModel } from '../layouts/model';
import { kerasClassFromShapes } from '../layouts/keras';
import { type LoadLimits, TensorBudget, badShape, checkedNumel, describe, limitError, loadLimits } from './limits';

interface ManifestEntry { name: string; shape: number[]; dtype: string; quantization?: unknown }
interface ManifestGroup { paths: string[]; weights: ManifestEntry[] }
export interface TfjsModelJson {
  format?: string;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: ManifestGroup[];
}

const TFJS_DTYPES: Record<string, DType> = { float32: 'float32', int32: 'int32', bool: 'bool' };

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A parsed model.json checked for shape: the manifest's groups, paths and weights have the types they must. */
export function checkTfjsModelJson(json: unknown, source = 'model.json'): TfjsModelJson {
  const fail = (msg: string): never => { throw new FormatError(`${source}: ${msg} (not a TensorFlow.js model.json?)`); };
  if (!isObject(json)) return fail('is not a JSON object');
  if (json.format !== undefined && typeof json.format !== 'string') fail('"format" is not a string');
  if (json.modelTopology !== undefined && json.modelTopology !== null && !isObject(json.modelTopology)) fail('"modelTopology" is not an object');
  const manifest = json.weightsManifest;
  if (manifest !== undefined) {
    if (!Array.isArray(manifest)) fail('"weightsManifest" is not a list');
    (manifest as unknown[]).forEach((g, i) => {
      if (!isObject(g)) return fail(`weightsManifest[${i}] is not an object`);
      if (!Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string' && p.length > 0)) fail(`weightsManifest[${i}].paths is not a list of file names`);
      if (!Array.isArray(g.weights)) return fail(`weightsManifest[${i}].weights is not a list`);
      g.weights.forEach((w, j) => {
        const what = `weightsManifest[${i}].weights[${j}]`;
        if (!isObject(w)) return fail(`${what} is not an object`);
        if (typeof w.name !== 'string') fail(`${what}.name is not a string`);
        if (typeof w.dtype !== 'string') fail(`${what}.dtype is not a string`);
        const problem = badShape(w.shape);
        if (problem) fail(`${what} ("${String(w.name)}"): ${problem}`);
      });
    });
  }
  return json as TfjsModelJson;
}

/** The shard file names model.json refers to (for the caller to read), each once. */
export function tfjsShardPaths(json: TfjsModelJson): string[] {
  return [...new Set((json.weightsManifest ?? []).flatMap((g) => g.paths))];
}

/** Named weights of a tfjs model, in manifest order. */
export function tfjsWeights(json: TfjsModelJson, shards: ReadonlyMap<string, Uint8Array>, source = 'model.json', limits?: Partial<LoadLimits>): Map<string, Tensor> {
  const manifest = checkTfjsModelJson(json, source).weightsManifest;
  if (!manifest) throw new FormatError(`${source}: no weightsManifest (not a TensorFlow.js model.json)`);
  const lim = loadLimits(limits);
  const budget = new TensorBudget(source, lim);
  const out = new Map<string, Tensor>();
  let streamBytes = 0;
  for (const group of manifest) {
    const parts = group.paths.map((p) => {
      const b = shards.get(p);
      if (!b) throw new FormatError(`${source}: weight shard ${describe(p)} is missing`);
      return b;
    });
    const total = parts.reduce((s, p) => s + p.length, 0);
    // A manifest may list a shard many times; the streams it builds are bounded like inflated data.
    streamBytes += total;
    if (streamBytes > lim.maxInflateBytes) throw limitError(source, 'its weight shards add up to more bytes than allowed', 'maxInflateBytes', lim);
    let stream: Uint8Array;
    if (parts.length === 1) stream = parts[0];
    else {
      stream = new Uint8Array(total);
      let off = 0;
      for (const p of parts) { stream.set(p, off); off += p.length; }
    }
    let pos = 0;
    for (const w of group.weights) {
      if (w.quantization) throw new FormatError(`${source}: weight "${w.name}" is quantized; export the model unquantized`);
      const dtype = Object.hasOwn(TFJS_DTYPES, w.dtype) ? TFJS_DTYPES[w.dtype] : undefined;
      if (!dtype) throw new FormatError(`${source}: weight "${w.name}" has unsupported dtype ${describe(w.dtype)}`);
      if (out.has(w.name)) throw new FormatError(`${source}: weight "${w.name}" appears twice in the manifest`);
      const n = checkedNumel(w.shape) * BYTES_PER_ELEMENT[dtype];
      if (!(pos + n <= stream.length)) throw new FormatError(`${source}: shards end before weight "${w.name}" (truncated?)`);
      budget.take(n, `weight "${w.name}"`);
      out.set(w.name, { dtype, shape: [...w.shape], data: typedArrayOf(dtype, stream.subarray(pos, pos + n)) });
      pos += n;
    }
  }
  return out;
}

function modelConfigOf(topology: Record<string, unknown> | undefined): unknown {
  if (!topology) return undefined;
  if (topology.model_config !== undefined) return topology.model_config;
  return topology;
}

export function importTfjs(json: TfjsModelJson, shards: ReadonlyMap<string, Uint8Array>, source = 'model.json', flags: KerasImportFlags = {}): ImportedModel {
  if (json.format && json.format !== 'layers-model') {
    throw new FormatError(`${source}: a TensorFlow.js ${json.format} holds a frozen graph; only layers models are supported`);
  }
  const weights = tfjsWeights(json, shards, source, flags.limits);
  const cfgLayers: LayerConfig[] = configLayers(modelConfigOf(json.modelTopology ?? undefined), source);
  const byLayer = new Map<string, { name: string; tensor: Tensor }[]>();
  for (const [name, tensor] of weights) {
    const layer = name.split('/')[0];
    const list = byLayer.get(layer) ?? [];
    list.push({ name, tensor });
    byLayer.set(layer, list);
  }
  const records: KerasLayerRecord[] = [];
  const order = cfgLayers.length ? cfgLayers.map((l) => String(l.config?.name)) : [...byLayer.keys()];
  const cfgByName = new Map(cfgLayers.map((l) => [String(l.config?.name), l]));
  const base = (wn: string): string => wn.split('/').pop()!.replace(/:\d+$/, '').replace(/_\d+$/, '');
  for (const name of order) {
    const ws = byLayer.get(name) ?? [];
    const lc = cfgByName.get(name);
    if (!ws.length) { if (lc && lc.class_name !== 'InputLayer') records.push({ className: String(lc.class_name), name, config: lc.config }); continue; }
    const what = `${source} layer "${name}"`;
    const groups: { name: string; tensor: Tensor }[][] = [];
    for (const w of ws) (groups[/(^|\/)backward_/.test(w.name) ? 1 : 0] ??= []).push(w);
    if (ws.some((w) => base(w.name) === 'recurrent_kernel')) {
      const cells = groups.filter(Boolean).map((grp) => {
        const get = (b: string): Tensor | undefined => grp.find((w) => base(w.name) === b)?.tensor;
        const kernel = get('kernel');
        const rk = get('recurrent_kernel');
        if (!kernel || !rk) throw new FormatError(`${what}: kernel / recurrent_kernel missing`);
        return { kernel: kernel as never, recurrentKernel: rk as never, bias: get('bias') as never };
      });
      records.push({ className: lc?.class_name ?? (cells.length === 2 ? 'Bidirectional' : kerasClassFromShapes(cells[0], what)), name, config: lc?.config, cells });
    } else {
      const kernel = ws.find((w) => base(w.name) === 'kernel');
      const bias = ws.find((w) => base(w.name) === 'bias');
      if (kernel && kernel.tensor.shape.length === 2 && (lc?.class_name ?? 'Dense') === 'Dense') {
        records.push({ className: 'Dense', name, config: lc?.config, dense: { kernel: kernel.tensor as never, bias: bias?.tensor as never } });
      } else {
        records.push({ className: lc?.class_name ?? 'unknown', name, config: lc?.config, other: ws.map((w) => w.tensor) });
      }
    }
  }
  const notes = ['TensorFlow.js weights are float32'];
  return kerasRecordsToModel(records, 'tfjs', cfgLayers.length > 0, false, notes, flags);
}
