// FastKernels on the WebAssembly SIMD128 kernels (src/kernels/c/kernels.c). The float heap is a
// Float32Array view of the module's memory starting at __heap_base; driver offsets are elements into it.
// After the heap come the token ids, the loss targets and the softmax's per-row statistics.
import { IGNORE_INDEX } from '../../core/engine';
import type { FastKernels, LayerBuffers, RecurrentModule } from '../../core/fast/kernels';
import { HelperThread } from './helperThread';
import { type KernelVariant, kernelBytes } from './kernelFiles';
import { type WasmGlobal, type WasmModule, wasmApi } from './wasmApi';

interface KernelExports {
  readonly __heap_base: WasmGlobal;
  gemm(M: number, N: number, K: number, a: number, ars: number, acs: number, b: number, ldb: number, c: number, ldc: number, acc: number, scratch: number): void;
  gemm_scratch_floats(): number;
  adam_step(n: number, p: number, g: number, m: number, v: number, hyper: number): void;
  packed_b_floats(K: number, N: number): number;
  pack_b_full(K: number, N: number, b: number, ldb: number, dst: number): void;
  pack_bt_full(K: number, N: number, w: number, ldw: number, dst: number): void;
  softmax_xent(x: number, rows: number, V: number, targets: number, bias: number, scale: number, stats: number, colsum: number): void;
  sum_squares(x: number, n: number, out: number): void;
  scale(x: number, n: number, factor: number): void;
  gemm_prepacked(M: number, N: number, K: number, a: number, ars: number, acs: number, packed: number, packedN: number, col0: number,
    c: number, ldc: number, acc: number, scratch: number): void;
  gemm_split_columns(N: number): number;
  gemm_split_rows(M: number, N: number): number;
  /** Block-by-block products on two threads (kernels.c gemm_blocks_*): shared-memory variants only. */
  gemm_blocks_bytes?(): number;
  gemm_blocks_init?(g: number, M: number, N: number, K: number, a: number, ars: number, acs: number, packed: number, c: number,
    ldc: number, acc: number, byRows: number): number;
  gemm_blocks_run?(g: number, scratch: number): void;
  /** A whole layer's recurrence (kernels.c layer_forward_rows); absent from wasm files built before it. */
  layer_job_bytes?(): number;
  layer_job_init?(job: number, module: number, T: number, B: number, H: number, offset: number, gates: number, hs: number, cs: number,
    tc: number, hn: number, hproj: number, packed: number, table: number, bias: number, tokens: number, bhn: number, flag: number): void;
  layer_job_split?(job: number): number;
  layer_forward_run?(job: number, b0: number, rows: number, scratch: number): void;
  layer_job_backward?(job: number, dhIn: number, dhRec: number, dc: number, dGi: number, dGh: number, packedW: number): void;
  layer_backward_run?(job: number, b0: number, rows: number, scratch: number): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  gather_rows(out: number, table: number, width: number, rows: number, bias: number, tokens: number): void;
  add_row_bias(out: number, rows: number, width: number, bias: number): void;
  scatter_add_rows(src: number, width: number, rows: number, dst: number, tokens: number): void;
  col_sum(src: number, rows: number, cols: number, dst: number): void;
  lstm_forward(B: number, H: number, gates: number, cPrev: number, c: number, tc: number, h: number, hard: number): void;
  lstm_backward(B: number, H: number, gates: number, cPrev: number, tc: number, dhIn: number, dhRec: number, dc: number, dG: number, hard: number): void;
  gru_forward(B: number, H: number, gates: number, hproj: number, bhn: number, hPrev: number, h: number, hn: number, hard: number): void;
  gru_backward(B: number, H: number, gates: number, hn: number, hPrev: number, dhIn: number, dhRec: number, dGi: number, dGh: number, hard: number): void;
  rnn_forward(B: number, H: number, pre: number, h: number, relu: number): void;
  rnn_backward(B: number, H: number, h: number, dhIn: number, dhRec: number, dG: number, relu: number): void;
  /** Absent from wasm files built before the document sweep. */
  seq_unit_block?(G: number): number;
  seq_forward?(module: number, T: number, H: number, wp: number, xp: number, tokens: number, bhn: number, hs: number, R: number,
    c: number, every: number, ckh: number, ckc: number, flag: number): void;
  /** The two-thread sweep (kernels.c seq_team_*): shared-memory variants built since it exists. */
  seq_team_bytes?(module: number, H: number): number;
  seq_panels?(module: number, H: number): number;
  seq_team_init?(team: number, module: number, T: number, H: number, wp: number, xp: number, tokens: number, bhn: number, hs: number,
    R: number, c: number, every: number, ckh: number, ckc: number, flag: number): void;
  seq_team_run?(team: number, role: number): void;
}

