// The numeric kernels the fast LM driver is written against. Every buffer lives in one flat float heap
// (a JS typed array, or a WebAssembly memory) and is named by its element offset, so one driver serves
// the pure-TypeScript kernels and the WASM SIMD kernels alike.
import { IGNORE_INDEX } from '../engine';
import type { FloatArray, FloatDType } from '../tensor';

/** 0 LSTM, 1 GRU, 2 RNN (as the native kernels number them). */
export type RecurrentModule = 0 | 1 | 2;

/** A layer's workspace offsets, laid out as the LM driver's (time-major rows of B). */
export interface LayerBuffers {
  readonly gates: number; // [T*B, G*H]
  readonly hs: number; // [(T+1)*B, H], h_{-1} first
  readonly cs: number; // LSTM [(T+1)*B, H]
  readonly tc: number; // LSTM [T*B, H]
  readonly hn: number; // GRU [T*B, H]
  readonly hproj: number; // GRU [B, G*H]
}

export interface FastKernels {
  /** Engine name reported by LmEngine.name, e.g. 'js', 'wasm-simd', 'wasm-relaxed'. */
  readonly name: string;
  readonly dtype: FloatDType;
  /** The whole heap. Re-read after ensure(): growing may replace the array. */
  heap(): FloatArray;
  /** Grows the heap to at least `elements` floats, keeping its contents. */
  ensure(elements: number): void;
  /** Time-major token ids used by gatherRows / scatterAddRows (inputs) and softmaxCrossEntropy (targets). */
  setTokens(inputs: Int32Array, targets: Int32Array): void;
  /** C[M,N] (+)= A·B with A[m,k] = heap[a + m*ars + k*acs] and B row-major with leading dimension ldb. */
  gemm(M: number, N: number, K: number, a: number, ars: number, acs: number, b: number, ldb: number,
    c: number, ldc: number, accumulate: boolean): void;
  /** Floats that a weight B [K, N] takes in the backend's pre-packed GEMM layout. */
  packedSize(K: number, N: number): number;
  /** Packs B [K, N] (row-major, leading dimension ldb) into dst for gemmPacked. */
  packB(K: number, N: number, b: number, ldb: number, dst: number): void;
  /** gemm with B pre-packed by packB (weights: packed once per update instead of at every timestep). */
  gemmPacked(M: number, N: number, K: number, a: number, ars: number, acs: number, packed: number,
    c: number, ldc: number, accumulate: boolean): void;
  /** dst[cols, rows] = transpose of src[rows, cols]. */
  transpose(src: number, rows: number, cols: number, dst: number): void;
  /** out[r, :] = table[inputs[firstToken + r], :] + bias for r < rows (one-hot input projection). */
  gatherRows(out: number, table: number, width: number, rows: number, bias: number, firstToken?: number): void;
  /** out[r, :] += bias. */
  addRowBias(out: number, rows: number, width: number, bias: number): void;
  /** dst[inputs[firstToken + r], :] += src[r, :] (rows in order: a repeated id accumulates). */
  scatterAddRows(src: number, width: number, rows: number, dst: number, firstToken?: number): void;
  /** dst[j] = sum over rows of src[r, j]. */
  colSum(src: number, rows: number, cols: number, dst: number): void;
  fill(off: number, n: number, value: number): void;
  copy(src: number, dst: number, n: number): void;
  /** In place over gates [B,4H] (pre-activations in, i f g o activations out); writes c, tanh(c), h. */
  lstmForward(B: number, H: number, gates: number, cPrev: number, c: number, tc: number, h: number, hardSigmoid: boolean): void;
  /** dh = dhIn + dhRec; dc: dc_{t} in, dc_{t-1} out; writes pre-activation gate grads dG [B,4H]. */
  lstmBackward(B: number, H: number, gates: number, cPrev: number, tc: number, dhIn: number, dhRec: number,
    dc: number, dG: number, hardSigmoid: boolean): void;
  /** gates [B,3H]: x-part pre-activations (with r,z hidden biases) in, r z n out; hproj [B,3H] = h·W_hh^T. */
  gruForward(B: number, H: number, gates: number, hproj: number, bhn: number, hPrev: number, h: number,
    hn: number, hardSigmoid: boolean): void;
  /** dh = dhIn + dhRec; writes dGi, dGh [B,3H] and dhRec = z * dh (the direct path to h_{t-1}). */
  gruBackward(B: number, H: number, gates: number, hn: number, hPrev: number, dhIn: number, dhRec: number,
    dGi: number, dGh: number, hardSigmoid: boolean): void;
  /** h = act(pre) for [B,H]. */
  rnnForward(B: number, H: number, pre: number, h: number, relu: boolean): void;
  /** dG = (dhIn + dhRec) * act'(h). */
  rnnBackward(B: number, H: number, h: number, dhIn: number, dhRec: number, dG: number, relu: boolean): void;
  /**
   * Sum over rows of -log softmax(logits[r])[targets[r]], skipping rows whose target is IGNORE_INDEX; when
   * gradScale != 0 the logits are replaced by gradScale * (softmax - onehot(target)) (zeros on skipped rows).
   * `bias` (an offset of V floats) is first added to every row in place: the head's bias, fused. With gradScale != 0
   * and `biasGrad` (V floats), the gradient's column sums are written there (that bias's gradient, in the same pass).
   */
  softmaxCrossEntropy(logits: number, rows: number, V: number, gradScale: number, bias?: number, biasGrad?: number): number;
  /** Optional: packB of B = W^T for W [N, K] row-major (leading dimension ldw), without a transposed copy. */
  packBT?(K: number, N: number, w: number, ldw: number, dst: number): void;
  /** Optional: the sum of squares of n floats, accumulated in double precision (gradient norms). */
  sumSquares?(off: number, n: number): number;
  /** Optional: x *= factor over n floats (clip_grad_norm_'s scaling); present with sumSquares. */
  scale?(off: number, n: number, factor: number): void;
  /**
   * Optional torch.optim.Adam over n floats of params p with grads g and moments m, v (float32 storage,
   * double arithmetic as src/core/optim.ts). hyper: beta1, beta2, lr / (1 - beta1^t), sqrt(1 - beta2^t), eps,
   * weight decay.
   */
  adamStep?(n: number, p: number, g: number, m: number, v: number, hyper: readonly number[]): void;
  /**
   * Optional: one direction of a layer's whole recurrence over T steps, exactly the driver's per-step loop
   * (gather the one-hot projection when table >= 0, add h_{t-1}·W_hh^T, cell step), so a backend can split
   * the batch rows across its threads once per layer instead of handing off at every step. `steps` < 0: B rows
   * per step (row t*B + b); else the T + 1 entries of setTokens' inputs from index `steps` are the first row of
   * each step and the total (packed sequences, longest first).
   */
  layerForward?(module: RecurrentModule, T: number, B: number, H: number, buffers: LayerBuffers, packedWhhT: number,
    table: number, bias: number, firstToken: number, bhn: number, flag: boolean, steps: number): void;
  /**
   * Optional: BPTT through one direction of a layer, exactly the driver's per-step backward loop (last step first:
   * the cell's backward into dGi (GRU: dGi, dGh), then dhRec = dG·W_hh), batch rows split across the threads once.
   * dhIn holds the gradients on the layer's outputs, a row per step row; dhRec and dc [B, H] come in zeroed.
   * `steps` as layerForward's.
   */
  layerBackward?(module: RecurrentModule, T: number, B: number, H: number, buffers: LayerBuffers, packedWhh: number, dhIn: number,
    dhRec: number, dc: number, dGi: number, dGh: number, flag: boolean, steps: number): void;
  /**
   * Optional: hidden units per panel of the one-sequence sweep's packed W_hh^T for G gates (see seqForward and
   * src/core/fast/sweep.ts packSeqWeights).
   */
  seqUnitBlock?(G: number): number;
  /**
   * Optional: T steps of one layer over one sequence (batch 1) with W_hh^T packed in panels (kernels.c
   * seq_forward): rows of the input projection xp are G*Hp floats (Hp = H rounded up to 8; row tokens[firstToken
   * + t] of a table when firstToken >= 0, else row t); hs holds R rows of Hp (h_{t-1} in row t % R, h_t written
   * to row (t + 1) % R); c (LSTM, Hp) is updated in place; every `every` steps h (and c) are copied to the next
   * row of ckh (ckc), H floats each. `threads` 2 splits each step's panels with the backend's second thread.
   */
  seqForward?(module: RecurrentModule, T: number, H: number, packed: number, xp: number, firstToken: number, bhn: number,
    hs: number, R: number, c: number, every: number, ckh: number, ckc: number, flag: boolean, threads: 1 | 2): void;
  /** Optional: use (true) or idle (false) the backend's second thread; absent for single-threaded backends. */
  setParallel?(on: boolean): void;
  dispose(): void;
}

/** Lets a backend reuse this for ops it does not accelerate. */
export function softmaxCrossEntropyOn(
  heap: FloatArray, targets: Int32Array, logits: number, rows: number, V: number, gradScale: number, bias?: number, biasGrad?: number,
): number {
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const o = logits + r * V;
    if (bias !== undefined) for (let j = 0; j < V; j++) heap[o + j] += heap[bias + j];
    const t = targets[r];
    if (t === IGNORE_INDEX) {
      if (gradScale !== 0) heap.fill(0, o, o + V);
      continue;
    }
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (heap[o + j] > max) max = heap[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(heap[o + j] - max);
    loss += Math.log(sum) + max - heap[o + t];
    if (gradScale !== 0) {
      const inv = gradScale / sum;
      for (let j = 0; j < V; j++) heap[o + j] = Math.exp(heap[o + j] - max) * inv;
      heap[o + t] -= gradScale;
    }
  }
  if (gradScale !== 0 && biasGrad !== undefined) {
    heap.fill(0, biasGrad, biasGrad + V);
    for (let r = 0; r < rows; r++) for (let j = 0; j < V; j++) heap[biasGrad + j] += heap[logits + r * V + j];
  }
  return loss;
}
