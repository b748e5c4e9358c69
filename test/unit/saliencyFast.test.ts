// The fast saliency path (src/core/saliencyFast.ts) computes what the reference inputSaliency does: LSTM, GRU
// and RNN, two layers, one-hot and embedding input, from a state before the window, and from a trace window's
// tensors; float64 to 1e-10, float32 to 1e-5. Prints its time for a window of 256 at H = 128, 256, 512.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import { type ModelConfig, modelConfig, parseHeadSpec } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { checkedModelParameters, finalState, modelForward } from '../../src/core/reference/model';
import { inputSaliency } from '../../src/core/saliency';
import { KernelSaliency, attributePrediction, documentSaliency, fastInputSaliency, forwardFromTrace } from '../../src/core/saliencyFast';
import { createJsKernels } from '../../src/core/fast/jsKernels';
import { createNativeFastKernels, nativeAvailability } from '../../src/engines/native/index';
import { createDocumentTrace } from '../../src/worker/documentTrace';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import type { FloatTensor } from '../../src/core/tensor';

const V = 13;
const ids = Int32Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % V);

type Options = { module: 'LSTM' | 'GRU' | 'RNN'; onehot: boolean; dtype: 'float32' | 'float64'; classify?: boolean; mlp?: boolean; H?: number; L?: number };

function model(o: Options): ModelConfig {
  const H = o.H ?? 6;
  const rnn = rnnConfig({ module: o.module, inputSize: o.onehot ? V : 5, hiddenSize: H, numLayers: o.L ?? 2, dtype: o.dtype });
  return modelConfig({
    rnn, vocabSize: V, readout: o.classify ? 'last' : 'per_step',
    embedding: o.onehot ? null : { numEmbeddings: V, embeddingDim: 5, paddingIdx: null },
    head: parseHeadSpec(o.mlp ? '7,tanh' : '', H, o.classify ? 3 : V),
  });
}

function close(a: Float64Array, b: Float64Array, rtol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  const scale = Math.max(...Array.from(b, Math.abs));
  a.forEach((v, t) => assert.ok(Math.abs(v - b[t]) <= rtol * scale, `${what} t=${t}: fast ${v} vs reference ${b[t]}`));
}

const cases: Options[] = [];
for (const module of ['LSTM', 'GRU', 'RNN'] as const) {
  for (const onehot of [true, false]) for (const dtype of ['float64', 'float32'] as const) cases.push({ module, onehot, dtype });
}
cases.push({ module: 'GRU', onehot: false, dtype: 'float64', classify: true, mlp: true }, { module: 'LSTM', onehot: true, dtype: 'float32', mlp: true, L: 3 });