/** What the kernels import besides their memory: the two-thread sweep's clock (wasm has none; helperThread.ts too). */
const nowNs = (): number => performance.now() * 1e6;

/** Bytes kept for the two-thread sweep's team: its claims take 64 bytes per panel of 8 units (H up to 8192). */
const TEAM_BYTES = 64 * 1024 + 1024;
/** The helper thread's shadow stack (the kernels keep a few vectors there at most). */
const HELPER_STACK_BYTES = 64 * 1024;

const PAGE = 65536;
const modules = new Map<KernelVariant, WasmModule | null>();

/** The compiled module for a variant, or null when this runtime cannot validate it. */
export function kernelModule(variant: KernelVariant): WasmModule | null {
  if (!modules.has(variant)) {
    const bytes = kernelBytes(variant);
    const api = wasmApi();
    modules.set(variant, bytes && api && api.validate(bytes) ? new api.Module(bytes) : null);
  }
  return modules.get(variant)!;
}

/** Drops a cached validation result (after runtime flags changed). */
export function forgetKernelModule(variant: KernelVariant): void {
  modules.delete(variant);
}

/** Below this many multiply-adds a GEMM stays on one thread (the hand-off costs microseconds). */
const PARALLEL_FMAS = 1 << 17;
/** From this many, two threads take the product's blocks from a shared counter (kernels.c GEMM_BLOCKS_MIN_FMAS). */
const BLOCKS_FMAS = 1 << 24;
/** Bytes kept for that counter's block (kernels.c GemmBlocks, checked against gemm_blocks_bytes). */
const BLOCKS_BYTES = 128;
/** Bytes kept for a layer's recurrence job (kernels.c LayerJob, checked against layer_job_bytes). */
const JOB_BYTES = 128;

/**
 * `threads` 2 needs a shared-memory variant ('simd-mt' / 'relaxed-mt'): GEMMs are shared with a helper worker
 * thread (by rows, by columns, or block by block for big ones).
 */
