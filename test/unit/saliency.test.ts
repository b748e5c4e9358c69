// "What did this prediction depend on": the gradient norm of the predicted token's log-probability (or a
// classifier's class score) with respect to each earlier input agrees with finite differences and with
// PyTorch autograd on the same weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rnnConfig } from '../../src/core/config';
import { type ModelConfig, modelConfig, parseHeadSpec } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { checkedModelParameters, modelForward } from '../../src/core/reference/model';
import { logitsOf } from '../../src/core/reference/head';
import { inputSaliency, saliencyUnsupportedReason } from '../../src/core/saliency';
import { serializeCheckpoint } from '../../src/core/checkpoint';
import { buildCharVocab } from '../../src/core/data/charVocab';

const V = 12;
const ids = Int32Array.from([3, 7, 1, 0, 9, 4, 11, 2, 6, 5]); // all distinct: each embedding row is one position's input

function model(o: { module?: 'LSTM' | 'GRU' | 'RNN'; classify?: boolean; onehot?: boolean }): ModelConfig {
  const rnn = rnnConfig({ module: o.module ?? 'LSTM', inputSize: o.onehot ? V : 5, hiddenSize: 6, numLayers: 2, dtype: 'float64' });
  return modelConfig({
    rnn, vocabSize: V, readout: o.classify ? 'last' : 'per_step',
    embedding: o.onehot ? null : { numEmbeddings: V, embeddingDim: 5, paddingIdx: null },
    head: parseHeadSpec('7,tanh', 6, o.classify ? 3 : V),
  });
}

function objective(cfg: ModelConfig, w: ReturnType<typeof checkedModelParameters>, T: number, k: number): number {
  const fwd = modelForward({ ...cfg, readout: 'per_step' }, w, { batchSize: 1, seqLen: T, inputs: ids.subarray(0, T), targets: new Int32Array(0) });
  const z = Array.from(logitsOf(fwd.head).subarray((T - 1) * cfg.outputSize, T * cfg.outputSize));
  if (cfg.readout !== 'per_step') return z[k];
  const max = Math.max(...z);
  return z[k] - max - Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
}

for (const [label, o] of [['LSTM language model', {}], ['GRU classifier (class score)', { module: 'GRU' as const, classify: true }], ['RNN language model', { module: 'RNN' as const }]] as const) {
  test(`saliency equals finite differences through the embedding: ${label}`, () => {
    const cfg = model(o);
    const w = checkedModelParameters(cfg, initModelParameters(cfg, createRng(9)));
    const s = inputSaliency(cfg, w, ids, 0, ids.length - 1);
    assert.equal(s.scores.length, ids.length);
    const table = w.get('embedding.weight')!.data;
    for (let t = 0; t < ids.length; t++) {
      let sq = 0;
      for (let k = 0; k < 5; k++) {
        const at = ids[t] * 5 + k, keep = table[at], h = 1e-6;
        table[at] = keep + h;
        const up = objective(cfg, w, ids.length, s.predicted);
        table[at] = keep - h;
        const down = objective(cfg, w, ids.length, s.predicted);
        table[at] = keep;
        sq += ((up - down) / (2 * h)) ** 2;
      }
      assert.ok(Math.abs(Math.sqrt(sq) - s.scores[t]) <= 1e-6 * Math.max(1, s.scores[t]), `t=${t}: ${Math.sqrt(sq)} vs ${s.scores[t]}`);
    }
  });
}

test('bidirectional models and mean / max classifiers are refused with the reason', () => {
  const bi = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: 3, bidirectional: true }), vocabSize: V });
  assert.match(saliencyUnsupportedReason(bi)!, /depends on the tokens after it/);
  const mean = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: 3 }), vocabSize: V, readout: 'mean', outputSize: 2 });
  assert.match(saliencyUnsupportedReason(mean)!, /predicts once for the whole text/);
});

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

test('saliency equals PyTorch autograd (one-hot LSTM language model, and an embedding GRU)', { skip: !hasTorch && 'torch is not importable' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-saliency-'));
  mkdirSync(join(dir, 'safetensors'));
  writeFileSync(join(dir, 'safetensors/__init__.py'), '');
  writeFileSync(join(dir, 'safetensors/torch.py'), `import json, torch
_DT = {"F32": torch.float32, "F64": torch.float64}
def load_file(path):
    b = open(path, "rb").read(); n = int.from_bytes(b[:8], "little"); h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: torch.frombuffer(bytearray(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]), dtype=_DT[v["dtype"]]).reshape(v["shape"]) for k, v in h.items() if v["dtype"] in _DT}
`);
  const vocab = buildCharVocab('abcdefghijkl');
  for (const [k, cfg] of [model({ onehot: true }), model({ module: 'GRU' })].entries()) {
    const params = initModelParameters(cfg, createRng(20 + k));
    const file = join(dir, `m${k}.safetensors`);
    writeFileSync(file, serializeCheckpoint({ config: cfg, vocab, params, engine: 'reference' }));
    const ours = inputSaliency(cfg, checkedModelParameters(cfg, params), ids, 2, 8);
    const script = `
import json, torch, torch.nn as nn
from safetensors.torch import load_file
with open(${JSON.stringify(file)}, "rb") as f:
    meta = json.loads(json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]["gatescope"])
m = meta["model"]; r = m["rnn"]; sd = load_file(${JSON.stringify(file)})
rnn = getattr(nn, r["module"])(r["input_size"], r["hidden_size"], r["num_layers"], batch_first=True).double()
rnn.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
head = nn.Sequential(nn.Linear(6, 7), nn.Tanh(), nn.Linear(7, ${V})).double()
head.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("head.")})
tokens = torch.tensor(${JSON.stringify(Array.from(ids.subarray(2, 9)))})
x = (sd["embedding.weight"][tokens] if m["embedding"] else nn.functional.one_hot(tokens, ${V}).double()).clone().requires_grad_(True)
out, _ = rnn(x.unsqueeze(0))
logp = torch.log_softmax(head(out[0, -1]), -1)
k = int(logp.argmax())
logp[k].backward()
print(json.dumps({"predicted": k, "scores": x.grad.norm(dim=-1).tolist()}))
`;
    const r = spawnSync(PYTHON, ['-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONPATH: dir } });
    assert.equal(r.status, 0, r.stderr);
    const theirs = JSON.parse(r.stdout) as { predicted: number; scores: number[] };
    assert.equal(ours.predicted, theirs.predicted);
    theirs.scores.forEach((v, t) => assert.ok(Math.abs(v - ours.scores[t]) <= 1e-12 * Math.max(1, v), `model ${k} t=${t}: torch ${v} vs ${ours.scores[t]}`));
  }
});
