// The whole model, readable: tokens → one-hot or nn.Embedding → rnnForward (packed lengths) → readout →
// head → cross-entropy, and back through each of them to every parameter. The fast engines and every
// inference path are checked against this.
import { IGNORE_INDEX, type LmBatch } from '../engine';
import { type ModelConfig, featureWidth, modelParameterShapes, taskOf } from '../model';
import { directions } from '../config';
import { type FloatArray, type FloatTensor, type TensorMap, floatArray, formatShape, shapeEquals, toFloat } from '../tensor';
import { type CrossEntropy, type HeadForward, headBackward, headForward, logitsOf, softmaxCrossEntropy, zeroGrads } from './head';
import { type RnnForwardResult, rnnBackward, rnnForward } from './rnn';

/** Carried recurrent state: h (and c for LSTM), each [L*D, B, H]. */
export interface ModelState {
  readonly h?: FloatTensor;
  readonly c?: FloatTensor;
}

export interface ModelForwardOptions {
  readonly state?: ModelState;
  readonly forBackward?: boolean;
  readonly trace?: boolean;
  /** Training mode: draws the dropout masks. Evaluation (no dropout) when absent. */
  readonly uniform?: () => number;
}

export interface ModelForward {
  readonly batch: LmBatch;
  readonly lengths: readonly number[];
  readonly rnn: RnnForwardResult;
  /** per_step: [T*B, D*H] time-major rows; otherwise [B, D*H]. */
  readonly features: FloatArray;
  readonly head: HeadForward;
  /** max readout: the step each feature came from, [B, D*H]. */
  readonly argmax?: Int32Array;
}

