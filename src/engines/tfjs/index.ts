// A second, library implementation: TensorFlow.js' own LSTM / SimpleRNN / GRU layers (Keras semantics,
// recurrentActivation set explicitly) compute the forward pass and its gradients; the canonical
// PyTorch parameters stay in JS and are converted to Keras layout each step. Gradients come back to
// canonical layout, and clipping and the optimizer step are the core's PyTorch-exact ones, so any
// difference against the reference engine is the library's arithmetic (float32 only).
// tfjs has no reset_after GRU: PyTorch GRUs (gruReset 'after') are refused; bidirectional too.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GATES, type RnnConfig } from '../../core/config';
import type { Evaluation, LmBatch, LmEngine, LmStepResult, LmTrainOptions } from '../../core/engine';
import type { ModelConfig } from '../../core/model';
import { initModelParameters } from '../../core/init';
import { OptimizerSlot, applyClipping } from '../../core/optim';
import { createRng } from '../../core/random';
import { type FloatTensor, type TensorMap, formatShape, shapeEquals, toFloat } from '../../core/tensor';
import { KERAS_GATES, canonicalCellToKeras } from '../../core/layouts/keras';
import { gateOrder, permuteRowBlocks, transpose2d } from '../../core/layouts/blocks';

export class TfjsUnsupportedError extends Error {}

/** Why the tfjs engine cannot run cfg, or undefined when it can. */
export function tfjsUnsupportedReason(cfg: ModelConfig): string | undefined {
  const r = cfg.rnn;
  if (r.bidirectional) return 'bidirectional models (not wired up for tfjs)';
  if (cfg.embedding || cfg.readout !== 'per_step' || cfg.headSequential || cfg.rnnDropout > 0) {
    return 'models other than one-hot → rnn → Linear language models';
  }
  if (r.module === 'GRU' && r.gruReset === 'after') return 'PyTorch GRUs: tfjs GRU has no reset_after=true';
  if (r.dtype !== 'float32') return 'float64 (TensorFlow.js computes in float32)';
  return undefined;
}

let backendReady: Promise<string> | undefined;

/**
 * Prefer the WASM backend (SIMD) when it loads; the pure-JS cpu backend otherwise. Await it before the
 * first engine; later calls get the first call's backend. Its .wasm files are looked up in wasmDir, else
 * next to this file when they are there (the build copies them next to dist/tfjs-engine.js).
 */
export function initTfjsBackend(wasmDir?: string): Promise<string> {
  backendReady ??= selectBackend(wasmDir ?? (existsSync(join(__dirname, 'tfjs-backend-wasm.wasm')) ? __dirname : undefined));
  return backendReady;
}

