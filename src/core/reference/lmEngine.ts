// The readable reference engine: one-hot tokens → rnnForward → Linear head → cross-entropy, BPTT through
// rnnBackward, clipping and a torch.optim step. Slow but plain; the fast engines are checked against it.
import { directions } from '../config';
import type { LmBatch, LmConfig, LmEngine, LmStepResult, LmTrainOptions } from '../engine';
import { initLmParameters } from '../init';
import { OptimizerSlot, applyClipping } from '../optim';
import { createRng } from '../random';
import { type FloatArray, type FloatTensor, type TensorMap, floatArray, formatShape, shapeEquals, toFloat } from '../tensor';
import { type HeadParams, linearBackward, linearForward, softmaxCrossEntropy } from './head';
import { type RnnForwardResult, rnnBackward, rnnForward } from './rnn';

interface CarriedState {
  h?: FloatTensor;
  c?: FloatTensor;
}

export function createReferenceLmEngine(cfg: LmConfig, params?: TensorMap, seed = 0): LmEngine {
  const rnnCfg = { ...cfg.rnn, batchFirst: false };
  if (rnnCfg.inputSize !== cfg.vocabSize) {
    throw new RangeError(`rnn.inputSize ${rnnCfg.inputSize} must equal vocabSize ${cfg.vocabSize} (one-hot input)`);
  }
  const dtype = rnnCfg.dtype;
  const width = rnnCfg.hiddenSize * directions(rnnCfg);
  let current = adopt(params ?? initLmParameters(cfg, createRng(seed)));
  const optimizer = new OptimizerSlot();
  let train: CarriedState = {};
  let evalState: CarriedState = {};

  function adopt(p: TensorMap): Map<string, FloatTensor> {
    const expected = initLmParameters(cfg, createRng(0));
    const out = new Map<string, FloatTensor>();
    for (const [name, e] of expected) {
      const t = p.get(name);
      if (!t) throw new RangeError(`missing parameter ${name} ${formatShape(e.shape)}`);
      if (!shapeEquals(t.shape, e.shape)) throw new RangeError(`parameter ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(e.shape)}`);
      const f = toFloat(t, dtype);
      out.set(name, { dtype, shape: [...f.shape], data: f.data.slice() });
    }
    return out;
  }

  const rnnParams = (): TensorMap => {
    const m: TensorMap = new Map();
    for (const [name, t] of current) if (name.startsWith('rnn.')) m.set(name.slice(4), t);
    return m;
  };
  const head = (): HeadParams => ({
    weight: current.get('head.weight')!.data, bias: current.get('head.bias')!.data, inputs: width, outputs: cfg.outputSize,
  });

  /** One-hot time-major input [T, B, V] from row-major [B, T] ids. */
  function oneHot(batch: LmBatch): FloatTensor {
    const { batchSize: B, seqLen: T } = batch;
    const data = floatArray(dtype, T * B * cfg.vocabSize);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      const id = batch.inputs[b * T + t];
      if (!(id >= 0 && id < cfg.vocabSize)) throw new RangeError(`token id ${id} outside the vocabulary of ${cfg.vocabSize}`);
      data[(t * B + b) * cfg.vocabSize + id] = 1;
    }
    return { dtype, shape: [T, B, cfg.vocabSize], data };
  }

  /** Targets in the same time-major row order as the RNN output. */
  function timeMajorTargets(batch: LmBatch): Int32Array {
    const { batchSize: B, seqLen: T } = batch;
    const out = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[t * B + b] = batch.targets[b * T + t];
    return out;
  }

  function forward(batch: LmBatch, state: CarriedState, forBackward: boolean): { fwd: RnnForwardResult; logits: FloatArray; rows: number } {
    const fwd = rnnForward(rnnCfg, rnnParams(), { x: oneHot(batch), h0: state.h, c0: state.c }, { forBackward });
    const rows = batch.batchSize * batch.seqLen;
    const logits = floatArray(dtype, rows * cfg.outputSize);
    linearForward(head(), fwd.output.data, rows, logits);
    return { fwd, logits, rows };
  }


  return {
    name: 'reference',
    config: cfg,
    dtype,
    trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult {
      const { fwd, logits, rows } = forward(batch, options.stateful ? train : {}, true);
      const dLogits = floatArray(dtype, logits.length);
      const loss = softmaxCrossEntropy(logits, timeMajorTargets(batch), rows, cfg.outputSize, dLogits);
      const grads = new Map<string, FloatTensor>();
      const dHeadW = floatArray(dtype, cfg.outputSize * width), dHeadB = floatArray(dtype, cfg.outputSize);
      const dFeatures = floatArray(dtype, rows * width);
      linearBackward(head(), fwd.output.data, dLogits, rows, dHeadW, dHeadB, dFeatures);
      const g = rnnBackward(fwd, { dOutput: { dtype, shape: fwd.output.shape, data: dFeatures } });
      for (const [name, t] of g.grads) grads.set(`rnn.${name}`, t as FloatTensor);
      grads.set('head.weight', { dtype, shape: [cfg.outputSize, width], data: dHeadW });
      grads.set('head.bias', { dtype, shape: [cfg.outputSize], data: dHeadB });
      const gradNorm = applyClipping(grads, options.clip);
      optimizer.for(options.optimizer).step(current, grads);
      // Truncated BPTT: the next window starts from this one's final state, detached.
      train = options.stateful ? { h: fwd.hN, c: fwd.cN } : {};
      return { loss, gradNorm };
    },
    evaluate(batch: LmBatch, stateful: boolean): number {
      const { fwd, logits, rows } = forward(batch, stateful ? evalState : {}, false);
      evalState = stateful ? { h: fwd.hN, c: fwd.cN } : {};
      return softmaxCrossEntropy(logits, timeMajorTargets(batch), rows, cfg.outputSize);
    },
    resetState() {
      train = {};
      evalState = {};
    },
    getCarriedState(): TensorMap {
      const m: TensorMap = new Map();
      if (train.h) m.set('h', { ...train.h, data: train.h.data.slice() });
      if (train.c) m.set('c', { ...train.c, data: train.c.data.slice() });
      return m;
    },
    setCarriedState(state: TensorMap) {
      const h = state.get('h'), c = state.get('c');
      train = { ...(h ? { h: toFloat(h, dtype) } : {}), ...(c ? { c: toFloat(c, dtype) } : {}) };
    },
    resetEvaluationState() {
      evalState = {};
    },
    getParameters(): TensorMap {
      return new Map([...current].map(([k, t]) => [k, { ...t, data: t.data.slice() }]));
    },
    setParameters(p: TensorMap) {
      current = adopt(p);
    },
    getOptimizerState(): TensorMap {
      return optimizer.state();
    },
    setOptimizerState(state: TensorMap) {
      optimizer.load(state);
    },
    dispose() {
      optimizer.clear();
      train = {};
      evalState = {};
    },
  };
}