/** Parameters as float arrays of the model's dtype, checked against the expected names and shapes. */
export function checkedModelParameters(cfg: ModelConfig, params: TensorMap): Map<string, FloatTensor> {
  const out = new Map<string, FloatTensor>();
  for (const [name, shape] of modelParameterShapes(cfg)) {
    const t = params.get(name);
    if (!t) throw new RangeError(`missing parameter ${name} ${formatShape(shape)}`);
    if (!shapeEquals(t.shape, shape)) throw new RangeError(`parameter ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
    const f = toFloat(t, cfg.rnn.dtype);
    out.set(name, { dtype: cfg.rnn.dtype, shape: [...f.shape], data: f.data === t.data ? f.data.slice() : f.data });
  }
  return out;
}

export function batchLengths(batch: LmBatch): number[] {
  const { batchSize: B, seqLen: T } = batch;
  if (!batch.lengths) return new Array<number>(B).fill(T);
  if (batch.lengths.length !== B) throw new RangeError(`lengths has ${batch.lengths.length} entries for a batch of ${B}`);
  return Array.from(batch.lengths, (len, b) => {
    if (!(Number.isInteger(len) && len >= 1 && len <= T)) throw new RangeError(`lengths[${b}] = ${len} is outside 1..${T}`);
    return len;
  });
}

/** Time-major [T, B, in] rnn input: one-hot rows, or embedding rows. Padded positions stay zero. */
export function encodeInputs(cfg: ModelConfig, params: ReadonlyMap<string, FloatTensor>, batch: LmBatch, lengths: readonly number[]): FloatTensor {
  const { batchSize: B, seqLen: T } = batch;
  const I = cfg.rnn.inputSize, V = cfg.vocabSize;
  const data = floatArray(cfg.rnn.dtype, T * B * I);
  const table = cfg.embedding ? params.get('embedding.weight')!.data : null;
  for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) {
    const id = batch.inputs[b * T + t];
    if (!(id >= 0 && id < V)) throw new RangeError(`token id ${id} outside the vocabulary of ${V}`);
    const row = (t * B + b) * I;
    if (table) data.set(table.subarray(id * I, (id + 1) * I), row);
    else data[row + id] = 1;
  }
  return { dtype: cfg.rnn.dtype, shape: [T, B, I], data };
}

export function modelForward(cfg: ModelConfig, params: ReadonlyMap<string, FloatTensor>, batch: LmBatch,
  options: ModelForwardOptions = {}): ModelForward {
  const lengths = batchLengths(batch);
  const rnnCfg = { ...cfg.rnn, batchFirst: false };
  const rnnParams: TensorMap = new Map();
  for (const [name, t] of params) if (name.startsWith('rnn.')) rnnParams.set(name.slice(4), t);
  const { uniform } = options;
  const rnn = rnnForward(rnnCfg, rnnParams, {
    x: encodeInputs(cfg, params, batch, lengths), h0: options.state?.h, c0: options.state?.c, lengths,
  }, {
    trace: options.trace, forBackward: options.forBackward,
    ...(uniform && cfg.rnnDropout > 0 ? { dropout: { p: cfg.rnnDropout, uniform } } : {}),
  });
  const { features, argmax } = readout(cfg, rnn, batch.batchSize, batch.seqLen, lengths);
  const rows = taskOf(cfg) === 'lm' ? batch.batchSize * batch.seqLen : batch.batchSize;
  const head = headForward(cfg, (name) => params.get(name)!.data, features, rows, uniform);
  return { batch, lengths, rnn, features, head, ...(argmax ? { argmax } : {}) };
}

function readout(cfg: ModelConfig, rnn: RnnForwardResult, B: number, T: number, lengths: readonly number[]): { features: FloatArray; argmax?: Int32Array } {
  const W = featureWidth(cfg), H = cfg.rnn.hiddenSize, D = directions(cfg.rnn), L = cfg.rnn.numLayers;
  const out = rnn.output.data; // time-major [T, B, W], zero at padding
  const features = floatArray(cfg.rnn.dtype, cfg.readout === 'per_step' ? T * B * W : B * W);
  switch (cfg.readout) {
    case 'per_step':
      features.set(out);
      return { features };
    case 'last':
      // h_n[-1] (bidirectional: cat(h_n[-2], h_n[-1])): the last layer's state after each sequence's own end.
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) {
        const at = (((L - 1) * D + d) * B + b) * H;
        features.set(rnn.hN.data.subarray(at, at + H), b * W + d * H);
      }
      return { features };
    case 'mean':
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < lengths[b]; t++) for (let j = 0; j < W; j++) features[b * W + j] += out[(t * B + b) * W + j];
        for (let j = 0; j < W; j++) features[b * W + j] /= lengths[b];
      }
      return { features };
    case 'max': {
      const argmax = new Int32Array(B * W);
      for (let b = 0; b < B; b++) for (let j = 0; j < W; j++) {
        let best = -Infinity, at = 0;
        for (let t = 0; t < lengths[b]; t++) {
          const v = out[(t * B + b) * W + j];
          if (v > best) { best = v; at = t; }
        }
        features[b * W + j] = best;
        argmax[b * W + j] = at;
      }
      return { features, argmax };
    }
  }
}

/** Loss targets in the logits' row order: time-major for a language model, ignored past each sequence's end. */
export function lossTargets(cfg: ModelConfig, batch: LmBatch, lengths: readonly number[]): Int32Array {
  const { batchSize: B, seqLen: T } = batch;
  if (taskOf(cfg) === 'classify') {
    if (batch.targets.length !== B) throw new RangeError(`a classifier batch needs ${B} labels, got ${batch.targets.length}`);
    return batch.targets;
  }
  if (batch.targets.length !== B * T) throw new RangeError(`a language-model batch needs ${B * T} targets, got ${batch.targets.length}`);
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[t * B + b] = t < lengths[b] ? batch.targets[b * T + t] : IGNORE_INDEX;
  return out;
}

export function modelLoss(cfg: ModelConfig, fwd: ModelForward, dLogits?: FloatArray): CrossEntropy {
  return softmaxCrossEntropy(logitsOf(fwd.head), lossTargets(cfg, fwd.batch, fwd.lengths), fwd.head.rows, cfg.outputSize, dLogits);
}

/** Gradients of every parameter (state_dict names) for ∂loss/∂logits. */
export function modelBackward(cfg: ModelConfig, params: ReadonlyMap<string, FloatTensor>, fwd: ModelForward, dLogits: FloatArray): Map<string, FloatTensor> {
  return modelGradients(cfg, params, fwd, dLogits).params;
}

export interface ModelGradients {
  readonly params: Map<string, FloatTensor>;
  /** ∂loss/∂(rnn input): [T, B, input_size] time-major — the embedding vectors' or the one-hot rows' gradient. */
  readonly inputs: FloatArray;
}

/** `parameters: false`: only the input gradients are wanted (the recurrent weights' are left zero). */
export function modelGradients(cfg: ModelConfig, params: ReadonlyMap<string, FloatTensor>, fwd: ModelForward, dLogits: FloatArray,
  options: { parameters?: boolean } = {}): ModelGradients {
  const dtype = cfg.rnn.dtype;
  const grads = zeroGrads(modelParameterShapes(cfg), dtype);
  const dFeatures = headBackward(cfg, (n) => params.get(n)!.data, (n) => grads.get(n)!.data, fwd.head, dLogits);
  const { batchSize: B, seqLen: T } = fwd.batch;
  const W = featureWidth(cfg), H = cfg.rnn.hiddenSize, D = directions(cfg.rnn), L = cfg.rnn.numLayers;
  let dOutput: FloatArray | undefined;
  let dHN: FloatArray | undefined;
  switch (cfg.readout) {
    case 'per_step': dOutput = dFeatures; break;
    case 'last':
      dHN = floatArray(dtype, fwd.rnn.hN.data.length);
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) {
        dHN.set(dFeatures.subarray(b * W + d * H, b * W + (d + 1) * H), (((L - 1) * D + d) * B + b) * H);
      }
      break;
    case 'mean':
      dOutput = floatArray(dtype, T * B * W);
      for (let b = 0; b < B; b++) for (let t = 0; t < fwd.lengths[b]; t++) {
        for (let j = 0; j < W; j++) dOutput[(t * B + b) * W + j] = dFeatures[b * W + j] / fwd.lengths[b];
      }
      break;
    case 'max':
      dOutput = floatArray(dtype, T * B * W);
      for (let b = 0; b < B; b++) for (let j = 0; j < W; j++) dOutput[(fwd.argmax![b * W + j] * B + b) * W + j] = dFeatures[b * W + j];
      break;
  }
  const rg = rnnBackward(fwd.rnn, {
    ...(dOutput ? { dOutput: { dtype, shape: fwd.rnn.output.shape, data: dOutput } } : {}),
    ...(dHN ? { dHN: { dtype, shape: fwd.rnn.hN.shape, data: dHN } } : {}),
  }, options);
  for (const [name, g] of rg.grads) grads.get(`rnn.${name}`)!.data.set(g.data as FloatArray);
  if (cfg.embedding) {
    // nn.Embedding: each position's input gradient lands on its token's row; padding_idx's row gets none.
    const E = cfg.embedding.embeddingDim, pad = cfg.embedding.paddingIdx;
    const dTable = grads.get('embedding.weight')!.data, dx = rg.dx.data;
    for (let b = 0; b < B; b++) for (let t = 0; t < fwd.lengths[b]; t++) {
      const id = fwd.batch.inputs[b * T + t];
      if (id === pad) continue;
      const src = (t * B + b) * E;
      for (let k = 0; k < E; k++) dTable[id * E + k] += dx[src + k];
    }
  }
  return { params: grads, inputs: rg.dx.data };
}

/** The final state to carry into the next window (stateful truncated BPTT). */
export function finalState(fwd: ModelForward): ModelState {
  return fwd.rnn.cN ? { h: fwd.rnn.hN, c: fwd.rnn.cN } : { h: fwd.rnn.hN };
}
