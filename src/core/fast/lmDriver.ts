// The fast LM engine: one-hot tokens -> unidirectional LSTM/GRU/RNN stack -> Linear head -> softmax
// cross-entropy, with BPTT and torch.optim's update rules. Layer by layer over the whole window, so
// input projections and weight gradients become single large GEMMs and only h·W_hh^T stays per step.
// All numbers live in the kernels' heap (see kernels.ts); this file only plans buffers and sequences calls.
import { type RnnConfig, gateBlocks, parameterSpecs } from '../config';
import type { Evaluation, LmBatch, LmEngine, LmStepResult, LmTrainOptions, OptimizerConfig } from '../engine';
import type { ModelConfig } from '../model';
import { initModelParameters } from '../init';
import { type Optimizer, applyClipping, createOptimizer } from '../optim';
import { createRng } from '../random';
import { type FloatArray, type FloatTensor, type TensorMap, floatArray, formatShape, numel, shapeEquals, toFloat } from '../tensor';
import type { FastKernels } from './kernels';

/** Why a config cannot run on the fast driver, or undefined when it can. */
export function fastUnsupportedReason(cfg: ModelConfig): string | undefined {
  if (cfg.embedding) return 'embedding inputs';
  if (cfg.readout !== 'per_step') return `the ${cfg.readout} readout`;
  if (cfg.headSequential) return 'a Sequential head';
  if (cfg.rnnDropout > 0) return 'dropout between layers';
  if (cfg.rnn.bidirectional) return 'bidirectional layers';
  if (cfg.rnn.module === 'GRU' && cfg.rnn.gruReset === 'before') return 'GRU with reset before the matmul';
  if (cfg.rnn.inputSize !== cfg.vocabSize) return `rnn.inputSize ${cfg.rnn.inputSize} differs from vocabSize ${cfg.vocabSize}`;
  return undefined;
}

interface ParamSlot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly off: number;
  readonly grad: number;
}

interface LayerSlots {
  readonly inSize: number;
  readonly wih: ParamSlot;
  readonly whh: ParamSlot;
  readonly bih?: ParamSlot;
  readonly bhh?: ParamSlot;
  readonly wihT: number; // [in, G*H]
  readonly whhT: number; // [H, G*H]
  readonly xbias: number; // [G*H]: b_ih + b_hh (GRU: b_hh's n block stays inside r * (.))
  readonly bhn: number; // [H] GRU's b_hn (zeros without bias)
  // Weights pre-packed for the kernels' GEMM (B operands), refreshed with the parameters:
  readonly whhTP: number; // h_{t-1} W_hh^T (forward)
  readonly whhP: number; // dG W_hh (backward to h_{t-1})
  readonly wihTP: number; // layers > 0: x W_ih^T
  readonly wihP: number; // layers > 0: dG W_ih (backward to the layer below)
}

interface Workspace {
  readonly B: number;
  readonly T: number;
  readonly gates: number[]; // per layer [T*B, G*H] activations; backward overwrites nothing here
  readonly hs: number[]; // per layer [(T+1)*B, H]: h_{-1} = h0, then h_t
  readonly cs: number[]; // LSTM per layer [(T+1)*B, H]
  readonly tc: number[]; // LSTM per layer [T*B, H] tanh(c_t)
  readonly hn: number[]; // GRU per layer [T*B, H] W_hn h + b_hn
  readonly hproj: number; // GRU [B, G*H]
  readonly logits: number; // [T*B, V]
  readonly dGi: number; // [T*B, G*H]
  readonly dGh: number; // [T*B, G*H] (GRU; else = dGi)
  readonly dH: readonly [number, number]; // [T*B, H] ping-pong: grads flowing into a layer's outputs
  readonly dhRec: number; // [B, H]
  readonly dc: number; // [B, H]
  readonly dE: number; // [V, G*H] layer-0 input weight gradient, transposed
  readonly trainState: number; // [L, B, H] h then [L, B, H] c
  readonly evalState: number;
  readonly traceState: number;
}

/** Views into the engine's heap for one traced window: valid until the engine runs again. */
export interface FastTraceLayer {
  readonly h: FloatArray; // [T, B, H] time-major
  readonly c?: FloatArray; // LSTM [T, B, H]
  readonly gates: FloatArray; // [T, B, G*H] activated gates, PyTorch gate order (empty for RNN)
}

