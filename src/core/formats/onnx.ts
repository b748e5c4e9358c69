// ONNX models: the LSTM / GRU / RNN nodes of the main graph with their W, R, B (and P) tensors,
// read from initializers or Constant nodes. Parsed straight from the protobuf wire format.
import type { DType, FloatTensor, Tensor } from '../tensor';
import { FormatError } from './errors';
import { BYTES_PER_ELEMENT, typedArrayOf } from './safetensors';
import { type ProtoField, bytesOf, float32, float32s, float64s, int64, int64s, readMessage, str } from './protobuf';
import { type OnnxRnnNode, onnxToCanonical } from '../layouts/onnx';
import type { AssembleOptions, HeadPart, ImportParts, ImportedModel } from '../layouts/model';
import { type LoadLimits, TensorBudget, badShape, checkedNumel, describe, loadLimits } from './limits';

// ModelProto.graph = 7; GraphProto: node = 1, initializer = 5; NodeProto: input 1, output 2, name 3,
// op_type 4, attribute 5; AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9, type 20;
// TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9,
// double_data 10, external_data 13 (key 1 / value 2: location, offset, length), data_location 14.
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
const DOUBLE = 11;
const DTYPE_OF_ONNX: Record<number, DType> = { [FLOAT]: 'float32', [INT32]: 'int32', [INT64]: 'int64', [DOUBLE]: 'float64' };

export interface OnnxNode {
  readonly opType: string;
  readonly name: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attributes: Map<string, unknown>;
}

export interface OnnxGraph {
  readonly nodes: OnnxNode[];
  readonly initializers: Map<string, Tensor>;
}

/** Reads a file next to the model (external tensor data); undefined when it does not exist. */
export type OnnxSiblingReader = (relativePath: string) => Uint8Array | undefined;

interface TensorContext {
  readonly source: string;
  readonly budget: TensorBudget;
  readonly readSibling?: OnnxSiblingReader;
  /** External data files read so far (a file shared by many tensors is read once). */
  readonly external: Map<string, Uint8Array>;
}

function fields(msg: ProtoField[], n: number): ProtoField[] {
  return msg.filter((f) => f.field === n);
}
function one(msg: ProtoField[], n: number): ProtoField | undefined {
  return msg.find((f) => f.field === n);
}

function message(f: ProtoField, what: string, source: string): ProtoField[] {
  try {
    return readMessage(bytesOf(f, what));
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(`${source}: ${what}: ${e.message}`);
    throw e;
  }
}

export function parseTensorProto(bytes: Uint8Array, source: string, ctx?: Partial<TensorContext>): { name: string; tensor: Tensor } {
  const c: TensorContext = { source, budget: ctx?.budget ?? new TensorBudget(source, loadLimits()), readSibling: ctx?.readSibling, external: ctx?.external ?? new Map() };
  const m = readMessage(bytes);
  const name = one(m, 8) ? str(one(m, 8)!.value) : '';
  const what = `tensor "${name}"`;
  const fail = (msg: string): never => { throw new FormatError(`${source}: ${what} ${msg}`); };
  const dims = fields(m, 1).flatMap(int64s);
  const problem = badShape(dims);
  if (problem) fail(problem);
  const type = one(m, 2) ? int64(one(m, 2)!.value) : 0;
  const dtype = Object.hasOwn(DTYPE_OF_ONNX, type) ? DTYPE_OF_ONNX[type] : undefined;
  const shape = dims;
  if (!dtype) return { name, tensor: { dtype: 'uint8', shape: [0], data: new Uint8Array(0) } }; // not a weight type: never used as one
  const n = checkedNumel(dims);
  const es = BYTES_PER_ELEMENT[dtype];
  const nbytes = n * es;
  const external = one(m, 14) && int64(one(m, 14)!.value) === 1;
  let raw = one(m, 9) ? bytesOf(one(m, 9)!, `raw_data of ${what}`) : undefined;
  if (external) raw = externalData(m, c, what, nbytes);
  if (raw) {
    if (raw.length !== nbytes) fail(`${formatDims(dims)} needs ${nbytes} bytes of raw data, has ${raw.length}`);
    c.budget.take(nbytes, what);
    return { name, tensor: { dtype, shape, data: typedArrayOf(dtype, raw) } };
  }
  const values = ((): number[] => {
    switch (type) {
      case FLOAT: return fields(m, 4).flatMap(float32s);
      case DOUBLE: return fields(m, 10).flatMap(float64s);
      case INT64: return fields(m, 7).flatMap(int64s);
      default: return fields(m, 5).flatMap(int64s);
    }
  })();
  if (values.length !== n) fail(`${formatDims(dims)} has ${values.length} values, not ${n}`);
  c.budget.take(nbytes, what);
  switch (dtype) {
    case 'float32': return { name, tensor: { dtype, shape, data: Float32Array.from(values) } };
    case 'float64': return { name, tensor: { dtype, shape, data: Float64Array.from(values) } };
    case 'int64': return { name, tensor: { dtype, shape, data: BigInt64Array.from(values, (v) => BigInt(v)) } };
    default: return { name, tensor: { dtype: 'int32', shape, data: Int32Array.from(values) } };
  }
}