export function createWasmKernels(variant: KernelVariant, threads: 1 | 2 = 1): FastKernels {
  const module = kernelModule(variant);
  if (!module) throw new Error(`WebAssembly kernels (${variant}) cannot be loaded in this runtime`);
  const shared = variant.endsWith('-mt');
  if (threads === 2 && !shared) throw new Error(`kernel variant ${variant} has no shared memory for two threads`);
  const api = wasmApi()!;
  const memory = new api.Memory(shared ? { initial: 32, maximum: 32768, shared: true } : { initial: 32 });
  const x = new api.Instance(module, { env: { memory, now_ns: nowNs } }).exports as unknown as KernelExports;
  const scratchBytes = x.gemm_scratch_floats() * 4;
  const hyperBlock = ((x.__heap_base.value as number) + 63) & ~63; // 8 doubles of optimizer settings
  // Scalars passed by address (the helper's mailbox takes integers): +0 the softmax's gradient scale, +4 a
  // scale factor, +8 and +16 two halves of a sum of squares.
  const scalarBlock = hyperBlock + 64;
  const scratch0 = scalarBlock + 64;
  const scratch1 = scratch0 + ((scratchBytes + 63) & ~63);
  // Threads 2: the two-thread sweep's team, then the helper's own shadow stack.
  const team = scratch1 + ((scratchBytes + 63) & ~63);
  const helperStackTop = team + TEAM_BYTES + HELPER_STACK_BYTES;
  const blocksBlock = helperStackTop;
  if (threads === 2 && x.gemm_blocks_bytes && x.gemm_blocks_bytes() > BLOCKS_BYTES) throw new Error('kernels.c GemmBlocks outgrew its block');
  const jobBlock = threads === 2 ? blocksBlock + BLOCKS_BYTES : scratch1;
  if (x.layer_job_bytes && x.layer_job_bytes() > JOB_BYTES) throw new Error('kernels.c LayerJob outgrew its block');
  const base = jobBlock + JOB_BYTES;
  const rowKernels = ['lstm_forward', 'lstm_backward', 'gru_forward', 'gru_backward', 'rnn_forward', 'rnn_backward'] as const;
  const helperThread = threads === 2
    ? new HelperThread(module, memory, [
      'gemm', 'gemm_prepacked', 'adam_step', 'softmax_xent', 'sum_squares', ...rowKernels,
      // Absent from wasm files built before them.
      ...(['gemm_blocks_run', 'layer_forward_run', 'layer_backward_run', 'seq_team_run'] as const).filter((name) => x[name]),
    ], x as unknown as Record<string, unknown>, helperStackTop)
    : undefined;
  let floats = 0; // heap elements reserved
  let tokenBase = 0; // byte address of the inputs (after the float heap), then targets, then softmax statistics
  let targetBase = 0;
  let statsBase = 0;
  let statsEnd = 0; // byte address after the softmax statistics: a product's shared packed B goes there
  let targets: Int32Array = new Int32Array(0);
  let view = new Float32Array(memory.buffer, base, 0);
  const heap = (): Float32Array => {
    if (view.buffer !== memory.buffer || view.length !== floats) view = new Float32Array(memory.buffer, base, floats);
    return view;
  };
  const reserve = (bytes: number): void => {
    helperThread?.join();
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  };
  const p = (off: number): number => base + off * 4;
  let helper = helperThread; // undefined while the second thread is switched off
  /** Column split of a two-thread GEMM: [0, n0) here, [n0, N) on the helper; n0 on a register-tile boundary. */
  const splitAt = (N: number): number => (helper ? x.gemm_split_columns(N) : N);
  /** Tall products (the head's and the weight gradients' GEMMs over a whole window) split by rows instead. */
  const splitRows = (M: number, N: number): boolean => x.gemm_split_rows(M, N) > 0;
  /** The byte address of `bytes` both threads use for one call, after everything else in the memory. */
  const sharedBytes = (bytes: number): number => {
    const at = (Math.max(statsEnd, base + floats * 4) + 63) & ~63;
    reserve(at + bytes);
    return at;
  };
  /**
   * C (+)= A·B with B packed whole at byte address packedAt: a big product block by block on both threads, else
   * in fixed halves (by rows for tall products, so each thread packs only its rows of A; else by columns).
   */
  const productPrepacked = (M: number, N: number, K: number, a: number, ars: number, acs: number, packedAt: number, c: number,
    ldc: number, acc: number): void => {
    const n0 = splitAt(N);
    if (!helper || (n0 === N && !splitRows(M, N)) || M * N * K < PARALLEL_FMAS) {
      x.gemm_prepacked(M, N, K, p(a), ars, acs, packedAt, N, 0, p(c), ldc, acc, scratch0);
      return;
    }
    const byRows = splitRows(M, N);
    if (x.gemm_blocks_init && M * N * K >= BLOCKS_FMAS
      && x.gemm_blocks_init(blocksBlock, M, N, K, p(a), ars, acs, packedAt, p(c), ldc, acc, byRows ? 1 : 0) >= 2) {
      helper.post('gemm_blocks_run', [blocksBlock, scratch1]);
      x.gemm_blocks_run!(blocksBlock, scratch0);
    } else if (byRows) {
      const m0 = x.gemm_split_rows(M, N);
      helper.post('gemm_prepacked', [M - m0, N, K, p(a + m0 * ars), ars, acs, packedAt, N, 0, p(c + m0 * ldc), ldc, acc, scratch1]);
      x.gemm_prepacked(m0, N, K, p(a), ars, acs, packedAt, N, 0, p(c), ldc, acc, scratch0);
    } else {
      helper.post('gemm_prepacked', [M, N - n0, K, p(a), ars, acs, packedAt, N, n0, p(c + n0), ldc, acc, scratch1]);
      x.gemm_prepacked(M, n0, K, p(a), ars, acs, packedAt, N, 0, p(c), ldc, acc, scratch0);
    }
    helper.join();
  };
  /** A set-up layer job (kernels.c LayerJob) over every step; batch rows never interact, so each thread takes its share. */
  const byBatchRows = (name: 'layer_forward_run' | 'layer_backward_run', B: number): void => {
    const split = helper && B >= 2 ? x.layer_job_split!(jobBlock) : B;
    if (split < B) helper!.post(name, [jobBlock, split, B - split, scratch1]);
    x[name]!(jobBlock, 0, split, scratch0);
    if (split < B) helper!.join();
  };
  /** A cell kernel over B batch rows; each buffer is [offset, floats per row]. Two threads take half each. */
  const byRows = (name: (typeof rowKernels)[number], B: number, H: number, buffers: readonly (readonly [number, number])[], flag: boolean): void => {
    const fn = x[name] as (...args: number[]) => void;
    const args = (first: number, rows: number): number[] => [rows, H, ...buffers.map(([off, stride]) => p(off + first * stride)), flag ? 1 : 0];
    if (!helper || B < 2 || B * H < 2048) {
      fn(...args(0, B));
      return;
    }
    const half = B >> 1;
    helper.post(name, args(half, B - half));
    fn(...args(0, half));
    helper.join();
  };
  return {
    name: `wasm-${variant.startsWith('relaxed') ? 'relaxed' : 'simd'}${threads === 2 ? '-2t' : ''}`,
    dtype: 'float32',
    heap,
    ensure(elements) {
      if (elements <= floats) return;
      reserve(base + elements * 4);
      floats = elements;
    },
    setTokens(inputs, tgts) {
      tokenBase = base + floats * 4;
      targetBase = tokenBase + inputs.length * 4;
      statsBase = targetBase + tgts.length * 4;
      statsEnd = statsBase + tgts.length * 12;
      reserve(statsEnd);
      new Int32Array(memory.buffer, tokenBase, inputs.length).set(inputs);
      new Int32Array(memory.buffer, targetBase, tgts.length).set(tgts);
      targets = tgts;
    },
    gemm(M, N, K, a, ars, acs, b, ldb, c, ldc, accumulate) {
      const acc = accumulate ? 1 : 0;
      if (!helper || (splitAt(N) === N && !splitRows(M, N)) || M * N * K < PARALLEL_FMAS) {
        x.gemm(M, N, K, p(a), ars, acs, p(b), ldb, p(c), ldc, acc, scratch0);
        return;
      }
      if (M * N * K >= BLOCKS_FMAS || splitRows(M, N)) {
        // Both threads use one packing of B where each would otherwise pack it whole.
        const at = sharedBytes(x.packed_b_floats(K, N) * 4);
        x.pack_b_full(K, N, p(b), ldb, at);
        productPrepacked(M, N, K, a, ars, acs, at, c, ldc, acc);
        return;
      }
      const n0 = splitAt(N);
      helper.post('gemm', [M, N - n0, K, p(a), ars, acs, p(b + n0), ldb, p(c + n0), ldc, acc, scratch1]);
      x.gemm(M, n0, K, p(a), ars, acs, p(b), ldb, p(c), ldc, acc, scratch0);
      helper.join();
    },
    packedSize: (K, N) => x.packed_b_floats(K, N),
    packB(K, N, b, ldb, dst) {
      x.pack_b_full(K, N, p(b), ldb, p(dst));
    },
    gemmPacked(M, N, K, a, ars, acs, packed, c, ldc, accumulate) {
      productPrepacked(M, N, K, a, ars, acs, p(packed), c, ldc, accumulate ? 1 : 0);
    },
    packBT(K, N, w, ldw, dst) {
      x.pack_bt_full(K, N, p(w), ldw, p(dst));
    },
    sumSquares(off, n) {
      const out = new Float64Array(memory.buffer, scalarBlock + 8, 2);
      out.fill(0);
      if (!helper || n < 65536) {
        x.sum_squares(p(off), n, scalarBlock + 8);
      } else {
        const half = (n >> 1) & ~3;
        helper.post('sum_squares', [p(off + half), n - half, scalarBlock + 16]);
        x.sum_squares(p(off), half, scalarBlock + 8);
        helper.join();
      }
      return out[0] + out[1];
    },
    scale(off, n, factor) {
      new Float32Array(memory.buffer, scalarBlock + 4, 1)[0] = factor;
      x.scale(p(off), n, scalarBlock + 4);
    },
    transpose: (src, rows, cols, dst) => x.transpose(p(src), rows, cols, p(dst)),
    ...(x.layer_job_init && x.layer_job_split && x.layer_forward_run ? {
      layerForward(module: RecurrentModule, T: number, B: number, H: number, w: LayerBuffers, packed: number, table: number, bias: number,
        firstToken: number, bhn: number, flag: boolean, steps: number) {
        const noTable = table < 0;
        x.layer_job_init!(jobBlock, module, T, B, H, steps < 0 ? 0 : tokenBase + 4 * steps, p(w.gates), p(w.hs), p(w.cs), p(w.tc), p(w.hn),
          p(w.hproj), p(packed), noTable ? 0 : p(table), noTable ? 0 : p(bias), tokenBase + 4 * firstToken, p(bhn), flag ? 1 : 0);
        byBatchRows('layer_forward_run', B);
      },
    } : {}),
    ...(x.layer_job_init && x.layer_job_split && x.layer_job_backward && x.layer_backward_run ? {
      layerBackward(module: RecurrentModule, T: number, B: number, H: number, w: LayerBuffers, packedW: number, dhIn: number,
        dhRec: number, dc: number, dGi: number, dGh: number, flag: boolean, steps: number) {
        x.layer_job_init!(jobBlock, module, T, B, H, steps < 0 ? 0 : tokenBase + 4 * steps, p(w.gates), p(w.hs), p(w.cs), p(w.tc), p(w.hn),
          p(w.hproj), 0, 0, 0, 0, 0, flag ? 1 : 0);
        x.layer_job_backward!(jobBlock, p(dhIn), p(dhRec), p(dc), p(dGi), p(dGh), p(packedW));
        byBatchRows('layer_backward_run', B);
      },
    } : {}),
    gatherRows: (out, table, width, rows, bias, firstToken = 0) => x.gather_rows(p(out), p(table), width, rows, p(bias), tokenBase + 4 * firstToken),
    addRowBias: (out, rows, width, bias) => x.add_row_bias(p(out), rows, width, p(bias)),
    scatterAddRows: (src, width, rows, dst, firstToken = 0) => x.scatter_add_rows(p(src), width, rows, p(dst), tokenBase + 4 * firstToken),
    colSum: (src, rows, cols, dst) => x.col_sum(p(src), rows, cols, p(dst)),
    fill(off, n, value) { heap().fill(value, off, off + n); },
    copy(src, dst, n) { heap().copyWithin(dst, src, src + n); },
    lstmForward: (B, H, gates, cPrev, c, tc, h, hard) =>
      byRows('lstm_forward', B, H, [[gates, 4 * H], [cPrev, H], [c, H], [tc, H], [h, H]], hard),
    lstmBackward: (B, H, gates, cPrev, tc, dhIn, dhRec, dc, dG, hard) =>
      byRows('lstm_backward', B, H, [[gates, 4 * H], [cPrev, H], [tc, H], [dhIn, H], [dhRec, H], [dc, H], [dG, 4 * H]], hard),
    gruForward: (B, H, gates, hproj, bhn, hPrev, h, hn, hard) =>
      byRows('gru_forward', B, H, [[gates, 3 * H], [hproj, 3 * H], [bhn, 0], [hPrev, H], [h, H], [hn, H]], hard),
    gruBackward: (B, H, gates, hn, hPrev, dhIn, dhRec, dGi, dGh, hard) =>
      byRows('gru_backward', B, H, [[gates, 3 * H], [hn, H], [hPrev, H], [dhIn, H], [dhRec, H], [dGi, 3 * H], [dGh, 3 * H]], hard),
    rnnForward: (B, H, pre, h, relu) => byRows('rnn_forward', B, H, [[pre, H], [h, H]], relu),
    rnnBackward: (B, H, h, dhIn, dhRec, dG, relu) => byRows('rnn_backward', B, H, [[h, H], [dhIn, H], [dhRec, H], [dG, H]], relu),
    softmaxCrossEntropy(logits, rows, V, gradScale, bias, biasGrad) {
      if (rows > targets.length) throw new RangeError('softmaxCrossEntropy: more rows than targets');
      for (let r = 0; r < rows; r++) if (targets[r] >= V) throw new RangeError(`target ${targets[r]} outside ${V} outputs`);
      new Float32Array(memory.buffer, scalarBlock, 1)[0] = gradScale;
      const b = bias === undefined ? 0 : p(bias);
      const half = helper && rows >= 2 && rows * V >= 65536 ? rows >> 1 : rows;
      const colsum = gradScale !== 0 && biasGrad !== undefined ? p(biasGrad) : 0;
      // The helper sums its columns apart, after everything else in the memory.
      const theirColsum = colsum && half < rows ? sharedBytes(V * 4) : colsum;
      if (colsum) heap().fill(0, biasGrad!, biasGrad! + V);
      if (theirColsum !== colsum) new Float32Array(memory.buffer, theirColsum, V).fill(0);
      if (half < rows) helper!.post('softmax_xent', [p(logits + half * V), rows - half, V, targetBase + 4 * half, b, scalarBlock, statsBase + 12 * half, theirColsum]);
      x.softmax_xent(p(logits), half, V, targetBase, b, scalarBlock, statsBase, colsum);
      if (half < rows) helper!.join();
      if (theirColsum !== colsum) x.add_row_bias(colsum, 1, V, theirColsum);
      const stats = new Float32Array(memory.buffer, statsBase, 3 * rows);
      let loss = 0;
      for (let r = 0; r < rows; r++) {
        if (targets[r] === IGNORE_INDEX) continue;
        loss += Math.log(stats[3 * r + 1]) + stats[3 * r] - stats[3 * r + 2];
      }
      return loss;
    },
    adamStep(n, pOff, g, m, v, hyper) {
      new Float64Array(memory.buffer, hyperBlock, 8).set(hyper);
      if (!helper || n < 4096) {
        x.adam_step(n, p(pOff), p(g), p(m), p(v), hyperBlock);
        return;
      }
      const half = (n >> 1) & ~3;
      helper.post('adam_step', [n - half, p(pOff + half), p(g + half), p(m + half), p(v + half), hyperBlock]);
      x.adam_step(half, p(pOff), p(g), p(m), p(v), hyperBlock);
      helper.join();
    },
    // threads 2 (with the helper on): the two threads split each step's gate panels (kernels.c seq_team_*), the
    // helper running its side as one posted call; else this thread alone.
    ...(x.seq_forward && x.seq_unit_block ? {
      seqUnitBlock: (G: number) => x.seq_unit_block!(G),
      seqForward(module: number, T: number, H: number, packed: number, xp: number, firstToken: number, bhn: number, hs: number,
        R: number, c: number, every: number, ckh: number, ckc: number, flag: boolean, threads: 1 | 2) {
        helper?.join();
        const args = [module, T, H, p(packed), p(xp), firstToken >= 0 ? tokenBase + 4 * firstToken : 0, p(bhn), p(hs), R, p(c), every,
          p(ckh), p(ckc), flag ? 1 : 0] as const;
        if (threads !== 2 || !helper || !x.seq_team_run || x.seq_panels!(module, H) < 2 || T === 0 || x.seq_team_bytes!(module, H) > TEAM_BYTES) {
          x.seq_forward!(...args);
          return;
        }
        x.seq_team_init!(team, ...args);
        helper.post('seq_team_run', [team, 1]);
        x.seq_team_run(team, 0);
        helper.join();
      },
    } : {}),
    ...(helperThread ? {
      setParallel(on: boolean) {
        if (!on) helper?.join();
        helper = on ? helperThread : undefined;
      },
    } : {}),
    dispose() { floats = 0; helperThread?.dispose(); },
  };
}