for (const o of cases) {
  const label = `${o.module} ${o.onehot ? 'one-hot' : 'embedding'} ${o.dtype}${o.classify ? ' classifier' : ''}${o.mlp ? ' MLP head' : ''}`;
  test(`fast saliency equals the reference: ${label}`, () => {
    const cfg = model(o);
    const w = checkedModelParameters(cfg, initModelParameters(cfg, createRng(o.module.length + (o.onehot ? 1 : 0))));
    const rtol = o.dtype === 'float64' ? 1e-10 : 1e-5;
    // From the document's start.
    const ref = inputSaliency(cfg, w, ids, 0, 11);
    const fast = fastInputSaliency(cfg, w, ids, 0, 11);
    assert.equal(fast.predicted, ref.predicted);
    assert.equal(fast.objective, ref.objective);
    close(fast.scores, ref.scores, rtol, 'from 0');
    // From a state before an earlier position (a checkpoint): the reference gets the state at the window's start.
    const batch = (a: number, b: number) => ({ batchSize: 1, seqLen: b - a, inputs: ids.subarray(a, b), targets: new Int32Array(0) });
    const stepCfg = { ...cfg, readout: 'per_step' as const };
    const s0 = finalState(modelForward(stepCfg, w, batch(0, 9)));
    const s1 = finalState(modelForward(stepCfg, w, batch(9, 20), { state: s0 }));
    const ref2 = inputSaliency(cfg, w, ids, 20, 33, { state: s1 });
    const fast2 = fastInputSaliency(cfg, w, ids, 20, 33, { state: s0, stateAt: 9 });
    assert.equal(fast2.predicted, ref2.predicted);
    close(fast2.scores, ref2.scores, rtol, 'from a checkpoint');
    // From a trace window's tensors (as DocumentTrace.window gives them), its first row the step before the window.
    const weights = splitLmParameters(cfg, new Map(w));
    const tr = lmForward(stepCfg, weights, ids.subarray(9, 34), 25, 1, s0 as never, { trace: true }).trace!;
    const rows = new Map([...tr].map(([k, t]) => [k, { ...t, data: t.data.subarray(10 * cfg.rnn.hiddenSize) } as FloatTensor]));
    const fast3 = fastInputSaliency(cfg, w, ids, 20, 33, { forward: forwardFromTrace(cfg, rows, true) });
    close(fast3.scores, ref2.scores, rtol, 'from a trace window');
    // At the document's start a trace window has no row before it.
    const tr0 = lmForward(stepCfg, weights, ids.subarray(0, 12), 12, 1, undefined, { trace: true }).trace!;
    close(fastInputSaliency(cfg, w, ids, 0, 11, { forward: forwardFromTrace(cfg, tr0, false) }).scores, ref.scores, rtol, 'trace window at 0');
    assert.deepEqual(attributePrediction(cfg, w, ids, 0, 11).scores.length, 12);
    // The backward's products on the fast kernels (js here; native below when built).
    const kernels = new KernelSaliency(createJsKernels(o.dtype), cfg, w);
    close(fastInputSaliency(cfg, w, ids, 20, 33, { forward: forwardFromTrace(cfg, rows, true), kernels }).scores, ref2.scores, rtol, 'js kernels');
    close(fastInputSaliency(cfg, w, ids, 20, 33, { state: s0, stateAt: 9, kernels }).scores, ref2.scores, rtol, 'js kernels, own forward');
    kernels.dispose();
    if (o.dtype === 'float32' && nativeAvailability().available) {
      const native = new KernelSaliency(createNativeFastKernels(1), cfg, w);
      close(fastInputSaliency(cfg, w, ids, 20, 33, { forward: forwardFromTrace(cfg, rows, true), kernels: native }).scores, ref2.scores, rtol, 'native kernels');
      native.dispose();
    }
  });
}

test('fast saliency time for a window of 256 (float32 one-hot, V = 96, 1 layer), as the worker runs it', () => {
  const n = 2000, position = 1000, W = 256;
  const doc = Int32Array.from({ length: n }, (_, i) => (i * 31 + 5) % 96);
  const native = nativeAvailability().available;
  for (const module of ['LSTM', 'GRU'] as const) {
    for (const H of [128, 256, 512]) {
      const rnn = rnnConfig({ module, inputSize: 96, hiddenSize: H, numLayers: 1, dtype: 'float32' });
      const cfg = modelConfig({ rnn, vocabSize: 96, embedding: null }); // one nn.Linear head: the fast trace
      const params = initModelParameters(cfg, createRng(3));
      const w = checkedModelParameters(cfg, params);
      const trace = createDocumentTrace({ config: cfg, params, vocab: { kind: 'char', chars: [] } as never }, doc, 64); // the extension's checkpoint interval
      for (const _ of trace.prepare()) { /* sweep */ }
      const kernels = native ? new KernelSaliency(createNativeFastKernels(1), cfg, w) : undefined;
      const start = position - W + 1;
      const run = (): { forward: number; backward: number; s: ReturnType<typeof fastInputSaliency> } => {
        const t0 = performance.now();
        const forward = forwardFromTrace(cfg, trace.window(start - 1, position + 1).tensors, true);
        const t1 = performance.now();
        const s = fastInputSaliency(cfg, w, doc, start, position, { forward, kernels });
        return { forward: t1 - t0, backward: performance.now() - t1, s };
      };
      run(); // warm the JIT
      // The fastest of 5 (the machine is shared; the slower runs measure the others' load).
      const runs = Array.from({ length: 5 }, run);
      const r = { forward: Math.min(...runs.map((x) => x.forward)), backward: Math.min(...runs.map((x) => x.backward)), s: runs[0].s };
      const jsT0 = performance.now();
      fastInputSaliency(cfg, w, doc, start, position, { state: undefined, stateAt: start }); // all JS, from a zero state
      const js = performance.now() - jsT0;
      console.log(`saliency ${module} H=${H} window ${W}: trace window ${r.forward.toFixed(1)} ms + backward ${r.backward.toFixed(1)} ms (${kernels ? 'native' : 'js'} products); all-JS forward + backward ${js.toFixed(1)} ms`);
      assert.equal(r.s.scores.length, W);
      kernels?.dispose();
      trace.dispose();
    }
  }
});

