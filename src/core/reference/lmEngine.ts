// The readable reference engine for every model (reference/model.ts): forward, cross-entropy, backward,
// clipping and a torch.optim step. Slow but plain; the fast engines are checked against it.
import type { Evaluation, LmBatch, LmEngine, LmStepResult, LmTrainOptions } from '../engine';
import { type ModelConfig, taskOf } from '../model';
import { initModelParameters } from '../init';
import { OptimizerSlot, applyClipping } from '../optim';
import { createRng } from '../random';
import { type FloatTensor, type TensorMap, floatArray, toFloat } from '../tensor';
import { logitsOf } from './head';
import { type ModelState, checkedModelParameters, finalState, modelBackward, modelForward, modelLoss } from './model';

export function createReferenceLmEngine(cfg: ModelConfig, params?: TensorMap, seed = 0): LmEngine {
  const dtype = cfg.rnn.dtype;
  let current = checkedModelParameters(cfg, params ?? initModelParameters(cfg, createRng(seed)));
  const optimizer = new OptimizerSlot();
  // Dropout masks (head Dropout, nn.LSTM(dropout=p)) come from a stream of their own.
  const dropoutRng = createRng(seed ^ 0xd809);
  const uniform = (): number => dropoutRng.uniform();
  let train: ModelState = {};
  let evalState: ModelState = {};
  const classify = taskOf(cfg) === 'classify';

  const evaluation = (loss: number, correct: number, counted: number): Evaluation =>
    (classify ? { loss, accuracy: counted ? correct / counted : 0 } : { loss });

  return {
    name: 'reference',
    config: cfg,
    dtype,
    trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult {
      const fwd = modelForward(cfg, current, batch, { state: options.stateful ? train : {}, forBackward: true, uniform });
      const dLogits = floatArray(dtype, logitsOf(fwd.head).length);
      const ce = modelLoss(cfg, fwd, dLogits);
      const grads = modelBackward(cfg, current, fwd, dLogits);
      const gradNorm = applyClipping(grads, options.clip);
      optimizer.for(options.optimizer).step(current, grads);
      // Truncated BPTT: the next window starts from this one's final state, detached.
      train = options.stateful ? finalState(fwd) : {};
      return { ...evaluation(ce.loss, ce.correct, ce.counted), gradNorm };
    },
    evaluate(batch: LmBatch, stateful: boolean): Evaluation {
      const fwd = modelForward(cfg, current, batch, { state: stateful ? evalState : {} });
      evalState = stateful ? finalState(fwd) : {};
      const ce = modelLoss(cfg, fwd);
      return evaluation(ce.loss, ce.correct, ce.counted);
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
      return new Map([...current].map(([k, t]): [string, FloatTensor] => [k, { ...t, data: t.data.slice() }]));
    },
    setParameters(p: TensorMap) {
      current = checkedModelParameters(cfg, p);
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