export interface FastTraceWindow {
  readonly layers: readonly FastTraceLayer[];
  readonly logits: FloatArray; // [T, B, outputSize]; empty when traced without scores
}

/**
 * Decides between one and two kernel threads by timing training steps: on a busy machine the helper thread
 * is often not scheduled in time and one thread is faster. Every CYCLE steps it alternates for 2 * PROBE
 * steps, then keeps the mode with the lower median.
 */
/** Carried h (then c) per layer, [2, L, B, H], for training and evaluation. */
interface CarriedStates {
  readonly B: number;
  readonly train: FloatArray;
  readonly evaluation: FloatArray;
}

class ParallelTuner {
  private static readonly PROBE = 3;
  private static readonly CYCLE = 60;
  private readonly samples: Record<'on' | 'off', number[]> = { on: [], off: [] };
  private choice = true;
  private current = true;
  private step = 0;

  next(): boolean {
    const phase = this.step % ParallelTuner.CYCLE;
    this.current = phase < 2 * ParallelTuner.PROBE ? phase % 2 === 0 : this.choice;
    return this.current;
  }

  record(ms: number): void {
    const phase = this.step % ParallelTuner.CYCLE;
    if (phase < 2 * ParallelTuner.PROBE) this.samples[this.current ? 'on' : 'off'].push(ms);
    if (phase === 2 * ParallelTuner.PROBE - 1) {
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
      this.choice = median(this.samples.on) <= median(this.samples.off);
      this.samples.on = [];
      this.samples.off = [];
    }
    this.step++;
  }
}

export class FastLmEngine implements LmEngine {
  readonly name: string;
  readonly dtype: RnnConfig['dtype'];
  private readonly k: FastKernels;
  private readonly G: number;
  private readonly H: number;
  private readonly L: number;
  private readonly V: number;
  private readonly O: number;
  private readonly params: ParamSlot[] = [];
  private readonly layers: LayerSlots[] = [];
  private readonly headW: ParamSlot;
  private readonly headB: ParamSlot;
  private readonly headWT: number;
  private readonly headWTP: number;
  private readonly headWP: number;
  private readonly paramEnd: number;
  /** Params, grads and Adam's two moments as four equally laid-out heap blocks of `length` floats. */
  private readonly blocks: { readonly p: number; readonly g: number; readonly m: number; readonly v: number; readonly length: number };
  private ws: Workspace | undefined;
  private optimizer: Optimizer | undefined;
  private optimizerKey = '';
  private pendingOptimizerState: TensorMap | undefined;
  /** Carried states waiting for a workspace of their batch size (set before the first step, or kept across sizes). */
  private pendingStates: CarriedStates | undefined;
  private disposed = false;
  private readonly tuner: ParallelTuner | undefined;

