// One timestep of one sample for each cell, forward and backward, with the equations in view.
// Gate blocks follow PyTorch: LSTM (i|f|g|o), GRU (r|z|n).
import type { RnnConfig } from '../config';
import type { FloatArray } from '../tensor';
import { type Activation, TANH, elmanActivation, gateActivation } from './activations';
import { addInto, addOuterProduct, addTransposedProduct, affine } from './linalg';

export interface CellWeights {
  readonly wIh: FloatArray; // [G*H, inputSize]
  readonly wHh: FloatArray; // [G*H, H]
  readonly bIh: FloatArray | null; // [G*H]
  readonly bHh: FloatArray | null; // [G*H]
  readonly inputSize: number;
  readonly hiddenSize: number;
}

export interface CellGrads {
  readonly wIh: FloatArray;
  readonly wHh: FloatArray;
  readonly bIh: FloatArray | null;
  readonly bHh: FloatArray | null;
}

/** What one step keeps for backward, besides its inputs and outputs. */
export interface StepRecord {
  readonly gates: FloatArray; // activated gates, G*H (empty for Elman RNN)
  readonly extra: FloatArray; // H values a cell needs again (GRU: W_hn h + b_hn, or r⊙h when reset before)
}

/** Gradients flowing out of one step. dx is accumulated into (both directions share the input). */
export interface StepGrads {
  readonly dx: FloatArray;
  readonly dhPrev: FloatArray;
  readonly dcPrev: FloatArray | null;
}

export interface RecurrentCell {
  readonly gateCount: number;
  readonly hasCellState: boolean;
  forward(w: CellWeights, x: FloatArray, hPrev: FloatArray, cPrev: FloatArray | null,
    hNext: FloatArray, cNext: FloatArray | null, rec: StepRecord): void;
  /**
   * dh, dc: gradient on hNext / cNext. Accumulates into grads (skipped when null: only the input and state
   * gradients are wanted), writes out.dhPrev/dcPrev, adds to out.dx.
   */
  backward(w: CellWeights, grads: CellGrads | null, x: FloatArray, hPrev: FloatArray, cPrev: FloatArray | null,
    hNext: FloatArray, cNext: FloatArray | null, rec: StepRecord, dh: FloatArray, dc: FloatArray | null, out: StepGrads): void;
}

type Scratch = (n: number) => FloatArray;

/** Shared backward tail: weight and bias grads from the pre-activation grads of both products. */
function accumulateAffineGrads(w: CellWeights, grads: CellGrads | null, x: FloatArray, hPrev: FloatArray,
  dGi: FloatArray, dGh: FloatArray, out: StepGrads): void {
  const rows = dGi.length;
  if (grads) {
    addOuterProduct(grads.wIh, rows, w.inputSize, dGi, x);
    addOuterProduct(grads.wHh, rows, w.hiddenSize, dGh, hPrev);
    if (grads.bIh) addInto(grads.bIh, dGi);
    if (grads.bHh) addInto(grads.bHh, dGh);
  }
  addTransposedProduct(out.dx, w.wIh, rows, w.inputSize, dGi);
  addTransposedProduct(out.dhPrev, w.wHh, rows, w.hiddenSize, dGh);
}

