import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { loadModelFile } from '../../src/node/loadModelFile';
import { importModel } from '../../src/core/formats/model';
import { exportModel } from '../../src/core/formats/export';
import { rnnForward } from '../../src/core/reference/rnn';
import { type ImportedModel, rnnParams } from '../../src/core/layouts/model';
import { type TensorMap, fromArray, toFloat } from '../../src/core/tensor';
import { relativeError } from '../../src/core/diff/metrics';

const MODELS = resolve(__dirname, '../fixtures/formats/models');

function outputOf(m: ImportedModel): Float64Array {
  const cfg = { ...m.config, dtype: 'float64' as const };
  const params: TensorMap = new Map([...rnnParams(m)].map(([k, v]) => [k, toFloat(v, 'float64')]));
  const T = 4, N = 2;
  const x = fromArray('float64', [T, N, cfg.inputSize], Array.from({ length: T * N * cfg.inputSize }, (_, i) => Math.sin(i * 0.7)));
  return rnnForward(cfg, params, { x }).output.data as Float64Array;
}

const CASES = ['keras2_lstm_dense.h5', 'keras2_bigru_full.h5', 'keras3_gru_before.weights.h5', 'keras3_simplernn.keras', 'tfjs_lstm/model.json', 'onnx_lstm_bi2.onnx', 'minchar.npz'];

test('export to safetensors, .npz and Keras .h5 and back gives the same model', async () => {
  for (const file of CASES) {
    const m = await loadModelFile(join(MODELS, file));
    const want = outputOf(m);
    for (const [format, name] of [['safetensors', 'x.safetensors'], ['npz', 'x.npz'], ['keras-h5', 'x.h5']] as const) {
      const back = await importModel(await exportModel(m, format), name, { nonlinearity: m.config.nonlinearity, recurrentActivation: m.config.recurrentActivation, gruReset: m.config.gruReset });
      assert.equal(back.config.module, m.config.module, `${file} → ${format}`);
      assert.equal(back.config.numLayers, m.config.numLayers);
      assert.equal(back.config.bidirectional, m.config.bidirectional);
      if (format === 'keras-h5') {
        assert.equal(back.config.recurrentActivation, m.config.recurrentActivation, `${file} → ${format}`);
        assert.equal(back.config.gruReset, m.config.gruReset);
      }
      const e = relativeError(want, outputOf(back));
      assert.ok(e < 1e-6, `${file} → ${format}: output relative error ${e}`);
      assert.equal(!!back.head, !!m.head, `${file} → ${format}: head`);
    }
  }
});

test('.npz export records what the tensors do not: a hard-sigmoid model reads back hard sigmoid, with no flag', async () => {
  const m = await loadModelFile(join(MODELS, 'tfjs_lstm/model.json'));
  assert.equal(m.config.recurrentActivation, 'hard_sigmoid', 'the fixture records hard sigmoid');
  const back = await importModel(await exportModel(m, 'npz'), 'x.npz');
  assert.equal(back.config.recurrentActivation, 'hard_sigmoid');
  assert.equal(back.source.recorded?.recurrentActivation, 'hard_sigmoid');
  assert.ok(relativeError(outputOf(m), outputOf(back)) < 1e-6);
  const gru = await loadModelFile(join(MODELS, 'keras3_gru_before.weights.h5'), { recurrentActivation: 'sigmoid' });
  const gruBack = await importModel(await exportModel(gru, 'npz'), 'g.npz');
  assert.equal(gruBack.config.gruReset, gru.config.gruReset);
  assert.ok(relativeError(outputOf(gru), outputOf(gruBack)) < 1e-6);
});
