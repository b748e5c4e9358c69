import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModelFile } from '../../src/node/loadModelFile';
import { type ModelImportOptions, importModel } from '../../src/core/formats/model';
import { parseNpz } from '../../src/core/formats/npz';
import { rnnForward } from '../../src/core/reference/rnn';
import { type ImportedModel, rnnParams } from '../../src/core/layouts/model';
import { type FloatTensor, type TensorMap, toFloat } from '../../src/core/tensor';
import { LayoutUnknownError } from '../../src/core/layouts/named';

const MODELS = resolve(__dirname, '../fixtures/formats/models');

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += a[i] ** 2; }
  return Math.sqrt(num / den);
}

/** Traces the imported model in float64 and compares with what the framework computed. */
function checkAgainstExpected(m: ImportedModel, expectedFile: string, tol = 1e-12): void {
  const exp = parseNpz(readFileSync(join(MODELS, expectedFile)));
  const cfg = { ...m.config, dtype: 'float64' as const };
  const params: TensorMap = new Map([...rnnParams(m)].map(([k, v]) => [k, toFloat(v, 'float64')]));
  const x = toFloat(exp.get('x')!, 'float64');
  const { output } = rnnForward(cfg, params, { x });
  const want = exp.get('output')! as FloatTensor;
  assert.deepEqual(output.shape, want.shape, expectedFile);
  const e = relErr(want.data, output.data);
  assert.ok(e < tol, `${expectedFile}: output relative error ${e}`);
  const logits = exp.get('logits') as FloatTensor | undefined;
  if (logits) {
    assert.ok(m.head, `${expectedFile}: head expected`);
    const W = toFloat(m.head!.weight, 'float64');
    const b = m.head!.bias ? toFloat(m.head!.bias, 'float64') : undefined;
    const [O, I] = W.shape;
    const rows = output.data.length / I;
    const got = new Float64Array(rows * O);
    for (let r = 0; r < rows; r++) for (let o = 0; o < O; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < I; i++) s += W.data[o * I + i] * output.data[r * I + i];
      got[r * O + o] = s;
    }
    const le = relErr(logits.data, got);
    assert.ok(le < tol, `${expectedFile}: head relative error ${le}`);
  }
}

const load = (f: string, o: ModelImportOptions = {}): Promise<ImportedModel> => loadModelFile(join(MODELS, f), o);

test('Keras 2 save_weights h5 (LSTM + Dense, no config) reproduces the model', async () => {
  const m = await load('keras2_lstm_dense.h5');
  assert.equal(m.config.module, 'LSTM');
  assert.equal(m.source.format, 'keras-h5');
  assert.ok(m.source.notes.some((n) => /recurrent_activation/.test(n)), 'the assumed activation is said');
  checkAgainstExpected(m, 'keras2_lstm_dense.expected.npz');
});

test('Keras 2 full-model h5: Bidirectional GRU, reset_after=true, hard_sigmoid from model_config', async () => {
  const m = await load('keras2_bigru_full.h5');
  assert.equal(m.config.bidirectional, true);
  assert.equal(m.config.recurrentActivation, 'hard_sigmoid');
  assert.equal(m.config.gruReset, 'after');
  checkAgainstExpected(m, 'keras2_bigru_full.expected.npz');
});

test('Keras 3 .weights.h5: two GRU layers with reset_after=false', async () => {
  const m = await load('keras3_gru_before.weights.h5');
  assert.equal(m.config.numLayers, 2);
  assert.equal(m.config.gruReset, 'before');
  checkAgainstExpected(m, 'keras3_gru_before.expected.npz');
});

test('Keras 3 .keras archive: SimpleRNN(relu) + Dense from config.json', async () => {
  const m = await load('keras3_simplernn.keras');
  assert.equal(m.config.nonlinearity, 'relu');
  assert.equal(m.source.format, 'keras');
  checkAgainstExpected(m, 'keras3_simplernn.expected.npz');
});

test('TensorFlow.js model.json + shard: hard_sigmoid honoured', async () => {
  const m = await load('tfjs_lstm/model.json');
  assert.equal(m.config.recurrentActivation, 'hard_sigmoid');
  checkAgainstExpected(m, 'tfjs_lstm.expected.npz');
});

test('ONNX from torch.onnx.export: 2-layer bidirectional LSTM, GRU, RNN relu', async () => {
  const lstm = await load('onnx_lstm_bi2.onnx');
  assert.equal(lstm.config.numLayers, 2);
  assert.equal(lstm.config.bidirectional, true);
  checkAgainstExpected(lstm, 'onnx_lstm_bi2.expected.npz');
  const gru = await load('onnx_gru.onnx');
  assert.equal(gru.config.gruReset, 'after');
  checkAgainstExpected(gru, 'onnx_gru.expected.npz');
  const rnn = await load('onnx_rnn_relu.onnx');
  assert.equal(rnn.config.nonlinearity, 'relu');
  checkAgainstExpected(rnn, 'onnx_rnn_relu.expected.npz');
});

test('from-scratch numpy layouts: per-gate, fused (order given), min-char-rnn', async () => {
  checkAgainstExpected(await load('scratch_lstm_pergate.npz'), 'scratch_lstm_pergate.expected.npz');
  await assert.rejects(load('scratch_lstm_fused_ifog.npz'), (e: Error) => e instanceof LayoutUnknownError && /--gate-order/.test(e.message) && /W \[16, 3\]/.test(e.message));
  checkAgainstExpected(await load('scratch_lstm_fused_ifog.npz', { gateOrder: 'i,f,o,g' }), 'scratch_lstm_fused_ifog.expected.npz');
  const mc = await load('minchar.npz');
  assert.equal(mc.source.layout, 'min-char-rnn');
  checkAgainstExpected(mc, 'minchar.expected.npz');
});

test('PyTorch state_dicts import as models; an Elman RNN asks for its nonlinearity', async () => {
  const fx = resolve(__dirname, '../fixtures/pytorch');
  const m = await importModel(readFileSync(join(fx, 'lstm_bi_2l_f64/weights.pt')), 'weights.pt');
  assert.equal(m.config.numLayers, 2);
  assert.equal(m.config.bidirectional, true);
  await assert.rejects(importModel(readFileSync(join(fx, 'rnn_relu_f64/weights.npz')), 'weights.npz'), /--nonlinearity/);
  const r = await importModel(readFileSync(join(fx, 'rnn_relu_f64/weights.npz')), 'weights.npz', { nonlinearity: 'relu' });
  assert.equal(r.config.nonlinearity, 'relu');
});
