// The readable reference: nn.LSTM / nn.GRU / nn.RNN forward with an optional per-timestep trace, and
// backpropagation through time for every parameter, the input and the initial states.
// Variable-length batches follow packed sequences: sequence n runs over its first lengths[n] steps, its
// outputs beyond are zero, and h_n / c_n are taken at its own last step.
import {
  type RnnConfig, ConfigError, GATES, directions, gateBlocks, parameterSpecs, suffix,
} from '../config';
import {
  type FloatArray, type FloatTensor, type Tensor, type TensorMap,
  floatArray, formatShape, shapeEquals, toFloat,
} from '../tensor';
import { type CellGrads, type CellWeights, type RecurrentCell, createCell } from './cells';

export interface RnnInputs {
  /** [T, N, in] (or [N, T, in] when batchFirst), or unbatched [T, in]. */
  readonly x: Tensor;
  /** [L*D, N, H] (unbatched: [L*D, H]); zeros when omitted. */
  readonly h0?: Tensor;
  readonly c0?: Tensor;
  /** Per-sequence lengths (packed sequences); every sequence runs all T steps when omitted. */
  readonly lengths?: readonly number[];
}

export interface RnnOptions {
  /** Record h, c and every gate per layer, direction and timestep. */
  readonly trace?: boolean;
  /** Keep what rnnBackward needs. */
  readonly forBackward?: boolean;
  /** nn.LSTM(dropout=p) in training mode: drops the outputs of every layer but the last. */
  readonly dropout?: { readonly p: number; readonly uniform: () => number };
}

export interface RnnForwardResult {
  readonly output: FloatTensor;
  readonly hN: FloatTensor;
  readonly cN?: FloatTensor;
  /** trace_l{k}[_reverse]_{h|c|gate_*}: [T, N, H], time-major, reverse direction in forward time order. */
  readonly trace?: TensorMap;
  /** Present when options.forBackward: the forward pass as rnnBackward needs it. */
  readonly saved?: SavedForward;
}

export interface RnnUpstreamGrads {
  /** Same shape as output. */
  readonly dOutput?: Tensor;
  readonly dHN?: Tensor;
  readonly dCN?: Tensor;
}

export interface RnnGrads {
  /** Gradients of the parameters, PyTorch names. */
  readonly grads: TensorMap;
  readonly dx: FloatTensor;
  readonly dh0: FloatTensor;
  readonly dc0?: FloatTensor;
}

interface Shape {
  readonly T: number;
  readonly N: number;
  readonly unbatched: boolean;
}

/** One layer-direction's forward record, time-major flat arrays. */
interface DirectionRecord {
  readonly weights: CellWeights;
  readonly h: FloatArray; // [T, N, H] state after each step (0 where padded)
  readonly c: FloatArray | null; // [T, N, H]
  readonly gates: FloatArray; // [T, N, G*H]
  readonly extra: FloatArray; // [T, N, H]
}

interface SavedForward {
  readonly cfg: RnnConfig;
  readonly shape: Shape;
  readonly lengths: readonly number[];
  readonly layerInputs: FloatArray[]; // per layer, [T, N, in_l] (after dropout)
  readonly dropoutMasks: (FloatArray | null)[]; // per layer > 0: 0 or 1/(1-p) on its input
  readonly records: DirectionRecord[][]; // [layer][direction]
  readonly h0: FloatArray; // [L*D, N, H]
  readonly c0: FloatArray | null;
}

const cellStateOf = (cfg: RnnConfig): boolean => cfg.module === 'LSTM';

/** The parameters as float arrays of the config's dtype, checked against the expected names and shapes. */
export function checkedParameters(cfg: RnnConfig, params: TensorMap): Map<string, FloatArray> {
  const out = new Map<string, FloatArray>();
  for (const spec of parameterSpecs(cfg)) {
    const t = params.get(spec.name);
    if (!t) throw new ConfigError(`missing parameter ${spec.name} ${formatShape(spec.shape)}`);
    if (!shapeEquals(t.shape, spec.shape)) {
      throw new ConfigError(`parameter ${spec.name} has shape ${formatShape(t.shape)}, expected ${formatShape(spec.shape)}`);
    }
    out.set(spec.name, toFloat(t, cfg.dtype).data);
  }
  return out;
}

