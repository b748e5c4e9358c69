// The document sweep: a unidirectional LSTM/GRU/RNN stack run over one long token sequence (batch 1), keeping
// only the state every K tokens. A document is one sequence, so the batched training kernels would spend each
// step on a 1-row GEMM and a hand-off; instead each layer runs on FastKernels.seqForward (kernels.c
// seq_forward): W_hh^T packed once in panels that stay in cache, one row against it per step, the cell math on
// the registers (no gates stored), the one-hot input projection read as a row of a table. A stack goes layer by
// layer over chunks of the document (each layer's weights stay resident for a whole chunk; the layer below
// leaves its outputs for the next layer's input projection, one GEMM per chunk).
// Windows are recomputed elsewhere (the LM engine's traceWindow from the nearest kept state), with the gates.
import { type RnnConfig, gateBlocks, suffix } from '../config';
import { type FloatArray, type TensorMap, floatArray } from '../tensor';
import type { FastKernels, RecurrentModule } from './kernels';

const MODULE_NUMBER = { LSTM: 0, GRU: 1, RNN: 2 } as const;

/** The state of every layer, [L, H] each (c for LSTM). */
export interface SweepState {
  readonly h: FloatArray;
  readonly c?: FloatArray;
}

/** Whether kernels can run a sweep (the optional seqForward). */
export function canSweep(k: FastKernels): boolean {
  return typeof k.seqForward === 'function' && typeof k.seqUnitBlock === 'function';
}

/**
 * W_hh [G*H, H] (PyTorch rows, gate blocks) into seq_forward's panels: units [u0, u0 + w) of every gate, for each
 * k < H, at offset u0*G*H (w = UB, or what is left of Hp = H rounded up to 8; padded units are zero).
 */
export function packSeqWeights(whh: ArrayLike<number>, G: number, H: number, UB: number, out: FloatArray, at: number): void {
  const Hp = (H + 7) & ~7;
  for (let u0 = 0; u0 < Hp; u0 += UB) {
    const w = Math.min(UB, Hp - u0);
    let o = at + u0 * G * H;
    for (let k = 0; k < H; k++) {
      for (let g = 0; g < G; g++) {
        for (let u = 0; u < w; u++) out[o++] = u0 + u < H ? whh[(g * H + u0 + u) * H + k] : 0;
      }
    }
  }
}

interface Layer {
  readonly packed: number; // seq_forward panels of W_hh^T
  /** Layer 0: the one-hot projection table [V, G*Hp] (biases folded); above: W_ih^T packed for gemmPacked. */
  readonly input: number;
  readonly xbias: number; // [G*Hp] (layers above 0)
  readonly bhn: number; // [Hp] GRU's b_hn
  readonly h: number; // [Hp] carried state
  readonly c: number; // [Hp] LSTM
}

/** Buffers for chunks of up to `steps` steps, after the parameters. */
interface ChunkBuffers {
  readonly steps: number;
  readonly xp: number; // [steps, G*Hp] input projection of a layer above 0
  readonly hsFull: readonly [number, number]; // [(steps + 1), Hp] outputs of the layer below / this one
  readonly ring: number; // [2, Hp] the top layer's h
  readonly ckh: readonly number[]; // per layer [steps, H] kept states of one chunk (at most one per step)
  readonly ckc: readonly number[];
}

export interface SweepOptions {
  /** Steps per kernel call at most (the chunk a stack goes through layer by layer). */
  readonly chunkSteps?: number;
  /** 1 or 2 threads, or 'auto' (default): timed on the first chunks and re-checked now and then. */
  readonly threads?: 1 | 2 | 'auto';
  /**
   * nn.Embedding's table [V, inputSize] before layer 0 (row-major): layer 0 then reads token ids through it.
   * Each token's projection is still a row of one table, made by one GEMM (embedding · W_ihᵀ).
   */
  readonly embedding?: ArrayLike<number>;
}

/**
 * Picks 1 or 2 threads by timing both (per step), as the training tuner does. Two threads run the first
 * WARMUP chunks untimed: a helper core that was idle runs slowly for a while (on this 2-vCPU machine the first
 * ~40k two-thread steps took up to twice the steady time), which would make the probes pick one thread
 * wrongly. Then probe chunks alternate 1 and 2 (the better of each counts) and the faster is kept. As the
 * machine's load drifts, the other is tried again on two chunks in every RECHECK; the current one's figure is
 * a running average. Re-checks are rare because a trial of the slower choice costs its whole chunk (at H=256
 * one thread takes twice as long), and a helper that loses its core mid-chunk is sat out by the kernel itself.
 */
