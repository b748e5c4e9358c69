// The fast engine for the whole model (src/core/model.ts): one-hot tokens or nn.Embedding -> LSTM/GRU/RNN stack
// (bidirectional, packed variable-length batches) -> readout (every step, or last / mean / max per sequence) ->
// head (nn.Linear or a Sequential of Linear / ReLU / Tanh / Dropout) -> softmax cross-entropy, with BPTT and
// torch.optim's update rules. Layer by layer over the whole window, so input projections and weight gradients
// become single large GEMMs and only h·W_hh^T stays per step.
// All numbers live in the kernels' heap (see kernels.ts); this file only plans buffers and sequences calls.
//
// Variable-length batches run packed, as pack_padded_sequence(enforce_sorted=False) does: the sequences are
// sorted longest first and step t holds only the n_t sequences still running, as rows offset_t ..
// offset_t + n_t - 1 of every per-step buffer; padded positions are never computed. Without lengths (or all
// full) that is the plain time-major [T, B] layout of the char LM, whose calls are exactly those it always made.
// The reverse direction runs the same forward recurrence over each sequence reversed within its own length:
// row (t, i) of its buffers is row (len_i - 1 - t, i) of the forward ones (`perm`, its own inverse).
import { directions, gateBlocks } from '../config';
import type { Evaluation, LmBatch, LmEngine, LmStepResult, LmTrainOptions, OptimizerConfig } from '../engine';
import { IGNORE_INDEX } from '../engine';
import { type ModelConfig, featureWidth, headParamName, modelParameterSpecs, taskOf } from '../model';
import { initModelParameters } from '../init';
import { type Optimizer, applyClipping, createOptimizer } from '../optim';
import { createRng } from '../random';
import { type FloatArray, type FloatDType, type FloatTensor, type TensorMap, floatArray, formatShape, numel, shapeEquals, toFloat } from '../tensor';
import type { FastKernels } from './kernels';

/** Why the fast engines cannot train or evaluate a model, or undefined when they can. */
export function fastEngineUnsupportedReason(cfg: ModelConfig): string | undefined {
  if (cfg.rnn.module === 'GRU' && cfg.rnn.gruReset === 'before') return 'GRU with reset before the matmul';
  return undefined;
}

/**
 * Why FastLmEngine.traceWindow (and so traceLm) cannot trace a model: it runs one direction over a token stream
 * and scores the next token at every step. Bidirectional stacks are traced by src/core/fast/bidiTrace.ts.
 */
export function fastTraceUnsupportedReason(cfg: ModelConfig): string | undefined {
  const why = fastEngineUnsupportedReason(cfg);
  if (why) return why;
  if (cfg.rnn.bidirectional) return 'bidirectional layers';
  if (cfg.readout !== 'per_step') return `the ${cfg.readout} readout (a trace scores the next token at every step)`;
  return undefined;
}


interface ParamSlot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly off: number;
  readonly grad: number;
}

/** One direction of one layer: its parameters and the copies derived from them after every update. */
interface DirectionSlots {
  readonly inSize: number;
  /** Column blocks of the input: layer 0 one; above it one per direction of the layer below (H each). */
  readonly blocks: readonly number[];
  readonly wih: ParamSlot;
  readonly whh: ParamSlot;
  readonly bih?: ParamSlot;
  readonly bhh?: ParamSlot;
  readonly wihT: number; // [in, G*H]: one-hot inputs' gather table, or a transposed copy to pack (kernels without packBT)
  readonly whhT: number; // [H, G*H] a transposed copy to pack (kernels without packBT)
  readonly xbias: number; // [G*H]: b_ih + b_hh (GRU: b_hh's n block stays inside r * (.))
  readonly bhn: number; // [H] GRU's b_hn (zeros without bias)
  // Weights pre-packed for the kernels' GEMM (B operands), refreshed with the parameters:
  readonly whhTP: number; // h_{t-1} W_hh^T (forward)
  readonly whhP: number; // dG W_hh (backward to h_{t-1})
  readonly wihTP: readonly number[]; // per input block: x W_ih^T (none for one-hot inputs)
  readonly wihP: readonly number[]; // per input block: dG W_ih (backward to the input)
}

/** One nn.Linear of the head. */
interface HeadLinear {
  readonly index: number;
  readonly inF: number;
  readonly outF: number;
  readonly w: ParamSlot;
  readonly b?: ParamSlot;
  /** Column blocks of its input (the first Linear of a bidirectional LM reads the two directions apart). */
  readonly blocks: readonly number[];
  readonly wT: number; // [in, out] a transposed copy to pack (kernels without packBT)
  readonly wTP: readonly number[]; // per block: x W^T
  readonly wP: readonly number[]; // per block: dY W
}

/** A matrix in the heap: rows `ld` floats apart. */
interface Block {
  readonly off: number;
  readonly ld: number;
}

/** One layer-direction's buffers, in that direction's row order. */
interface DirectionBuffers {
  readonly gates: number; // [T*B, G*H] activations; backward overwrites nothing here
  readonly hs: number; // [B + T*B, H]: h_{-1} = h0 (B rows), then the packed steps
  readonly cs: number; // LSTM, as hs
  readonly tc: number; // LSTM [T*B, H] tanh(c_t)
  readonly hn: number; // GRU [T*B, H] W_hn h + b_hn
  readonly x: number; // layer 0 with an embedding: the input rows [T*B, E]
  readonly alt: number; // bidirectional: its outputs in the other direction's row order [T*B, H]
}

interface Workspace {
  readonly B: number;
  readonly T: number;
  readonly dirs: readonly (readonly DirectionBuffers[])[]; // [layer][direction]
  readonly drop: readonly (readonly number[])[]; // [layer][block] inputs after nn.LSTM dropout (forward order)
  readonly dropRev: readonly (readonly number[])[]; // the same in the reverse direction's order
  readonly hproj: number; // GRU [B, G*H]
  readonly features: number; // classifier [B, D*H]
  readonly dFeatures: number;
  readonly headIn: number; // bidirectional LM whose head starts with an activation: [T*B, D*H]
  readonly dHeadIn: number;
  readonly acts: readonly number[]; // per head layer: its output (rows x width)
  readonly ce: number; // a head ending in an activation: the logits copied for the loss
  readonly dAct: readonly [number, number];
  readonly dGi: number; // [T*B, G*H]
  readonly dGh: number; // [T*B, G*H] (GRU; else = dGi)
  readonly dUp: readonly [readonly number[], readonly number[]]; // [set][direction] [T*B, H]: grads on a layer's outputs (forward order)
  readonly revUp: number; // [T*B, H] the reverse direction's upstream grads in its own order
  readonly tmpIn: number; // [T*B, max(H, E)]
  readonly hPrev: number; // [T*B, H] h_{t-1} of each packed row (variable lengths)
  readonly dhRec: number; // [B, H]
  readonly dc: number; // [B, H]
  readonly dE: number; // one-hot [V, G*H] layer-0 input weight gradient, transposed
  readonly trainState: number; // [L*D, B, H] h then [L*D, B, H] c
  readonly evalState: number;
  readonly traceState: number;
}

