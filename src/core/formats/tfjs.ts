// TensorFlow.js layers models: model.json (topology + weightsManifest) and its binary weight shards.
// The shards of each manifest group are one byte stream, weights laid out in manifest order.
import type { DType, Tensor } from '../tensor';
import { numel } from '../tensor';
import { FormatError, typedArrayOf, BYTES_PER_ELEMENT } from './safetensors';
import { type KerasImportFlags, type KerasLayerRecord, kerasRecordsToModel } from './keras';
import type { ImportedModel } from '../layouts/model';
import { kerasClassFromShapes } from '../layouts/keras';

interface ManifestEntry { name: string; shape: number[]; dtype: string; quantization?: unknown }
interface ManifestGroup { paths: string[]; weights: ManifestEntry[] }
export interface TfjsModelJson {
  format?: string;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: ManifestGroup[];
}

const TFJS_DTYPES: Record<string, DType> = { float32: 'float32', int32: 'int32', bool: 'bool' };

/** The shard file names model.json refers to (for the caller to read). */
export function tfjsShardPaths(json: TfjsModelJson): string[] {
  return (json.weightsManifest ?? []).flatMap((g) => g.paths);
}

/** Named weights of a tfjs model, in manifest order. */
export function tfjsWeights(json: TfjsModelJson, shards: ReadonlyMap<string, Uint8Array>, source = 'model.json'): Map<string, Tensor> {
  if (!json.weightsManifest) throw new FormatError(`${source}: no weightsManifest (not a TensorFlow.js model.json)`);
  const out = new Map<string, Tensor>();
  for (const group of json.weightsManifest) {
    const parts = group.paths.map((p) => {
      const b = shards.get(p);
      if (!b) throw new FormatError(`${source}: weight shard "${p}" is missing`);
      return b;
    });
    const total = parts.reduce((s, p) => s + p.length, 0);
    const stream = new Uint8Array(total);
    let off = 0;
    for (const p of parts) { stream.set(p, off); off += p.length; }
    let pos = 0;
    for (const w of group.weights) {
      if (w.quantization) throw new FormatError(`${source}: weight "${w.name}" is quantized; export the model unquantized`);
      const dtype = TFJS_DTYPES[w.dtype];
      if (!dtype) throw new FormatError(`${source}: weight "${w.name}" has unsupported dtype ${w.dtype}`);
      const n = numel(w.shape) * BYTES_PER_ELEMENT[dtype];
      if (pos + n > stream.length) throw new FormatError(`${source}: shards end before weight "${w.name}"`);
      out.set(w.name, { dtype, shape: [...w.shape], data: typedArrayOf(dtype, stream.subarray(pos, pos + n)) });
      pos += n;
    }
  }
  return out;
}

function modelConfigOf(topology: Record<string, unknown> | undefined): { class_name?: string; config?: unknown } | undefined {
  if (!topology) return undefined;
  if (topology.model_config) return topology.model_config as { class_name?: string; config?: unknown };
  return topology as { class_name?: string; config?: unknown };
}

export function importTfjs(json: TfjsModelJson, shards: ReadonlyMap<string, Uint8Array>, source = 'model.json', flags: KerasImportFlags = {}): ImportedModel {
  if (json.format && json.format !== 'layers-model') {
    throw new FormatError(`${source}: a TensorFlow.js ${json.format} holds a frozen graph; only layers models are supported`);
  }
  const weights = tfjsWeights(json, shards, source);
  const mc = modelConfigOf(json.modelTopology) as { config?: { layers?: { class_name: string; config: Record<string, unknown> }[] } | { class_name: string; config: Record<string, unknown> }[] } | undefined;
  const cfgLayers = Array.isArray(mc?.config) ? mc!.config : (mc?.config as { layers?: { class_name: string; config: Record<string, unknown> }[] } | undefined)?.layers ?? [];
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
    if (!ws.length) { if (lc && lc.class_name !== 'InputLayer') records.push({ className: lc.class_name, name, config: lc.config }); continue; }
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
