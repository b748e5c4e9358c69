// The user-facing commands: `gatescope trace` reproduces a fixture's io.safetensors, `gatescope fit`
// replays the seed experiment to PyTorch's per-epoch weights, and bad input gets one line and exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { relativeError } from '../../src/core/metrics';
import { fixturePath } from '../fixtures';

const root = resolve(__dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'gatescope-cli-'));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('trace from a .pt state_dict writes every io tensor of the fixture within 1e-12', () => {
  const dir = fixturePath('lstm_bi_2l_f64');
  const out = join(tmp, 'io.safetensors');
  const r = cli('trace', '--weights', join(dir, 'weights.pt'), '--config', join(dir, 'case.json'), '--inputs', join(dir, 'io.safetensors'), '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const want = parseSafetensors(readFileSync(join(dir, 'io.safetensors'))).tensors;
  const got = parseSafetensors(readFileSync(out)).tensors;
  for (const [name, t] of want) {
    if (['x', 'h0', 'c0', 'loss_projection'].includes(name)) continue;
    assert.ok(relativeError(t, got.get(name)!) <= 1e-12, name);
  }
});

test('fit replays the seed experiment: epoch losses and every per-epoch weight within 1e-12', () => {
  const dir = fixturePath('seed000_sgd');
  const out = join(tmp, 'traj.safetensors');
  const r = cli('fit', dir, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const losses: number[] = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')).epoch_losses;
  const printed = [...r.stdout.matchAll(/^epoch (\d) {2}loss (\S+)/gm)].map((m) => Number(m[2]));
  assert.equal(printed.length, losses.length);
  printed.forEach((l, i) => assert.ok(Math.abs(l - losses[i]) <= 1e-12, `epoch ${i + 1}: ${l} vs ${losses[i]}`));
  const want = parseSafetensors(readFileSync(join(dir, 'trajectory.safetensors'))).tensors;
  const got = parseSafetensors(readFileSync(out)).tensors;
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, t] of want) assert.ok(relativeError(t, got.get(name)!) <= 1e-12, name);
});

test('bad input: one line naming the file, exit code 2, no stack trace', () => {
  const dir = fixturePath('lstm_1l_f64');
  const badConfig = join(tmp, 'bad.json');
  writeFileSync(badConfig, JSON.stringify({ module: 'TRANSFORMER', input_size: 5, hidden_size: 7 }));
  const wrongSize = join(tmp, 'wrong.json');
  writeFileSync(wrongSize, JSON.stringify({ module: 'LSTM', input_size: 5, hidden_size: 8, dtype: 'float64' }));
  const cases: Array<[string[], RegExp]> = [
    [['trace', '--weights', join(tmp, 'missing.pt'), '--config', join(dir, 'case.json'), '--inputs', join(dir, 'io.safetensors'), '--out', join(tmp, 'o')], /missing\.pt: no such file/],
    [['trace', '--weights', join(dir, 'weights.pt'), '--config', badConfig, '--inputs', join(dir, 'io.safetensors'), '--out', join(tmp, 'o')], /bad\.json: unknown module "TRANSFORMER"/],
    [['trace', '--weights', join(dir, 'weights.pt'), '--config', wrongSize, '--inputs', join(dir, 'io.safetensors'), '--out', join(tmp, 'o')], /weights\.pt: parameter weight_ih_l0 has shape \[28, 5\], expected \[32, 5\]/],
    [['trace', '--weights', join(dir, 'weights.pt'), '--config', join(dir, 'case.json'), '--inputs', join(dir, 'case.json'), '--out', join(tmp, 'o')], /case\.json: .*safetensors/],
    [['fit', join(tmp, 'nowhere'), '--out', join(tmp, 'o')], /case\.json: no such file/],
    [['nonsense'], /unknown command "nonsense"/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