function layerWeights(cfg: RnnConfig, p: Map<string, FloatArray>, layer: number, reverse: boolean): CellWeights {
  const s = suffix(layer, reverse);
  return {
    wIh: p.get(`weight_ih${s}`)!,
    wHh: p.get(`weight_hh${s}`)!,
    bIh: cfg.bias ? p.get(`bias_ih${s}`)! : null,
    bHh: cfg.bias ? p.get(`bias_hh${s}`)! : null,
    inputSize: layer === 0 ? cfg.inputSize : cfg.hiddenSize * directions(cfg),
    hiddenSize: cfg.hiddenSize,
  };
}

/** x as time-major [T, N, in] in the config's dtype. */
function timeMajorInput(cfg: RnnConfig, x: Tensor): { data: FloatArray; shape: Shape } {
  const xs = x.shape;
  if ((xs.length !== 3 && xs.length !== 2) || xs[xs.length - 1] !== cfg.inputSize) {
    throw new ConfigError(`input x has shape ${formatShape(xs)}, expected [${cfg.batchFirst ? 'N, T' : 'T, N'}, ${cfg.inputSize}] or [T, ${cfg.inputSize}]`);
  }
  const src = toFloat(x, cfg.dtype).data;
  if (xs.length === 2) return { data: src, shape: { T: xs[0], N: 1, unbatched: true } };
  if (!cfg.batchFirst) return { data: src, shape: { T: xs[0], N: xs[1], unbatched: false } };
  const [N, T, I] = xs;
  return { data: swapFirstAxes(src, N, T, I), shape: { T, N, unbatched: false } };
}

/** [A, B, K] → [B, A, K]. */
function swapFirstAxes(src: FloatArray, A: number, B: number, K: number): FloatArray {
  const out = floatArray(src instanceof Float64Array ? 'float64' : 'float32', src.length);
  for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) {
    out.set(src.subarray((a * B + b) * K, (a * B + b + 1) * K), (b * A + a) * K);
  }
  return out;
}

function initialState(cfg: RnnConfig, t: Tensor | undefined, name: string, shape: Shape): FloatArray {
  const LD = cfg.numLayers * directions(cfg);
  const expected = shape.unbatched ? [LD, cfg.hiddenSize] : [LD, shape.N, cfg.hiddenSize];
  if (!t) return floatArray(cfg.dtype, LD * shape.N * cfg.hiddenSize);
  if (!shapeEquals(t.shape, expected)) {
    throw new ConfigError(`${name} has shape ${formatShape(t.shape)}, expected ${formatShape(expected)}`);
  }
  return toFloat(t, cfg.dtype).data.slice();
}

function checkedLengths(lengths: readonly number[] | undefined, shape: Shape): number[] {
  if (!lengths) return new Array<number>(shape.N).fill(shape.T);
  if (lengths.length !== shape.N) throw new ConfigError(`lengths has ${lengths.length} entries for a batch of ${shape.N}`);
  return lengths.map((len, n) => {
    if (!Number.isInteger(len) || len < 1 || len > shape.T) {
      throw new ConfigError(`lengths[${n}] = ${len} is outside 1..${shape.T}`);
    }
    return len;
  });
}

/** The step before t in processing order for sequence n, or -1 for the initial state. */
function previousStep(reverse: boolean, t: number, len: number): number {
  return reverse ? (t + 1 < len ? t + 1 : -1) : t - 1;
}