  constructor(readonly config: ModelConfig, kernels: FastKernels, params?: TensorMap) {
    const why = fastUnsupportedReason(config);
    if (why) throw new Error(`the ${kernels.name} engine does not support ${why}`);
    if (kernels.dtype !== config.rnn.dtype) throw new Error(`kernels are ${kernels.dtype}, model is ${config.rnn.dtype}`);
    this.k = kernels;
    this.tuner = kernels.setParallel ? new ParallelTuner() : undefined;
    this.name = kernels.name;
    this.dtype = config.rnn.dtype;
    const rnn = config.rnn;
    this.G = gateBlocks(rnn.module);
    this.H = rnn.hiddenSize;
    this.L = rnn.numLayers;
    this.V = config.vocabSize;
    this.O = config.outputSize;
    const GH = this.G * this.H;
    // Heap layout: [16-float guard][params][grads][derived copies]; workspaces follow paramEnd.
    let top = 16;
    const alloc = (n: number): number => { const off = top; top += (n + 3) & ~3; return off; };
    const specs = [
      ...parameterSpecs(rnn).map((s) => ({ name: `rnn.${s.name}`, shape: s.shape as readonly number[] })),
      { name: 'head.weight', shape: [this.O, this.H] }, { name: 'head.bias', shape: [this.O] },
    ];
    const offs = specs.map((s) => alloc(numel(s.shape)));
    const blockLength = top - offs[0];
    const grads = specs.map((s) => alloc(numel(s.shape)));
    this.blocks = { p: offs[0], g: grads[0], m: alloc(blockLength), v: alloc(blockLength), length: blockLength };
    specs.forEach((s, i) => this.params.push({ name: s.name, shape: s.shape, off: offs[i], grad: grads[i] }));
    const slot = (name: string): ParamSlot | undefined => this.params.find((p) => p.name === name);
    const zeros = alloc(GH);
    for (let l = 0; l < this.L; l++) {
      const inSize = l === 0 ? this.V : this.H;
      this.layers.push({
        inSize,
        wih: slot(`rnn.weight_ih_l${l}`)!, whh: slot(`rnn.weight_hh_l${l}`)!,
        bih: slot(`rnn.bias_ih_l${l}`), bhh: slot(`rnn.bias_hh_l${l}`),
        wihT: alloc(inSize * GH), whhT: alloc(this.H * GH), xbias: alloc(GH),
        bhn: rnn.bias ? slot(`rnn.bias_hh_l${l}`)!.off + 2 * this.H : zeros,
        whhTP: alloc(kernels.packedSize(this.H, GH)), whhP: alloc(kernels.packedSize(GH, this.H)),
        wihTP: l > 0 ? alloc(kernels.packedSize(this.H, GH)) : -1, wihP: l > 0 ? alloc(kernels.packedSize(GH, this.H)) : -1,
      });
    }
    this.headW = slot('head.weight')!;
    this.headB = slot('head.bias')!;
    this.headWT = alloc(this.H * this.O);
    this.headWTP = alloc(kernels.packedSize(this.H, this.O));
    this.headWP = alloc(kernels.packedSize(this.O, this.H));
    this.paramEnd = top;
    this.k.ensure(top);
    this.k.fill(0, top, 0);
    // Without parameters: the same PyTorch-style initialisation (seed 0) as the reference engine.
    this.setParameters(params ?? initModelParameters(config, createRng(0)));
  }

  // ---- parameters --------------------------------------------------------------------------------

  getParameters(): TensorMap {
    const heap = this.k.heap();
    return new Map(this.params.map((p) => [p.name, {
      dtype: this.dtype, shape: [...p.shape], data: heap.slice(p.off, p.off + numel(p.shape)),
    } as FloatTensor]));
  }

  setParameters(params: TensorMap): void {
    for (const p of this.params) {
      const t = params.get(p.name);
      if (!t) throw new Error(`parameters lack ${p.name}`);
      if (!shapeEquals(t.shape, p.shape)) {
        throw new Error(`${p.name} has shape ${formatShape(t.shape)}, expected ${formatShape(p.shape)}`);
      }
      this.k.heap().set(toFloat(t, this.dtype).data, p.off);
    }
    this.refreshDerived();
  }

  /** Transposed weight copies and folded biases, recomputed whenever the parameters change. */
  private refreshDerived(): void {
    const { k, H, G } = this;
    const GH = G * H;
    for (const ly of this.layers) {
      k.transpose(ly.wih.off, GH, ly.inSize, ly.wihT);
      k.transpose(ly.whh.off, GH, H, ly.whhT);
      k.packB(H, GH, ly.whhT, GH, ly.whhTP);
      k.packB(GH, H, ly.whh.off, H, ly.whhP);
      if (ly.wihTP >= 0) {
        k.packB(H, GH, ly.wihT, GH, ly.wihTP);
        k.packB(GH, H, ly.wih.off, H, ly.wihP);
      }
      k.fill(ly.xbias, GH, 0);
      if (ly.bih && ly.bhh) {
        const heap = k.heap();
        const hiddenPart = this.config.rnn.module === 'GRU' ? 2 * H : GH;
        for (let j = 0; j < GH; j++) heap[ly.xbias + j] = heap[ly.bih.off + j] + (j < hiddenPart ? heap[ly.bhh.off + j] : 0);
      }
    }
    k.transpose(this.headW.off, this.O, H, this.headWT);
    k.packB(H, this.O, this.headWT, this.O, this.headWTP);
    k.packB(this.O, H, this.headW.off, H, this.headWP);
  }

