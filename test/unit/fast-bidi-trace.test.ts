// The checkpointed stack trace (src/core/fast/bidiTrace.ts) on the fast kernels equals one pass over the
// whole sequence: against real PyTorch's bidirectional fixtures (every window of every batch element) and
// against the reference lmForward on char LMs (bidirectional LSTM/GRU/RNN, 1-2 layers, float64 on the js
// kernels to 1e-12, float32 on the WASM kernels to 1e-5), with checkpoints and slices that cut the sequence
// into many blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RnnConfig, parseRnnConfig, rnnConfig } from '../../src/core/config';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { CheckpointedStackTrace } from '../../src/core/fast/bidiTrace';
import { createJsKernels } from '../../src/core/fast/jsKernels';
import type { FastKernels } from '../../src/core/fast/kernels';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import type { FloatDType, TensorMap } from '../../src/core/tensor';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { createWasmKernels } from '../../src/engines/wasm/wasmKernels';
import { wasmAvailability } from '../../src/engines/wasm';
import { createNativeFastKernels, nativeAvailability } from '../../src/engines/native/index';
import { fixturePath } from '../fixtures';

/** Every kernel set that runs `dtype` here: js always; WASM SIMD and the native addon for float32 when present. */
function kernelSets(dtype: FloatDType): { name: string; make: () => FastKernels }[] {
  const sets = [{ name: 'js', make: () => createJsKernels(dtype) }];
  if (dtype === 'float32') {
    const w = wasmAvailability();
    if (w.available) sets.push({ name: `wasm-${w.variant}`, make: () => createWasmKernels(w.variant!, 1) });
    if (nativeAvailability().available) sets.push({ name: 'native', make: () => createNativeFastKernels(1) });
  }
  return sets;
}

function kernelsFor(dtype: FloatDType): FastKernels {
  return kernelSets(dtype).at(-1)!.make();
}

/** max |a - b| / max |b| */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 1e-30;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