async function selectBackend(wasmDir: string | undefined): Promise<string> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (wasmDir) wasm.setWasmPaths(wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`);
    if (await tf.setBackend('wasm')) return 'wasm';
  } catch {
    // fall through to cpu
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

type Layer = ReturnType<typeof tf.layers.lstm>;

export function createTfjsLmEngine(cfg: ModelConfig, params?: TensorMap): LmEngine {
  const why = tfjsUnsupportedReason(cfg);
  if (why) throw new TfjsUnsupportedError(`the tfjs engine does not support ${why}`);
  const rnnCfg: RnnConfig = { ...cfg.rnn, batchFirst: false };
  const H = rnnCfg.hiddenSize;
  const V = cfg.vocabSize;
  const O = cfg.outputSize;
  if (rnnCfg.inputSize !== V) throw new RangeError(`rnn.inputSize ${rnnCfg.inputSize} must equal vocabSize ${V} (one-hot input)`);
  const order = rnnCfg.module === 'RNN' ? [0] : gateOrder(GATES[rnnCfg.module], KERAS_GATES[rnnCfg.module]);
  const layers: Layer[] = [];
  for (let l = 0; l < rnnCfg.numLayers; l++) {
    const common = { units: H, returnSequences: true, returnState: true, useBias: rnnCfg.bias };
    if (rnnCfg.module === 'LSTM') layers.push(tf.layers.lstm({ ...common, recurrentActivation: keras(rnnCfg.recurrentActivation) }));
    else if (rnnCfg.module === 'GRU') layers.push(tf.layers.gru({ ...common, recurrentActivation: keras(rnnCfg.recurrentActivation) }) as unknown as Layer);
    else layers.push(tf.layers.simpleRNN({ ...common, activation: rnnCfg.nonlinearity === 'relu' ? 'relu' : 'tanh' }) as unknown as Layer);
  }
  // Build each layer once so its variables exist.
  tf.tidy(() => {
    let x: tf.Tensor = tf.zeros([1, 1, V]);
    for (const layer of layers) x = (layer.apply(x) as tf.Tensor[])[0];
  });
  const headW = tf.variable(tf.zeros([O, H]), true, 'gatescope_head_weight');
  const headB = tf.variable(tf.zeros([O]), true, 'gatescope_head_bias');
  let current = adopt(params ?? initModelParameters(cfg, createRng(0)));
  const optimizer = new OptimizerSlot();
  let trainState: tf.Tensor[][] | undefined;
  let evalState: tf.Tensor[][] | undefined;

  function adopt(p: TensorMap): Map<string, FloatTensor> {
    const expected = initModelParameters(cfg, createRng(0));
    const out = new Map<string, FloatTensor>();
    for (const [name, e] of expected) {
      const t = p.get(name);
      if (!t) throw new RangeError(`missing parameter ${name} ${formatShape(e.shape)}`);
      if (!shapeEquals(t.shape, e.shape)) throw new RangeError(`parameter ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(e.shape)}`);
      const f = toFloat(t, 'float32');
      out.set(name, { dtype: 'float32', shape: [...f.shape], data: f.data.slice() });
    }
    return out;
  }

  /** Canonical → the layers' Keras variables (one bias = b_ih + b_hh) and the head. */
  function upload(): void {
    const rnn: TensorMap = new Map();
    for (const [k, t] of current) if (k.startsWith('rnn.')) rnn.set(k.slice(4), t);
    for (let l = 0; l < layers.length; l++) {
      const merged = new Map(rnn);
      if (rnnCfg.bias) {
        const bi = rnn.get(`bias_ih_l${l}`)!.data as Float32Array;
        const bh = rnn.get(`bias_hh_l${l}`)!.data as Float32Array;
        merged.set(`bias_ih_l${l}`, { dtype: 'float32', shape: [bi.length], data: bi.map((v, i) => v + bh[i]) });
        merged.set(`bias_hh_l${l}`, { dtype: 'float32', shape: [bi.length], data: new Float32Array(bi.length) });
      }
      const w = canonicalCellToKeras(rnnCfg, merged, l, false);
      const vars = layers[l].trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
      vars[0].assign(tf.tensor(w.kernel.data, [...w.kernel.shape], 'float32'));
      vars[1].assign(tf.tensor(w.recurrentKernel.data, [...w.recurrentKernel.shape], 'float32'));
      if (w.bias) vars[2].assign(tf.tensor(w.bias.data, [...w.bias.shape], 'float32'));
    }
    headW.assign(tf.tensor(current.get('head.weight')!.data, [O, H], 'float32'));
    headB.assign(tf.tensor(current.get('head.bias')!.data, [O], 'float32'));
  }

  function inputs(batch: LmBatch): { x: tf.Tensor; targets: tf.Tensor } {
    for (const id of batch.inputs) if (!(id >= 0 && id < V)) throw new RangeError(`token id ${id} outside the vocabulary of ${V}`);
    const x = tf.oneHot(tf.tensor2d(batch.inputs, [batch.batchSize, batch.seqLen], 'int32'), V).toFloat();
    const targets = tf.oneHot(tf.tensor2d(batch.targets, [batch.batchSize, batch.seqLen], 'int32'), O).toFloat();
    return { x, targets };
  }

  /** Mean cross-entropy and the final states of every layer. */
  function forward(batch: LmBatch, state: tf.Tensor[][] | undefined): { loss: tf.Scalar; states: tf.Tensor[][] } {
    const { x, targets } = inputs(batch);
    let h: tf.Tensor = x;
    const states: tf.Tensor[][] = [];
    layers.forEach((layer, l) => {
      const init = state?.[l];
      const out = (init ? layer.apply(h, { initialState: init }) : layer.apply(h)) as tf.Tensor[];
      h = out[0];
      states.push(out.slice(1));
    });
    const logits = tf.add(tf.matMul(tf.reshape(h, [-1, H]), headW, false, true), headB);
    const logp = tf.logSoftmax(logits);
    const loss = tf.div(tf.neg(tf.sum(tf.mul(tf.reshape(targets, [-1, O]), logp))), batch.batchSize * batch.seqLen) as tf.Scalar;
    return { loss, states };
  }

  function keep(states: tf.Tensor[][]): tf.Tensor[][] {
    return states.map((s) => s.map((t) => tf.keep(t.clone())));
  }
  function drop(states: tf.Tensor[][] | undefined): void {
    states?.forEach((s) => s.forEach((t) => t.dispose()));
  }


  const f32 = (shape: number[], data: Float32Array): FloatTensor => ({ dtype: 'float32', shape, data });

  return {
    name: 'tfjs',
    config: cfg,
    dtype: 'float32',
    trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult {
      upload();
      const vars = [...layers.flatMap((layer) => layer.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val)), headW, headB];
      let newState: tf.Tensor[][] = [];
      const { value, grads } = tf.variableGrads(() => {
        const r = forward(batch, options.stateful ? trainState : undefined);
        newState = keep(r.states);
        return r.loss;
      }, vars);
      const loss = value.dataSync()[0];
      const g = new Map<string, FloatTensor>();
      layers.forEach((layer, l) => {
        const [k, rk, b] = layer.trainableWeights.map((v) => grads[(v as unknown as { val: tf.Variable }).val.name]);
        const toCanon = (t: tf.Tensor): FloatTensor => permuteRowBlocks(transpose2d(f32(t.shape, t.dataSync() as Float32Array)), order);
        g.set(`rnn.weight_ih_l${l}`, toCanon(k));
        g.set(`rnn.weight_hh_l${l}`, toCanon(rk));
        if (b) {
          const gb = permuteRowBlocks(f32(b.shape, b.dataSync() as Float32Array), order);
          g.set(`rnn.bias_ih_l${l}`, gb);
          g.set(`rnn.bias_hh_l${l}`, { ...gb, data: gb.data.slice() });
        }
      });
      g.set('head.weight', f32([O, H], grads[headW.name].dataSync() as Float32Array));
      g.set('head.bias', f32([O], grads[headB.name].dataSync() as Float32Array));
      value.dispose();
      Object.values(grads).forEach((t) => t.dispose());
      // Same order as the reference: names as in getParameters.
      const ordered = new Map([...current.keys()].map((k) => [k, g.get(k)!]));
      const gradNorm = applyClipping(ordered, options.clip);
      optimizer.for(options.optimizer).step(current, ordered);
      drop(trainState);
      if (options.stateful) trainState = newState;
      else { drop(newState); trainState = undefined; }
      return { loss, gradNorm };
    },
    evaluate(batch: LmBatch, stateful: boolean): Evaluation {
      upload();
      let states: tf.Tensor[][] = [];
      const loss = tf.tidy(() => {
        const r = forward(batch, stateful ? evalState : undefined);
        states = keep(r.states);
        return r.loss.dataSync()[0];
      });
      drop(evalState);
      if (stateful) evalState = states;
      else { drop(states); evalState = undefined; }
      return { loss };
    },
    resetState() {
      drop(trainState);
      drop(evalState);
      trainState = evalState = undefined;
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
      drop(trainState);
      drop(evalState);
      layers.forEach((l) => l.dispose());
      headW.dispose();
      headB.dispose();
    },
  };
}

function keras(a: RnnConfig['recurrentActivation']): 'sigmoid' | 'hardSigmoid' {
  return a === 'hard_sigmoid' ? 'hardSigmoid' : 'sigmoid';
}
