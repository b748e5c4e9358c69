// The README's PyTorch module, run for real: model files of every kind (language models and classifiers of
// each readout) load with load_state_dict(strict=False) and PyTorch computes the same scores as gatescope. Runs where /usr/bin/python3 has torch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildVocabulary } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { serializeCheckpoint } from '../../src/core/checkpoint';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { checkedModelParameters, modelForward } from '../../src/core/reference/model';
import { logitsOf } from '../../src/core/reference/head';
import type { ModelConfig } from '../../src/core/model';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

// The dependency-free loader from the README, installed as `safetensors.torch` only where the real
// package is missing, so the README's two lines run unchanged either way.
const SHIM = `import json, torch
_DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}
def load_file(path):
    b = open(path, "rb").read(); n = int.from_bytes(b[:8], "little"); h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: torch.frombuffer(bytearray(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]), dtype=_DT[v["dtype"]]).reshape(v["shape"]) for k, v in h.items()}
`;

interface TorchCase {
  readonly label: string;
  readonly config: ModelConfig;
  readonly lengths?: readonly number[];
}

const text = Array.from({ length: 65 }, (_, i) => String.fromCharCode(32 + i)).join('');
const vocab = buildVocabulary(text, 'char');
const V = 65;
const cases: TorchCase[] = [
  // The README's model: 65 characters, 256 units, one layer, one-hot input, file shakespeare.safetensors.
  { label: 'char LM', config: modelConfigFor(vocab, { hiddenSize: 256 }) },
  { label: 'embedding GRU LM with an MLP head, 2 layers', config: modelConfigFor(vocab, { module: 'GRU', embeddingDim: 12, numLayers: 2, hiddenSize: 16, head: '20,tanh' }), lengths: [10, 7, 3] },
  { label: 'embedding biLSTM classifier, last', config: modelConfigFor(vocab, { embeddingDim: 8, bidirectional: true, numLayers: 2, hiddenSize: 9, readout: 'last', head: '7,relu,dropout0.3', paddingIdx: 0 }, 4), lengths: [10, 4, 1] },
  { label: 'one-hot RNN(relu) classifier, mean', config: modelConfigFor(vocab, { module: 'RNN', nonlinearity: 'relu', hiddenSize: 6, readout: 'mean' }, 3), lengths: [2, 10, 5] },
  { label: 'embedding biGRU classifier, max, float64, no bias', config: modelConfigFor(vocab, { module: 'GRU', embeddingDim: 5, bidirectional: true, bias: false, hiddenSize: 7, readout: 'max', dtype: 'float64' }, 5), lengths: [9, 10, 6] },
];

test('model files load in PyTorch with the README module and give the same scores', { skip: !hasTorch && 'torch is not importable' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-torch-'));
  const hasPackage = spawnSync(PYTHON, ['-c', 'import safetensors.torch'], { encoding: 'utf8' }).status === 0;
  if (!hasPackage) {
    mkdirSync(join(dir, 'safetensors'));
    writeFileSync(join(dir, 'safetensors/__init__.py'), '');
    writeFileSync(join(dir, 'safetensors/torch.py'), SHIM);
  }
  const T = 10, B = 3;
  const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 17 + 5) % V);
  cases.forEach((c, k) => {
    const engine = createReferenceLmEngine(c.config, initialWeights(c.config, 3 + k));
    const file = k === 0 ? 'shakespeare.safetensors' : `model${k}.safetensors`;
    const isClassifier = c.config.readout !== 'per_step';
    writeFileSync(join(dir, file), serializeCheckpoint({
      config: c.config, vocab, params: engine.getParameters(), optimizer: engine.getOptimizerState(), engine: engine.name,
      ...(isClassifier ? { labels: Array.from({ length: c.config.outputSize }, (_, i) => `class ${i}`) } : {}),
      carried: new Map([['h', { dtype: 'float32', shape: [1, 1, 256], data: new Float32Array(256) }]]),
    }));
    const lengths = c.lengths ?? [T, T, T];
    const fwd = modelForward(c.config, checkedModelParameters(c.config, engine.getParameters()), {
      batchSize: B, seqLen: T, inputs: tokens, targets: new Int32Array(0), ...(c.lengths ? { lengths: Int32Array.from(lengths) } : {}),
    });
    // Ours are time-major rows for a language model; torch's [B, T, V] batch-first, 0-padded rows where t >= length.
    const ours = logitsOf(fwd.head);
    const script = `
import json, sys, torch, torch.nn as nn
${readmeSnippet().replace('model, meta = load_gatescope("shakespeare.safetensors")', `model, meta = load_gatescope(${JSON.stringify(file)})`)}
tokens = torch.tensor(${JSON.stringify(Array.from(tokens))}).reshape(${B}, ${T})
with torch.no_grad():
    scores, _ = model(tokens, ${c.lengths ? `torch.tensor(${JSON.stringify(lengths)})` : 'None'})
print(json.dumps({"scores": scores.double().flatten().tolist(), "labels": meta.get("labels")}))
`;
    const r = spawnSync(PYTHON, ['-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONPATH: dir } });
    assert.equal(r.status, 0, `${c.label}: ${r.stderr}`);
    const theirs = JSON.parse(r.stdout) as { scores: number[]; labels: string[] | null };
    const O = c.config.outputSize;
    let maxErr = 0;
    if (isClassifier) {
      assert.equal(theirs.scores.length, B * O);
      for (let i = 0; i < B * O; i++) maxErr = Math.max(maxErr, Math.abs(theirs.scores[i] - ours[i]));
      assert.equal(theirs.labels?.length, O);
    } else {
      for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) for (let o = 0; o < O; o++) {
        maxErr = Math.max(maxErr, Math.abs(theirs.scores[(b * T + t) * O + o] - ours[(t * B + b) * O + o]));
      }
    }
    const tol = c.config.rnn.dtype === 'float64' ? 1e-12 : 1e-5;
    assert.ok(maxErr < tol, `${c.label}: max |torch - gatescope| = ${maxErr}`);
  });
});

/** The Python block of README.md's "Training from the command line" section, verbatim. */
function readmeSnippet(): string {
  const readme = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Training from the command line'));
  const m = /```python\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'README has a python block in "Training from the command line"');
  return m[1];
}
