// Issue 11's acceptance: every PyTorch training trajectory of the general model family (embedding or
// one-hot → LSTM/GRU/RNN, bidirectional, packed lengths → per_step/last/mean/max → Linear or MLP head,
// every optimizer and clip) replays step for step: weights ≤ 1e-12 (float64) / 1e-4 (float32) relative
// error, losses and gradient norms equal to case.json's. Bad case files get one line and exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { relativeError } from '../../src/core/metrics';
import { parseTrajectoryCase, replayTrajectory, trajectoryBatches } from '../../src/core/trajectory';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { modelParameterSpecs } from '../../src/core/model';
import { fixturePath } from '../fixtures';

const root = resolve(__dirname, '../..');
const modelsDir = fixturePath('models');
const cases = readdirSync(modelsDir).sort();
const tmp = mkdtempSync(join(tmpdir(), 'gatescope-traj-'));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const load = (dir: string, name: string) => parseSafetensors(readFileSync(join(dir, name))).tensors;

test('the fixtures hold every model trajectory case', () => {
  assert.ok(cases.length >= 11, cases.join(', '));
});

for (const name of cases) {
  test(`reference engine replays PyTorch's ${name}`, () => {
    const dir = join(modelsDir, name);
    const json = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    const c = parseTrajectoryCase(json);
    assert.deepEqual(modelParameterSpecs(c.model).map((s) => s.name), json.param_names, 'state_dict names and order');
    const tol = c.model.rnn.dtype === 'float64' ? 1e-12 : 1e-4;
    const want = load(dir, 'trajectory.safetensors');
    const engine = createReferenceLmEngine(c.model, load(dir, 'init.safetensors'));
    let steps = 0;
    replayTrajectory(c, engine, trajectoryBatches(c, load(dir, 'data.safetensors')), ({ step, loss, gradNorm, snapshot }) => {
      steps++;
      const lossTol = c.model.rnn.dtype === 'float64' ? 1e-12 : 1e-5;
      assert.ok(Math.abs(loss - c.losses![step - 1]) <= lossTol * Math.abs(c.losses![step - 1]), `step ${step} loss ${loss} vs ${c.losses![step - 1]}`);
      assert.ok(Math.abs(gradNorm - c.gradNorms![step - 1]) <= lossTol * c.gradNorms![step - 1], `step ${step} grad norm ${gradNorm} vs ${c.gradNorms![step - 1]}`);
      for (const [key, t] of snapshot) {
        const ref = want.get(key);
        assert.ok(ref, `trajectory has ${key}`);
        const err = relativeError(ref, t);
        assert.ok(err <= tol, `${key}: relative error ${err.toExponential(2)} > ${tol}`);
      }
    });
    assert.equal(steps, c.steps);
  });
}

test('gatescope fit writes step{s}.<name>, losses and grad_norms that diff finds equal; printed losses match case.json', () => {
  const dir = join(modelsDir, 'gru_cls_max_bi_2l_sgd_nesterov');
  const out = join(tmp, 'traj.safetensors');
  const r = cli('fit', dir, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const losses: number[] = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')).losses;
  const printed = [...r.stdout.matchAll(/^step (\d+) {2}loss (\S+)/gm)].map((m) => Number(m[2]));
  assert.equal(printed.length, losses.length);
  printed.forEach((l, i) => assert.ok(Math.abs(l - losses[i]) <= 1e-13, `step ${i + 1}: ${l} vs ${losses[i]}`));
  const got = parseSafetensors(readFileSync(out)).tensors;
  assert.deepEqual([...got.keys()].sort(), [...load(dir, 'trajectory.safetensors').keys()].sort());
  const d = cli('diff', join(dir, 'trajectory.safetensors'), out);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  assert.match(d.stdout, /equal within rtol/);
});

test('bad trajectory cases: one line naming the file, exit 2', () => {
  const src = join(modelsDir, 'gru_cls_last_adam');
  const variants: Array<[string, (c: Record<string, any>) => void, RegExp]> = [
    ['readout', (c) => { c.model.readout = 'attention'; }, /readout must be one of/],
    ['layers', (c) => { c.model.rnn.num_layers = 100000000; }, /num_layers must be an integer in 1\.\.64/],
    ['head', (c) => { c.model.head[0].in_features = 3; }, /head layer 0: Linear in_features 3/],
    ['optimizer', (c) => { c.optimizer.kind = 'lion'; }, /optimizer\.kind must be one of/],
    ['steps', (c) => { c.steps = 99; }, /data\.safetensors: tokens has shape \[6, 4, 10\], expected \[99, 4, 10\]/],
  ];
  for (const [label, mutate, message] of variants) {
    const dir = join(tmp, `bad-${label}`);
    cpSync(src, dir, { recursive: true });
    const c = JSON.parse(readFileSync(join(src, 'case.json'), 'utf8'));
    mutate(c);
    writeFileSync(join(dir, 'case.json'), JSON.stringify(c));
    const r = cli('fit', dir, '--out', join(tmp, 'o.safetensors'));
    assert.equal(r.code, 2, `${label}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, message, label);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