/** LSTM: i,f,o = σ(·), g = tanh(·) of W_ih x + b_ih + W_hh h + b_hh; c' = f c + i g; h' = o tanh(c'). */
function lstmCell(gate: Activation, scratch: Scratch): RecurrentCell {
  return {
    gateCount: 4,
    hasCellState: true,
    forward(w, x, hPrev, cPrev, hNext, cNext, rec) {
      const H = w.hiddenSize;
      const gi = scratch(4 * H), gh = scratch(4 * H);
      affine(gi, w.wIh, 4 * H, w.inputSize, x, w.bIh);
      affine(gh, w.wHh, 4 * H, H, hPrev, w.bHh);
      const a = rec.gates;
      for (let k = 0; k < H; k++) {
        const i = gate.f(gi[k] + gh[k]);
        const f = gate.f(gi[H + k] + gh[H + k]);
        const g = Math.tanh(gi[2 * H + k] + gh[2 * H + k]);
        const o = gate.f(gi[3 * H + k] + gh[3 * H + k]);
        a[k] = i; a[H + k] = f; a[2 * H + k] = g; a[3 * H + k] = o;
        cNext![k] = f * cPrev![k] + i * g;
        hNext[k] = o * Math.tanh(cNext![k]);
      }
    },
    backward(w, grads, x, hPrev, cPrev, _hNext, cNext, rec, dh, dc, out) {
      const H = w.hiddenSize;
      const a = rec.gates;
      const dA = scratch(4 * H);
      for (let k = 0; k < H; k++) {
        const i = a[k], f = a[H + k], g = a[2 * H + k], o = a[3 * H + k];
        const tc = Math.tanh(cNext![k]);
        const dcTotal = dc![k] + dh[k] * o * (1 - tc * tc);
        dA[k] = dcTotal * g * gate.dfFromOutput(i);
        dA[H + k] = dcTotal * cPrev![k] * gate.dfFromOutput(f);
        dA[2 * H + k] = dcTotal * i * (1 - g * g);
        dA[3 * H + k] = dh[k] * tc * gate.dfFromOutput(o);
        out.dcPrev![k] = dcTotal * f;
        out.dhPrev[k] = 0;
      }
      accumulateAffineGrads(w, grads, x, hPrev, dA, dA, out);
    },
  };
}

/**
 * GRU, PyTorch semantics: r, z = σ(W_i· x + b_i· + W_h· h + b_h·);
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))  [reset after, PyTorch and Keras reset_after=True]
 * n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)  [reset before, Keras reset_after=False];
 * h' = (1 − z) ⊙ n + z ⊙ h.
 */
function gruCell(gate: Activation, resetBefore: boolean, scratch: Scratch): RecurrentCell {
  return {
    gateCount: 3,
    hasCellState: false,
    forward(w, x, hPrev, _cPrev, hNext, _cNext, rec) {
      const H = w.hiddenSize;
      const gi = scratch(3 * H), gh = scratch(3 * H);
      affine(gi, w.wIh, 3 * H, w.inputSize, x, w.bIh);
      // r and z blocks always use h; the n block uses h (after) or r ⊙ h (before), computed below.
      affine(gh, w.wHh, (resetBefore ? 2 : 3) * H, H, hPrev, w.bHh);
      const a = rec.gates;
      for (let k = 0; k < H; k++) {
        a[k] = gate.f(gi[k] + gh[k]);
        a[H + k] = gate.f(gi[H + k] + gh[H + k]);
      }
      if (resetBefore) {
        const rh = rec.extra;
        for (let k = 0; k < H; k++) rh[k] = a[k] * hPrev[k];
        const whn = w.wHh.subarray(2 * H * H, 3 * H * H);
        const bhn = w.bHh ? w.bHh.subarray(2 * H, 3 * H) : null;
        const recN = scratch(H);
        affine(recN, whn, H, H, rh, bhn);
        for (let k = 0; k < H; k++) a[2 * H + k] = Math.tanh(gi[2 * H + k] + recN[k]);
      } else {
        for (let k = 0; k < H; k++) {
          rec.extra[k] = gh[2 * H + k];
          a[2 * H + k] = Math.tanh(gi[2 * H + k] + a[k] * gh[2 * H + k]);
        }
      }
      for (let k = 0; k < H; k++) {
        const z = a[H + k], n = a[2 * H + k];
        hNext[k] = (1 - z) * n + z * hPrev[k];
      }
    },
    backward(w, grads, x, hPrev, _cPrev, _hNext, _cNext, rec, dh, _dc, out) {
      const H = w.hiddenSize;
      const a = rec.gates;
      const dGi = scratch(3 * H), dGh = scratch(3 * H);
      const dAn = scratch(H);
      for (let k = 0; k < H; k++) {
        const z = a[H + k], n = a[2 * H + k];
        dAn[k] = dh[k] * (1 - z) * (1 - n * n);
        dGi[H + k] = dh[k] * (hPrev[k] - n) * gate.dfFromOutput(z);
        dGi[2 * H + k] = dAn[k];
        out.dhPrev[k] = dh[k] * z;
      }
      if (resetBefore) {
        // n's recurrent term is W_hn (r ⊙ h) + b_hn: its grads go through r ⊙ h.
        const whn = w.wHh.subarray(2 * H * H, 3 * H * H);
        const dRh = scratch(H).fill(0);
        addTransposedProduct(dRh, whn, H, H, dAn);
        if (grads) addOuterProduct(grads.wHh.subarray(2 * H * H, 3 * H * H), H, H, dAn, rec.extra);
        if (grads?.bHh) addInto(grads.bHh.subarray(2 * H, 3 * H), dAn);
        for (let k = 0; k < H; k++) {
          dGi[k] = dRh[k] * hPrev[k] * gate.dfFromOutput(a[k]);
          out.dhPrev[k] += dRh[k] * a[k];
        }
        dGh.set(dGi.subarray(0, 2 * H));
        // r and z rows only: the n rows of W_hh were handled above.
        const rows = 2 * H;
        if (grads) addOuterProduct(grads.wIh, 3 * H, w.inputSize, dGi, x);
        if (grads?.bIh) addInto(grads.bIh, dGi);
        addTransposedProduct(out.dx, w.wIh, 3 * H, w.inputSize, dGi);
        const dGhRZ = dGh.subarray(0, rows);
        if (grads) addOuterProduct(grads.wHh, rows, H, dGhRZ, hPrev);
        if (grads?.bHh) addInto(grads.bHh.subarray(0, rows), dGhRZ);
        addTransposedProduct(out.dhPrev, w.wHh, rows, H, dGhRZ);
        return;
      }
      for (let k = 0; k < H; k++) {
        dGi[k] = dAn[k] * rec.extra[k] * gate.dfFromOutput(a[k]);
        dGh[k] = dGi[k];
        dGh[H + k] = dGi[H + k];
        dGh[2 * H + k] = dAn[k] * a[k];
      }
      accumulateAffineGrads(w, grads, x, hPrev, dGi, dGh, out);
    },
  };
}

/** Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu. */
function elmanCell(act: Activation, scratch: Scratch): RecurrentCell {
  return {
    gateCount: 1,
    hasCellState: false,
    forward(w, x, hPrev, _cPrev, hNext) {
      const H = w.hiddenSize;
      const gi = scratch(H), gh = scratch(H);
      affine(gi, w.wIh, H, w.inputSize, x, w.bIh);
      affine(gh, w.wHh, H, H, hPrev, w.bHh);
      for (let k = 0; k < H; k++) hNext[k] = act.f(gi[k] + gh[k]);
    },
    backward(w, grads, x, hPrev, _cPrev, hNext, _cNext, _rec, dh, _dc, out) {
      const H = w.hiddenSize;
      const dA = scratch(H);
      for (let k = 0; k < H; k++) {
        dA[k] = dh[k] * act.dfFromOutput(hNext[k]);
        out.dhPrev[k] = 0;
      }
      accumulateAffineGrads(w, grads, x, hPrev, dA, dA, out);
    },
  };
}

/** The cell for a config; scratch buffers are allocated in the config's dtype so float32 stays float32. */
export function createCell(cfg: RnnConfig, makeArray: (n: number) => FloatArray): RecurrentCell {
  const pool = new Map<string, FloatArray>();
  let slot = 0;
  // Each cell call needs at most a few scratch vectors; a small ring of buffers per size avoids aliasing.
  const scratch: Scratch = (n) => {
    slot = (slot + 1) % 4;
    const key = `${n}:${slot}`;
    let buf = pool.get(key);
    if (!buf) pool.set(key, (buf = makeArray(n)));
    return buf;
  };
  switch (cfg.module) {
    case 'LSTM': return lstmCell(gateActivation(cfg.recurrentActivation), scratch);
    case 'GRU': return gruCell(gateActivation(cfg.recurrentActivation), cfg.gruReset === 'before', scratch);
    case 'RNN': return elmanCell(cfg.module === 'RNN' ? elmanActivation(cfg.nonlinearity) : TANH, scratch);
  }
}
