// Exact windowed traces of a (bidirectional, multi-layer) LSTM/GRU/RNN stack over a long sequence on the
// fast kernels, in bounded memory. The reverse direction at step t depends on everything after t, so no
// single left-to-right sweep can produce a window; instead, a preparation keeps the state of every layer
// and direction at every K-th position (block boundaries):
//   - layer 0: the forward direction sweeps left to right, the reverse direction right to left;
//   - layer l > 0 reads [fwd, bwd] of layer l-1. Its sweep goes slice by slice, recomputing the layers
//     below on that slice from their checkpoints (a slice [a, b) is block-aligned, so the forward state at
//     a and the reverse state at b are both kept), instead of storing whole layer outputs (1 GB for 1 MB).
// A window [s, e) is then recomputed on the block-aligned range [a, b) around it: every layer, both
// directions, from the kept states at a (forward) and at b (reverse) — the result equals one pass over the
// whole sequence. The layer-by-layer recomputation costs O(L²) sweeps in preparation and O(L) per recomputed
// window range.
// Works for one direction too (then it is the unidirectional stack with checkpoints).
import { type RnnConfig, directions, gateBlocks, GATES, parameterSpecs, suffix } from '../config';
import { type FloatArray, type TensorMap, floatArray, formatShape, numel, shapeEquals, toFloat } from '../tensor';
import type { FastKernels } from './kernels';
import { SequenceSweep, canSweep } from './sweep';

/** Layer-0 input: token ids (one-hot, projected by a row gather) or dense rows [n, inputSize]. */
export type StackInput =
  | { readonly kind: 'tokens'; readonly ids: Int32Array }
  | { readonly kind: 'dense'; readonly x: ArrayLike<number> };

export interface StackTraceOptions {
  /** K: states kept every K positions; a window recomputes at most K extra steps on each side. */
  readonly checkpointEvery: number;
  /** Steps per preparation slice (rounded to whole blocks; default 2048). */
  readonly sliceSteps?: number;
  /** A Linear head over the top layer's [fwd, bwd] output: weight [outputs, D*H], bias [outputs]. */
  readonly head?: { readonly weight: ArrayLike<number>; readonly bias?: ArrayLike<number>; readonly outputs: number };
  /** Initial states [L*D, H] as nn.LSTM's h0/c0 for one sequence (zeros when omitted). */
  readonly h0?: ArrayLike<number>;
  readonly c0?: ArrayLike<number>;
  /**
   * Kernels for the one-sequence sweep (sweep.ts), a fresh set per call: layer 0 over tokens then prepares
   * each direction on it (W_hh resident in cache, no gates recorded) instead of step by step on `kernels`.
   */
  readonly sweepKernels?: () => FastKernels;
}

export interface StackWindow {
  /** trace_l{k}[_reverse]_{h|c|gate_*}: [end - start, 1, H], reverse direction in forward time order. */
  readonly tensors: TensorMap;
  /** [end - start, outputs] head scores, when the trace has a head. */
  readonly logits?: FloatArray;
}

interface DirectionSlots {
  /** Layer 0 with tokens: W_ih^T [inputSize, G*H] as a gather table. */
  readonly table: number;
  /** Packed W_ih^T parts: layer 0 dense [inputSize, G*H]; layer > 0 one [H, G*H] per direction below. */
  readonly wihP: readonly number[];
  readonly whhP: number; // packed W_hh^T [H, G*H]
  readonly xbias: number; // [G*H] b_ih + b_hh (GRU: b_hh's n block stays inside r * (.))
  readonly bhn: number; // [H] GRU's b_hn (zeros without bias)
}

/** One direction's buffers for a run over T steps; row i is position a + i. */
interface DirectionBuffers {
  readonly hs: number; // [(T+1), H]: forward h_{a-1+i} at row i; reverse h_{a+i} at row i, initial at row T
  readonly cs: number; // LSTM, laid out as hs
  readonly tc: number; // LSTM [T, H] tanh(c)
  readonly hn: number; // GRU [T, H]
  readonly gates: number; // [T, G*H] activations after the run
}

interface Workspace {
  readonly T: number;
  /** [set][direction]: layer l runs in set l % 2 and reads the set below. */
  readonly sets: readonly (readonly DirectionBuffers[])[];
  readonly hproj: number;
  readonly logits: number;
}

const DEFAULT_SLICE = 2048;

