// The Python package in python/ (`gatescope.Run`: records a PyTorch run into a run directory): its own
// unittest suite, and gatescope's core reading a run directory it wrote. Runs where /usr/bin/python3 has
// torch (CI installs Debian's python3-torch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseRnnConfig } from '../../src/core/config';
import { diffTensors } from '../../src/core/diff/diff';
import { relativeError, values } from '../../src/core/diff/metrics';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { computeIo } from '../../src/core/reference/io';
import type { TensorMap } from '../../src/core/tensor';

const PYTHON = '/usr/bin/python3';
const ROOT = resolve(__dirname, '../..');
const torchCheck = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const skip = torchCheck.status !== 0 && `${PYTHON} cannot import torch (install Debian's python3-torch): ${(torchCheck.stderr || String(torchCheck.error ?? '')).trim().split('\n').pop()}`;

test('python/tests pass (python3 -m unittest discover -s python/tests)', { skip, timeout: 600_000 }, () => {
  const r = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'python/tests'], {
    cwd: ROOT, encoding: 'utf8', timeout: 580_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(r.status, 0, `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}\n${r.stdout}\n${r.stderr}`);
});

/** The tensors of one watched module, its `<name>.` prefix removed. */
function moduleTensors(all: TensorMap, name: string): TensorMap {
  return new Map([...all].filter(([k]) => k.startsWith(`${name}.`)).map(([k, t]) => [k.slice(name.length + 1), t]));
}

test('gatescope reads a run directory written by the Python package', { skip, timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-pyrun-'));
  try {
    const r = spawnSync(PYTHON, ['python/tests/make_interop_run.py', dir], {
      cwd: ROOT, encoding: 'utf8', timeout: 110_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n');
    assert.equal(events.pop(), '', 'every record ends with a newline');
    const records = events.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(records.map((e) => e.kind), ['start', 'probe', 'scalar', 'snapshot', 'end']);
    const models = records[0].model as Record<string, unknown>;
    const snapshot = records[3] as { weights: string; probe: string };
    const weights = parseSafetensors(readFileSync(join(dir, snapshot.weights)), snapshot.weights).tensors;
    const probes = parseSafetensors(readFileSync(join(dir, snapshot.probe)), snapshot.probe).tensors;

    // Every trace the package recomputed in PyTorch is what gatescope's reference computes from the
    // snapshot's weights and the probe's inputs, read through the model description of the start record.
    for (const [name, description] of Object.entries(models)) {
      const cfg = parseRnnConfig(description);
      const x = probes.get(`${name}.probe_x`);
      assert.ok(x, `${name}.probe_x`);
      const io = computeIo(cfg, moduleTensors(weights, name), new Map([['x', x]]));
      const traces = [...io.keys()].filter((k) => k.startsWith('trace_'));
      assert.ok(traces.length >= (cfg.module === 'LSTM' ? 6 : cfg.module === 'GRU' ? 4 : 1) * cfg.numLayers);
      const tol = cfg.dtype === 'float64' ? 1e-12 : 1e-5;
      for (const t of traces) {
        const got = probes.get(`${name}.${t}`);
        assert.ok(got, `${name}.${t} is in the probe file`);
        assert.deepEqual(got.shape, io.get(t)!.shape, `${name}.${t} shape`);
        const err = relativeError(values(io.get(t)!), values(got));
        assert.ok(err <= tol, `${name}.${t}: relative error ${err} > ${tol}`);
      }
    }

    // The course exercise: MyLSTM mapped to PyTorch names equals nn.LSTM with the same weights, and a
    // mapping with two gates exchanged is named by the diff.
    const ref = moduleTensors(weights, 'ref');
    assert.equal(diffTensors(ref, moduleTensors(weights, 'mine')).differs, false);
    const wrong = diffTensors(ref, moduleTensors(weights, 'swapped'));
    assert.equal(wrong.differs, true);
    assert.match(wrong.diagnoses.map((d) => d.message).join('\n'), /gates i and f swapped/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