class ThreadChoice {
  private static readonly WARMUP = 6;
  private static readonly PROBES = 4;
  private static readonly RECHECK = 128;
  private readonly est: [number, number] = [Infinity, Infinity];
  private chunks = 0;
  private current: 1 | 2 = 2;
  private trial: number[] = [];

  constructor(private readonly fixed: 1 | 2 | undefined) {}

  /** Threads for the next chunk. */
  next(): 1 | 2 {
    if (this.fixed) return this.fixed;
    const n = this.chunks - ThreadChoice.WARMUP;
    if (n < 0) return 2;
    if (n < ThreadChoice.PROBES) return n % 2 === 0 ? 1 : 2;
    const phase = n % ThreadChoice.RECHECK;
    return phase === 0 || phase === 1 ? this.other() : this.current;
  }

  record(threads: 1 | 2, msPerStep: number): void {
    const n = this.chunks++ - ThreadChoice.WARMUP;
    const i = threads - 1;
    if (this.fixed || n < 0) return;
    if (n < ThreadChoice.PROBES) {
      this.est[i] = Math.min(this.est[i], msPerStep);
      if (n === ThreadChoice.PROBES - 1) this.current = this.est[1] < this.est[0] ? 2 : 1;
      return;
    }
    if (threads === this.current) {
      this.est[i] = 0.7 * this.est[i] + 0.3 * msPerStep;
      return;
    }
    this.trial.push(msPerStep);
    if (this.trial.length < 2) return;
    this.est[i] = Math.min(...this.trial);
    this.trial = [];
    if (this.est[i] < this.est[this.current - 1]) this.current = threads;
  }

  chosen(): 1 | 2 {
    return this.fixed ?? this.current;
  }

  private other(): 1 | 2 {
    return this.current === 1 ? 2 : 1;
  }
}

export class SequenceSweep {
  private readonly k: FastKernels;
  private readonly module: RecurrentModule;
  private readonly H: number;
  private readonly Hp: number;
  private readonly G: number;
  private readonly L: number;
  private readonly V: number;
  private readonly flag: boolean;
  private readonly maxSteps: number;
  private readonly layers: Layer[] = [];
  private readonly paramEnd: number;
  private bufs: ChunkBuffers | undefined;
  private readonly threads: ThreadChoice;

