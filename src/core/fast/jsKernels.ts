// FastKernels in plain TypeScript loops over a Float32Array / Float64Array heap: the engine for
// runtimes without WebAssembly SIMD, and the float64 engine.
import { type FloatArray, type FloatDType, floatArray } from '../tensor';
import { type FastKernels, softmaxCrossEntropyOn } from './kernels';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const hardSigmoid = (x: number): number => Math.min(1, Math.max(0, 0.2 * x + 0.5));
const dSigmoid = (y: number): number => y * (1 - y);
/** Hidden units per panel of the sweep's packed W_hh^T (any multiple of 8 works for loops). */
const SEQ_UNITS = 16;
const dHardSigmoid = (y: number): number => (y > 0 && y < 1 ? 0.2 : 0);

export function createJsKernels(dtype: FloatDType): FastKernels {
  let h: FloatArray = floatArray(dtype, 1024);
  let inputs: Int32Array = new Int32Array(0);
  let targets: Int32Array = new Int32Array(0);
  const gate = (hard: boolean): ((x: number) => number) => (hard ? hardSigmoid : sigmoid);
  const dGate = (hard: boolean): ((y: number) => number) => (hard ? dHardSigmoid : dSigmoid);
  const kernels: FastKernels = {
    name: 'js',
    dtype,
    heap: () => h,
    ensure(elements) {
      if (elements <= h.length) return;
      const next = floatArray(dtype, Math.max(elements, Math.ceil(h.length * 1.5)));
      next.set(h);
      h = next;
    },
    setTokens(i, t) { inputs = i; targets = t; },
    gemm(M, N, K, a, ars, acs, b, ldb, c, ldc, accumulate) {
      // Four rows of C at a time: each row of B is read once per four multiply-adds.
      let m = 0;
      for (; m + 4 <= M; m += 4) {
        const c0 = c + m * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        if (!accumulate) { h.fill(0, c0, c0 + N); h.fill(0, c1, c1 + N); h.fill(0, c2, c2 + N); h.fill(0, c3, c3 + N); }
        const a0 = a + m * ars, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars;
        for (let kk = 0; kk < K; kk++) {
          const o = kk * acs;
          const x0 = h[a0 + o], x1 = h[a1 + o], x2 = h[a2 + o], x3 = h[a3 + o];
          if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue; // one-hot and relu rows are sparse
          const bo = b + kk * ldb;
          for (let n = 0; n < N; n++) {
            const bv = h[bo + n];
            h[c0 + n] += x0 * bv; h[c1 + n] += x1 * bv; h[c2 + n] += x2 * bv; h[c3 + n] += x3 * bv;
          }
        }
      }
      for (; m < M; m++) {
        const co = c + m * ldc;
        if (!accumulate) h.fill(0, co, co + N);
        const ao = a + m * ars;
        for (let kk = 0; kk < K; kk++) {
          const av = h[ao + kk * acs];
          if (av === 0) continue;
          const bo = b + kk * ldb;
          for (let n = 0; n < N; n++) h[co + n] += av * h[bo + n];
        }
      }
    },
    packedSize: (K, N) => K * N,
    packB(K, N, b, ldb, dst) {
      for (let k = 0; k < K; k++) h.copyWithin(dst + k * N, b + k * ldb, b + k * ldb + N);
    },
    gemmPacked(M, N, K, a, ars, acs, packed, c, ldc, accumulate) {
      kernels.gemm(M, N, K, a, ars, acs, packed, N, c, ldc, accumulate);
    },
    transpose(src, rows, cols, dst) {
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) h[dst + c * rows + r] = h[src + r * cols + c];
    },
    gatherRows(out, table, width, rows, bias, firstToken = 0) {
      for (let r = 0; r < rows; r++) {
        const o = out + r * width, s = table + inputs[firstToken + r] * width;
        for (let j = 0; j < width; j++) h[o + j] = h[s + j] + h[bias + j];
      }
    },
    addRowBias(out, rows, width, bias) {
      for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) h[out + r * width + j] += h[bias + j];
    },
    scatterAddRows(src, width, rows, dst, firstToken = 0) {
      for (let r = 0; r < rows; r++) {
        const s = src + r * width, d = dst + inputs[firstToken + r] * width;
        for (let j = 0; j < width; j++) h[d + j] += h[s + j];
      }
    },
    colSum(src, rows, cols, dst) {
      h.fill(0, dst, dst + cols);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) h[dst + j] += h[src + r * cols + j];
    },
    fill(off, n, value) { h.fill(value, off, off + n); },
    copy(src, dst, n) { h.copyWithin(dst, src, src + n); },
    lstmForward(B, H, gates, cPrev, c, tc, hOut, hard) {
      const act = gate(hard);
      for (let b = 0; b < B; b++) {
        const g = gates + b * 4 * H, s = b * H;
        for (let j = 0; j < H; j++) {
          const i = act(h[g + j]), f = act(h[g + H + j]), gg = Math.tanh(h[g + 2 * H + j]), o = act(h[g + 3 * H + j]);
          h[g + j] = i; h[g + H + j] = f; h[g + 2 * H + j] = gg; h[g + 3 * H + j] = o;
          const cv = f * h[cPrev + s + j] + i * gg;
          h[c + s + j] = cv;
          const t = Math.tanh(h[c + s + j]);
          h[tc + s + j] = t;
          h[hOut + s + j] = o * t;
        }
      }
    },
    lstmBackward(B, H, gates, cPrev, tc, dhIn, dhRec, dc, dG, hard) {
      const d = dGate(hard);
      for (let b = 0; b < B; b++) {
        const g = gates + b * 4 * H, dg = dG + b * 4 * H, s = b * H;
        for (let j = 0; j < H; j++) {
          const i = h[g + j], f = h[g + H + j], gg = h[g + 2 * H + j], o = h[g + 3 * H + j];
          const t = h[tc + s + j];
          const dh = h[dhIn + s + j] + h[dhRec + s + j];
          const dct = h[dc + s + j] + dh * o * (1 - t * t);
          h[dg + j] = dct * gg * d(i);
          h[dg + H + j] = dct * h[cPrev + s + j] * d(f);
          h[dg + 2 * H + j] = dct * i * (1 - gg * gg);
          h[dg + 3 * H + j] = dh * t * d(o);
          h[dc + s + j] = dct * f;
        }
      }
    },
    gruForward(B, H, gates, hproj, bhn, hPrev, hOut, hn, hard) {
      const act = gate(hard);
      for (let b = 0; b < B; b++) {
        const g = gates + b * 3 * H, p = hproj + b * 3 * H, s = b * H;
        for (let j = 0; j < H; j++) {
          const r = act(h[g + j] + h[p + j]);
          const z = act(h[g + H + j] + h[p + H + j]);
          const hnv = h[p + 2 * H + j] + h[bhn + j];
          h[hn + s + j] = hnv;
          const n = Math.tanh(h[g + 2 * H + j] + r * h[hn + s + j]);
          h[g + j] = r; h[g + H + j] = z; h[g + 2 * H + j] = n;
          h[hOut + s + j] = (1 - z) * h[g + 2 * H + j] + z * h[hPrev + s + j];
        }
      }
    },
    gruBackward(B, H, gates, hn, hPrev, dhIn, dhRec, dGi, dGh, hard) {
      const d = dGate(hard);
      for (let b = 0; b < B; b++) {
        const g = gates + b * 3 * H, gi = dGi + b * 3 * H, gh = dGh + b * 3 * H, s = b * H;
        for (let j = 0; j < H; j++) {
          const r = h[g + j], z = h[g + H + j], n = h[g + 2 * H + j];
          const dh = h[dhIn + s + j] + h[dhRec + s + j];
          const dnPre = dh * (1 - z) * (1 - n * n);
          const drPre = dnPre * h[hn + s + j] * d(r);
          const dzPre = dh * (h[hPrev + s + j] - n) * d(z);
          h[gi + j] = drPre; h[gi + H + j] = dzPre; h[gi + 2 * H + j] = dnPre;
          h[gh + j] = drPre; h[gh + H + j] = dzPre; h[gh + 2 * H + j] = dnPre * r;
          h[dhRec + s + j] = dh * z;
        }
      }
    },
    rnnForward(B, H, pre, hOut, relu) {
      for (let i = 0; i < B * H; i++) {
        const x = h[pre + i];
        h[hOut + i] = relu ? (x > 0 ? x : 0) : Math.tanh(x);
      }
    },
    rnnBackward(B, H, hOut, dhIn, dhRec, dG, relu) {
      for (let i = 0; i < B * H; i++) {
        const y = h[hOut + i];
        const dh = h[dhIn + i] + h[dhRec + i];
        h[dG + i] = dh * (relu ? (y > 0 ? 1 : 0) : 1 - y * y);
      }
    },
    seqUnitBlock: () => SEQ_UNITS,
    seqForward(module, T, H, packed, xp, firstToken, bhn, hs, R, c, every, ckh, ckc, flag) {
      // kernels.c seq_forward in loops: panels of SEQ_UNITS units, [H][G][w] each.
      const G = module === 0 ? 4 : module === 1 ? 3 : 1, Hp = (H + 7) & ~7, act = gate(flag);
      const acc = new Float64Array(G * SEQ_UNITS);
      const h = kernels.heap(); // a local (the closure's binding is reassigned by ensure): V8 keeps it in a register
      for (let t = 0; t < T; t++) {
        const x = xp + (firstToken >= 0 ? inputs[firstToken + t] : t) * G * Hp;
        const hPrev = hs + (t % R) * Hp, hNext = hs + ((t + 1) % R) * Hp;
        for (let u0 = 0; u0 < Hp; u0 += SEQ_UNITS) {
          const w = Math.min(SEQ_UNITS, Hp - u0), width = G * w;
          acc.fill(0, 0, width);
          for (let k = 0; k < H; k++) {
            const hk = h[hPrev + k];
            if (hk === 0) continue;
            const row = packed + u0 * G * H + k * width;
            for (let q = 0; q < width; q++) acc[q] += hk * h[row + q];
          }
          for (let u = 0; u < w; u++) {
            const j = u0 + u;
            if (module === 0) {
              const i = act(acc[u] + h[x + j]), f = act(acc[w + u] + h[x + Hp + j]);
              const g = Math.tanh(acc[2 * w + u] + h[x + 2 * Hp + j]), o = act(acc[3 * w + u] + h[x + 3 * Hp + j]);
              h[c + j] = f * h[c + j] + i * g;
              h[hNext + j] = o * Math.tanh(h[c + j]);
            } else if (module === 1) {
              const r = act(h[x + j] + acc[u]), z = act(h[x + Hp + j] + acc[w + u]);
              const n = Math.tanh(h[x + 2 * Hp + j] + r * (acc[2 * w + u] + h[bhn + j]));
              h[hNext + j] = (1 - z) * n + z * h[hPrev + j];
            } else {
              const pre = h[x + j] + acc[u];
              h[hNext + j] = flag ? (pre > 0 ? pre : 0) : Math.tanh(pre);
            }
          }
        }
        if (every > 0 && (t + 1) % every === 0) {
          const row = ((t + 1) / every - 1) * H;
          h.copyWithin(ckh + row, hNext, hNext + H);
          if (module === 0) h.copyWithin(ckc + row, c, c + H);
        }
      }
    },
    softmaxCrossEntropy: (logits, rows, V, gradScale, bias, biasGrad) => softmaxCrossEntropyOn(h, targets, logits, rows, V, gradScale, bias, biasGrad),
    dispose() { h = floatArray(dtype, 0); },
  };
  return kernels;
}