const formatDims = (dims: readonly number[]): string => `[${dims.join(', ')}]`;

/** Tensor data kept in another file (data_location EXTERNAL): read through the caller, inside the model's folder. */
function externalData(m: ProtoField[], c: TensorContext, what: string, nbytes: number): Uint8Array {
  const fail = (msg: string): never => { throw new FormatError(`${c.source}: ${what} ${msg}`); };
  const info = new Map<string, string>();
  for (const f of fields(m, 13)) {
    const kv = message(f, 'external_data entry', c.source);
    info.set(one(kv, 1) ? str(one(kv, 1)!.value) : '', one(kv, 2) ? str(one(kv, 2)!.value) : '');
  }
  const location = info.get('location');
  if (!location) return fail('is stored externally without a location');
  if (!c.readSibling) return fail(`is stored externally in ${describe(location)}; open the .onnx file from its folder`);
  const num = (key: string, dflt: number): number => {
    const v = info.get(key);
    if (v === undefined || v === '') return dflt;
    const x = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(x)) fail(`has external_data ${key} ${describe(v)}, not a non-negative integer`);
    return x;
  };
  let file = c.external.get(location);
  if (!file) {
    file = c.readSibling(location);
    if (!file) return fail(`is stored externally in ${describe(location)}, which is missing`);
    c.external.set(location, file);
  }
  const offset = num('offset', 0);
  const length = num('length', file.length - Math.min(offset, file.length));
  if (offset + length > file.length) fail(`reads bytes ${offset}..${offset + length} of ${describe(location)}, which has ${file.length}`);
  if (length !== nbytes) fail(`needs ${nbytes} bytes, its external data has ${length}`);
  return file.subarray(offset, offset + length);
}

function parseAttribute(bytes: Uint8Array, source: string, ctx: TensorContext): [string, unknown] {
  const m = readMessage(bytes);
  const name = one(m, 1) ? str(one(m, 1)!.value) : '';
  const type = one(m, 20) ? int64(one(m, 20)!.value) : 0;
  const value = (n: number, kind: string): ProtoField => {
    const f = one(m, n);
    if (!f) throw new FormatError(`${source}: attribute "${name}" of type ${kind} has no value`);
    return f;
  };
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8
  switch (type) {
    case 1: return [name, float32(value(2, 'FLOAT').value)];
    case 2: return [name, int64(value(3, 'INT').value)];
    case 3: return [name, str(value(4, 'STRING').value)];
    case 4: return [name, parseTensorProto(bytesOf(value(5, 'TENSOR'), `attribute "${name}"`), source, ctx).tensor];
    case 6: return [name, fields(m, 7).flatMap(float32s)];
    case 7: return [name, fields(m, 8).flatMap(int64s)];
    case 8: return [name, fields(m, 9).map((f) => str(f.value))];
    default: return [name, undefined];
  }
}

export function parseOnnx(bytes: Uint8Array, source = 'onnx', readSibling?: OnnxSiblingReader, limits?: Partial<LoadLimits>): OnnxGraph {
  const ctx: TensorContext = { source, budget: new TensorBudget(source, loadLimits(limits)), readSibling, external: new Map() };
  let model: ProtoField[];
  try {
    model = readMessage(bytes);
  } catch (e) {
    throw new FormatError(`${source}: not an ONNX model (${(e as Error).message})`);
  }
  const graphField = one(model, 7);
  if (!graphField || !(graphField.value instanceof Uint8Array)) throw new FormatError(`${source}: no graph in the model (not an ONNX file?)`);
  try {
    const graph = readMessage(graphField.value);
    const initializers = new Map<string, Tensor>();
    for (const f of fields(graph, 5)) {
      const { name, tensor } = parseTensorProto(bytesOf(f, 'initializer'), source, ctx);
      initializers.set(name, tensor);
    }
    const nodes: OnnxNode[] = fields(graph, 1).map((f) => {
      const m = readMessage(bytesOf(f, 'node'));
      return {
        inputs: fields(m, 1).map((x) => str(x.value)),
        outputs: fields(m, 2).map((x) => str(x.value)),
        name: one(m, 3) ? str(one(m, 3)!.value) : '',
        opType: one(m, 4) ? str(one(m, 4)!.value) : '',
        attributes: new Map(fields(m, 5).map((a) => parseAttribute(bytesOf(a, 'attribute'), source, ctx))),
      };
    });
    // Constant nodes hold weights too (when exported without constant folding into initializers).
    for (const n of nodes) {
      const v = n.attributes.get('value');
      if (n.opType === 'Constant' && v && typeof v === 'object' && 'dtype' in v && n.outputs[0] !== undefined) initializers.set(n.outputs[0], v as Tensor);
    }
    return { nodes, initializers };
  } catch (e) {
    if (e instanceof FormatError && !e.message.startsWith(`${source}: `)) throw new FormatError(`${source}: malformed ONNX graph (${e.message})`);
    throw e;
  }
}