/** How one batch is laid out: packed steps, sorted longest first (or the plain [T, B] layout). */
interface Plan {
  readonly B: number;
  readonly T: number;
  /** Every sequence runs all T steps in batch order: rows t*B + b. */
  readonly fixed: boolean;
  readonly N: number; // packed rows (sum of lengths)
  readonly Tmax: number; // longest length
  readonly order: Int32Array | null; // sorted position -> batch index; null: identity
  readonly lens: Int32Array; // [B] sorted
  readonly n: Int32Array; // [Tmax] sequences at step t
  readonly offset: Int32Array; // [Tmax + 1] first packed row of step t
  /** Where `offset` is in the setTokens payload for the layer kernels; -1: fixed (B rows per step). */
  readonly steps: number;
  readonly lastRow: Int32Array; // [B] packed row of each sequence's last step
  /**
   * setTokens payload: tokens in packed order; bidirectional also the reverse order's tokens (at N) and perm (at 2N);
   * packed batches then `offset` (at `steps`).
   */
  readonly tokens: Int32Array;
  /** Loss targets: packed order [N] (lm) or sorted [B] (classifier); empty without targets. */
  readonly targets: Int32Array;
  readonly counted: number;
}

/** Carried h (then c) per layer and direction, [2, L*D, B, H], for training and evaluation. */
interface CarriedStates {
  readonly B: number;
  readonly train: FloatArray;
  readonly evaluation: FloatArray;
  /** The state traceWindow's 'carry' starts from (none when set from outside: zeros). */
  readonly trace?: FloatArray;
}

/** Dropout masks of one training step (0 or 1/(1-p)), in packed row order. */
interface StepMasks {
  readonly rnn: (readonly FloatArray[] | undefined)[]; // [layer][block]
  readonly head: Map<number, FloatArray>;
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

const MODULE_NUMBER = { LSTM: 0, GRU: 1, RNN: 2 } as const;

export interface FastEngineOptions {
  /**
   * Forward only (document traces, windows): no gradients, optimizer moments or backward buffers, three parameter
   * copies and a one-hot model's V × 4H gradient table less; trainStep refuses.
   */
  readonly inference?: boolean;
}

export class FastLmEngine implements LmEngine {
  readonly name: string;
  readonly dtype: FloatDType;
  private readonly k: FastKernels;
  private readonly G: number;
  private readonly H: number;
  private readonly L: number;
  private readonly D: number;
  private readonly V: number;
  private readonly O: number;
  private readonly E: number; // embedding width (0: one-hot input)
  private readonly classify: boolean;
  private readonly params: ParamSlot[] = [];
  private readonly dirs: DirectionSlots[][] = []; // [layer][direction]
  private readonly embedding: ParamSlot | undefined;
  private readonly headLinears = new Map<number, HeadLinear>();
  /** Width of each head layer's output. */
  private readonly headWidths: number[] = [];
  /** A bidirectional LM whose head starts with an activation reads the two directions concatenated. */
  private readonly headConcat: boolean;
  private readonly zeros: number;
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
  /** Dropout draws (head Dropout, nn.LSTM dropout) in the reference engine's order from a stream of its own. */
  private readonly uniform: () => number;
  // What the last forward left for backward:
  private masks: StepMasks = { rnn: [], head: new Map() };
  private headInputs: Block[][] = [];
  private logitsOff = 0;
  /** Whether the softmax already wrote the output bias's gradient (its column sums, in the same pass). */
  private outputBiasGradDone = false;
  private argmax: Int32Array | undefined;

  private readonly inference: boolean;