/** The views one step of sequence n at time t reads and writes in a direction's record. */
function stepViews(rec: DirectionRecord, h0: FloatArray, c0: FloatArray | null, stateIndex: number, reverse: boolean,
  t: number, n: number, len: number, N: number, H: number, G: number) {
  const prev = previousStep(reverse, t, len);
  const at = (t * N + n) * H;
  const stateAt = (stateIndex * N + n) * H;
  const prevAt = (prev * N + n) * H;
  return {
    hPrev: prev < 0 ? h0.subarray(stateAt, stateAt + H) : rec.h.subarray(prevAt, prevAt + H),
    cPrev: !c0 ? null : prev < 0 ? c0.subarray(stateAt, stateAt + H) : rec.c!.subarray(prevAt, prevAt + H),
    hNext: rec.h.subarray(at, at + H),
    cNext: rec.c ? rec.c.subarray(at, at + H) : null,
    record: { gates: rec.gates.subarray(at * G, (at + H) * G), extra: rec.extra.subarray(at, at + H) },
  };
}

export function rnnForward(cfg: RnnConfig, params: TensorMap, inputs: RnnInputs, options: RnnOptions = {}): RnnForwardResult {
  const p = checkedParameters(cfg, params);
  const { data: x, shape } = timeMajorInput(cfg, inputs.x);
  const { T, N } = shape;
  const H = cfg.hiddenSize, D = directions(cfg), G = gateBlocks(cfg.module);
  const lengths = checkedLengths(inputs.lengths, shape);
  const h0 = initialState(cfg, inputs.h0, 'h0', shape);
  const c0 = cellStateOf(cfg) ? initialState(cfg, inputs.c0, 'c0', shape) : null;
  const make = (n: number): FloatArray => floatArray(cfg.dtype, n);
  const cell = createCell(cfg, make);
  const hN = make(cfg.numLayers * D * N * H);
  const cN = c0 ? make(hN.length) : null;
  const layerInputs: FloatArray[] = [];
  const dropoutMasks: (FloatArray | null)[] = [null];
  const records: DirectionRecord[][] = [];

  let layerIn = x;
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    if (layer > 0 && options.dropout && options.dropout.p > 0) {
      const { p: rate, uniform } = options.dropout;
      const mask = make(layerIn.length), dropped = make(layerIn.length);
      for (let i = 0; i < mask.length; i++) {
        mask[i] = uniform() < rate ? 0 : 1 / (1 - rate);
        dropped[i] = layerIn[i] * mask[i];
      }
      dropoutMasks.push(mask);
      layerIn = dropped;
    } else if (layer > 0) dropoutMasks.push(null);
    layerInputs.push(layerIn);
    const inSize = layer === 0 ? cfg.inputSize : H * D;
    const layerOut = make(T * N * D * H);
    const recs: DirectionRecord[] = [];
    for (let d = 0; d < D; d++) {
      const reverse = d === 1;
      const w = layerWeights(cfg, p, layer, reverse);
      const rec: DirectionRecord = {
        weights: w, h: make(T * N * H), c: c0 ? make(T * N * H) : null, gates: make(T * N * G * H), extra: make(T * N * H),
      };
      const sIdx = layer * D + d;
      for (let step = 0; step < T; step++) {
        const t = reverse ? T - 1 - step : step;
        for (let n = 0; n < N; n++) {
          if (t >= lengths[n]) continue;
          const v = stepViews(rec, h0, c0, sIdx, reverse, t, n, lengths[n], N, H, G);
          cell.forward(w, layerIn.subarray((t * N + n) * inSize, (t * N + n + 1) * inSize), v.hPrev, v.cPrev, v.hNext, v.cNext, v.record);
        }
      }
      // Final states at each sequence's own last step; outputs concatenated over directions.
      for (let n = 0; n < N; n++) {
        const last = reverse ? 0 : lengths[n] - 1;
        const stateAt = (sIdx * N + n) * H;
        hN.set(rec.h.subarray((last * N + n) * H, (last * N + n + 1) * H), stateAt);
        if (cN) cN.set(rec.c!.subarray((last * N + n) * H, (last * N + n + 1) * H), stateAt);
        for (let t = 0; t < lengths[n]; t++) {
          layerOut.set(rec.h.subarray((t * N + n) * H, (t * N + n + 1) * H), ((t * N + n) * D + d) * H);
        }
      }
      recs.push(rec);
    }
    records.push(recs);
    layerIn = layerOut;
  }

  const stateShape = shape.unbatched ? [cfg.numLayers * D, H] : [cfg.numLayers * D, N, H];
  const result: RnnForwardResult = {
    output: { dtype: cfg.dtype, shape: outputShape(cfg, shape, D * H), data: fromTimeMajor(cfg, shape, layerIn, D * H) },
    hN: { dtype: cfg.dtype, shape: stateShape, data: hN },
    ...(cN ? { cN: { dtype: cfg.dtype, shape: stateShape, data: cN } } : {}),
    ...(options.trace ? { trace: traceOf(cfg, records, T, N) } : {}),
    ...(options.forBackward ? { saved: { cfg, shape, lengths, layerInputs, dropoutMasks, records, h0, c0 } } : {}),
  };
  return result;
}

