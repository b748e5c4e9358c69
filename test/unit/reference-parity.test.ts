// The acceptance test of the reference core: every PyTorch fixture's outputs, final states, trace
// tensors and gradients, from weights loaded out of each file format the fixture ships.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRnnConfig } from '../../src/core/config';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { loadTensorFile } from '../../src/core/formats/index';
import { type Tensor, type TensorMap } from '../../src/core/tensor';
import { FIXTURE_ROOT } from '../fixtures';
import { computeIo } from '../../src/core/reference/io';
import { relativeError } from '../../src/core/metrics';

const cases = readdirSync(FIXTURE_ROOT).filter((d) => existsSync(join(FIXTURE_ROOT, d, 'io.safetensors')));

/** The fixture's weights from each of its three files, the binary formats through the loaders. */
function weightFiles(dir: string): Array<[string, () => TensorMap]> {
  return ['weights.safetensors', 'weights.pt', 'weights.npz'].map((f) => [f, () => loadTensorFile(readFileSync(join(dir, f)), f)]);
}

test('fixtures are present', () => assert.ok(cases.length >= 8, `found ${cases.length} cases`));

for (const name of cases) {
  const dir = join(FIXTURE_ROOT, name);
  const caseJson = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
  const cfg = parseRnnConfig(caseJson);
  const io = parseSafetensors(readFileSync(join(dir, 'io.safetensors'))).tensors;
  const tol = cfg.dtype === 'float64' ? 1e-12 : 1e-5;
  for (const [file, load] of weightFiles(dir)) {
    test(`${name} from ${file}: outputs, trace and gradients match PyTorch within ${tol}`, () => {
      const got = computeIo(cfg, load(), io);
      const expectedNames = [...io.keys()].filter((k) => !['x', 'h0', 'c0', 'loss_projection'].includes(k));
      assert.deepEqual([...got.keys()].sort(), expectedNames.sort());
      for (const key of expectedNames) {
        const err = relativeError(io.get(key)! as Tensor, got.get(key)!);
        assert.ok(err <= tol, `${key}: relative error ${err.toExponential(2)} > ${tol}`);
      }
    });
  }
}