export function importOnnx(bytes: Uint8Array, source = 'onnx', readSibling?: OnnxSiblingReader, limits?: Partial<LoadLimits>, assemble: AssembleOptions = {}): ImportedModel {
  const g = parseOnnx(bytes, source, readSibling, limits);
  const rnnNodes = g.nodes.filter((n) => n.opType === 'LSTM' || n.opType === 'GRU' || n.opType === 'RNN');
  if (!rnnNodes.length) {
    throw new FormatError(`${source}: no LSTM, GRU or RNN operator (ops: ${[...new Set(g.nodes.map((n) => n.opType))].join(', ')})`);
  }
  const weight = (n: OnnxNode, i: number, what: string, required: boolean): FloatTensor | undefined => {
    const name = n.inputs[i];
    if (!name) {
      if (required) throw new FormatError(`${source}: node "${n.name}" has no ${what} input`);
      return undefined;
    }
    const t = g.initializers.get(name);
    if (!t) throw new FormatError(`${source}: ${what} of node "${n.name}" ("${name}") is computed, not a stored weight`);
    if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new FormatError(`${source}: ${what} of node "${n.name}" is ${t.dtype}`);
    return t as FloatTensor;
  };
  const notes: string[] = [];
  const nodes: OnnxRnnNode[] = rnnNodes.map((n) => {
    const a = n.attributes;
    const typed = <T>(key: string, ok: (v: unknown) => boolean, kind: string): T | undefined => {
      const v = a.get(key);
      if (v === undefined) return undefined;
      if (!ok(v)) throw new FormatError(`${source}: attribute ${key} of node "${n.name}" is ${describe(v)}, not ${kind}`);
      return v as T;
    };
    const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
    const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
    if (n.inputs[4]) notes.push(`node "${n.name}" takes sequence_lens: pass lengths when tracing`);
    return {
      opType: n.opType as OnnxRnnNode['opType'],
      name: n.name || n.outputs[0],
      W: weight(n, 1, 'W', true)!,
      R: weight(n, 2, 'R', true)!,
      B: weight(n, 3, 'B', false),
      P: n.opType === 'LSTM' ? weight(n, 7, 'P', false) : undefined,
      attributes: {
        hiddenSize: typed<number>('hidden_size', isInt, 'an integer'),
        direction: typed<string>('direction', (v) => typeof v === 'string', 'a string'),
        activations: typed<string[]>('activations', isStrings, 'a list of strings'),
        linearBeforeReset: typed<number>('linear_before_reset', isInt, 'an integer'),
        clip: typed<number>('clip', (v) => typeof v === 'number', 'a float'),
        inputForget: typed<number>('input_forget', isInt, 'an integer'),
        layout: typed<number>('layout', isInt, 'an integer'),
      },
    };
  });
  const parts = modelParts(g, rnnNodes[0], rnnNodes[rnnNodes.length - 1], notes);
  return onnxToCanonical(nodes, notes, parts, assemble);
}

// ---------------------------------------------------------------- the model around the stack

/** Ops that only move or relabel values between the embedding, the stack and the head (in inference). */
const PASS_THROUGH = new Set(['Squeeze', 'Unsqueeze', 'Transpose', 'Reshape', 'Identity', 'Dropout', 'Cast', 'Flatten']);

const isFloat2d = (t: Tensor | undefined): t is FloatTensor => !!t && (t.dtype === 'float32' || t.dtype === 'float64') && t.shape.length === 2;
const layerName = (n: OnnxNode): string => n.name.split('/').filter(Boolean)[0] ?? n.name;