  private views(which: 'param' | 'grad'): Map<string, FloatTensor> {
    const heap = this.k.heap();
    return new Map(this.params.map((p) => {
      const off = which === 'param' ? p.off : p.grad;
      return [p.name, { dtype: this.dtype, shape: p.shape, data: heap.subarray(off, off + numel(p.shape)) }];
    }));
  }

  getOptimizerState(): TensorMap {
    return this.optimizer ? this.optimizer.state() : new Map(this.pendingOptimizerState ?? []);
  }

  setOptimizerState(state: TensorMap): void {
    if (this.optimizer) this.optimizer.loadState(state);
    else this.pendingOptimizerState = state;
  }

  private optimizerFor(cfg: OptimizerConfig): Optimizer {
    const key = JSON.stringify({ ...cfg, lr: 0 });
    if (!this.optimizer || key !== this.optimizerKey) {
      const previous = this.optimizer?.state() ?? this.pendingOptimizerState;
      this.optimizer = cfg.kind === 'adam' && this.k.adamStep ? this.heapAdam(cfg) : createOptimizer(cfg);
      this.optimizerKey = key;
      if (previous && previous.size) this.optimizer.loadState(previous);
      this.pendingOptimizerState = undefined;
    }
    this.optimizer.lr = cfg.lr;
    return this.optimizer;
  }

  /**
   * torch.optim.Adam on the heap blocks through the kernels (formulas and rounding as in optim.ts, whose
   * per-element JavaScript loop costs more than the rest of a step's bookkeeping together).
   */
  private heapAdam(cfg: OptimizerConfig): Optimizer {
    const { k, blocks } = this;
    const [beta1, beta2] = cfg.betas ?? [0.9, 0.999];
    const eps = cfg.eps ?? 1e-8, wd = cfg.weightDecay ?? 0;
    let steps = 0;
    let started = false; // optim.ts creates its buffers at the first step
    const slots = this.params;
    const moment = (p: ParamSlot, which: 'm' | 'v'): number => blocks[which] + (p.off - blocks.p);
    const opt: Optimizer = {
      config: cfg,
      lr: cfg.lr,
      step() {
        if (!started) {
          k.fill(blocks.m, blocks.length, 0);
          k.fill(blocks.v, blocks.length, 0);
          started = true;
        }
        steps++;
        const hyper = [beta1, beta2, opt.lr / (1 - beta1 ** steps), Math.sqrt(1 - beta2 ** steps), eps, wd];
        k.adamStep!(blocks.length, blocks.p, blocks.g, blocks.m, blocks.v, hyper);
      },
      state() {
        const out: TensorMap = new Map();
        if (started) {
          const heap = k.heap();
          for (const p of slots) {
            for (const [which, name] of [['m', 'exp_avg'], ['v', 'exp_avg_sq']] as const) {
              const off = moment(p, which);
              out.set(`${p.name}.${name}`, { dtype: 'float32', shape: [...p.shape], data: heap.slice(off, off + numel(p.shape)) } as FloatTensor);
            }
          }
        }
        out.set('step', { dtype: 'float64', shape: [], data: Float64Array.of(steps) });
        return out;
      },
      loadState(state) {
        steps = 0;
        started = false;
        k.fill(blocks.m, blocks.length, 0);
        k.fill(blocks.v, blocks.length, 0);
        for (const [key, t] of state) {
          if (key === 'step') { steps = Number(t.data[0]); continue; }
          const slot = slots.find((p) => key === `${p.name}.exp_avg` || key === `${p.name}.exp_avg_sq`);
          if (!slot) continue; // another optimizer's buffer
          if (numel(t.shape) !== numel(slot.shape)) throw new Error(`optimizer state ${key} has shape ${formatShape(t.shape)}, expected ${formatShape(slot.shape)}`);
          k.heap().set(toFloat(t, 'float32').data, moment(slot, key.endsWith('_sq') ? 'v' : 'm'));
          started = true;
        }
      },
    };
    return opt;
  }

  // ---- workspace -----------------------------------------------------------------------------------