for (const name of ['lstm_bi_2l_f64', 'gru_bi_f32']) {
  test(`every window of PyTorch's ${name} trace, from checkpoints every 2 and 3 steps`, () => {
    const dir = fixturePath(name);
    const cfg: RnnConfig = parseRnnConfig(JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')));
    const params = parseSafetensors(readFileSync(join(dir, 'weights.safetensors'))).tensors as TensorMap;
    const io = parseSafetensors(readFileSync(join(dir, 'io.safetensors'))).tensors as TensorMap;
    const x = io.get('x')!;
    const xd = x.data as ArrayLike<number>;
    const [N, T, I] = cfg.batchFirst ? [x.shape[0], x.shape[1], x.shape[2]] : [x.shape[1], x.shape[0], x.shape[2]];
    const H = cfg.hiddenSize, LD = cfg.numLayers * 2;
    const tol = cfg.dtype === 'float64' ? 1e-12 : 1e-5;
    let worst = 0;
    for (const K of [2, 3]) {
      for (let n = 0; n < N; n++) {
        const xs = new Float64Array(T * I);
        for (let t = 0; t < T; t++) for (let i = 0; i < I; i++) xs[t * I + i] = xd[cfg.batchFirst ? (n * T + t) * I + i : (t * N + n) * I + i];
        const state = (key: string): Float64Array | undefined => {
          const s = io.get(key);
          if (!s) return undefined;
          const out = new Float64Array(LD * H);
          const sd = s.data as ArrayLike<number>;
          for (let k = 0; k < LD; k++) for (let j = 0; j < H; j++) out[k * H + j] = sd[(k * N + n) * H + j];
          return out;
        };
        const h0 = state('h0'), c0 = state('c0');
        const trace = new CheckpointedStackTrace(cfg, kernelsFor(cfg.dtype), params, { kind: 'dense', x: xs },
          { checkpointEvery: K, sliceSteps: K, ...(h0 ? { h0 } : {}), ...(c0 ? { c0 } : {}) });
        for (const _ of trace.prepare()) { /* sweep */ }
        for (let s = 0; s < T; s++) {
          for (let e = s + 1; e <= T; e++) {
            const w = trace.window(s, e);
            for (const [key, got] of w.tensors) {
              const ref = io.get(key);
              assert.ok(ref, `fixture lacks ${key}`);
              const want = new Float64Array((e - s) * H);
              const rd = ref.data as ArrayLike<number>;
              for (let t = s; t < e; t++) for (let j = 0; j < H; j++) want[(t - s) * H + j] = rd[(t * N + n) * H + j];
              const err = relError(got.data as ArrayLike<number>, want);
              worst = Math.max(worst, err);
              assert.ok(err <= tol, `${name} K=${K} n=${n} [${s}, ${e}) ${key}: ${err}`);
            }
            assert.equal(w.tensors.size, [...io.keys()].filter((k) => k.startsWith('trace_')).length);
          }
        }
        trace.dispose();
      }
    }
    assert.ok(worst <= tol);
  });
}

function lm(module: RnnConfig['module'], numLayers: number, dtype: FloatDType, extra: Partial<RnnConfig> = {}): { cfg: ModelConfig; params: TensorMap } {
  const V = 11;
  const cfg: ModelConfig = modelConfig({ rnn: rnnConfig({ module, inputSize: V, hiddenSize: 7, numLayers, dtype, bidirectional: true, ...extra }), vocabSize: V, outputSize: V });
  return { cfg, params: initModelParameters(cfg, createRng(41)) };
}

function stackParams(params: TensorMap): TensorMap {
  return new Map([...params].filter(([k]) => k.startsWith('rnn.')).map(([k, v]) => [k.slice(4), v]));
}

const CASES: readonly (readonly [RnnConfig['module'], number, FloatDType, Partial<RnnConfig>])[] = [
  ['LSTM', 2, 'float64', {}], ['GRU', 2, 'float64', {}], ['RNN', 2, 'float64', { nonlinearity: 'relu' }], ['LSTM', 1, 'float64', { bias: false }],
  ['LSTM', 2, 'float32', {}], ['GRU', 1, 'float32', {}], ['RNN', 1, 'float32', {}], ['LSTM', 2, 'float64', { bidirectional: false }],
];

for (const [module, layers, dtype, extra] of CASES) {
  const label = `${extra.bidirectional === false ? 'unidirectional' : 'bidirectional'} ${module} ${layers}L ${dtype}${'bias' in extra ? ' no bias' : ''}`;
  test(`char LM, ${label}: windows and head scores equal the reference's one pass`, () => {
    const { cfg, params } = lm(module, layers, dtype, extra);
    const n = 300;
    const ids = Int32Array.from({ length: n }, (_, i) => (i * 7 + (i >> 3)) % cfg.vocabSize);
    const ref = lmForward(cfg, splitLmParameters(cfg, params), ids, n, 1, undefined, { trace: true });
    // Each kernel set twice: layer 0 prepared step by step, and on the one-sequence sweep (sweep.ts).
    const runs: { name: string; make: () => FastKernels; sweep?: () => FastKernels }[] = kernelSets(dtype).flatMap((k) => [k, { ...k, name: `${k.name} + sweep`, sweep: k.make }]);
    if (dtype === 'float32' && nativeAvailability().available) runs.push({ name: 'native + sweep on 2 threads', make: () => createNativeFastKernels(1), sweep: () => createNativeFastKernels(2) });
    for (const kernels of runs) {
    const trace = new CheckpointedStackTrace(cfg.rnn, kernels.make(), stackParams(params), { kind: 'tokens', ids }, {
      checkpointEvery: 16, sliceSteps: 40, // slices of 32: not a divisor of 300, windows cross block edges
      ...(kernels.sweep ? { sweepKernels: kernels.sweep } : {}),
      head: { weight: params.get('head.weight')!.data as Float64Array, bias: params.get('head.bias')!.data as Float64Array, outputs: cfg.outputSize },
    });
    let last = 0;
    for (const done of trace.prepare()) {
      assert.ok(done > last);
      last = done;
    }
    assert.equal(last, trace.work);
    assert.equal(trace.available, n);
    const tol = dtype === 'float64' ? 1e-12 : 1e-5;
    const H = cfg.rnn.hiddenSize, O = cfg.outputSize;
    for (const [s, e] of [[50, 250], [0, 5], [290, 300], [16, 32], [17, 18], [0, 300]]) {
      const w = trace.window(s, e);
      assert.deepEqual([...w.tensors.keys()].sort(), [...ref.trace!.keys()].sort());
      for (const [key, got] of w.tensors) {
        const err = relError(got.data as ArrayLike<number>, (ref.trace!.get(key)!.data as Float64Array).subarray(s * H, e * H));
        assert.ok(err <= tol, `${kernels.name} [${s}, ${e}) ${key}: ${err}`);
      }
      const err = relError(w.logits!, ref.logits.subarray(s * O, e * O));
      assert.ok(err <= tol, `${kernels.name} [${s}, ${e}) logits: ${err}`);
    }
    assert.throws(() => trace.window(10, 301), /outside/);
    trace.dispose();
    }
  });
}

test('a 100k-token bidirectional LSTM trace on the sweep: windows at its start, middle and end equal the reference\'s one pass', () => {
  const { cfg, params } = lm('LSTM', 1, 'float32', { hiddenSize: 8 });
  const n = 100_000;
  const rng = createRng(3);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i > 0 && rng.uniform() < 0.7 ? (ids[i - 1] + 1) % cfg.vocabSize : rng.int(cfg.vocabSize);
  const ref = lmForward(cfg, splitLmParameters(cfg, params), ids, n, 1, undefined, { trace: true });
  const fast = kernelSets('float32').at(-1)!;
  const trace = new CheckpointedStackTrace(cfg.rnn, fast.make(), stackParams(params), { kind: 'tokens', ids }, {
    checkpointEvery: 256, sweepKernels: nativeAvailability().available ? () => createNativeFastKernels(2) : fast.make,
  });
  for (const _ of trace.prepare()) { /* all of it */ }
  const H = cfg.rnn.hiddenSize;
  for (const [s, e] of [[0, 300], [49_900, 50_200], [n - 300, n]]) {
    for (const [key, got] of trace.window(s, e).tensors) {
      const err = relError(got.data as ArrayLike<number>, (ref.trace!.get(key)!.data as Float32Array).subarray(s * H, e * H));
      assert.ok(err <= 1e-5, `${fast.name} [${s}, ${e}) ${key}: ${err}`);
    }
  }
  trace.dispose();
});

test('a bidirectional trace is not windowable before its preparation ends; bad input is refused', () => {
  const { cfg, params } = lm('GRU', 1, 'float64');
  const ids = Int32Array.from({ length: 100 }, (_, i) => i % cfg.vocabSize);
  const trace = new CheckpointedStackTrace(cfg.rnn, createJsKernels('float64'), stackParams(params), { kind: 'tokens', ids }, { checkpointEvery: 8, sliceSteps: 16 });
  const sweep = trace.prepare();
  sweep.next();
  assert.equal(trace.available, 0);
  assert.throws(() => trace.window(0, 4), /not prepared yet/);
  for (let r = sweep.next(); !r.done; r = sweep.next()) { /* the rest */ }
  assert.equal(trace.available, 100);
  assert.equal(trace.window(0, 4).tensors.get('trace_l0_reverse_h')!.shape[0], 4);
  assert.throws(() => new CheckpointedStackTrace(cfg.rnn, createJsKernels('float64'), stackParams(params), { kind: 'tokens', ids: Int32Array.of(0, 99) }, { checkpointEvery: 8 }), /outside the input size/);
  assert.throws(() => new CheckpointedStackTrace(cfg.rnn, createJsKernels('float64'), new Map(), { kind: 'tokens', ids }, { checkpointEvery: 8 }), /lack weight_ih_l0/);
});