function outputShape(cfg: RnnConfig, shape: Shape, width: number): number[] {
  if (shape.unbatched) return [shape.T, width];
  return cfg.batchFirst ? [shape.N, shape.T, width] : [shape.T, shape.N, width];
}

function fromTimeMajor(cfg: RnnConfig, shape: Shape, data: FloatArray, width: number): FloatArray {
  return cfg.batchFirst && !shape.unbatched ? swapFirstAxes(data, shape.T, shape.N, width) : data;
}

function traceOf(cfg: RnnConfig, records: DirectionRecord[][], T: number, N: number): TensorMap {
  const H = cfg.hiddenSize, G = gateBlocks(cfg.module);
  const trace: TensorMap = new Map();
  const tensor = (data: FloatArray): FloatTensor => ({ dtype: cfg.dtype, shape: [T, N, H], data });
  records.forEach((recs, layer) => recs.forEach((rec, d) => {
    const s = suffix(layer, d === 1);
    trace.set(`trace${s}_h`, tensor(rec.h));
    if (rec.c) trace.set(`trace${s}_c`, tensor(rec.c));
    GATES[cfg.module].forEach((gate, g) => {
      const out = floatArray(cfg.dtype, T * N * H);
      for (let row = 0; row < T * N; row++) {
        out.set(rec.gates.subarray((row * G + g) * H, (row * G + g + 1) * H), row * H);
      }
      trace.set(`trace${s}_gate_${gate}`, tensor(out));
    });
  }));
  return trace;
}

function upstream(cfg: RnnConfig, t: Tensor | undefined, expected: readonly number[], name: string): FloatArray | null {
  if (!t) return null;
  if (!shapeEquals(t.shape, expected)) {
    throw new ConfigError(`${name} has shape ${formatShape(t.shape)}, expected ${formatShape(expected)}`);
  }
  return toFloat(t, cfg.dtype).data;
}