  /**
   * rnn: a unidirectional stack whose layer 0 reads one-hot tokens (inputSize = vocabulary), or token ids through
   * options.embedding; params named as nn.LSTM's (weight_ih_l0, ...; `prefix` before each, e.g. 'rnn.').
   */
  constructor(rnn: RnnConfig, kernels: FastKernels, params: TensorMap, prefix = '', options: SweepOptions = {}) {
    if (rnn.bidirectional) throw new Error('SequenceSweep runs one direction');
    if (!canSweep(kernels)) throw new Error(`the ${kernels.name} kernels have no one-sequence sweep`);
    if (rnn.module === 'GRU' && rnn.gruReset === 'before') throw new Error('SequenceSweep: GRU with reset before the matmul');
    const k = kernels;
    this.k = k;
    this.module = MODULE_NUMBER[rnn.module];
    const H = rnn.hiddenSize, G = gateBlocks(rnn.module), L = rnn.numLayers;
    const E = options.embedding ? rnn.inputSize : 0; // 0: one-hot
    const V = E ? options.embedding!.length / E : rnn.inputSize;
    if (!Number.isInteger(V)) throw new Error(`an embedding of ${options.embedding!.length} values is not rows of ${E}`);
    const Hp = (H + 7) & ~7, GHp = G * Hp;
    this.H = H;
    this.Hp = Hp;
    this.G = G;
    this.L = L;
    this.V = V;
    this.flag = rnn.module === 'RNN' ? rnn.nonlinearity === 'relu' : rnn.recurrentActivation === 'hard_sigmoid';
    this.maxSteps = Math.max(1, Math.floor(options.chunkSteps ?? 4096));
    this.threads = new ThreadChoice(options.threads === 'auto' || options.threads === undefined ? undefined : options.threads);
    const UB = k.seqUnitBlock!(G);
    let top = 0;
    const alloc = (n: number): number => {
      const off = top;
      top += (n + 15) & ~15;
      return off;
    };
    const plan = Array.from({ length: L }, (_, l) => ({
      packed: alloc(G * H * Hp),
      input: l === 0 ? alloc(V * GHp) : alloc(k.packedSize(H, GHp)),
      xbias: alloc(GHp), bhn: alloc(Hp), h: alloc(Hp), c: alloc(Hp),
    }));
    this.paramEnd = top;
    // W_ih^T padded, to pack; with an embedding also its packing and the table (the chunk buffers reuse the space).
    const scratch = alloc(Math.max(H, E) * GHp);
    const embeddingPacked = E ? alloc(k.packedSize(E, GHp)) : 0, embeddingTable = E ? alloc(V * E) : 0;
    k.ensure(top);
    k.fill(0, top, 0);
    const heap = k.heap();
    const get = (name: string): ArrayLike<number> | undefined => params.get(`${prefix}${name}`)?.data as ArrayLike<number> | undefined;
    const need = (name: string): ArrayLike<number> => {
      const d = get(name);
      if (!d) throw new Error(`missing parameter ${prefix}${name}`);
      return d;
    };
    plan.forEach((ly, l) => {
      const s = suffix(l, false);
      const wih = need(`weight_ih${s}`), whh = need(`weight_hh${s}`);
      const bih = rnn.bias ? need(`bias_ih${s}`) : undefined, bhh = rnn.bias ? need(`bias_hh${s}`) : undefined;
      const inSize = l === 0 ? E || V : H;
      if (wih.length !== G * H * inSize || whh.length !== G * H * H) throw new Error(`layer ${l}: weights do not match the config`);
      packSeqWeights(whh, G, H, UB, heap, ly.packed);
      // Biases in the padded gate layout: b_ih + b_hh, except GRU's hidden n block (inside r * (.)).
      for (let g = 0; g < G; g++) {
        for (let j = 0; j < H; j++) {
          const hidden = !(rnn.module === 'GRU' && g === 2);
          heap[ly.xbias + g * Hp + j] = (bih ? bih[g * H + j] : 0) + (bhh && hidden ? bhh[g * H + j] : 0);
        }
      }
      if (rnn.module === 'GRU' && bhh) for (let j = 0; j < H; j++) heap[ly.bhn + j] = bhh[2 * H + j];
      if (l === 0 && !E) {
        // Token v's projection is column v of W_ih, plus the biases.
        for (let v = 0; v < V; v++) {
          const row = ly.input + v * GHp;
          for (let g = 0; g < G; g++) for (let j = 0; j < H; j++) heap[row + g * Hp + j] = wih[(g * H + j) * V + v] + heap[ly.xbias + g * Hp + j];
        }
      } else {
        for (let i = 0; i < inSize; i++) {
          for (let g = 0; g < G; g++) for (let j = 0; j < H; j++) heap[scratch + i * GHp + g * Hp + j] = wih[(g * H + j) * inSize + i];
        }
        if (l === 0) {
          // Token v's projection is row v of embedding · W_ih^T, plus the biases.
          k.packB(E, GHp, scratch, GHp, embeddingPacked);
          heap.set(options.embedding!, embeddingTable);
          k.gemmPacked(V, GHp, E, embeddingTable, E, 1, embeddingPacked, ly.input, GHp, false);
          k.addRowBias(ly.input, V, GHp, ly.xbias);
        } else {
          k.packB(H, GHp, scratch, GHp, ly.input);
        }
      }
      this.layers.push(ly);
    });
  }

  /** The carried state [L, H] (copies). */
  state(): SweepState {
    const { H, L } = this;
    const heap = this.k.heap();
    const h = floatArray(this.k.dtype, L * H);
    const c = this.module === 0 ? floatArray(this.k.dtype, L * H) : undefined;
    this.layers.forEach((ly, l) => {
      h.set(heap.subarray(ly.h, ly.h + H), l * H);
      c?.set(heap.subarray(ly.c, ly.c + H), l * H);
    });
    return c ? { h, c } : { h };
  }

