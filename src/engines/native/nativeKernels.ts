// FastKernels on the optional native addon (src/kernels/c/native.c: the same C kernels for x86-64 AVX2 +
// FMA, built by scripts/build-native.sh). The float heap is a JS ArrayBuffer handed to the addon, which
// bounds-checks every offset; GEMMs, cell steps, the softmax and Adam split across the addon's own helper thread.
import type { FastKernels } from '../../core/fast/kernels';

/** One kernel object of the addon: methods as in FastKernels, offsets in floats, flags as booleans. */
export interface NativeKernelObject {
  setHeap(buffer: ArrayBuffer): void;
  setTokens(tokens: Int32Array): void;
  packedSize(K: number, N: number): number;
  packB(K: number, N: number, b: number, ldb: number, dst: number): void;
  packBT(K: number, N: number, w: number, ldw: number, dst: number): void;
  softmaxCrossEntropy(logits: number, rows: number, V: number, gradScale: number, bias: number, targets: Int32Array, biasGrad: number): number;
  sumSquares(off: number, n: number): number;
  scale(off: number, n: number, factor: number): void;
  gemm(M: number, N: number, K: number, a: number, ars: number, acs: number, b: number, ldb: number, c: number, ldc: number, acc: boolean): void;
  gemmPacked(M: number, N: number, K: number, a: number, ars: number, acs: number, packed: number, c: number, ldc: number, acc: boolean): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  gatherRows(out: number, table: number, width: number, rows: number, bias: number, firstToken: number): void;
  addRowBias(out: number, rows: number, width: number, bias: number): void;
  scatterAddRows(src: number, width: number, rows: number, dst: number, firstToken: number): void;
  colSum(src: number, rows: number, cols: number, dst: number): void;
  lstmForward(B: number, H: number, gates: number, cPrev: number, c: number, tc: number, h: number, hard: boolean): void;
  lstmBackward(B: number, H: number, gates: number, cPrev: number, tc: number, dhIn: number, dhRec: number, dc: number, dG: number, hard: boolean): void;
  gruForward(B: number, H: number, gates: number, hproj: number, bhn: number, hPrev: number, h: number, hn: number, hard: boolean): void;
  gruBackward(B: number, H: number, gates: number, hn: number, hPrev: number, dhIn: number, dhRec: number, dGi: number, dGh: number, hard: boolean): void;
  rnnForward(B: number, H: number, pre: number, h: number, relu: boolean): void;
  rnnBackward(B: number, H: number, h: number, dhIn: number, dhRec: number, dG: number, relu: boolean): void;
  adamStep(n: number, p: number, g: number, m: number, v: number, hyper: Float64Array): void;
  layerForward(module: number, T: number, B: number, H: number, gates: number, hs: number, cs: number, tc: number, hn: number,
    hproj: number, packed: number, table: number, bias: number, firstToken: number, bhn: number, flag: boolean, steps: number): void;
  layerBackward(module: number, T: number, B: number, H: number, gates: number, hs: number, cs: number, tc: number, hn: number,
    packedW: number, dhIn: number, dhRec: number, dc: number, dGi: number, dGh: number, flag: boolean, steps: number): void;
  seqForward(module: number, T: number, H: number, packed: number, xp: number, firstToken: number, bhn: number, hs: number,
    R: number, c: number, every: number, ckh: number, ckc: number, flag: boolean, threads: number): void;
  setParallel(on: boolean): void;
  dispose(): void;
}

export interface NativeAddon {
  /** Set instead of `create` when the CPU cannot run the kernels. */
  readonly unsupported?: string;
  readonly lanes?: number;
  create(threads: 1 | 2): NativeKernelObject;
}