/** `parameters: false` skips the weight gradients (returned as zeros) when only dx / dh0 are wanted. */
export function rnnBackward(forward: RnnForwardResult, up: RnnUpstreamGrads, options: { parameters?: boolean } = {}): RnnGrads {
  const saved = forward.saved;
  if (!saved) throw new Error('rnnBackward needs a forward pass run with { forBackward: true }');
  const { cfg, shape, lengths, layerInputs, records } = saved;
  const { T, N } = shape;
  const H = cfg.hiddenSize, D = directions(cfg), G = gateBlocks(cfg.module);
  const make = (n: number): FloatArray => floatArray(cfg.dtype, n);
  const cell: RecurrentCell = createCell(cfg, make);
  const dOutArg = upstream(cfg, up.dOutput, forward.output.shape, 'dOutput');
  const dHN = upstream(cfg, up.dHN, forward.hN.shape, 'dHN');
  const dCN = forward.cN ? upstream(cfg, up.dCN, forward.cN.shape, 'dCN') : null;
  let dLayerOut = dOutArg ? (cfg.batchFirst && !shape.unbatched ? swapFirstAxes(dOutArg, N, T, D * H) : dOutArg) : make(T * N * D * H);
  const dh0 = make(saved.h0.length);
  const dc0 = saved.c0 ? make(saved.c0.length) : null;
  const grads: TensorMap = new Map();
  const gradArrays = new Map<string, FloatArray>();
  for (const spec of parameterSpecs(cfg)) {
    const data = make(spec.shape.reduce((a, b) => a * b, 1));
    gradArrays.set(spec.name, data);
    grads.set(spec.name, { dtype: cfg.dtype, shape: [...spec.shape], data });
  }
  const dhStep = make(H), dhPrev = make(H), dcPrev = make(H);

  for (let layer = cfg.numLayers - 1; layer >= 0; layer--) {
    const inSize = layer === 0 ? cfg.inputSize : H * D;
    const layerIn = layerInputs[layer];
    const dLayerIn = make(T * N * inSize);
    for (let d = 0; d < D; d++) {
      const reverse = d === 1;
      const rec = records[layer][d];
      const s = suffix(layer, reverse);
      const g: CellGrads | null = options.parameters === false ? null : {
        wIh: gradArrays.get(`weight_ih${s}`)!, wHh: gradArrays.get(`weight_hh${s}`)!,
        bIh: cfg.bias ? gradArrays.get(`bias_ih${s}`)! : null, bHh: cfg.bias ? gradArrays.get(`bias_hh${s}`)! : null,
      };
      const sIdx = layer * D + d;
      // Carried gradients on each sequence's state, starting from the final-state gradients.
      const dh = dHN ? dHN.slice(sIdx * N * H, (sIdx + 1) * N * H) : make(N * H);
      const dc = saved.c0 ? (dCN ? dCN.slice(sIdx * N * H, (sIdx + 1) * N * H) : make(N * H)) : null;
      for (let step = T - 1; step >= 0; step--) {
        const t = reverse ? T - 1 - step : step;
        for (let n = 0; n < N; n++) {
          if (t >= lengths[n]) continue;
          const v = stepViews(rec, saved.h0, saved.c0, sIdx, reverse, t, n, lengths[n], N, H, G);
          const outAt = ((t * N + n) * D + d) * H;
          for (let k = 0; k < H; k++) dhStep[k] = dh[n * H + k] + dLayerOut[outAt + k];
          cell.backward(rec.weights, g, layerIn.subarray((t * N + n) * inSize, (t * N + n + 1) * inSize), v.hPrev, v.cPrev,
            v.hNext, v.cNext, v.record, dhStep, dc ? dc.subarray(n * H, (n + 1) * H) : null,
            { dx: dLayerIn.subarray((t * N + n) * inSize, (t * N + n + 1) * inSize), dhPrev, dcPrev: dc ? dcPrev : null });
          dh.set(dhPrev, n * H);
          if (dc) dc.set(dcPrev, n * H);
        }
      }
      dh0.set(dh, sIdx * N * H);
      if (dc0 && dc) dc0.set(dc, sIdx * N * H);
    }
    const mask = saved.dropoutMasks[layer];
    if (mask) for (let i = 0; i < dLayerIn.length; i++) dLayerIn[i] *= mask[i];
    dLayerOut = dLayerIn;
  }
  const stateShape = forward.hN.shape;
  return {
    grads,
    dx: { dtype: cfg.dtype, shape: [...inputShape(cfg, shape)], data: fromTimeMajor(cfg, shape, dLayerOut, cfg.inputSize) },
    dh0: { dtype: cfg.dtype, shape: [...stateShape], data: dh0 },
    ...(dc0 ? { dc0: { dtype: cfg.dtype, shape: [...stateShape], data: dc0 } } : {}),
  };
}

function inputShape(cfg: RnnConfig, shape: Shape): number[] {
  return outputShape(cfg, shape, cfg.inputSize);
}