  setState(h?: ArrayLike<number>, c?: ArrayLike<number>): void {
    const { H } = this;
    const heap = this.k.heap();
    this.layers.forEach((ly, l) => {
      for (let j = 0; j < H; j++) {
        heap[ly.h + j] = h ? h[l * H + j] : 0;
        heap[ly.c + j] = c ? c[l * H + j] : 0;
      }
    });
  }

  /** Threads the sweep runs on now (after tuning). */
  get threadCount(): 1 | 2 {
    return this.threads.chosen();
  }

  /**
   * Runs `tokens` on from the carried state; returns the state after every `every`-th token ([L, H] each),
   * counted from the first of these tokens.
   */
  advance(tokens: Int32Array, every: number): SweepState[] {
    const kept: SweepState[] = [];
    const K = Math.max(1, Math.floor(every));
    // Whole blocks per chunk, so the kept states line up with the chunk's own every-th steps.
    const chunk = K * Math.max(1, Math.floor(this.maxSteps / K));
    for (let from = 0; from < tokens.length; from += chunk) {
      const part = tokens.subarray(from, Math.min(tokens.length, from + chunk));
      kept.push(...this.chunk(part, K));
    }
    return kept;
  }

  private buffers(T: number): ChunkBuffers {
    if (this.bufs && this.bufs.steps >= T) return this.bufs;
    const { H, Hp, G, L } = this;
    let top = this.paramEnd;
    const alloc = (n: number): number => {
      const off = top;
      top += (n + 15) & ~15;
      return off;
    };
    const lstm = this.module === 0;
    this.bufs = {
      steps: T,
      xp: L > 1 ? alloc(T * G * Hp) : 0,
      hsFull: L > 1 ? [alloc((T + 1) * Hp), alloc((T + 1) * Hp)] : [0, 0],
      ring: alloc(2 * Hp),
      ckh: this.layers.map(() => alloc(T * H)),
      ckc: this.layers.map(() => (lstm ? alloc(T * H) : 0)),
    };
    this.k.ensure(top);
    return this.bufs;
  }

  private chunk(tokens: Int32Array, every: number): SweepState[] {
    const { k, H, Hp, G, L, module, flag } = this;
    const T = tokens.length, GHp = G * Hp;
    for (const t of tokens) if (!(t >= 0 && t < this.V)) throw new RangeError(`token id ${t} is outside the vocabulary of ${this.V}`);
    const bufs = this.buffers(T);
    k.setTokens(tokens, new Int32Array(0));
    const threads = this.threads.next();
    k.setParallel?.(threads === 2); // the layers' input GEMMs too: one thread when two lose (a busy machine)
    const t0 = performance.now();
    for (let l = 0; l < L; l++) {
      const ly = this.layers[l];
      const last = l === L - 1;
      const hs = last ? bufs.ring : bufs.hsFull[l % 2];
      const R = last ? 2 : T + 1;
      let xp = ly.input, first = 0;
      if (l > 0) {
        // The layer below left h_t in rows 1..T of its buffer.
        k.gemmPacked(T, GHp, H, bufs.hsFull[(l - 1) % 2] + Hp, Hp, 1, ly.input, bufs.xp, GHp, false);
        k.addRowBias(bufs.xp, T, GHp, ly.xbias);
        xp = bufs.xp;
        first = -1;
      }
      k.copy(ly.h, hs, Hp);
      k.seqForward!(module, T, H, ly.packed, xp, first, ly.bhn, hs, R, ly.c, every, bufs.ckh[l], bufs.ckc[l], flag, threads);
      k.copy(hs + (T % R) * Hp, ly.h, Hp);
    }
    this.threads.record(threads, (performance.now() - t0) / T);
    const kept: SweepState[] = [];
    const heap = k.heap();
    const n = every > 0 ? Math.floor(T / every) : 0;
    for (let b = 0; b < n; b++) {
      const h = floatArray(k.dtype, L * H);
      const c = module === 0 ? floatArray(k.dtype, L * H) : undefined;
      for (let l = 0; l < L; l++) {
        h.set(heap.subarray(bufs.ckh[l] + b * H, bufs.ckh[l] + (b + 1) * H), l * H);
        c?.set(heap.subarray(bufs.ckc[l] + b * H, bufs.ckc[l] + (b + 1) * H), l * H);
      }
      kept.push(c ? { h, c } : { h });
    }
    return kept;
  }

  dispose(): void {
    this.k.dispose();
  }
}
