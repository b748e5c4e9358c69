// ONNX models: the LSTM / GRU / RNN nodes of the main graph with their W, R, B (and P) tensors,
// read from initializers or Constant nodes. Parsed straight from the protobuf wire format.
import type { FloatTensor, Tensor } from '../tensor';
import { numel } from '../tensor';
import { FormatError, typedArrayOf } from './safetensors';
import { type ProtoField, float32, int64, int64s, readMessage, str } from './protobuf';
import { type OnnxRnnNode, onnxToCanonical } from '../layouts/onnx';
import type { ImportedModel } from '../layouts/model';

// ModelProto.graph = 7; GraphProto: node = 1, initializer = 5; NodeProto: input 1, output 2, name 3,
// op_type 4, attribute 5; AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9;
// TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9,
// double_data 10, data_location 14.
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
const DOUBLE = 11;

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

function fields(msg: ProtoField[], n: number): ProtoField[] {
  return msg.filter((f) => f.field === n);
}
function one(msg: ProtoField[], n: number): ProtoField | undefined {
  return msg.find((f) => f.field === n);
}

export function parseTensorProto(bytes: Uint8Array, source: string): { name: string; tensor: Tensor } {
  const m = readMessage(bytes);
  const name = str(one(m, 8)?.value ?? new Uint8Array());
  const dims = fields(m, 1).flatMap(int64s);
  const type = Number(one(m, 2)?.value ?? 0n);
  const n = numel(dims);
  if (one(m, 14) && Number(one(m, 14)!.value) === 1) throw new FormatError(`${source}: tensor "${name}" is stored externally (external data files are not supported)`);
  const raw = one(m, 9)?.value as Uint8Array | undefined;
  const shape = dims;
  switch (type) {
    case FLOAT: {
      if (raw) return { name, tensor: { dtype: 'float32', shape, data: typedArrayOf('float32', raw) } };
      const vals = fields(m, 4).flatMap((f) => (f.value instanceof Uint8Array ? [...new Float32Array(new Uint8Array(f.value).buffer)] : [float32(f.value)]));
      return { name, tensor: { dtype: 'float32', shape, data: Float32Array.from(vals.length ? vals : new Array(n).fill(0)) } };
    }
    case DOUBLE: {
      if (raw) return { name, tensor: { dtype: 'float64', shape, data: typedArrayOf('float64', raw) } };
      const vals = fields(m, 10).flatMap((f) => (f.value instanceof Uint8Array ? [...new Float64Array(new Uint8Array(f.value).buffer)] : [Number(f.value)]));
      return { name, tensor: { dtype: 'float64', shape, data: Float64Array.from(vals) } };
    }
    case INT64: {
      if (raw) return { name, tensor: { dtype: 'int64', shape, data: typedArrayOf('int64', raw) } };
      return { name, tensor: { dtype: 'int64', shape, data: BigInt64Array.from(fields(m, 7).flatMap(int64s), (v) => BigInt(v)) } };
    }
    case INT32: {
      if (raw) return { name, tensor: { dtype: 'int32', shape, data: typedArrayOf('int32', raw) } };
      return { name, tensor: { dtype: 'int32', shape, data: Int32Array.from(fields(m, 5).flatMap(int64s)) } };
    }
    default:
      return { name, tensor: { dtype: 'uint8', shape: [0], data: new Uint8Array(0) } }; // unused here
  }
}

function parseAttribute(bytes: Uint8Array, source: string): [string, unknown] {
  const m = readMessage(bytes);
  const name = str(one(m, 1)?.value ?? new Uint8Array());
  const type = Number(one(m, 20)?.value ?? 0n);
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8
  switch (type) {
    case 1: return [name, float32(one(m, 2)!.value)];
    case 2: return [name, int64(one(m, 3)!.value)];
    case 3: return [name, str(one(m, 4)!.value)];
    case 4: return [name, parseTensorProto(one(m, 5)!.value as Uint8Array, source).tensor];
    case 6: return [name, fields(m, 7).flatMap((f) => (f.value instanceof Uint8Array ? [...new Float32Array(new Uint8Array(f.value).buffer)] : [float32(f.value)]))];
    case 7: return [name, fields(m, 8).flatMap(int64s)];
    case 8: return [name, fields(m, 9).map((f) => str(f.value))];
    default: return [name, undefined];
  }
}

export function parseOnnx(bytes: Uint8Array, source = 'onnx'): OnnxGraph {
  let model: ProtoField[];
  try {
    model = readMessage(bytes);
  } catch (e) {
    throw new FormatError(`${source}: not an ONNX model (${(e as Error).message})`);
  }
  const graphField = one(model, 7);
  if (!graphField || !(graphField.value instanceof Uint8Array)) throw new FormatError(`${source}: no graph in the model (not an ONNX file?)`);
  const graph = readMessage(graphField.value);
  const initializers = new Map<string, Tensor>();
  for (const f of fields(graph, 5)) {
    const { name, tensor } = parseTensorProto(f.value as Uint8Array, source);
    initializers.set(name, tensor);
  }
  const nodes: OnnxNode[] = fields(graph, 1).map((f) => {
    const m = readMessage(f.value as Uint8Array);
    return {
      inputs: fields(m, 1).map((x) => str(x.value)),
      outputs: fields(m, 2).map((x) => str(x.value)),
      name: str(one(m, 3)?.value ?? new Uint8Array()),
      opType: str(one(m, 4)?.value ?? new Uint8Array()),
      attributes: new Map(fields(m, 5).map((a) => parseAttribute(a.value as Uint8Array, source))),
    };
  });
  // Constant nodes hold weights too (when exported without constant folding into initializers).
  for (const n of nodes) {
    if (n.opType === 'Constant' && n.attributes.get('value')) initializers.set(n.outputs[0], n.attributes.get('value') as Tensor);
  }
  return { nodes, initializers };
}

export function importOnnx(bytes: Uint8Array, source = 'onnx'): ImportedModel {
  const g = parseOnnx(bytes, source);
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
    if (n.inputs[4]) notes.push(`node "${n.name}" takes sequence_lens: pass lengths when tracing`);
    return {
      opType: n.opType as OnnxRnnNode['opType'],
      name: n.name || n.outputs[0],
      W: weight(n, 1, 'W', true)!,
      R: weight(n, 2, 'R', true)!,
      B: weight(n, 3, 'B', false),
      P: n.opType === 'LSTM' ? weight(n, 7, 'P', false) : undefined,
      attributes: {
        hiddenSize: a.get('hidden_size') as number | undefined,
        direction: a.get('direction') as string | undefined,
        activations: a.get('activations') as string[] | undefined,
        linearBeforeReset: a.get('linear_before_reset') as number | undefined,
        clip: a.get('clip') as number | undefined,
        inputForget: a.get('input_forget') as number | undefined,
        layout: a.get('layout') as number | undefined,
      },
    };
  });
  const m = onnxToCanonical(nodes, notes);
  return m;
}
