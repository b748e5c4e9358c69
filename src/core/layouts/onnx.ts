// ONNX LSTM / GRU / RNN operator weights ↔ canonical PyTorch layout.
//   W [D, G*H, in], R [D, G*H, H], B [D, 2*G*H] = Wb ‖ Rb; D = 2 for direction="bidirectional".
//   LSTM gate order i,o,f,c; GRU z,r,h with linear_before_reset (1 = PyTorch's GRU, 0 = reset before);
//   RNN activations Tanh / Relu. Stacked operators become layers.
import { type RnnConfig, type RnnModule, GATES, suffix, rnnConfig } from '../config';
import { type FloatDType, type FloatTensor, type TensorMap, formatShape } from '../tensor';
import { FormatError } from '../formats/safetensors';
import { asFloat, gateOrder, indexFirst, permuteRowBlocks, splitRows, invertOrder, stackFirst, concatRows } from './blocks';
import { type AssembleOptions, type ImportParts, type ImportedModel, assembleImport } from './model';

export const ONNX_GATES: Record<RnnModule, readonly string[]> = {
  LSTM: ['i', 'o', 'f', 'g'],
  GRU: ['z', 'r', 'n'],
  RNN: ['x'],
};

export interface OnnxRnnNode {
  readonly opType: 'LSTM' | 'GRU' | 'RNN';
  readonly name: string;
  readonly W: FloatTensor;
  readonly R: FloatTensor;
  readonly B?: FloatTensor;
  readonly attributes: {
    readonly hiddenSize?: number;
    readonly direction?: string;
    readonly activations?: readonly string[];
    readonly linearBeforeReset?: number;
    readonly clip?: number;
    readonly inputForget?: number;
    readonly layout?: number;
  };
  /** Peephole weights P (LSTM) when given as a non-empty input. */
  readonly P?: FloatTensor;
}

const DEFAULT_ACTIVATIONS: Record<RnnModule, string[]> = {
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'],
};