export function createNativeKernels(addon: NativeAddon, threads: 1 | 2): FastKernels {
  const k = addon.create(threads);
  let floats = 0;
  let view = new Float32Array(0);
  let targets: Int32Array = new Int32Array(0);
  const hyper = new Float64Array(6);
  return {
    name: `native-avx2${threads === 2 ? '-2t' : ''}`,
    dtype: 'float32',
    heap: () => view,
    ensure(elements) {
      if (elements <= floats) return;
      // Grow geometrically: every growth copies the heap into a new buffer.
      const next = Math.max(elements, Math.ceil(floats * 1.5));
      const grown = new Float32Array(next);
      grown.set(view);
      k.setHeap(grown.buffer);
      view = grown;
      floats = next;
    },
    setTokens(inputs, tgts) {
      k.setTokens(inputs);
      targets = tgts;
    },
    gemm: (M, N, K, a, ars, acs, b, ldb, c, ldc, accumulate) => k.gemm(M, N, K, a, ars, acs, b, ldb, c, ldc, accumulate),
    packedSize: (K, N) => k.packedSize(K, N),
    packB: (K, N, b, ldb, dst) => k.packB(K, N, b, ldb, dst),
    packBT: (K, N, w, ldw, dst) => k.packBT(K, N, w, ldw, dst),
    sumSquares: (off, n) => k.sumSquares(off, n),
    scale: (off, n, factor) => k.scale(off, n, factor),
    gemmPacked: (M, N, K, a, ars, acs, packed, c, ldc, accumulate) => k.gemmPacked(M, N, K, a, ars, acs, packed, c, ldc, accumulate),
    transpose: (src, rows, cols, dst) => k.transpose(src, rows, cols, dst),
    gatherRows: (out, table, width, rows, bias, firstToken = 0) => k.gatherRows(out, table, width, rows, bias, firstToken),
    addRowBias: (out, rows, width, bias) => k.addRowBias(out, rows, width, bias),
    scatterAddRows: (src, width, rows, dst, firstToken = 0) => k.scatterAddRows(src, width, rows, dst, firstToken),
    colSum: (src, rows, cols, dst) => k.colSum(src, rows, cols, dst),
    fill(off, n, value) { view.fill(value, off, off + n); },
    copy(src, dst, n) { view.copyWithin(dst, src, src + n); },
    lstmForward: (B, H, gates, cPrev, c, tc, h, hard) => k.lstmForward(B, H, gates, cPrev, c, tc, h, hard),
    lstmBackward: (B, H, gates, cPrev, tc, dhIn, dhRec, dc, dG, hard) => k.lstmBackward(B, H, gates, cPrev, tc, dhIn, dhRec, dc, dG, hard),
    gruForward: (B, H, gates, hproj, bhn, hPrev, h, hn, hard) => k.gruForward(B, H, gates, hproj, bhn, hPrev, h, hn, hard),
    gruBackward: (B, H, gates, hn, hPrev, dhIn, dhRec, dGi, dGh, hard) => k.gruBackward(B, H, gates, hn, hPrev, dhIn, dhRec, dGi, dGh, hard),
    rnnForward: (B, H, pre, h, relu) => k.rnnForward(B, H, pre, h, relu),
    rnnBackward: (B, H, h, dhIn, dhRec, dG, relu) => k.rnnBackward(B, H, h, dhIn, dhRec, dG, relu),
    softmaxCrossEntropy: (logits, rows, V, gradScale, bias, biasGrad) =>
      k.softmaxCrossEntropy(logits, rows, V, gradScale, bias ?? -1, targets, biasGrad ?? -1),
    adamStep(n, p, g, m, v, values) {
      hyper.set(values);
      k.adamStep(n, p, g, m, v, hyper);
    },
    layerForward: (module, T, B, H, w, packed, table, bias, firstToken, bhn, flag, steps) =>
      k.layerForward(module, T, B, H, w.gates, w.hs, w.cs, w.tc, w.hn, w.hproj, packed, table, bias, firstToken, bhn, flag, steps),
    layerBackward: (module, T, B, H, w, packedW, dhIn, dhRec, dc, dGi, dGh, flag, steps) =>
      k.layerBackward(module, T, B, H, w.gates, w.hs, w.cs, w.tc, w.hn, packedW, dhIn, dhRec, dc, dGi, dGh, flag, steps),
    // kernels.c SEQ_UB for the addon's lanes (absent from an addon built before the document sweep).
    ...(typeof k.seqForward === 'function' ? {
      seqUnitBlock: (G: number) => Math.floor((addon.lanes ?? 8) / G) * 8,
      seqForward: (module: number, T: number, H: number, packed: number, xp: number, firstToken: number, bhn: number, hs: number,
        R: number, c: number, every: number, ckh: number, ckc: number, flag: boolean, t: 1 | 2) =>
        k.seqForward(module, T, H, packed, xp, firstToken, bhn, hs, R, c, every, ckh, ckc, flag, threads === 2 ? t : 1),
    } : {}),
    ...(threads === 2 ? { setParallel: (on: boolean) => k.setParallel(on) } : {}),
    dispose() {
      k.dispose();
      view = new Float32Array(0);
      floats = 0;
    },
  };
}