  constructor(readonly config: ModelConfig, kernels: FastKernels, params?: TensorMap, options: FastEngineOptions = {}) {
    const why = fastEngineUnsupportedReason(config);
    if (why) throw new Error(`the ${kernels.name} engine does not support ${why}`);
    if (kernels.dtype !== config.rnn.dtype) throw new Error(`kernels are ${kernels.dtype}, model is ${config.rnn.dtype}`);
    this.k = kernels;
    this.inference = options.inference ?? false;
    this.tuner = kernels.setParallel ? new ParallelTuner() : undefined;
    this.name = kernels.name;
    this.dtype = config.rnn.dtype;
    const rnn = config.rnn;
    this.G = gateBlocks(rnn.module);
    this.H = rnn.hiddenSize;
    this.L = rnn.numLayers;
    this.D = directions(rnn);
    this.V = config.vocabSize;
    this.O = config.outputSize;
    this.E = config.embedding ? config.embedding.embeddingDim : 0;
    this.classify = taskOf(config) === 'classify';
    const { H, D, G } = this;
    const GH = G * H;
    const dropoutRng = createRng(0 ^ 0xd809);
    this.uniform = () => dropoutRng.uniform();
    // Heap layout: [16-float guard][params][grads][moments][derived copies]; workspaces follow paramEnd.
    let top = 16;
    const alloc = (n: number): number => { const off = top; top += (n + 3) & ~3; return off; };
    const specs = modelParameterSpecs(config);
    const offs = specs.map((s) => alloc(numel(s.shape)));
    const blockLength = top - offs[0];
    // Inference: no gradient or moments (nothing reads them: trainStep refuses).
    const grads = this.inference ? offs : specs.map((s) => alloc(numel(s.shape)));
    const moments = this.inference ? 0 : blockLength;
    this.blocks = { p: offs[0], g: grads[0], m: alloc(moments), v: alloc(moments), length: blockLength };
    specs.forEach((s, i) => this.params.push({ name: s.name, shape: s.shape, off: offs[i], grad: grads[i] }));
    const slot = (name: string): ParamSlot | undefined => this.params.find((p) => p.name === name);
    this.embedding = slot('embedding.weight');
    const widths = config.head.map((l) => (l.type === 'Linear' ? l.outFeatures : 0));
    const maxWidth = Math.max(GH, this.E, D * H, ...widths);
    this.zeros = alloc(maxWidth);
    const packedSize = (K: number, N: number): number => kernels.packedSize(K, N);
    const copies = !kernels.packBT; // without it, W^T is packed from a transposed copy
    for (let l = 0; l < this.L; l++) {
      const row: DirectionSlots[] = [];
      for (let d = 0; d < D; d++) {
        const s = `_l${l}${d === 1 ? '_reverse' : ''}`;
        const inSize = l === 0 ? rnn.inputSize : D * H;
        const oneHot = l === 0 && !this.embedding;
        const blocks = l === 0 ? [inSize] : Array.from({ length: D }, () => H);
        row.push({
          inSize, blocks,
          wih: slot(`rnn.weight_ih${s}`)!, whh: slot(`rnn.weight_hh${s}`)!,
          bih: slot(`rnn.bias_ih${s}`), bhh: slot(`rnn.bias_hh${s}`),
          wihT: oneHot || copies ? alloc(inSize * GH) : 0, whhT: copies ? alloc(H * GH) : 0, xbias: alloc(GH),
          bhn: rnn.bias ? slot(`rnn.bias_hh${s}`)!.off + 2 * H : this.zeros,
          whhTP: alloc(packedSize(H, GH)), whhP: alloc(packedSize(GH, H)),
          wihTP: oneHot ? [] : blocks.map((w) => alloc(packedSize(w, GH))),
          wihP: oneHot ? [] : blocks.map((w) => alloc(packedSize(GH, w))),
        });
      }
      this.dirs.push(row);
    }
    let width = featureWidth(config);
    this.headConcat = !this.classify && D === 2 && config.head[0].type !== 'Linear';
    config.head.forEach((layer, i) => {
      if (layer.type === 'Linear') {
        const blocks = i === 0 && !this.classify && D === 2 ? [H, H] : [layer.inFeatures];
        this.headLinears.set(i, {
          index: i, inF: layer.inFeatures, outF: layer.outFeatures,
          w: slot(headParamName(config, i, 'weight'))!, b: layer.bias ? slot(headParamName(config, i, 'bias'))! : undefined,
          blocks, wT: copies ? alloc(layer.inFeatures * layer.outFeatures) : 0,
          wTP: blocks.map((w) => alloc(packedSize(w, layer.outFeatures))),
          wP: blocks.map((w) => alloc(packedSize(layer.outFeatures, w))),
        });
        width = layer.outFeatures;
      }
      this.headWidths.push(width);
    });
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

  /**
   * Packed weights (and, where the kernels cannot pack W^T straight from W, transposed copies), the one-hot
   * gather table and folded biases, recomputed whenever the parameters change.
   */
  private refreshDerived(): void {
    const { k, H, G } = this;
    const GH = G * H;
    /** B = W^T packed, W [N, K] with leading dimension ldw; `copy` a scratch for its transpose [K, N]. */
    const packT = (K: number, N: number, w: number, ldw: number, copy: number, dst: number): void => {
      if (k.packBT) {
        k.packBT(K, N, w, ldw, dst);
        return;
      }
      if (ldw === K) {
        k.transpose(w, N, K, copy);
      } else {
        const h = k.heap();
        for (let n = 0; n < N; n++) for (let j = 0; j < K; j++) h[copy + j * N + n] = h[w + n * ldw + j];
      }
      k.packB(K, N, copy, N, dst);
    };
    for (const ly of this.dirs.flat()) {
      if (!ly.wihTP.length) k.transpose(ly.wih.off, GH, ly.inSize, ly.wihT); // one-hot: the gather table
      packT(H, GH, ly.whh.off, H, ly.whhT, ly.whhTP);
      k.packB(GH, H, ly.whh.off, H, ly.whhP);
      let c = 0;
      ly.wihTP.forEach((packed, j) => {
        const w = ly.blocks[j];
        packT(w, GH, ly.wih.off + c, ly.inSize, ly.wihT + c * GH, packed);
        k.packB(GH, w, ly.wih.off + c, ly.inSize, ly.wihP[j]);
        c += w;
      });
      k.fill(ly.xbias, GH, 0);
      if (ly.bih && ly.bhh) {
        const heap = k.heap();
        const hiddenPart = this.config.rnn.module === 'GRU' ? 2 * H : GH;
        for (let j = 0; j < GH; j++) heap[ly.xbias + j] = heap[ly.bih.off + j] + (j < hiddenPart ? heap[ly.bhh.off + j] : 0);
      }
    }
    for (const hl of this.headLinears.values()) {
      const O = hl.outF;
      let c = 0;
      hl.blocks.forEach((w, j) => {
        packT(w, O, hl.w.off + c, hl.inF, hl.wT + c * O, hl.wTP[j]);
        k.packB(O, w, hl.w.off + c, hl.inF, hl.wP[j]);
        c += w;
      });
    }
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
    const { H, L, D, V, G, E } = this;
    const GH = G * H, TB = T * B, LD = L * D, DH = D * H;
    const module = this.config.rnn.module;
    let top = this.paramEnd;
    const alloc = (n: number): number => { const off = top; top += (n + 3) & ~3; return off; };
    const each = <X>(f: (l: number, d: number) => X): X[][] => Array.from({ length: L }, (_, l) => Array.from({ length: D }, (__, d) => f(l, d)));
    const gates = each(() => alloc(TB * GH));
    const hs = each(() => alloc((T + 1) * B * H));
    const cs = each(() => (module === 'LSTM' ? alloc((T + 1) * B * H) : 0));
    const tc = each(() => (module === 'LSTM' ? alloc(TB * H) : 0));
    const hn = each(() => (module === 'GRU' ? alloc(TB * H) : 0));
    const x = each((l) => (l === 0 && E ? alloc(TB * E) : 0));
    const alt = each(() => (D === 2 ? alloc(TB * H) : 0));
    const dirs = each((l, d): DirectionBuffers => ({
      gates: gates[l][d], hs: hs[l][d], cs: cs[l][d], tc: tc[l][d], hn: hn[l][d], x: x[l][d], alt: alt[l][d],
    }));
    const dropping = this.config.rnnDropout > 0;
    const drop = Array.from({ length: L }, (_, l) => (l > 0 && dropping ? Array.from({ length: D }, () => alloc(TB * H)) : []));
    const dropRev = Array.from({ length: L }, (_, l) => (l > 0 && dropping && D === 2 ? Array.from({ length: D }, () => alloc(TB * H)) : []));
    const hproj = alloc(B * GH);
    const rows = this.classify ? B : TB;
    const features = this.classify ? alloc(B * DH) : 0;
    const dFeatures = this.classify && !this.inference ? alloc(B * DH) : 0;
    const headIn = this.headConcat ? alloc(TB * DH) : 0;
    const dHeadIn = this.headConcat && !this.inference ? alloc(TB * DH) : 0;
    const acts = this.headWidths.map((w) => alloc(rows * w));
    const lastLayer = this.config.head[this.config.head.length - 1];
    const ce = lastLayer.type === 'Linear' ? 0 : alloc(rows * this.O);
    const widest = Math.max(DH, ...this.headWidths);
    const dAct: [number, number] = this.config.head.length > 1 && !this.inference ? [alloc(rows * widest), alloc(rows * widest)] : [0, 0];
    // Backward only (an inference engine allocates none of it).
    const back = (n: number): number => (this.inference ? 0 : alloc(n));
    const dGi = back(TB * GH);
    const dGh = module === 'GRU' ? back(TB * GH) : dGi;
    const dUp: [number[], number[]] = [Array.from({ length: D }, () => back(TB * H)), Array.from({ length: D }, () => back(TB * H))];
    const revUp = D === 2 ? back(TB * H) : 0;
    const tmpIn = back(TB * Math.max(H, E));
    const hPrev = back(TB * H);
    const dhRec = back(B * H);
    const dc = back(B * H);
    const dE = E ? 0 : back(V * GH);
    const trainState = alloc(2 * LD * B * H);
    const evalState = alloc(2 * LD * B * H);
    const traceState = alloc(2 * LD * B * H);
    this.k.ensure(top);
    this.k.fill(trainState, 6 * LD * B * H, 0); // a new batch size starts from zero states
    this.ws = {
      B, T, dirs, drop, dropRev, hproj, features, dFeatures, headIn, dHeadIn, acts, ce, dAct, dGi, dGh, dUp, revUp, tmpIn, hPrev,
      dhRec, dc, dE, trainState, evalState, traceState,
    };
    if (kept) {
      const heap = this.k.heap();
      heap.set(kept.train, trainState);
      heap.set(kept.evaluation, evalState);
      if (kept.trace) heap.set(kept.trace, traceState);
    }
    return this.ws;
  }

  private stateFloats(B: number): number {
    return 2 * this.L * this.D * B * this.H;
  }

  private statesOf(ws: Workspace): CarriedStates {
    const heap = this.k.heap(), n = this.stateFloats(ws.B);
    return {
      B: ws.B, train: heap.slice(ws.trainState, ws.trainState + n), evaluation: heap.slice(ws.evalState, ws.evalState + n),
      trace: heap.slice(ws.traceState, ws.traceState + n),
    };
  }

  /** The carried training state as the reference engine names it: h (and c for LSTM), [L*D, B, H]. */
  getCarriedState(): TensorMap {
    const states = this.ws ? this.statesOf(this.ws) : this.pendingStates;
    const out: TensorMap = new Map();
    if (!states) return out;
    const LD = this.L * this.D;
    const n = LD * states.B * this.H, shape = [LD, states.B, this.H];
    out.set('h', { dtype: this.dtype, shape, data: states.train.slice(0, n) });
    if (this.config.rnn.module === 'LSTM') out.set('c', { dtype: this.dtype, shape, data: states.train.slice(n, 2 * n) });
    return out;
  }

  setCarriedState(state: TensorMap): void {
    const h = state.get('h');
    if (!h) return;
    const LD = this.L * this.D;
    if (h.shape.length !== 3 || h.shape[0] !== LD || h.shape[2] !== this.H) {
      throw new Error(`carried state h has shape ${formatShape(h.shape)}, expected [${LD}, B, ${this.H}]`);
    }
    const B = h.shape[1], n = LD * B * this.H;
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
    if (this.ws) this.k.fill(this.ws.evalState, this.stateFloats(this.ws.B), 0);
    if (this.pendingStates) this.pendingStates.evaluation.fill(0);
  }

  resetState(): void {
    if (this.ws) this.k.fill(this.ws.trainState, 2 * this.stateFloats(this.ws.B), 0);
    this.pendingStates = undefined;
  }

  // ---- batch layout --------------------------------------------------------------------------------

  /**
   * Checks a batch and lays it out. Row-major [B, T] inputs (and targets); `lengths` packs the batch; without
   * targets (tracing) only the inputs are checked.
   */
  private plan(inputs: ArrayLike<number>, targets: ArrayLike<number> | undefined, lengths: ArrayLike<number> | undefined,
    B: number, T: number): Plan {
    if (!(Number.isInteger(B) && Number.isInteger(T) && B >= 1 && T >= 1)) throw new Error('batch must have at least one sequence and one step');
    if (inputs.length !== B * T) throw new Error(`batch inputs must hold ${B * T} ids (batchSize ${B} x seqLen ${T})`);
    const expectedTargets = this.classify ? B : B * T;
    if (targets && targets.length !== expectedTargets) {
      throw new Error(this.classify ? `a classifier batch needs ${B} labels, got ${targets.length}`
        : `batch targets must hold ${B * T} ids (batchSize ${B} x seqLen ${T})`);
    }
    let order: Int32Array | null = null;
    const lens = new Int32Array(B).fill(T);
    if (lengths) {
      if (lengths.length !== B) throw new Error(`lengths has ${lengths.length} entries for a batch of ${B}`);
      let full = true;
      for (let b = 0; b < B; b++) {
        const len = lengths[b];
        if (!(Number.isInteger(len) && len >= 1 && len <= T)) throw new Error(`lengths[${b}] = ${len} is outside 1..${T}`);
        if (len !== T) full = false;
      }
      if (!full) {
        // Longest first, ties in batch order (pack_padded_sequence sorts the same way).
        order = Int32Array.from({ length: B }, (_, b) => b).sort((a, b) => lengths[b] - lengths[a] || a - b);
        for (let i = 0; i < B; i++) lens[i] = lengths[order[i]];
      }
    }
    const Tmax = lens[0];
    const n = new Int32Array(Tmax), offset = new Int32Array(Tmax + 1);
    for (let t = 0, i = B; t < Tmax; t++) {
      while (i > 0 && lens[i - 1] <= t) i--;
      n[t] = i;
      offset[t + 1] = offset[t] + i;
    }
    const N = offset[Tmax];
    const D = this.D;
    // Packed steps: the layer kernels read the step offsets after the tokens.
    const steps = order ? (D === 2 ? 3 * N : N) : -1;
    const tokens = new Int32Array((D === 2 ? 3 * N : N) + (order ? Tmax + 1 : 0));
    if (order) tokens.set(offset, steps);
    const V = this.V;
    for (let t = 0; t < Tmax; t++) {
      for (let i = 0, r = offset[t]; i < n[t]; i++, r++) {
        const id = inputs[(order ? order[i] : i) * T + t];
        if (!(id >= 0 && id < V)) throw new Error(`input id ${id} at ${(order ? order[i] : i) * T + t} outside vocabulary of ${V}`);
        tokens[r] = id;
      }
    }
    const lastRow = new Int32Array(B);
    for (let i = 0; i < B; i++) lastRow[i] = offset[lens[i] - 1] + i;
    if (D === 2) {
      for (let t = 0; t < Tmax; t++) {
        for (let i = 0, r = offset[t]; i < n[t]; i++, r++) {
          const p = offset[lens[i] - 1 - t] + i;
          tokens[N + r] = tokens[p];
          tokens[2 * N + r] = p;
        }
      }
    }
    let counted = 0;
    let packedTargets = new Int32Array(0);
    if (targets) {
      const O = this.O;
      const check = (y: number, at: number): void => {
        if (y === IGNORE_INDEX) return;
        if (!(Number.isInteger(y) && y >= 0 && y < O)) throw new Error(`target id ${y} at ${at} outside ${O} outputs`);
        counted++;
      };
      if (this.classify) {
        packedTargets = new Int32Array(B);
        for (let i = 0; i < B; i++) {
          const b = order ? order[i] : i;
          check(targets[b], b);
          packedTargets[i] = targets[b];
        }
      } else {
        packedTargets = new Int32Array(N);
        for (let t = 0; t < Tmax; t++) {
          for (let i = 0, r = offset[t]; i < n[t]; i++, r++) {
            const at = (order ? order[i] : i) * T + t;
            check(targets[at], at);
            packedTargets[r] = targets[at];
          }
        }
      }
    }
    return { B, T, fixed: order === null, N, Tmax, order, lens, n, offset, steps, lastRow, tokens, targets: packedTargets, counted };
  }

  // ---- forward -------------------------------------------------------------------------------------

  /** Row of h_{t-1} for step t in a direction's hs buffer. */
  private static prevRow(plan: Plan, t: number): number {
    return t === 0 ? 0 : plan.B + plan.offset[t - 1];
  }

  /** A layer's input blocks in direction d's row order. */
  private inputBlocks(ws: Workspace, plan: Plan, l: number, d: number): number[] {
    if (l === 0) return [ws.dirs[0][d].x];
    if (this.masks.rnn[l]) return d === 0 ? [...ws.drop[l]] : [...ws.dropRev[l]];
    const below = ws.dirs[l - 1], top = plan.B * this.H;
    if (this.D === 1) return [below[0].hs + top];
    return d === 0 ? [below[0].hs + top, below[1].alt] : [below[0].alt, below[1].hs + top];
  }

  /**
   * Runs every layer (and, withHead, the readout and the head) over a planned batch from `state`; returns the
   * summed cross-entropy (0 without targets) and the classifier's correct rows. Training draws the dropout
   * masks and leaves ∂loss/∂logits (of the mean loss) in the logits.
   */
  private forward(plan: Plan, state: number, training: boolean, withHead = true): { loss: number; correct: number } {
    const { k, H, L, G, D } = this;
    const ws = this.workspace(plan.B, plan.T);
    const { B, N } = plan;
    const GH = G * H;
    k.setTokens(plan.tokens, plan.targets);
    const rnn = this.config.rnn;
    const hard = rnn.recurrentActivation === 'hard_sigmoid';
    const relu = rnn.nonlinearity === 'relu';
    const uniform = training ? this.uniform : undefined;
    this.masks = { rnn: [], head: new Map() };
    for (let l = 0; l < L; l++) {
      if (l > 0 && uniform && this.config.rnnDropout > 0) this.dropLayerInputs(ws, plan, l, uniform);
      for (let d = 0; d < D; d++) {
        const ly = this.dirs[l][d], buf = ws.dirs[l][d];
        this.loadState(plan, state, l, d, buf);
        const tokenBase = d === 0 ? 0 : N;
        // Layer 0's one-hot projection is gathered step by step, right before the step's GEMM adds to it,
        // so the gate rows stay in cache instead of making a round trip through memory between two passes.
        let table = -1;
        if (l === 0 && !this.embedding) {
          table = ly.wihT;
        } else {
          if (l === 0) k.gatherRows(buf.x, this.embedding!.off, this.E, N, this.zeros, tokenBase);
          const inputs = this.inputBlocks(ws, plan, l, d);
          inputs.forEach((x, j) => k.gemmPacked(N, GH, ly.blocks[j], x, ly.blocks[j], 1, ly.wihTP[j], buf.gates, GH, j > 0));
          k.addRowBias(buf.gates, N, GH, ly.xbias);
        }
        this.recurrence(ws, plan, ly, buf, table, tokenBase, rnn.module === 'RNN' ? relu : hard);
      }
      // Each direction's outputs in the other's row order: what the layer above, the head or the readout read.
      if (D === 2 && (l < L - 1 || this.config.readout !== 'last')) {
        for (let d = l < L - 1 ? 0 : 1; d < D; d++) {
          const buf = ws.dirs[l][d];
          k.gatherRows(buf.alt, buf.hs + B * H, H, N, this.zeros, 2 * N);
        }
      }
    }
    if (!withHead) return { loss: 0, correct: 0 };
    const R = this.classify ? B : N;
    let input: Block[];
    if (this.classify) {
      this.readoutForward(ws, plan);
      input = [{ off: ws.features, ld: D * H }];
    } else {
      const top = ws.dirs[L - 1];
      input = D === 1 ? [{ off: top[0].hs + B * H, ld: H }] : [{ off: top[0].hs + B * H, ld: H }, { off: top[1].alt, ld: H }];
      if (this.headConcat) {
        this.concatRows(input, ws.headIn, R);
        input = [{ off: ws.headIn, ld: D * H }];
      }
    }
    // A language model's output bias is added inside the softmax (one pass over the logits less).
    const last = this.headLinears.get(this.config.head.length - 1);
    const fused = !this.classify && plan.targets.length > 0 && last?.b !== undefined ? last.b.off : undefined;
    let logits = this.headForward(ws, plan, R, input, uniform, fused !== undefined);
    if (ws.ce) {
      k.copy(logits, ws.ce, R * this.O);
      logits = ws.ce;
    }
    this.logitsOff = logits;
    this.outputBiasGradDone = false;
    if (!plan.targets.length) return { loss: 0, correct: 0 };
    const correct = this.classify ? this.countCorrect(logits, plan) : 0;
    if (!plan.counted) {
      if (training) k.fill(logits, R * this.O, 0); // nothing to learn from: zero gradients
      return { loss: 0, correct };
    }
    const biasGrad = training && fused !== undefined ? last!.b!.grad : undefined;
    this.outputBiasGradDone = biasGrad !== undefined;
    return { loss: k.softmaxCrossEntropy(logits, R, this.O, training ? 1 / plan.counted : 0, fused, biasGrad), correct };
  }

  /** One direction's recurrence over the planned steps (the gates already hold the input projection unless `table`). */
  private recurrence(ws: Workspace, plan: Plan, ly: DirectionSlots, buf: DirectionBuffers, table: number, tokenBase: number, flag: boolean): void {
    const { k, H, G } = this;
    const { B } = plan;
    const GH = G * H;
    const module = this.config.rnn.module;
    if (k.layerForward) {
      const buffers = { gates: buf.gates, hs: buf.hs, cs: buf.cs, tc: buf.tc, hn: buf.hn, hproj: ws.hproj };
      k.layerForward(MODULE_NUMBER[module], plan.Tmax, B, H, buffers, ly.whhTP, table, ly.xbias, tokenBase, ly.bhn, flag, plan.steps);
      return;
    }
    for (let t = 0; t < plan.Tmax; t++) {
      const rows = plan.n[t], row = plan.offset[t], prev = FastLmEngine.prevRow(plan, t);
      const g = buf.gates + row * GH, hPrev = buf.hs + prev * H, h = buf.hs + (B + row) * H;
      if (table >= 0) k.gatherRows(g, table, GH, rows, ly.xbias, tokenBase + row);
      switch (module) {
        case 'LSTM':
          k.gemmPacked(rows, GH, H, hPrev, H, 1, ly.whhTP, g, GH, true);
          k.lstmForward(rows, H, g, buf.cs + prev * H, buf.cs + (B + row) * H, buf.tc + row * H, h, flag);
          break;
        case 'GRU':
          k.gemmPacked(rows, GH, H, hPrev, H, 1, ly.whhTP, ws.hproj, GH, false);
          k.gruForward(rows, H, g, ws.hproj, ly.bhn, hPrev, h, buf.hn + row * H, flag);
          break;
        case 'RNN':
          k.gemmPacked(rows, GH, H, hPrev, H, 1, ly.whhTP, g, GH, true);
          k.rnnForward(rows, H, g, h, flag);
          break;
      }
    }
  }

  /** h0 (and c0) of layer l, direction d from the carried state (original batch order) into hs's first B rows. */
  private loadState(plan: Plan, state: number, l: number, d: number, buf: DirectionBuffers): void {
    const { k, H } = this;
    const { B, order } = plan;
    const s = l * this.D + d, LD = this.L * this.D;
    const lstm = this.config.rnn.module === 'LSTM';
    if (!order) {
      k.copy(state + s * B * H, buf.hs, B * H);
      if (lstm) k.copy(state + (LD + s) * B * H, buf.cs, B * H);
      return;
    }
    for (let i = 0; i < B; i++) {
      k.copy(state + (s * B + order[i]) * H, buf.hs + i * H, H);
      if (lstm) k.copy(state + ((LD + s) * B + order[i]) * H, buf.cs + i * H, H);
    }
  }

  /** Keeps every layer's and direction's state after each sequence's last step as the next window's initial state. */
  private carryState(plan: Plan, state: number): void {
    const { k, H } = this;
    const ws = this.ws!;
    const { B, order } = plan;
    const LD = this.L * this.D;
    const lstm = this.config.rnn.module === 'LSTM';
    for (let l = 0; l < this.L; l++) {
      for (let d = 0; d < this.D; d++) {
        const buf = ws.dirs[l][d], s = l * this.D + d;
        if (plan.fixed) {
          k.copy(buf.hs + plan.T * B * H, state + s * B * H, B * H);
          if (lstm) k.copy(buf.cs + plan.T * B * H, state + (LD + s) * B * H, B * H);
          continue;
        }
        for (let i = 0; i < B; i++) {
          const b = order ? order[i] : i, at = (B + plan.lastRow[i]) * H;
          k.copy(buf.hs + at, state + (s * B + b) * H, H);
          if (lstm) k.copy(buf.cs + at, state + ((LD + s) * B + b) * H, H);
        }
      }
    }
  }

  /**
   * nn.LSTM(dropout=p) in training: layer l's input (the layer below's outputs) times a mask drawn as the
   * reference engine draws it (time-major [T, B, D*H] in batch order, padding included), kept for backward.
   */
  private dropLayerInputs(ws: Workspace, plan: Plan, l: number, uniform: () => number): void {
    const { H, D } = this;
    const { B, T, N, order } = plan;
    const DH = D * H, p = this.config.rnnDropout, keep = 1 / (1 - p);
    const drawn = floatArray(this.dtype, T * B * DH);
    for (let i = 0; i < drawn.length; i++) drawn[i] = uniform() < p ? 0 : keep;
    const below = ws.dirs[l - 1];
    const masks: FloatArray[] = [];
    for (let j = 0; j < D; j++) {
      const src = j === 0 ? below[0].hs + B * H : below[1].alt, dst = ws.drop[l][j];
      const mask = floatArray(this.dtype, N * H);
      const heap = this.k.heap();
      for (let t = 0; t < plan.Tmax; t++) {
        for (let i = 0, r = plan.offset[t]; i < plan.n[t]; i++, r++) {
          const from = ((t * B + (order ? order[i] : i)) * DH + j * H);
          for (let c = 0; c < H; c++) {
            const m = drawn[from + c];
            mask[r * H + c] = m;
            heap[dst + r * H + c] = heap[src + r * H + c] * m;
          }
        }
      }
      masks.push(mask);
      if (D === 2) this.k.gatherRows(ws.dropRev[l][j], dst, H, N, this.zeros, 2 * N);
    }
    this.masks.rnn[l] = masks;
  }

  /** Blocks side by side into one [rows, sum of widths] matrix. */
  private concatRows(blocks: readonly Block[], dst: number, rows: number): void {
    const width = blocks.reduce((s, b) => s + b.ld, 0);
    let c = 0;
    for (const b of blocks) {
      for (let r = 0; r < rows; r++) this.k.copy(b.off + r * b.ld, dst + r * width + c, b.ld);
      c += b.ld;
    }
  }

  /** The classifier's features [B, D*H] (sorted order) from the top layer. */
  private readoutForward(ws: Workspace, plan: Plan): void {
    const { k, H, D } = this;
    const { B } = plan;
    const DH = D * H;
    const top = ws.dirs[this.L - 1];
    const F = ws.features;
    if (this.config.readout === 'last') {
      // h_n of the last layer: each direction's state after its own last step (the reverse one's is at t = 0).
      for (let d = 0; d < D; d++) {
        for (let i = 0; i < B; i++) k.copy(top[d].hs + (B + plan.lastRow[i]) * H, F + i * DH + d * H, H);
      }
      return;
    }
    const heap = k.heap();
    const max = this.config.readout === 'max';
    heap.fill(max ? -Infinity : 0, F, F + B * DH);
    const argmax = max ? new Int32Array(B * DH) : undefined;
    for (let d = 0; d < D; d++) {
      const src = d === 0 ? top[0].hs + B * H : top[1].alt; // forward row order
      for (let t = 0; t < plan.Tmax; t++) {
        for (let i = 0, r = plan.offset[t]; i < plan.n[t]; i++, r++) {
          const so = src + r * H, fo = F + i * DH + d * H;
          if (argmax) {
            for (let c = 0; c < H; c++) {
              if (heap[so + c] > heap[fo + c]) { heap[fo + c] = heap[so + c]; argmax[i * DH + d * H + c] = r; }
            }
          } else {
            for (let c = 0; c < H; c++) heap[fo + c] += heap[so + c];
          }
        }
      }
    }
    if (!max) for (let i = 0; i < B; i++) for (let c = 0; c < DH; c++) heap[F + i * DH + c] /= plan.lens[i];
    this.argmax = argmax;
  }

  /** Head layers over `rows` rows of `input`; returns the offset of the logits (without the last bias when `skipLastBias`). */
  private headForward(ws: Workspace, plan: Plan, rows: number, input: Block[], uniform: (() => number) | undefined, skipLastBias: boolean): number {
    const { k } = this;
    let x = input;
    this.headInputs = [];
    this.config.head.forEach((layer, i) => {
      this.headInputs.push(x);
      const out = ws.acts[i], width = this.headWidths[i];
      if (layer.type === 'Linear') {
        const hl = this.headLinears.get(i)!;
        x.forEach((b, j) => k.gemmPacked(rows, hl.outF, hl.blocks[j], b.off, b.ld, 1, hl.wTP[j], out, hl.outF, j > 0));
        if (hl.b && !(skipLastBias && i === this.config.head.length - 1)) k.addRowBias(out, rows, hl.outF, hl.b.off);
        x = [{ off: out, ld: hl.outF }];
        return;
      }
      const src = x[0].off, n = rows * width;
      const heap = k.heap();
      if (layer.type === 'ReLU') {
        for (let c = 0; c < n; c++) heap[out + c] = heap[src + c] > 0 ? heap[src + c] : 0;
      } else if (layer.type === 'Tanh') {
        for (let c = 0; c < n; c++) heap[out + c] = Math.tanh(heap[src + c]);
      } else if (uniform && layer.p > 0) {
        const mask = this.headMask(plan, rows, width, layer.p, uniform);
        for (let c = 0; c < n; c++) heap[out + c] = heap[src + c] * mask[c];
        this.masks.head.set(i, mask);
      } else {
        k.copy(src, out, n);
      }
      x = [{ off: out, ld: width }];
    });
    return x[0].off;
  }

  /** A head Dropout mask drawn over the reference engine's rows (time-major [T, B] in batch order for an LM). */
  private headMask(plan: Plan, rows: number, width: number, p: number, uniform: () => number): FloatArray {
    const { B, T, order } = plan;
    const keep = 1 / (1 - p);
    const drawn = floatArray(this.dtype, (this.classify ? B : T * B) * width);
    for (let c = 0; c < drawn.length; c++) drawn[c] = uniform() < p ? 0 : keep;
    const mask = floatArray(this.dtype, rows * width);
    const copyRow = (r: number, from: number): void => mask.set(drawn.subarray(from * width, (from + 1) * width), r * width);
    if (this.classify) {
      for (let i = 0; i < B; i++) copyRow(i, order ? order[i] : i);
    } else {
      for (let t = 0; t < plan.Tmax; t++) {
        for (let i = 0, r = plan.offset[t]; i < plan.n[t]; i++, r++) copyRow(r, t * B + (order ? order[i] : i));
      }
    }
    return mask;
  }

  /** Rows whose largest logit is the label (the first one on ties, as the reference). */
  private countCorrect(logits: number, plan: Plan): number {
    const heap = this.k.heap(), O = this.O;
    let correct = 0;
    for (let r = 0; r < plan.targets.length; r++) {
      if (plan.targets[r] === IGNORE_INDEX) continue;
      let best = -Infinity, arg = 0;
      for (let o = 0; o < O; o++) if (heap[logits + r * O + o] > best) { best = heap[logits + r * O + o]; arg = o; }
      if (arg === plan.targets[r]) correct++;
    }
    return correct;
  }

  // ---- backward ------------------------------------------------------------------------------------

  private backward(plan: Plan): void {
    const { k, H, L, D, E } = this;
    const ws = this.ws!;
    const { B, N } = plan;
    if (this.embedding) k.fill(this.embedding.grad, this.V * E, 0);
    const R = this.classify ? B : N;
    let p = 0;
    this.headBackward(ws, R);
    if (this.classify) this.readoutBackward(ws, plan, ws.dUp[0]);
    else if (this.headConcat) {
      // Split the concatenated input's gradient back into the two directions.
      for (let d = 0; d < D; d++) {
        for (let r = 0; r < N; r++) k.copy(ws.dHeadIn + r * D * H + d * H, ws.dUp[0][d] + r * H, H);
      }
    }
    for (let l = L - 1; l >= 0; l--) {
      const up = ws.dUp[p], below = ws.dUp[p ^ 1];
      for (let d = 0; d < D; d++) this.directionBackward(ws, plan, l, d, up[d], below);
      const masks = this.masks.rnn[l];
      if (l > 0 && masks) {
        const heap = k.heap();
        masks.forEach((mask, j) => {
          const g = below[j];
          for (let c = 0; c < N * H; c++) heap[g + c] *= mask[c];
        });
      }
      p ^= 1;
    }
    const pad = this.config.embedding?.paddingIdx;
    // nn.Embedding(padding_idx): that row never gets a gradient.
    if (this.embedding && pad !== null && pad !== undefined) k.fill(this.embedding.grad + pad * E, E, 0);
  }

  /** Back through the head from ∂loss/∂logits (left in the logits); writes its parameters' gradients. */
  private headBackward(ws: Workspace, rows: number): void {
    const { k, D, H } = this;
    const head = this.config.head;
    let dOut = this.logitsOff;
    let ping = 0;
    for (let i = head.length - 1; i >= 0; i--) {
      const layer = head[i];
      const x = this.headInputs[i];
      let targets: Block[];
      if (i > 0) targets = [{ off: ws.dAct[ping], ld: this.headWidths[i - 1] }];
      else if (this.classify) targets = [{ off: ws.dFeatures, ld: D * H }];
      else if (this.headConcat) targets = [{ off: ws.dHeadIn, ld: D * H }];
      else targets = ws.dUp[0].map((off) => ({ off, ld: H }));
      if (layer.type === 'Linear') {
        const hl = this.headLinears.get(i)!;
        const O = hl.outF;
        let c = 0;
        x.forEach((b, j) => {
          const w = hl.blocks[j];
          k.gemmPacked(rows, w, O, dOut, O, 1, hl.wP[j], targets[j].off, targets[j].ld, false);
          k.gemm(O, w, rows, dOut, 1, O, b.off, b.ld, hl.w.grad + c, hl.inF, false);
          c += w;
        });
        if (hl.b && !(i === head.length - 1 && this.outputBiasGradDone)) k.colSum(dOut, rows, O, hl.b.grad);
      } else {
        const n = rows * this.headWidths[i], y = ws.acts[i], to = targets[0].off;
        const heap = k.heap();
        if (layer.type === 'ReLU') {
          for (let c = 0; c < n; c++) heap[to + c] = heap[y + c] > 0 ? heap[dOut + c] : 0;
        } else if (layer.type === 'Tanh') {
          for (let c = 0; c < n; c++) heap[to + c] = heap[dOut + c] * (1 - heap[y + c] * heap[y + c]);
        } else {
          const mask = this.masks.head.get(i);
          if (mask) for (let c = 0; c < n; c++) heap[to + c] = heap[dOut + c] * mask[c];
          else k.copy(dOut, to, n);
        }
      }
      dOut = targets[0].off;
      ping ^= 1;
    }
  }

  /** The classifier readout's backward: ∂loss/∂features into the top layer's output gradients (forward order). */
  private readoutBackward(ws: Workspace, plan: Plan, up: readonly number[]): void {
    const { k, H, D } = this;
    const { B, N } = plan;
    const DH = D * H, dF = ws.dFeatures;
    const readout = this.config.readout;
    if (readout === 'last') {
      for (let d = 0; d < D; d++) {
        k.fill(up[d], N * H, 0);
        // The reverse direction's final state is its output at t = 0 (row i in forward order).
        for (let i = 0; i < B; i++) k.copy(dF + i * DH + d * H, up[d] + (d === 0 ? plan.lastRow[i] : i) * H, H);
      }
      return;
    }
    const heap = k.heap();
    if (readout === 'mean') {
      for (let d = 0; d < D; d++) {
        for (let t = 0; t < plan.Tmax; t++) {
          for (let i = 0, r = plan.offset[t]; i < plan.n[t]; i++, r++) {
            const len = plan.lens[i], fo = dF + i * DH + d * H, uo = up[d] + r * H;
            for (let c = 0; c < H; c++) heap[uo + c] = heap[fo + c] / len;
          }
        }
      }
      return;
    }
    const argmax = this.argmax!;
    for (let d = 0; d < D; d++) {
      heap.fill(0, up[d], up[d] + N * H);
      for (let i = 0; i < B; i++) {
        for (let c = 0; c < H; c++) heap[up[d] + argmax[i * DH + d * H + c] * H + c] = heap[dF + i * DH + d * H + c];
      }
    }
  }

  /**
   * BPTT for one direction of layer l from the gradients on its outputs (`upOrig`, forward row order); writes its
   * parameters' gradients and adds ∂loss/∂input into `below` (the layer below's output gradients, forward order).
   */
  private directionBackward(ws: Workspace, plan: Plan, l: number, d: number, upOrig: number, below: readonly number[]): void {
    const { k, H, G, D, E, V } = this;
    const ly = this.dirs[l][d], buf = ws.dirs[l][d];
    const { B, N } = plan;
    const GH = G * H;
    const rnn = this.config.rnn;
    const hard = rnn.recurrentActivation === 'hard_sigmoid';
    const relu = rnn.nonlinearity === 'relu';
    let dH = upOrig;
    if (d === 1) {
      k.gatherRows(ws.revUp, upOrig, H, N, this.zeros, 2 * N);
      dH = ws.revUp;
    }
    k.fill(ws.dhRec, B * H, 0);
    k.fill(ws.dc, B * H, 0);
    if (k.layerBackward) {
      const buffers = { gates: buf.gates, hs: buf.hs, cs: buf.cs, tc: buf.tc, hn: buf.hn, hproj: ws.hproj };
      k.layerBackward(MODULE_NUMBER[rnn.module], plan.Tmax, B, H, buffers, ly.whhP, dH, ws.dhRec, ws.dc, ws.dGi, ws.dGh,
        rnn.module === 'RNN' ? relu : hard, plan.steps);
    } else {
      // Going back in time the running sequences only ever grow (longest first), and rows that join start with
      // zero carried gradients: dhRec and dc rows past n_t are never written before their sequence's last step.
      for (let t = plan.Tmax - 1; t >= 0; t--) {
        const rows = plan.n[t], row = plan.offset[t], prev = FastLmEngine.prevRow(plan, t);
        const g = buf.gates + row * GH, hPrev = buf.hs + prev * H, dhIn = dH + row * H;
        const dGi = ws.dGi + row * GH, dGh = ws.dGh + row * GH;
        switch (rnn.module) {
          case 'LSTM':
            k.lstmBackward(rows, H, g, buf.cs + prev * H, buf.tc + row * H, dhIn, ws.dhRec, ws.dc, dGi, hard);
            k.gemmPacked(rows, H, GH, dGi, GH, 1, ly.whhP, ws.dhRec, H, false);
            break;
          case 'GRU':
            k.gruBackward(rows, H, g, buf.hn + row * H, hPrev, dhIn, ws.dhRec, dGi, dGh, hard);
            k.gemmPacked(rows, H, GH, dGh, GH, 1, ly.whhP, ws.dhRec, H, true);
            break;
          case 'RNN':
            k.rnnBackward(rows, H, buf.hs + (B + row) * H, dhIn, ws.dhRec, dGi, relu);
            k.gemmPacked(rows, H, GH, dGi, GH, 1, ly.whhP, ws.dhRec, H, false);
            break;
        }
      }
    }
    let hPrev = buf.hs;
    if (!plan.fixed) {
      // Packed steps shrink, so h_{t-1} of row (t, i) is not a fixed number of rows back: gather them.
      for (let t = 0; t < plan.Tmax; t++) k.copy(buf.hs + FastLmEngine.prevRow(plan, t) * H, ws.hPrev + plan.offset[t] * H, plan.n[t] * H);
      hPrev = ws.hPrev;
    }
    k.gemm(GH, H, N, ws.dGh, 1, GH, hPrev, H, ly.whh.grad, H, false);
    if (ly.bih && ly.bhh) {
      k.colSum(ws.dGi, N, GH, ly.bih.grad);
      k.colSum(ws.dGh, N, GH, ly.bhh.grad);
    }
    const tokenBase = d === 0 ? 0 : N;
    if (l === 0 && !this.embedding) {
      k.fill(ws.dE, V * GH, 0);
      k.scatterAddRows(ws.dGi, GH, N, ws.dE, tokenBase);
      k.transpose(ws.dE, V, GH, ly.wih.grad);
      return;
    }
    if (l === 0) {
      k.gemm(GH, E, N, ws.dGi, 1, GH, buf.x, E, ly.wih.grad, E, false);
      k.gemmPacked(N, E, GH, ws.dGi, GH, 1, ly.wihP[0], ws.tmpIn, E, false);
      // nn.Embedding's backward: each row's gradient onto its token's row (padding_idx is cleared at the end).
      k.scatterAddRows(ws.tmpIn, E, N, this.embedding!.grad, tokenBase);
      return;
    }
    const inputs = this.inputBlocks(ws, plan, l, d);
    inputs.forEach((x, j) => k.gemm(GH, H, N, ws.dGi, 1, GH, x, H, ly.wih.grad + j * H, D * H, false));
    for (let j = 0; j < D; j++) {
      if (d === 0) {
        k.gemmPacked(N, H, GH, ws.dGi, GH, 1, ly.wihP[j], below[j], H, false);
      } else {
        // In the reverse direction's row order: back to forward order through perm.
        k.gemmPacked(N, H, GH, ws.dGi, GH, 1, ly.wihP[j], ws.tmpIn, H, false);
        k.scatterAddRows(ws.tmpIn, H, N, below[j], 2 * N);
      }
    }
  }

  // ---- LmEngine ------------------------------------------------------------------------------------

  private evaluation(loss: number, correct: number, counted: number): Evaluation {
    return this.classify ? { loss, accuracy: counted ? correct / counted : 0 } : { loss };
  }

  /** applyClipping on the heap: the norm (and clip_grad_norm_'s scaling) in the kernels when they have it. */
  private clipGradients(clip: LmTrainOptions['clip']): number {
    const { k, blocks } = this;
    if (!k.sumSquares || !k.scale || clip?.value !== undefined) return applyClipping(this.views('grad'), clip);
    // The gradient blocks' padding between parameters is never written: zeros that add nothing.
    const total = Math.sqrt(k.sumSquares(blocks.g, blocks.length));
    const coef = (clip?.maxNorm ?? Infinity) / (total + 1e-6);
    if (coef < 1) k.scale(blocks.g, blocks.length, coef);
    return total;
  }

  trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult {
    this.assertAlive();
    if (this.inference) throw new Error(`this ${this.name} engine was made for inference only`);
    const plan = this.plan(batch.inputs, batch.targets, batch.lengths, batch.batchSize, batch.seqLen);
    const started = performance.now();
    if (this.tuner) this.k.setParallel!(this.tuner.next());
    const ws = this.workspace(plan.B, plan.T);
    if (!options.stateful) this.k.fill(ws.trainState, this.stateFloats(plan.B), 0);
    const counted = plan.counted;
    const r = this.forward(plan, ws.trainState, true);
    const loss = counted ? r.loss / counted : 0;
    this.backward(plan);
    if (options.stateful) this.carryState(plan, ws.trainState);
    const gradNorm = this.clipGradients(options.clip);
    this.optimizerFor(options.optimizer).step(this.views('param'), this.views('grad'));
    this.refreshDerived();
    this.tuner?.record(performance.now() - started);
    return { ...this.evaluation(loss, r.correct, counted), gradNorm };
  }

  evaluate(batch: LmBatch, stateful: boolean): Evaluation {
    this.assertAlive();
    const plan = this.plan(batch.inputs, batch.targets, batch.lengths, batch.batchSize, batch.seqLen);
    const ws = this.workspace(plan.B, plan.T);
    if (!stateful) this.k.fill(ws.evalState, this.stateFloats(plan.B), 0);
    const r = this.forward(plan, ws.evalState, false);
    if (stateful) this.carryState(plan, ws.evalState);
    return this.evaluation(plan.counted ? r.loss / plan.counted : 0, r.correct, plan.counted);
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
    const why = fastTraceUnsupportedReason(this.config);
    if (why) throw new Error(`the ${this.name} engine cannot trace ${why}`);
    const { k, H, L } = this;
    const plan = this.plan(inputs, undefined, undefined, B, T);
    // 'carry' holds across window lengths (the workspace keeps the states); another batch size starts from zeros.
    const reshaped = !this.ws || this.ws.B !== B;
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
    this.forward(plan, ws.traceState, false, scores);
    this.carryState(plan, ws.traceState);
    const heap = k.heap();
    const lstm = this.config.rnn.module === 'LSTM';
    const GH = this.G * H;
    const layers = Array.from({ length: L }, (_, l): FastTraceLayer => {
      const buf = ws.dirs[l][0];
      return {
        h: heap.subarray(buf.hs + B * H, buf.hs + (T + 1) * B * H),
        ...(lstm ? { c: heap.subarray(buf.cs + B * H, buf.cs + (T + 1) * B * H) } : {}),
        // An Elman RNN has no gates (its buffer holds pre-activations): empty, like the reference trace.
        gates: this.config.rnn.module === 'RNN' ? heap.subarray(0, 0) : heap.subarray(buf.gates, buf.gates + T * B * GH),
      };
    });
    return { layers, logits: scores ? heap.subarray(this.logitsOff, this.logitsOff + T * B * this.O) : heap.subarray(0, 0) };
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
