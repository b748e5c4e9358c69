import { modelConfig } from '../../src/core/model';
// The WASM Adam kernel is bit-identical to src/core/optim.ts (same double-precision formulas on float32
// storage), and the wasm engine's optimizer state round-trips in optim.ts's naming.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rnnConfig } from '../../src/core/config';
import { createOptimizer } from '../../src/core/optim';
import { createRng } from '../../src/core/random';
import type { FloatTensor } from '../../src/core/tensor';
import { createWasmLmEngine, wasmAvailability } from '../../src/engines/wasm';
import { createWasmKernels } from '../../src/engines/wasm/wasmKernels';

const w = wasmAvailability();

test('wasm adamStep equals optim.ts Adam bit for bit', (t) => {
  if (!w.available) return t.skip(`no wasm: ${w.reason}`);
  for (const threads of w.threads === 2 ? [1, 2] as const : [1] as const) {
    const k = createWasmKernels(threads === 2 ? `${w.variant!}-mt` : w.variant!, threads);
    const n = 10_003, rng = createRng(8);
    const [P, G, M, V] = [16, 16 + n + 5, 16 + 2 * n + 10, 16 + 3 * n + 15];
    k.ensure(V + n);
    const p = Float32Array.from({ length: n }, () => rng.normal());
    const cfg = { kind: 'adam' as const, lr: 0.01, betas: [0.8, 0.99] as const, eps: 1e-6, weightDecay: 0.1 };
    const ref = createOptimizer(cfg);
    const refP: FloatTensor = { dtype: 'float32', shape: [n], data: p.slice() };
    k.heap().set(p, P);
    k.fill(M, n, 0);
    k.fill(V, n, 0);
    for (let step = 1; step <= 3; step++) {
      const g = Float32Array.from({ length: n }, () => rng.normal() * 0.1);
      ref.step(new Map([['w', refP]]), new Map([['w', { dtype: 'float32', shape: [n], data: g } as FloatTensor]]));
      k.heap().set(g, G);
      k.adamStep!(n, P, G, M, V, [0.8, 0.99, cfg.lr / (1 - 0.8 ** step), Math.sqrt(1 - 0.99 ** step), 1e-6, 0.1]);
      assert.deepEqual(k.heap().slice(P, P + n), refP.data, `threads ${threads} step ${step}`);
    }
    k.dispose();
  }
});

test('wasm engine Adam state round-trips through get/setOptimizerState', (t) => {
  if (!w.available) return t.skip(`no wasm: ${w.reason}`);
  const cfg = modelConfig({ rnn: rnnConfig({ module: 'GRU', inputSize: 7, hiddenSize: 12 }), vocabSize: 7, outputSize: 7 });
  const rng = createRng(2);
  const batch = () => ({ batchSize: 2, seqLen: 5, inputs: Int32Array.from({ length: 10 }, () => rng.int(7)), targets: Int32Array.from({ length: 10 }, () => rng.int(7)) });
  const batches = Array.from({ length: 4 }, batch);
  const opts = { optimizer: { kind: 'adam' as const, lr: 0.01 }, stateful: false };
  const a = createWasmLmEngine(cfg);
  a.trainStep(batches[0], opts);
  a.trainStep(batches[1], opts);
  const state = a.getOptimizerState();
  assert.ok(state.has('rnn.weight_hh_l0.exp_avg_sq') && Number(state.get('step')!.data[0]) === 2);
  const b = createWasmLmEngine(cfg, a.getParameters());
  b.setOptimizerState(state);
  for (const x of batches.slice(2)) assert.equal(b.trainStep(x, opts).loss, a.trainStep(x, opts).loss);
  a.dispose();
  b.dispose();
});
