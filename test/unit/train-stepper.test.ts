import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVocabulary } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { LmStepper } from '../../src/core/train/stepper';
import { rnnConfig } from '../../src/core/config';
import type { ModelConfig } from '../../src/core/model';

const vocab = buildVocabulary('abcdefgh \n', 'char');
const base = modelConfigFor(vocab, { hiddenSize: 5, numLayers: 2, dtype: 'float64' });
const variants: Array<[string, ModelConfig]> = [
  ['LSTM 2 layers', base],
  ['GRU', { ...base, rnn: rnnConfig({ ...base.rnn, module: 'GRU' }) }],
  ['GRU reset-before hard sigmoid', { ...base, rnn: rnnConfig({ ...base.rnn, module: 'GRU', gruReset: 'before', recurrentActivation: 'hard_sigmoid' }) }],
  ['RNN relu no bias', { ...base, rnn: rnnConfig({ ...base.rnn, module: 'RNN', nonlinearity: 'relu', bias: false }) }],
];

for (const [name, cfg] of variants) {
  test(`stepper agrees with the reference forward: ${name}`, () => {
    const params = initialWeights(cfg, 9);
    const ids = [1, 4, 2, 7, 3, 0, 5];
    const ref = lmForward(cfg, splitLmParameters(cfg, params), ids, ids.length, 1, undefined, { trace: true });
    const s = new LmStepper(cfg, params);
    const st = s.zeroState();
    const rec = s.newRecord();
    const H = cfg.rnn.hiddenSize;
    for (let t = 0; t < ids.length; t++) {
      s.step(ids[t], st, rec);
      for (let l = 0; l < cfg.rnn.numLayers; l++) {
        const refH = (ref.trace!.get(`trace_l${l}_h`)!.data as Float64Array).subarray(t * H, (t + 1) * H);
        for (let j = 0; j < H; j++) assert.ok(Math.abs(refH[j] - rec.h[l * H + j]) < 1e-12, `h l${l} t${t}`);
        s.gateNames.forEach((g, gi) => {
          const refG = (ref.trace!.get(`trace_l${l}_gate_${g}`)!.data as Float64Array).subarray(t * H, (t + 1) * H);
          for (let j = 0; j < H; j++) assert.ok(Math.abs(refG[j] - rec.gates[(l * s.G + gi) * H + j]) < 1e-12, `gate ${g} l${l} t${t}`);
        });
      }
    }
    for (let k = 0; k < st.h.length; k++) assert.ok(Math.abs(st.h[k] - ref.state.h.data[k]) < 1e-12);
  });
}