export class CheckpointedStackTrace {
  readonly length: number;
  readonly checkpointEvery: number;
  private readonly k: FastKernels;
  private readonly H: number;
  private readonly G: number;
  private readonly L: number;
  private readonly D: number;
  private readonly lstm: boolean;
  private readonly slots: DirectionSlots[][] = []; // [layer][direction]
  private readonly input: StackInput;
  private readonly denseX: number; // heap offset of dense inputs, or -1
  private readonly headParts: readonly number[] = []; // packed [H, O] per direction
  private readonly headBias: number = -1;
  private readonly outputs: number;
  private readonly paramEnd: number;
  private ws: Workspace | undefined;
  /** Kept states [layer][direction]: (blocks + 1) boundaries × (h, then c for LSTM) × H. */
  private readonly kept: FloatArray[][] = [];
  private readonly boundaries: number;
  private readonly slice: number;
  private prepared = false;
  private readonly params: TensorMap;
  private readonly sweepKernels: (() => FastKernels) | undefined;
  /** Forward checkpoints of the top layer... and every layer below: positions whose windows are computable. */
  private forwardDone = 0;
  private disposed = false;

  constructor(private readonly cfg: RnnConfig, kernels: FastKernels, params: TensorMap, input: StackInput, options: StackTraceOptions) {
    if (cfg.module === 'GRU' && cfg.gruReset === 'before') throw new Error('the fast trace does not support GRU with reset before the matmul');
    if (kernels.dtype !== cfg.dtype) throw new Error(`kernels are ${kernels.dtype}, model is ${cfg.dtype}`);
    this.k = kernels;
    this.params = params;
    this.sweepKernels = options.sweepKernels;
    this.H = cfg.hiddenSize;
    this.G = gateBlocks(cfg.module);
    this.L = cfg.numLayers;
    this.D = directions(cfg);
    this.lstm = cfg.module === 'LSTM';
    this.input = input;
    this.checkpointEvery = Math.max(1, Math.floor(options.checkpointEvery));
    const K = this.checkpointEvery;
    this.slice = K * Math.max(1, Math.floor((options.sliceSteps ?? DEFAULT_SLICE) / K));
    const inSize = cfg.inputSize;
    if (input.kind === 'tokens') {
      this.length = input.ids.length;
      for (let i = 0; i < input.ids.length; i++) {
        if (!(input.ids[i] >= 0 && input.ids[i] < inSize)) throw new RangeError(`token ${i} (id ${input.ids[i]}) is outside the input size ${inSize}`);
      }
    } else {
      if (input.x.length % inSize !== 0) throw new RangeError(`dense input of ${input.x.length} values is not a whole number of rows of ${inSize}`);
      this.length = input.x.length / inSize;
    }
    this.boundaries = Math.ceil(this.length / K) + 1;
    this.outputs = options.head?.outputs ?? 0;

    const { H, G, D } = this;
    const GH = G * H;
    let top = 16; // a guard before the first buffer, as the engines keep
    const alloc = (n: number): number => { const off = top; top += (n + 3) & ~3; return off; };
    const load = (name: string, shape: readonly number[]): number => {
      const t = params.get(name);
      if (!t) throw new Error(`parameters lack ${name}`);
      if (!shapeEquals(t.shape, shape)) throw new Error(`${name} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
      const off = alloc(numel(shape));
      this.k.ensure(top);
      this.k.heap().set(toFloat(t, cfg.dtype).data, off);
      return off;
    };
    const specs = parameterSpecs(cfg);
    const shapeOf = (name: string): readonly number[] => specs.find((s) => s.name === name)!.shape;
    const zeros = alloc(GH);
    for (let l = 0; l < this.L; l++) {
      const row: DirectionSlots[] = [];
      const width = l === 0 ? inSize : D * H;
      for (let d = 0; d < D; d++) {
        const s = suffix(l, d === 1);
        const wih = load(`weight_ih${s}`, shapeOf(`weight_ih${s}`));
        const whh = load(`weight_hh${s}`, shapeOf(`weight_hh${s}`));
        const bih = cfg.bias ? load(`bias_ih${s}`, [GH]) : -1;
        const bhh = cfg.bias ? load(`bias_hh${s}`, [GH]) : -1;
        const wihT = alloc(width * GH);
        const whhT = alloc(H * GH);
        const tokens = l === 0 && input.kind === 'tokens';
        const parts = tokens ? [] : l === 0 ? [inSize] : Array.from({ length: D }, () => H);
        const slot: DirectionSlots = {
          table: tokens ? alloc(width * GH) : -1,
          wihP: parts.map((rows) => alloc(kernels.packedSize(rows, GH))),
          whhP: alloc(kernels.packedSize(H, GH)),
          xbias: alloc(GH),
          bhn: cfg.bias && cfg.module === 'GRU' ? bhh + 2 * H : zeros,
        };
        this.k.ensure(top);
        this.k.fill(zeros, GH, 0);
        this.k.transpose(wih, GH, width, tokens ? slot.table : wihT);
        this.k.transpose(whh, GH, H, whhT);
        this.k.packB(H, GH, whhT, GH, slot.whhP);
        let row0 = 0;
        parts.forEach((rows, i) => { this.k.packB(rows, GH, wihT + row0 * GH, GH, slot.wihP[i]); row0 += rows; });
        this.k.fill(slot.xbias, GH, 0);
        if (cfg.bias) {
          const heap = this.k.heap();
          const hiddenPart = cfg.module === 'GRU' ? 2 * H : GH;
          for (let j = 0; j < GH; j++) heap[slot.xbias + j] = heap[bih + j] + (j < hiddenPart ? heap[bhh + j] : 0);
        }
        row.push(slot);
      }
      this.slots.push(row);
    }
    if (options.head) {
      const O = this.outputs;
      const { weight, bias } = options.head;
      if (weight.length !== O * D * H) throw new Error(`head weight has ${weight.length} values, expected ${O}x${D * H}`);
      const w = alloc(O * D * H);
      const wT = alloc(D * H * O);
      this.k.ensure(top);
      this.k.heap().set(toFloat({ dtype: 'float64', shape: [weight.length], data: Float64Array.from(weight) }, cfg.dtype).data, w);
      this.k.transpose(w, O, D * H, wT);
      this.headParts = Array.from({ length: D }, (_, d) => {
        const p = alloc(kernels.packedSize(H, O));
        this.k.ensure(top);
        this.k.packB(H, O, wT + d * H * O, O, p);
        return p;
      });
      this.headBias = alloc(O);
      this.k.ensure(top);
      this.k.fill(this.headBias, O, 0);
      if (bias) for (let o = 0; o < O; o++) this.k.heap()[this.headBias + o] = bias[o];
    }
    if (input.kind === 'dense') {
      this.denseX = alloc(input.x.length);
      this.k.ensure(top);
      this.k.heap().set(toFloat({ dtype: 'float64', shape: [input.x.length], data: Float64Array.from(input.x) }, cfg.dtype).data, this.denseX);
    } else {
      this.denseX = -1;
    }
    this.paramEnd = top;
    const stateSize = (this.lstm ? 2 : 1) * H;
    for (let l = 0; l < this.L; l++) this.kept.push(Array.from({ length: D }, () => floatArray(cfg.dtype, this.boundaries * stateSize)));
    // Where each sweep starts: forward at boundary 0, reverse at the last boundary (the end).
    const { h0, c0 } = options;
    if (h0 && h0.length !== this.L * D * H) throw new Error(`h0 must hold ${this.L * D}x${H} values`);
    if (c0 && c0.length !== this.L * D * H) throw new Error(`c0 must hold ${this.L * D}x${H} values`);
    for (let l = 0; l < this.L; l++) {
      for (let d = 0; d < D; d++) {
        const at = (d === 0 ? 0 : this.boundaries - 1) * stateSize;
        const from = (l * D + d) * H;
        for (let j = 0; j < H; j++) {
          if (h0) this.kept[l][d][at + j] = h0[from + j];
          if (c0 && this.lstm) this.kept[l][d][at + H + j] = c0[from + j];
        }
      }
    }
  }

  /** Preparation work in all: each layer sweeps both directions and recomputes the layers below. */
  get work(): number {
    let w = 0;
    for (let l = 0; l < this.L; l++) w += this.D * this.length * (1 + this.D * l);
    return w;
  }

  /**
   * Windows starting before this position can be computed now. One direction: the prefix whose states the
   * sweep of every layer has passed. Two: nothing until all is prepared (the reverse state comes from the end).
   */
  get available(): number {
    if (this.prepared) return this.length;
    return this.D === 1 ? this.forwardDone : 0;
  }

  /** Block start (a multiple of K, or the length) of boundary j. */
  private position(j: number): number {
    return Math.min(this.length, j * this.checkpointEvery);
  }

  // ---- buffers -------------------------------------------------------------------------------------

  private workspace(T: number): Workspace {
    if (this.ws && this.ws.T >= T) return this.ws;
    const { H, G, D } = this;
    const GH = G * H;
    let top = this.paramEnd;
    const alloc = (n: number): number => { const off = top; top += (n + 3) & ~3; return off; };
    const sets = Array.from({ length: Math.min(2, this.L) }, () => Array.from({ length: D }, (): DirectionBuffers => ({
      hs: alloc((T + 1) * H),
      cs: this.lstm ? alloc((T + 1) * H) : -1,
      tc: this.lstm ? alloc(T * H) : -1,
      hn: this.cfg.module === 'GRU' ? alloc(T * H) : -1,
      gates: alloc(T * GH),
    })));
    const hproj = alloc(GH);
    const logits = alloc(T * Math.max(1, this.outputs));
    this.k.ensure(top);
    this.ws = { T, sets, hproj, logits };
    return this.ws;
  }

  /** Row of direction d's output for position a + i (see DirectionBuffers.hs). */
  private row(buf: number, d: number, i: number): number {
    return buf + (d === 0 ? i + 1 : i) * this.H;
  }

  /** Puts kept state `j` of (l, d) into the run's initial row (zeros for the reverse run at the end). */
  private loadState(l: number, d: number, j: number, buf: DirectionBuffers, T: number): void {
    const H = this.H;
    const at = d === 0 ? 0 : T;
    const kept = this.kept[l][d];
    const stride = (this.lstm ? 2 : 1) * H;
    const heap = this.k.heap();
    heap.set(kept.subarray(j * stride, j * stride + H), buf.hs + at * H);
    if (this.lstm) heap.set(kept.subarray(j * stride + H, (j + 1) * stride), buf.cs + at * H);
  }

  /** Keeps the state of (l, d) at position a + i (row i of the run over [a, ...)) as boundary j. */
  private keepState(l: number, d: number, j: number, buf: DirectionBuffers, i: number): void {
    const H = this.H;
    const stride = (this.lstm ? 2 : 1) * H;
    const heap = this.k.heap();
    // Forward: the state before position a + i is h_{a+i-1}, row i. Reverse: the state entering from the
    // right of position a + i is h_{a+i}, row i (row T when a + i is the run's end).
    this.kept[l][d].set(heap.subarray(buf.hs + i * H, buf.hs + (i + 1) * H), j * stride);
    if (this.lstm) this.kept[l][d].set(heap.subarray(buf.cs + i * H, buf.cs + (i + 1) * H), j * stride + H);
  }

  // ---- one direction of one layer over [a, b) --------------------------------------------------------

  /**
   * Runs layer l, direction d over positions [a, b) from the initial row already in buf (row 0 forward,
   * row b - a reverse). Layer l > 0 reads the layer below from `below` (its output rows for [a, b)).
   */
  private run(l: number, d: number, a: number, b: number, buf: DirectionBuffers, below: readonly DirectionBuffers[] | undefined): void {
    const { k, H, G } = this;
    const GH = G * H;
    const T = b - a;
    const slot = this.slots[l][d];
    const rnn = this.cfg;
    const hard = rnn.recurrentActivation === 'hard_sigmoid';
    const relu = rnn.nonlinearity === 'relu';
    if (l === 0 && this.input.kind === 'tokens') {
      k.setTokens(this.input.ids.subarray(a, b), new Int32Array(T));
      k.gatherRows(buf.gates, slot.table, GH, T, slot.xbias);
    } else {
      if (l === 0) {
        const inSize = rnn.inputSize;
        k.gemmPacked(T, GH, inSize, this.denseX + a * inSize, inSize, 1, slot.wihP[0], buf.gates, GH, false);
      } else {
        below!.forEach((src, dd) => k.gemmPacked(T, GH, H, this.row(src.hs, dd, 0), H, 1, slot.wihP[dd], buf.gates, GH, dd > 0));
      }
      k.addRowBias(buf.gates, T, GH, slot.xbias);
    }
    for (let s = 0; s < T; s++) {
      const i = d === 0 ? s : T - 1 - s;
      const g = buf.gates + i * GH;
      const prev = d === 0 ? i : i + 1;
      const next = d === 0 ? i + 1 : i;
      const hPrev = buf.hs + prev * H, h = buf.hs + next * H;
      switch (rnn.module) {
        case 'LSTM':
          k.gemmPacked(1, GH, H, hPrev, H, 1, slot.whhP, g, GH, true);
          k.lstmForward(1, H, g, buf.cs + prev * H, buf.cs + next * H, buf.tc + i * H, h, hard);
          break;
        case 'GRU':
          k.gemmPacked(1, GH, H, hPrev, H, 1, slot.whhP, this.ws!.hproj, GH, false);
          k.gruForward(1, H, g, this.ws!.hproj, slot.bhn, hPrev, h, buf.hn + i * H, hard);
          break;
        case 'RNN':
          k.gemmPacked(1, GH, H, hPrev, H, 1, slot.whhP, g, GH, true);
          k.rnnForward(1, H, g, h, relu);
          break;
      }
    }
  }

  /**
   * Layers 0..upTo-1, every direction, over the block-aligned [a, b) from the kept states at a and b.
   * Returns the buffers of layer upTo - 1 (undefined when upTo is 0).
   */
  private runBelow(upTo: number, a: number, b: number, onLayer?: (l: number, bufs: readonly DirectionBuffers[]) => void): readonly DirectionBuffers[] | undefined {
    const K = this.checkpointEvery;
    const ws = this.workspace(b - a);
    let below: readonly DirectionBuffers[] | undefined;
    for (let l = 0; l < upTo; l++) {
      const bufs = ws.sets[l % 2];
      for (let d = 0; d < this.D; d++) {
        this.loadState(l, d, d === 0 ? a / K : Math.ceil(b / K), bufs[d], b - a);
        this.run(l, d, a, b, bufs[d], below);
      }
      onLayer?.(l, bufs);
      below = bufs;
    }
    return below;
  }

  // ---- preparation ---------------------------------------------------------------------------------

  /** Sweeps every layer and direction, keeping states at block boundaries; yields the work done. */
  *prepare(): Generator<number, void> {
    if (this.prepared) return;
    const n = this.length;
    const K = this.checkpointEvery;
    let done = 0;
    for (let l = 0; l < this.L; l++) {
      for (let d = 0; d < this.D; d++) {
        if (l === 0) {
          const sweep = this.layerZeroSweep(d);
          if (sweep) {
            for (const T of this.sweepLayerZero(sweep, d)) {
              done += T;
              yield done;
            }
            continue;
          }
        }
        const slices: [number, number][] = [];
        for (let a = 0; a < n; a += this.slice) slices.push([a, Math.min(n, a + this.slice)]);
        if (d === 1) slices.reverse();
        for (const [a, b] of slices) {
          const below = this.runBelow(l, a, b);
          const buf = this.ws!.sets[l % 2][d];
          const T = b - a;
          if (d === 0) {
            this.loadState(l, 0, a / K, buf, T);
            this.run(l, 0, a, b, buf, below);
            for (let j = a / K + 1; j < this.boundaries && this.position(j) <= b; j++) this.keepState(l, 0, j, buf, this.position(j) - a);
            if (this.D === 1 && l === this.L - 1) this.forwardDone = b;
          } else {
            this.loadState(l, 1, Math.ceil(b / K), buf, T);
            this.run(l, 1, a, b, buf, below);
            for (let j = Math.ceil(b / K) - 1; j >= 0 && this.position(j) >= a; j--) this.keepState(l, 1, j, buf, this.position(j) - a);
          }
          done += T * (1 + this.D * l);
          yield done;
        }
      }
      // One direction, several layers: windows need every layer's checkpoints, so the prefix waits for
      // the top layer's sweep (which recomputes the layers below on each slice).
    }
    this.prepared = true;
  }

  /** A one-sequence sweep of layer 0's direction d (its weights as a one-layer stack), where one can run. */
  private layerZeroSweep(d: number): SequenceSweep | undefined {
    if (this.input.kind !== 'tokens' || !this.sweepKernels) return undefined;
    const kernels = this.sweepKernels();
    if (kernels.dtype !== this.cfg.dtype || !canSweep(kernels)) {
      kernels.dispose();
      return undefined;
    }
    const s = suffix(0, d === 1);
    const names = ['weight_ih', 'weight_hh', ...(this.cfg.bias ? ['bias_ih', 'bias_hh'] : [])];
    const params: TensorMap = new Map(names.map((n) => [`${n}_l0`, this.params.get(`${n}${s}`)!]));
    try {
      return new SequenceSweep({ ...this.cfg, numLayers: 1, bidirectional: false }, kernels, params);
    } catch (e) {
      kernels.dispose();
      throw e;
    }
  }

  /**
   * Layer 0's direction d over the whole sequence on the sweep, slice by slice (yields each slice's steps),
   * keeping its state at every boundary. Reverse: the tokens read from the end; the first boundary reached
   * is the last block start, n - (boundaries - 2) * K tokens in, then one every K.
   */
  private *sweepLayerZero(sweep: SequenceSweep, d: number): Generator<number, void> {
    const n = this.length, K = this.checkpointEvery, H = this.H;
    const stride = (this.lstm ? 2 : 1) * H;
    const kept = this.kept[0][d];
    const keep = (j: number, state: { h: ArrayLike<number>; c?: ArrayLike<number> }): void => {
      kept.set(state.h as FloatArray, j * stride);
      if (state.c) kept.set(state.c as FloatArray, j * stride + H);
    };
    const last = this.boundaries - 1;
    const start = d === 0 ? 0 : last;
    sweep.setState(kept.subarray(start * stride, start * stride + H), this.lstm ? kept.subarray(start * stride + H, (start + 1) * stride) : undefined);
    try {
      if (d === 0) {
        const ids = (this.input as { ids: Int32Array }).ids;
        for (let a = 0; a < n; a += this.slice) {
          const b = Math.min(n, a + this.slice);
          sweep.advance(ids.subarray(a, b), K).forEach((state, i) => keep(a / K + 1 + i, state));
          if (b === n && n % K !== 0) keep(last, sweep.state());
          if (this.D === 1 && this.L === 1) this.forwardDone = b;
          yield b - a;
        }
        return;
      }
      const ids = (this.input as { ids: Int32Array }).ids.slice().reverse();
      if (last < 1) return;
      const first = n - (last - 1) * K; // tokens up to boundary last - 1 (1..K)
      sweep.advance(ids.subarray(0, first), first).forEach((state) => keep(last - 1, state));
      let j = last - 2;
      for (let a = first; a < n; a += this.slice) {
        const b = Math.min(n, a + this.slice);
        for (const state of sweep.advance(ids.subarray(a, b), K)) keep(j--, state);
        yield b - a + (a === first ? first : 0);
      }
      if (first === n) yield n;
    } finally {
      sweep.dispose();
    }
  }

  // ---- windows -------------------------------------------------------------------------------------

  /** Every layer and direction over [start, end), recomputed from the kept states around it. */
  window(start: number, end: number): StackWindow {
    if (this.disposed) throw new Error('this trace was disposed');
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= this.length)) {
      throw new RangeError(`trace window [${start}, ${end}) is outside the sequence's ${this.length} steps`);
    }
    if (start >= this.available) throw new RangeError(`trace window [${start}, ${end}) is not prepared yet`);
    const K = this.checkpointEvery;
    const a = Math.floor(start / K) * K;
    const b = Math.min(this.length, Math.ceil(end / K) * K);
    const { H, G } = this;
    const T = end - start;
    const dtype = this.cfg.dtype;
    const gateNames = GATES[this.cfg.module];
    const tensors: TensorMap = new Map();
    const top = this.runBelow(this.L, a, b, (l, bufs) => {
      const heap = this.k.heap();
      bufs.forEach((buf, d) => {
        const name = `trace${suffix(l, d === 1)}`;
        const take = (rowOf: (i: number) => number, tensor: string): void => {
          const data = floatArray(dtype, T * H);
          for (let t = start; t < end; t++) data.set(heap.subarray(rowOf(t - a), rowOf(t - a) + H), (t - start) * H);
          tensors.set(`${name}_${tensor}`, { dtype, shape: [T, 1, H], data });
        };
        take((i) => this.row(buf.hs, d, i), 'h');
        if (this.lstm) take((i) => this.row(buf.cs, d, i), 'c');
        gateNames.forEach((g, gi) => take((i) => buf.gates + (i * G + gi) * H, `gate_${g}`));
      });
    })!;
    if (!this.outputs) return { tensors };
    const O = this.outputs;
    const ws = this.ws!;
    top.forEach((buf, d) => this.k.gemmPacked(T, O, H, this.row(buf.hs, d, start - a), H, 1, this.headParts[d], ws.logits, O, d > 0));
    this.k.addRowBias(ws.logits, T, O, this.headBias);
    return { tensors, logits: this.k.heap().slice(ws.logits, ws.logits + T * O) };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kept.length = 0;
    this.k.dispose();
  }
}
