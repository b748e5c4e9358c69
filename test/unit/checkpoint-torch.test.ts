// The README's PyTorch snippet, run for real: the model file loads with load_state_dict(strict=False)
// and PyTorch computes the same next-token scores as gatescope. Runs where /usr/bin/python3 has torch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildVocabulary, encodeText } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { serializeCheckpoint } from '../../src/core/checkpoint';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';

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

test('the model file loads in PyTorch with the README snippet and gives the same logits', { skip: !hasTorch && 'torch is not importable' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-torch-'));
  // The README's model: 65 characters, 256 units, one layer, file shakespeare.safetensors.
  const text = Array.from({ length: 65 }, (_, i) => String.fromCharCode(32 + i)).join('');
  const vocab = buildVocabulary(text, 'char');
  const cfg = modelConfigFor(vocab, { hiddenSize: 256 });
  const engine = createReferenceLmEngine(cfg, initialWeights(cfg, 3));
  const path = join(dir, 'shakespeare.safetensors');
  writeFileSync(path, serializeCheckpoint({
    config: cfg, vocab, params: engine.getParameters(), optimizer: engine.getOptimizerState(), engine: engine.name,
    carried: new Map([['h', { dtype: 'float32', shape: [1, 1, 256], data: new Float32Array(256) }]]),
  }));
  const ids = encodeText(vocab, 'ROMEO: But');
  const ours = lmForward(cfg, splitLmParameters(cfg, engine.getParameters()), ids, ids.length, 1).logits;
  const hasPackage = spawnSync(PYTHON, ['-c', 'import safetensors.torch'], { encoding: 'utf8' }).status === 0;
  if (!hasPackage) {
    mkdirSync(join(dir, 'safetensors'));
    writeFileSync(join(dir, 'safetensors/__init__.py'), '');
    writeFileSync(join(dir, 'safetensors/torch.py'), SHIM);
  }
  const script = `
import json, sys, torch, torch.nn as nn
${readmeSnippet()}
with torch.no_grad():
    logits, _ = model(torch.tensor(${JSON.stringify(Array.from(ids))}).unsqueeze(1))
print(json.dumps(logits.flatten().tolist()))
`;
  const r = spawnSync(PYTHON, ['-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONPATH: dir } });
  assert.equal(r.status, 0, r.stderr);
  const theirs = JSON.parse(r.stdout) as number[];
  assert.equal(theirs.length, ours.length);
  let maxErr = 0;
  for (let i = 0; i < ours.length; i++) maxErr = Math.max(maxErr, Math.abs(theirs[i] - ours[i]));
  assert.ok(maxErr < 1e-5, `max |torch - gatescope| = ${maxErr}`);
});

/** The Python block of README.md's "Training from the command line" section, verbatim. */
function readmeSnippet(): string {
  const readme = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Training from the command line'));
  const m = /```python\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'README has a python block in "Training from the command line"');
  return m[1];
}