function transpose2d(t: FloatTensor): FloatTensor {
  const [r, c] = t.shape;
  const out = new (t.data instanceof Float64Array ? Float64Array : Float32Array)(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { dtype: t.dtype, shape: [c, r], data: out } as FloatTensor;
}

function scaled(t: FloatTensor, k: number): FloatTensor {
  return k === 1 ? t : { ...t, data: t.data.map((v) => v * k) } as FloatTensor;
}

/**
 * The embedding before the first recurrent node (a Gather from a stored [V, E] table, as nn.Embedding
 * exports) and the Linear layers after the last one (Gemm, or MatMul + Add as a 3-D nn.Linear exports,
 * a tied decoder as MatMul by the transposed table), with ReLU / Tanh between them and a final (Log)Softmax.
 * Shape-only ops in between are followed; anything else ends the walk (the stack alone is kept).
 */
function modelParts(g: OnnxGraph, first: OnnxNode, last: OnnxNode, notes: string[]): ImportParts {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  /** A stored matrix, or a stored matrix behind a Transpose ([1, 0]) node: [rows, cols] as used. */
  const matrix = (name: string): FloatTensor | undefined => {
    const t = g.initializers.get(name);
    if (isFloat2d(t)) return t;
    const p = producer.get(name);
    const src = p?.opType === 'Transpose' ? g.initializers.get(p.inputs[0]) : undefined;
    const perm = p?.attributes.get('perm') as number[] | undefined;
    return isFloat2d(src) && (!perm || perm.join() === '1,0') ? transpose2d(src) : undefined;
  };
  const vector = (name: string, len: number): FloatTensor | undefined => {
    const t = g.initializers.get(name);
    if (!t || (t.dtype !== 'float32' && t.dtype !== 'float64') || t.data.length !== len) return undefined;
    return { dtype: t.dtype, shape: [len], data: t.data } as FloatTensor;
  };

  let embedding: ImportParts['embedding'];
  for (let name = first.inputs[0], hops = 0; name && hops < 16; hops++) {
    const p = producer.get(name);
    if (!p) break;
    if (p.opType === 'Gather' && isFloat2d(g.initializers.get(p.inputs[0])) && !g.initializers.has(p.inputs[1])) {
      embedding = { name: p.inputs[0], weight: g.initializers.get(p.inputs[0]) as FloatTensor };
      break;
    }
    if (!PASS_THROUGH.has(p.opType)) break;
    name = p.inputs[0];
  }

  const head: HeadPart[] = [];
  let at = last.outputs[0];
  const setLastActivation = (a: string): void => {
    const k = head.length - 1;
    head[k] = { ...head[k], activation: a };
  };
  for (let hops = 0; at && hops < 64; hops++) {
    // Shape nodes read a value's shape for a later Reshape / Expand: not where the value goes.
    const next = (consumers.get(at) ?? []).filter((n) => n.opType !== 'Shape');
    if (next.length !== 1) break;
    const n = next[0];
    const other = n.inputs.find((i) => i !== at) ?? '';
    if (PASS_THROUGH.has(n.opType)) {
      at = n.outputs[0];
    } else if (n.opType === 'Gemm' && n.inputs[0] === at && !n.attributes.get('transA')) {
      const B = matrix(n.inputs[1]);
      if (!B) break;
      const w = n.attributes.get('transB') ? B : transpose2d(B);
      const alpha = (n.attributes.get('alpha') as number | undefined) ?? 1;
      const beta = (n.attributes.get('beta') as number | undefined) ?? 1;
      const C = n.inputs[2] ? vector(n.inputs[2], w.shape[0]) : undefined;
      if (n.inputs[2] && !C) break;
      head.push({ name: layerName(n), weight: scaled(w, alpha), ...(C ? { bias: scaled(C, beta) } : {}) });
      at = n.outputs[0];
    } else if (n.opType === 'MatMul' && n.inputs[0] === at) {
      const B = matrix(n.inputs[1]);
      if (!B) break;
      head.push({ name: layerName(n), weight: transpose2d(B) });
      at = n.outputs[0];
    } else if (n.opType === 'Add' && head.length && !head[head.length - 1].bias && head[head.length - 1].activation === undefined) {
      const k = head.length - 1;
      const b = vector(other, head[k].weight.shape[0]);
      if (!b) break;
      head[k] = { ...head[k], bias: b };
      at = n.outputs[0];
    } else if ((n.opType === 'Relu' || n.opType === 'Tanh') && head.length && head[head.length - 1].activation === undefined) {
      setLastActivation(n.opType.toLowerCase());
      at = n.outputs[0];
    } else if ((n.opType === 'Softmax' || n.opType === 'LogSoftmax') && head.length && head[head.length - 1].activation === undefined) {
      setLastActivation(n.opType === 'Softmax' ? 'softmax' : 'log_softmax');
      break;
    } else {
      break;
    }
  }
  // An activation after the last layer that is not an output activation: not a head the model can run.
  while (head.length && /^(relu|tanh)$/.test(head[head.length - 1].activation ?? '')) head.pop();
  if (embedding) notes.push(`embedding ${embedding.name} [${embedding.weight.shape.join(', ')}] from the graph's Gather`);
  if (head.length) notes.push(`head ${head.map((h) => h.name).join(' → ')} from the graph's ${head.length === 1 ? 'layer' : 'layers'} after node "${last.name}"`);
  return { ...(embedding ? { embedding } : {}), ...(head.length ? { head } : {}) };
}
