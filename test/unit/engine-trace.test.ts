// traceLm (fast forward-with-trace) against the reference lmForward trace: h, c, every gate and the
// logits, across chunk boundaries (including a shorter last chunk) and with parallel streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RnnModule, GATES, gateBlocks, rnnConfig } from '../../src/core/config';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import type { FloatDType } from '../../src/core/tensor';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { traceLm, availableEngines } from '../../src/engines';

const V = 9;

function check(module: RnnModule, layers: number, H: number, dtype: FloatDType, engine: 'js' | 'wasm' | 'native', streams: number, tol: number,
  scores = true): void {
  const cfg: ModelConfig = modelConfig({ rnn: rnnConfig({ module, inputSize: V, hiddenSize: H, numLayers: layers, dtype }), vocabSize: V, outputSize: V });
  const params = initModelParameters(cfg, createRng(5));
  const rng = createRng(9);
  const T = 10;
  const tokens = Int32Array.from({ length: T * streams }, () => rng.int(V));
  // Reference: streams side by side as a batch, time-major ids [T, N].
  const ids = new Int32Array(T * streams);
  for (let s = 0; s < streams; s++) for (let t = 0; t < T; t++) ids[t * streams + s] = tokens[s * T + t];
  const ref = lmForward(cfg, splitLmParameters(cfg, params), ids, T, streams, undefined, { trace: true });
  const G = gateBlocks(module);
  let worst = 0;
  const near = (a: number, b: number): void => { worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(b))); };
  let seen = 0;
  const final = traceLm(cfg, params, tokens, {
    engine, streams, chunkSteps: 4, scores,
    onChunk(chunk) {
      if (!scores) assert.equal(chunk.logits.length, 0);
      seen += chunk.steps;
      for (let l = 0; l < layers; l++) {
        const layer = chunk.layers[l];
        const rh = ref.trace!.get(`trace_l${l}_h`)!.data as ArrayLike<number>;
        const rc = ref.trace!.get(`trace_l${l}_c`)?.data as ArrayLike<number> | undefined;
        for (let t = 0; t < chunk.steps; t++) for (let s = 0; s < streams; s++) for (let j = 0; j < H; j++) {
          const at = ((chunk.start + t) * streams + s) * H + j, mine = (t * streams + s) * H + j;
          near(layer.h[mine], rh[at]);
          if (rc) near(layer.c![mine], rc[at]);
          GATES[module].forEach((g, gi) => {
            near(layer.gates[(t * streams + s) * G * H + gi * H + j], (ref.trace!.get(`trace_l${l}_gate_${g}`)!.data as ArrayLike<number>)[at]);
          });
        }
      }
      if (scores) for (let i = 0; i < chunk.steps * streams * V; i++) near(chunk.logits[i], ref.logits[chunk.start * streams * V + i]);
    },
  });
  assert.equal(seen, T);
  for (let i = 0; i < final.h.length; i++) near(final.h[i], ref.state.h.data[i]);
  assert.ok(worst <= tol, `${engine} ${module} L${layers} ${dtype} streams ${streams}: worst relative difference ${worst}`);
}

test('js traceLm matches the reference trace in float64', () => {
  for (const m of ['LSTM', 'GRU', 'RNN'] as const) {
    check(m, 2, 6, 'float64', 'js', 1, 1e-12);
    check(m, 1, 5, 'float64', 'js', 3, 1e-12);
    check(m, 2, 6, 'float64', 'js', 1, 1e-12, false); // states only: the same states, no scores
  }
});

test('wasm traceLm matches the reference trace in float32', (t) => {
  if (!availableEngines().includes('wasm')) return t.skip('WebAssembly SIMD is unavailable in this runtime');
  for (const m of ['LSTM', 'GRU', 'RNN'] as const) {
    check(m, 2, 6, 'float32', 'wasm', 1, 1e-5);
    check(m, 1, 7, 'float32', 'wasm', 2, 1e-5);
  }
});

test('native traceLm matches the reference trace in float32', (t) => {
  if (!availableEngines().includes('native')) return t.skip('the native kernels were not built here');
  for (const m of ['LSTM', 'GRU', 'RNN'] as const) {
    check(m, 2, 6, 'float32', 'native', 1, 1e-5);
    check(m, 1, 7, 'float32', 'native', 2, 1e-5);
    check(m, 1, 7, 'float32', 'native', 2, 1e-5, false);
  }
});

test('traceLm refuses token counts that do not split into the streams', () => {
  const cfg: ModelConfig = modelConfig({ rnn: rnnConfig({ module: 'GRU', inputSize: V, hiddenSize: 4 }), vocabSize: V, outputSize: V });
  const params = initModelParameters(cfg, createRng(1));
  assert.throws(() => traceLm(cfg, params, [1, 2, 3], { streams: 2, onChunk: () => {} }), /equal non-empty streams/);
});