  private workspace(B: number, T: number): Workspace {
    if (this.ws && this.ws.B === B && this.ws.T === T) return this.ws;
    // States carried across windows survive a new window length (same batch size): save them first.
    const kept = this.ws && this.ws.B === B ? this.statesOf(this.ws) : this.pendingStates?.B === B ? this.pendingStates : undefined;
    this.pendingStates = undefined;
    const { H, L, V, G } = this;
    const GH = G * H;
    const module = this.config.rnn.module;
    let top = this.paramEnd;
    const alloc = (n: number): number => { const off = top; top += (n + 3) & ~3; return off; };
    const per = (n: number, when = true): number[] => (when ? Array.from({ length: L }, () => alloc(n)) : []);
    const gates = per(T * B * GH);
    const hs = per((T + 1) * B * H);
    const cs = per((T + 1) * B * H, module === 'LSTM');
    const tc = per(T * B * H, module === 'LSTM');
    const hn = per(T * B * H, module === 'GRU');
    const hproj = alloc(B * GH);
    const logits = alloc(T * B * Math.max(V, this.O));
    const dGi = alloc(T * B * GH);
    const dGh = module === 'GRU' ? alloc(T * B * GH) : dGi;
    const dH: [number, number] = [alloc(T * B * H), alloc(T * B * H)];
    const dhRec = alloc(B * H);
    const dc = alloc(B * H);
    const dE = alloc(V * GH);
    const trainState = alloc(2 * L * B * H);
    const evalState = alloc(2 * L * B * H);
    const traceState = alloc(2 * L * B * H);
    this.k.ensure(top);
    this.k.fill(trainState, 6 * L * B * H, 0); // a new batch size starts from zero states
    this.ws = { B, T, gates, hs, cs, tc, hn, hproj, logits, dGi, dGh, dH, dhRec, dc, dE, trainState, evalState, traceState };
    if (kept) {
      const heap = this.k.heap();
      heap.set(kept.train, trainState);
      heap.set(kept.evaluation, evalState);
    }
    return this.ws;
  }

  private statesOf(ws: Workspace): CarriedStates {
    const heap = this.k.heap(), n = 2 * this.L * ws.B * this.H;
    return { B: ws.B, train: heap.slice(ws.trainState, ws.trainState + n), evaluation: heap.slice(ws.evalState, ws.evalState + n) };
  }

  /** The carried training state as the reference engine names it: h (and c for LSTM), [L, B, H]. */
  getCarriedState(): TensorMap {
    const states = this.ws ? this.statesOf(this.ws) : this.pendingStates;
    const out: TensorMap = new Map();
    if (!states) return out;
    const n = this.L * states.B * this.H, shape = [this.L, states.B, this.H];
    out.set('h', { dtype: this.dtype, shape, data: states.train.slice(0, n) });
    if (this.config.rnn.module === 'LSTM') out.set('c', { dtype: this.dtype, shape, data: states.train.slice(n, 2 * n) });
    return out;
  }

  setCarriedState(state: TensorMap): void {
    const h = state.get('h');
    if (!h) return;
    if (h.shape.length !== 3 || h.shape[0] !== this.L || h.shape[2] !== this.H) {
      throw new Error(`carried state h has shape ${formatShape(h.shape)}, expected [${this.L}, B, ${this.H}]`);
    }
    const B = h.shape[1], n = this.L * B * this.H;
    const train = floatArray(this.dtype, 2 * n);
    train.set(toFloat(h, this.dtype).data);
    const c = state.get('c');
    if (c) train.set(toFloat(c, this.dtype).data, n);
    const states: CarriedStates = { B, train, evaluation: floatArray(this.dtype, 2 * n) };
    if (this.ws && this.ws.B === B) {
      this.k.heap().set(train, this.ws.trainState);
    } else {
      this.pendingStates = states;
    }
  }

  resetEvaluationState(): void {
    if (this.ws) this.k.fill(this.ws.evalState, 2 * this.L * this.ws.B * this.H, 0);
    if (this.pendingStates) this.pendingStates.evaluation.fill(0);
  }

  resetState(): void {
    if (this.ws) this.k.fill(this.ws.trainState, 4 * this.L * this.ws.B * this.H, 0);
    this.pendingStates = undefined;
  }

  // ---- forward / backward ------------------------------------------------------------------------