/** `parts`: the embedding and head layers around the stack (src/core/formats/onnx.ts reads them from the graph). */
export function onnxToCanonical(nodes: readonly OnnxRnnNode[], notes: string[] = [], parts: ImportParts = {}, assemble: AssembleOptions = {}): ImportedModel {
  if (!nodes.length) throw new FormatError('onnx: no LSTM, GRU or RNN node in the graph');
  const first = nodes[0];
  const module: RnnModule = first.opType;
  const dirOf = (n: OnnxRnnNode): string => n.attributes.direction ?? 'forward';
  const D = dirOf(first) === 'bidirectional' ? 2 : 1;
  const dtype: FloatDType = first.W.dtype === 'float64' ? 'float64' : 'float32';
  let nonlinearity: RnnConfig['nonlinearity'] = 'tanh';
  let gruReset: RnnConfig['gruReset'] = 'after';
  for (const n of nodes) {
    const what = `onnx node "${n.name}"`;
    if (n.opType !== module) throw new FormatError(`onnx: nodes "${first.name}" (${module}) and "${n.name}" (${n.opType}) differ; one recurrent stack of one kind is supported`);
    if (dirOf(n) === 'reverse') throw new FormatError(`${what}: direction="reverse" alone has no PyTorch equivalent`);
    if ((dirOf(n) === 'bidirectional' ? 2 : 1) !== D) throw new FormatError(`${what}: mixes bidirectional and forward layers`);
    if (n.attributes.clip !== undefined) throw new FormatError(`${what}: cell clipping (clip=${n.attributes.clip}) has no PyTorch equivalent`);
    if (n.attributes.inputForget) throw new FormatError(`${what}: input_forget=1 (coupled gates) has no PyTorch equivalent`);
    if (n.P && n.P.data.some((v) => v !== 0)) throw new FormatError(`${what}: peephole weights P are not supported`);
    const acts = n.attributes.activations?.length ? n.attributes.activations : DEFAULT_ACTIVATIONS[module];
    const perDir = acts.slice(0, DEFAULT_ACTIVATIONS[module].length);
    if (module === 'RNN') {
      const a = perDir[0];
      if (a !== 'Tanh' && a !== 'Relu') throw new FormatError(`${what}: activation ${a} is not supported (Tanh or Relu)`);
      nonlinearity = a === 'Relu' ? 'relu' : 'tanh';
    } else if (perDir.join(',') !== DEFAULT_ACTIVATIONS[module].join(',')) {
      throw new FormatError(`${what}: activations ${acts.join(',')} differ from the defaults ${DEFAULT_ACTIVATIONS[module].join(',')}`);
    }
    if (module === 'GRU') gruReset = n.attributes.linearBeforeReset ? 'after' : 'before';
  }
  if (module === 'GRU' && gruReset === 'before') notes.push('GRU linear_before_reset=0: reset gate applied before the recurrent matmul (gruReset "before")');
  const H = first.R.shape[2];
  const config = rnnConfig({
    module, inputSize: first.W.shape[2], hiddenSize: H, numLayers: nodes.length, bidirectional: D === 2,
    bias: nodes.some((n) => !!n.B), nonlinearity, dtype, gruReset,
  });
  const order = gateOrder(GATES[module].length ? GATES[module] : ['x'], ONNX_GATES[module]);
  const params: TensorMap = new Map();
  nodes.forEach((n, layer) => {
    const W = asFloat(n.W, dtype);
    const R = asFloat(n.R, dtype);
    if (W.shape.length !== 3 || R.shape.length !== 3 || W.shape[0] !== D || R.shape[0] !== D) {
      throw new FormatError(`onnx node "${n.name}": W ${formatShape(W.shape)} / R ${formatShape(R.shape)} are not [${D}, G*H, *]`);
    }
    for (let d = 0; d < D; d++) {
      const sfx = suffix(layer, d === 1);
      params.set(`weight_ih${sfx}`, permuteRowBlocks(indexFirst(W, d), order));
      params.set(`weight_hh${sfx}`, permuteRowBlocks(indexFirst(R, d), order));
      if (config.bias) {
        // A missing B input means zero biases (the operator's default).
        const B = n.B ? asFloat(n.B, dtype) : { dtype, shape: [D, 2 * W.shape[1]], data: new (dtype === 'float64' ? Float64Array : Float32Array)(D * 2 * W.shape[1]) };
        const [wb, rb] = splitRows(indexFirst(B, d), 2);
        params.set(`bias_ih${sfx}`, permuteRowBlocks(wb, order));
        params.set(`bias_hh${sfx}`, permuteRowBlocks(rb, order));
      }
    }
  });
  // Every activation and the GRU variant are attributes of the node (or the operator's defaults): recorded.
  return assembleImport(config, params, parts, {
    format: 'onnx', layout: 'onnx', notes,
    recorded: { recurrentActivation: 'sigmoid', ...(module === 'RNN' ? { nonlinearity } : {}), ...(module === 'GRU' ? { gruReset } : {}) },
  }, assemble);
}

/** Canonical → ONNX W, R, B for one layer (all directions stacked). */
export function canonicalToOnnx(cfg: RnnConfig, params: TensorMap, layer: number): { W: FloatTensor; R: FloatTensor; B?: FloatTensor } {
  const inv = invertOrder(gateOrder(GATES[cfg.module].length ? GATES[cfg.module] : ['x'], ONNX_GATES[cfg.module]));
  const dirs = cfg.bidirectional ? [false, true] : [false];
  const get = (n: string, rev: boolean): FloatTensor => asFloat(params.get(`${n}${suffix(layer, rev)}`)!, cfg.dtype);
  const W = stackFirst(dirs.map((r) => permuteRowBlocks(get('weight_ih', r), inv)));
  const R = stackFirst(dirs.map((r) => permuteRowBlocks(get('weight_hh', r), inv)));
  if (!cfg.bias) return { W, R };
  const B = stackFirst(dirs.map((r) => concatRows([permuteRowBlocks(get('bias_ih', r), inv), permuteRowBlocks(get('bias_hh', r), inv)])));
  return { W, R, B };
}