test('the worker answers saliency requests from a prepared trace (LSTM H=256, window 256), and says why for a bidirectional model', { timeout: 120_000 }, async () => {
  const { WorkerClient } = await import('../../src/worker/client');
  const { workerScript } = await import('../workerScript');
  const { buildCharVocab } = await import('../../src/core/data/charVocab');
  const { mkdtempSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join, resolve } = await import('node:path');
  const bundled = resolve(__dirname, '../../dist/worker.js');
  const client = new WorkerClient({ workerPath: existsSync(bundled) ? bundled : workerScript(mkdtempSync(join(tmpdir(), 'gatescope-saliency-'))) });
  try {
    const vocab = buildCharVocab('abcdefghijklmnopqrstuvwxyz .,\n');
    const Vv = vocab.kind === 'char' ? vocab.chars.length : 0;
    const H = 256;
    const cfg = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: Vv, hiddenSize: H, numLayers: 1, dtype: 'float32' }), vocabSize: Vv });
    const params = initModelParameters(cfg, createRng(5));
    const doc = Int32Array.from({ length: 3000 }, (_, i) => (i * 17 + (i >> 3)) % Vv);
    const ready = await client.prepareTrace({ config: cfg, params, vocab }, { ids: doc }, { checkpointEvery: 64 });
    const times: string[] = [];
    for (const position of [2000, 1500, 2711, 400, 2999, 1200, 2100, 800]) {
      const t0 = performance.now();
      const r = await client.saliency(ready.traceId, position, 256);
      times.push(`${(performance.now() - t0).toFixed(1)} ms (worker ${r.computeMs.toFixed(1)})`);
      assert.equal(r.scores.length, 256);
      assert.equal(r.start, position - 255);
    }
    console.log(`saliency round trip, LSTM H=${H} window 256: ${times.join(', ')}`);
    // Against the reference from the state at the window's start.
    const position = 1000, start = position - 255;
    const r = await client.saliency(ready.traceId, position, 256);
    const w = checkedModelParameters(cfg, params);
    const state = finalState(modelForward(cfg, w, { batchSize: 1, seqLen: start, inputs: doc.subarray(0, start), targets: new Int32Array(0) }));
    const ref = inputSaliency(cfg, w, doc, start, position, { state });
    assert.equal(r.predicted, ref.predicted);
    close(Float64Array.from(r.scores), ref.scores, 1e-4, 'worker vs reference');
    // A bidirectional model: one line saying why.
    const bi = modelConfig({ rnn: rnnConfig({ module: 'GRU', inputSize: Vv, hiddenSize: 8, numLayers: 1, bidirectional: true, dtype: 'float32' }), vocabSize: Vv });
    const biReady = await client.prepareTrace({ config: bi, params: initModelParameters(bi, createRng(1)), vocab }, { ids: doc.subarray(0, 100) });
    const no = await client.saliency(biReady.traceId, 50, 256);
    assert.match(no.unsupported ?? '', /depends on the tokens after it/);
  } finally {
    await client.dispose();
  }
});

test('documentSaliency: from a DocumentTrace window (float32: the fast path; float64: the reference from the window\'s start state)', () => {
  const doc = Int32Array.from({ length: 300 }, (_, i) => (i * 5 + (i >> 2)) % V);
  for (const dtype of ['float32', 'float64'] as const) {
    for (const module of ['LSTM', 'GRU'] as const) {
      const cfg = modelConfig({ rnn: rnnConfig({ module, inputSize: V, hiddenSize: 9, numLayers: 2, dtype }), vocabSize: V });
      const params = initModelParameters(cfg, createRng(8));
      const w = checkedModelParameters(cfg, params);
      const trace = createDocumentTrace({ config: cfg, params, vocab: { kind: 'char', chars: [] } as never }, doc, 64);
      for (const _ of trace.prepare()) { /* sweep */ }
      for (const [position, window] of [[250, 100], [40, 256], [0, 8]] as const) {
        const s = documentSaliency(cfg, w, doc, position, window, (a, b) => trace.window(a, b).tensors);
        const start = Math.max(0, position - window + 1);
        const state = start ? finalState(modelForward(cfg, w, { batchSize: 1, seqLen: start, inputs: doc.subarray(0, start), targets: new Int32Array(0) })) : undefined;
        const ref = inputSaliency(cfg, w, doc, start, position, { window, ...(state ? { state } : {}) });
        assert.equal(s.start, start);
        assert.equal(s.predicted, ref.predicted);
        close(s.scores, ref.scores, dtype === 'float64' ? 1e-10 : 1e-5, `${dtype} ${module} at ${position}`);
      }
      trace.dispose();
    }
  }
});
