// The head (nn.Linear, or nn.Sequential of Linear / ReLU / Tanh / Dropout) and softmax cross-entropy,
// forward and backward, on rows of features.
import { IGNORE_INDEX } from '../engine';
import { type HeadLayer, type ModelConfig, headParamName } from '../model';
import { type FloatArray, type FloatTensor, floatArray } from '../tensor';

export interface HeadForward {
  readonly rows: number;
  /** The input of every layer, then the logits: activations[i] is layer i's input. */
  readonly activations: FloatArray[];
  /** Dropout masks (0 or 1/(1-p)) by layer index, training only. */
  readonly masks: Map<number, FloatArray>;
}

export const logitsOf = (f: HeadForward): FloatArray => f.activations[f.activations.length - 1];

type ParamLookup = (name: string) => FloatArray;

function widthAfter(layer: HeadLayer, width: number): number {
  return layer.type === 'Linear' ? layer.outFeatures : width;
}

/** head(features) for `rows` rows; `uniform` draws Dropout masks (training), absent in evaluation. */
export function headForward(cfg: ModelConfig, param: ParamLookup, features: FloatArray, rows: number, uniform?: () => number): HeadForward {
  const dtype = features instanceof Float64Array ? 'float64' : 'float32';
  const activations: FloatArray[] = [features];
  const masks = new Map<number, FloatArray>();
  let x = features;
  let width = features.length / Math.max(rows, 1);
  cfg.head.forEach((layer, i) => {
    const out = floatArray(dtype, rows * widthAfter(layer, width));
    switch (layer.type) {
      case 'Linear': {
        const W = param(headParamName(cfg, i, 'weight'));
        const b = layer.bias ? param(headParamName(cfg, i, 'bias')) : null;
        const I = layer.inFeatures, O = layer.outFeatures;
        for (let r = 0; r < rows; r++) {
          for (let o = 0; o < O; o++) {
            let s = b ? b[o] : 0;
            for (let k = 0; k < I; k++) s += W[o * I + k] * x[r * I + k];
            out[r * O + o] = s;
          }
        }
        break;
      }
      case 'ReLU': for (let k = 0; k < out.length; k++) out[k] = x[k] > 0 ? x[k] : 0; break;
      case 'Tanh': for (let k = 0; k < out.length; k++) out[k] = Math.tanh(x[k]); break;
      case 'Dropout':
        if (uniform && layer.p > 0) {
          const mask = floatArray(dtype, out.length);
          for (let k = 0; k < out.length; k++) {
            mask[k] = uniform() < layer.p ? 0 : 1 / (1 - layer.p);
            out[k] = x[k] * mask[k];
          }
          masks.set(i, mask);
        } else out.set(x);
        break;
    }
    width = widthAfter(layer, width);
    activations.push(out);
    x = out;
  });
  return { rows, activations, masks };
}

/** Accumulates the head's parameter gradients into `grad(name)` and returns ∂loss/∂features. */
export function headBackward(cfg: ModelConfig, param: ParamLookup, grad: ParamLookup, f: HeadForward, dLogits: FloatArray): FloatArray {
  let dOut = dLogits;
  for (let i = cfg.head.length - 1; i >= 0; i--) {
    const layer = cfg.head[i];
    const x = f.activations[i], y = f.activations[i + 1];
    const dIn = floatArray(x instanceof Float64Array ? 'float64' : 'float32', x.length);
    switch (layer.type) {
      case 'Linear': {
        const W = param(headParamName(cfg, i, 'weight')), dW = grad(headParamName(cfg, i, 'weight'));
        const dB = layer.bias ? grad(headParamName(cfg, i, 'bias')) : null;
        const I = layer.inFeatures, O = layer.outFeatures;
        for (let r = 0; r < f.rows; r++) {
          for (let o = 0; o < O; o++) {
            const d = dOut[r * O + o];
            if (d === 0) continue;
            if (dB) dB[o] += d;
            for (let k = 0; k < I; k++) {
              dW[o * I + k] += d * x[r * I + k];
              dIn[r * I + k] += d * W[o * I + k];
            }
          }
        }
        break;
      }
      case 'ReLU': for (let k = 0; k < dIn.length; k++) dIn[k] = x[k] > 0 ? dOut[k] : 0; break;
      case 'Tanh': for (let k = 0; k < dIn.length; k++) dIn[k] = dOut[k] * (1 - y[k] * y[k]); break;
      case 'Dropout': {
        const mask = f.masks.get(i);
        for (let k = 0; k < dIn.length; k++) dIn[k] = mask ? dOut[k] * mask[k] : dOut[k];
        break;
      }
    }
    dOut = dIn;
  }
  return dOut;
}

export interface CrossEntropy {
  /** Mean over the rows whose target is not IGNORE_INDEX (0 when there are none). */
  readonly loss: number;
  readonly counted: number;
  /** Rows whose arg-max is the target. */
  readonly correct: number;
}

/**
 * F.cross_entropy(logits, targets, ignore_index=-100), mean reduction; when dLogits is given, writes
 * ∂loss/∂logits = (softmax − onehot) / counted into it (0 on ignored rows).
 */
export function softmaxCrossEntropy(logits: FloatArray, targets: ArrayLike<number>, rows: number, classes: number,
  dLogits?: FloatArray): CrossEntropy {
  let counted = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === IGNORE_INDEX) continue;
    if (!(Number.isInteger(t) && t >= 0 && t < classes)) throw new RangeError(`target ${t} outside 0..${classes - 1}`);
    counted++;
  }
  let total = 0, correct = 0;
  if (dLogits) dLogits.fill(0);
  for (let r = 0; r < rows; r++) {
    const target = targets[r];
    if (target === IGNORE_INDEX) continue;
    const base = r * classes;
    let max = -Infinity, arg = 0;
    for (let k = 0; k < classes; k++) if (logits[base + k] > max) { max = logits[base + k]; arg = k; }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[base + k] - max);
    const logSum = Math.log(sum) + max;
    total += logSum - logits[base + target];
    if (arg === target) correct++;
    if (dLogits) {
      for (let k = 0; k < classes; k++) dLogits[base + k] = Math.exp(logits[base + k] - logSum) / counted;
      dLogits[base + target] -= 1 / counted;
    }
  }
  return { loss: counted ? total / counted : 0, counted, correct };
}

export function zeroGrads(shapes: ReadonlyMap<string, readonly number[]>, dtype: FloatTensor['dtype']): Map<string, FloatTensor> {
  const grads = new Map<string, FloatTensor>();
  for (const [name, shape] of shapes) grads.set(name, { dtype, shape: [...shape], data: floatArray(dtype, shape.reduce((a, b) => a * b, 1)) });
  return grads;
}