  private checkBatch(batch: LmBatch): void {
    const n = batch.batchSize * batch.seqLen;
    if (batch.batchSize < 1 || batch.seqLen < 1) throw new Error('batch must have at least one sequence and one step');
    if (batch.lengths) throw new Error(`the ${this.name} engine does not support variable-length batches`);
    if (batch.inputs.length !== n || batch.targets.length !== n) {
      throw new Error(`batch inputs/targets must hold ${n} ids (batchSize ${batch.batchSize} x seqLen ${batch.seqLen})`);
    }
    for (let i = 0; i < n; i++) {
      const x = batch.inputs[i], y = batch.targets[i];
      if (!(x >= 0 && x < this.V)) throw new Error(`input id ${x} at ${i} outside vocabulary of ${this.V}`);
      if (!(y >= 0 && y < this.O)) throw new Error(`target id ${y} at ${i} outside ${this.O} outputs`);
    }
  }

  /**
   * Loads [B,T] row-major tokens as time-major and runs every layer and the head; returns the summed CE
   * (0 without targets).
   */
  private forward(rowInputs: ArrayLike<number>, rowTargets: ArrayLike<number> | undefined, B: number, T: number,
    state: number, gradScale: number, withHead = true): number {
    const { k, H, L, G } = this;
    const ws = this.workspace(B, T);
    const GH = G * H;
    const TB = T * B;
    const inputs = new Int32Array(TB), targets = new Int32Array(TB);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        inputs[t * B + b] = rowInputs[b * T + t];
        if (rowTargets) targets[t * B + b] = rowTargets[b * T + t];
      }
    }
    k.setTokens(inputs, targets);
    const rnn = this.config.rnn;
    const hard = rnn.recurrentActivation === 'hard_sigmoid';
    const relu = rnn.nonlinearity === 'relu';
    for (let l = 0; l < L; l++) {
      const ly = this.layers[l];
      const gates = ws.gates[l], hs = ws.hs[l];
      k.copy(state + l * B * H, hs, B * H);
      if (rnn.module === 'LSTM') k.copy(state + (L + l) * B * H, ws.cs[l], B * H);
      // Layer 0's one-hot projection is gathered step by step, right before the step's GEMM adds to it,
      // so the gate rows stay in cache instead of making a round trip through memory between two passes.
      if (l > 0) {
        k.gemmPacked(TB, GH, H, ws.hs[l - 1] + B * H, H, 1, ly.wihTP, gates, GH, false);
        k.addRowBias(gates, TB, GH, ly.xbias);
      }
      if (k.layerForward) {
        const buffers = { gates, hs, cs: ws.cs[l] ?? 0, tc: ws.tc[l] ?? 0, hn: ws.hn[l] ?? 0, hproj: ws.hproj };
        const module = rnn.module === 'LSTM' ? 0 : rnn.module === 'GRU' ? 1 : 2;
        k.layerForward(module, T, B, H, buffers, ly.whhTP, l === 0 ? ly.wihT : -1, ly.xbias, 0, ly.bhn, rnn.module === 'RNN' ? relu : hard);
        continue;
      }
      for (let t = 0; t < T; t++) {
        const g = gates + t * B * GH, hPrev = hs + t * B * H, h = hPrev + B * H;
        if (l === 0) k.gatherRows(g, ly.wihT, GH, B, ly.xbias, t * B);
        switch (rnn.module) {
          case 'LSTM': {
            k.gemmPacked(B, GH, H, hPrev, H, 1, ly.whhTP, g, GH, true);
            const cPrev = ws.cs[l] + t * B * H;
            k.lstmForward(B, H, g, cPrev, cPrev + B * H, ws.tc[l] + t * B * H, h, hard);
            break;
          }
          case 'GRU':
            k.gemmPacked(B, GH, H, hPrev, H, 1, ly.whhTP, ws.hproj, GH, false);
            k.gruForward(B, H, g, ws.hproj, ly.bhn, hPrev, h, ws.hn[l] + t * B * H, hard);
            break;
          case 'RNN':
            k.gemmPacked(B, GH, H, hPrev, H, 1, ly.whhTP, g, GH, true);
            k.rnnForward(B, H, g, h, relu);
            break;
        }
      }
    }
    if (!withHead) return 0;
    const top = ws.hs[L - 1] + B * H;
    k.gemmPacked(TB, this.O, H, top, H, 1, this.headWTP, ws.logits, this.O, false);
    k.addRowBias(ws.logits, TB, this.O, this.headB.off);
    return rowTargets ? k.softmaxCrossEntropy(ws.logits, TB, this.O, gradScale) : 0;
  }

  /** Keeps the last h (and c) of every layer as the next window's initial state. */
  private carryState(state: number): void {
    const { k, H, L } = this;
    const ws = this.ws!;
    const { B, T } = ws;
    for (let l = 0; l < L; l++) {
      k.copy(ws.hs[l] + T * B * H, state + l * B * H, B * H);
      if (this.config.rnn.module === 'LSTM') k.copy(ws.cs[l] + T * B * H, state + (L + l) * B * H, B * H);
    }
  }

  private backward(): void {
    const { k, H, L, G, V, O } = this;
    const ws = this.ws!;
    const { B, T } = ws;
    const GH = G * H, TB = T * B;
    const rnn = this.config.rnn;
    const hard = rnn.recurrentActivation === 'hard_sigmoid';
    const relu = rnn.nonlinearity === 'relu';
    const top = ws.hs[L - 1] + B * H;
    let dH = ws.dH[0];
    k.gemmPacked(TB, H, O, ws.logits, O, 1, this.headWP, dH, H, false);
    k.gemm(O, H, TB, ws.logits, 1, O, top, H, this.headW.grad, H, false);
    k.colSum(ws.logits, TB, O, this.headB.grad);
    for (let l = L - 1; l >= 0; l--) {
      const ly = this.layers[l];
      const gates = ws.gates[l], hs = ws.hs[l];
      k.fill(ws.dhRec, B * H, 0);
      k.fill(ws.dc, B * H, 0);
      for (let t = T - 1; t >= 0; t--) {
        const g = gates + t * B * GH, hPrev = hs + t * B * H, dhIn = dH + t * B * H;
        const dGi = ws.dGi + t * B * GH, dGh = ws.dGh + t * B * GH;
        switch (rnn.module) {
          case 'LSTM':
            k.lstmBackward(B, H, g, ws.cs[l] + t * B * H, ws.tc[l] + t * B * H, dhIn, ws.dhRec, ws.dc, dGi, hard);
            k.gemmPacked(B, H, GH, dGi, GH, 1, ly.whhP, ws.dhRec, H, false);
            break;
          case 'GRU':
            k.gruBackward(B, H, g, ws.hn[l] + t * B * H, hPrev, dhIn, ws.dhRec, dGi, dGh, hard);
            k.gemmPacked(B, H, GH, dGh, GH, 1, ly.whhP, ws.dhRec, H, true);
            break;
          case 'RNN':
            k.rnnBackward(B, H, hPrev + B * H, dhIn, ws.dhRec, dGi, relu);
            k.gemmPacked(B, H, GH, dGi, GH, 1, ly.whhP, ws.dhRec, H, false);
            break;
        }
      }
      k.gemm(GH, H, TB, ws.dGh, 1, GH, hs, H, ly.whh.grad, H, false);
      if (ly.bih && ly.bhh) {
        k.colSum(ws.dGi, TB, GH, ly.bih.grad);
        k.colSum(ws.dGh, TB, GH, ly.bhh.grad);
      }
      if (l === 0) {
        k.fill(ws.dE, V * GH, 0);
        k.scatterAddRows(ws.dGi, GH, TB, ws.dE);
        k.transpose(ws.dE, V, GH, ly.wih.grad);
      } else {
        const below = ws.hs[l - 1] + B * H;
        k.gemm(GH, H, TB, ws.dGi, 1, GH, below, H, ly.wih.grad, H, false);
        const dBelow = dH === ws.dH[0] ? ws.dH[1] : ws.dH[0];
        k.gemmPacked(TB, H, GH, ws.dGi, GH, 1, ly.wihP, dBelow, H, false);
        dH = dBelow;
      }
    }
  }

  // ---- LmEngine ------------------------------------------------------------------------------------

  trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult {
    this.assertAlive();
    this.checkBatch(batch);
    const started = performance.now();
    if (this.tuner) this.k.setParallel!(this.tuner.next());
    const ws = this.workspace(batch.batchSize, batch.seqLen);
    if (!options.stateful) this.k.fill(ws.trainState, 2 * this.L * ws.B * this.H, 0);
    const n = batch.batchSize * batch.seqLen;
    const loss = this.forward(batch.inputs, batch.targets, batch.batchSize, batch.seqLen, ws.trainState, 1 / n) / n;
    this.backward();
    if (options.stateful) this.carryState(ws.trainState);
    const grads = this.views('grad');
    const gradNorm = applyClipping(grads, options.clip);
    this.optimizerFor(options.optimizer).step(this.views('param'), grads);
    this.refreshDerived();
    this.tuner?.record(performance.now() - started);
    return { loss, gradNorm };
  }

  evaluate(batch: LmBatch, stateful: boolean): Evaluation {
    this.assertAlive();
    this.checkBatch(batch);
    const ws = this.workspace(batch.batchSize, batch.seqLen);
    if (!stateful) this.k.fill(ws.evalState, 2 * this.L * ws.B * this.H, 0);
    const n = batch.batchSize * batch.seqLen;
    const loss = this.forward(batch.inputs, batch.targets, batch.batchSize, batch.seqLen, ws.evalState, 0) / n;
    if (stateful) this.carryState(ws.evalState);
    return { loss };
  }

  // ---- tracing -------------------------------------------------------------------------------------

  /**
   * Forward only over row-major [B, T] tokens, keeping every step's h, c and gates. `start`: zeros, the
   * state left by the previous traceWindow ('carry'), or explicit [L, B, H] h (and c for LSTM).
   * `scores` false skips the head (logits come back empty): a sweep that only needs the states.
   */
  traceWindow(inputs: ArrayLike<number>, B: number, T: number,
    start: 'zero' | 'carry' | { readonly h: ArrayLike<number>; readonly c?: ArrayLike<number> }, scores = true): FastTraceWindow {
    this.assertAlive();
    const { k, H, L } = this;
    for (let i = 0; i < B * T; i++) {
      if (!(inputs[i] >= 0 && inputs[i] < this.V)) throw new Error(`token id ${inputs[i]} at ${i} outside vocabulary of ${this.V}`);
    }
    const reshaped = !this.ws || this.ws.B !== B || this.ws.T !== T;
    const ws = this.workspace(B, T);
    if (start === 'zero' || (start === 'carry' && reshaped)) {
      k.fill(ws.traceState, 2 * L * B * H, 0);
    } else if (start !== 'carry') {
      if (start.h.length !== L * B * H) throw new Error(`initial h must hold ${L}x${B}x${H} values`);
      k.heap().set(start.h, ws.traceState);
      if (this.config.rnn.module === 'LSTM') {
        if (!start.c || start.c.length !== L * B * H) throw new Error(`initial c must hold ${L}x${B}x${H} values`);
        k.heap().set(start.c, ws.traceState + L * B * H);
      }
    }
    this.forward(inputs, undefined, B, T, ws.traceState, 0, scores);
    this.carryState(ws.traceState);
    const heap = k.heap();
    const lstm = this.config.rnn.module === 'LSTM';
    const GH = this.G * H;
    const layers = Array.from({ length: L }, (_, l): FastTraceLayer => ({
      h: heap.subarray(ws.hs[l] + B * H, ws.hs[l] + (T + 1) * B * H),
      ...(lstm ? { c: heap.subarray(ws.cs[l] + B * H, ws.cs[l] + (T + 1) * B * H) } : {}),
      // An Elman RNN has no gates (its buffer holds pre-activations): empty, like the reference trace.
      gates: this.config.rnn.module === 'RNN' ? heap.subarray(0, 0) : heap.subarray(ws.gates[l], ws.gates[l] + T * B * GH),
    }));
    return { layers, logits: scores ? heap.subarray(ws.logits, ws.logits + T * B * this.O) : heap.subarray(0, 0) };
  }

  /** The state after the last traceWindow: h then c, each [L, B, H] (copies). */
  traceState(): { h: FloatArray; c?: FloatArray } {
    const ws = this.ws;
    if (!ws) throw new Error('no trace has run yet');
    const n = this.L * ws.B * this.H;
    const heap = this.k.heap();
    const h = heap.slice(ws.traceState, ws.traceState + n);
    return this.config.rnn.module === 'LSTM' ? { h, c: heap.slice(ws.traceState + n, ws.traceState + 2 * n) } : { h };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.k.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error(`${this.name} engine was disposed`);
  }
}
