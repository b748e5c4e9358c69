import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fixturePath } from '../fixtures';

// The CLI in a child process (the test runner reports through this process' stdout).
const MAIN = resolve(__dirname, '../../src/cli/main.ts');
async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'diff', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const MODELS = resolve(__dirname, '../fixtures/formats/models');

test('diff: .pt vs .safetensors of a fixture is equal (exit 0)', async () => {
  const r = await capture([fixturePath('gru_bi_f32/weights.pt'), fixturePath('gru_bi_f32/weights.safetensors')]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /equal within rtol/);
  assert.match(r.out, /rtol 0\.00001|rtol 1e-5/);
});

test('diff: two different models differ (exit 1), JSON report with the verdict', async () => {
  const r = await capture(['--json', fixturePath('lstm_1l_f64/weights.npz'), fixturePath('lstm_nobias_f64/weights.npz')]);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.out);
  assert.equal(j.status, 'different');
  assert.deepEqual(j.architecture, { a: 'LSTM, 1 layer × 7, one direction (input 5)', b: 'LSTM, 1 layer × 4, one direction (input 3, no bias)' });
  assert.match(j.verdict.headline, /^DIFFERENT: different architectures/);
  assert.deepEqual(j.verdict.changes.map((c: { label: string }) => c.label), ['file B (weights.npz)']);
});

test('diff: a Keras file against its own .npz export after import is equal', async () => {
  const r = await capture([join(MODELS, 'keras3_gru_before.weights.h5'), join(MODELS, 'keras3_gru_before.weights.h5')]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /keras-v3 \(keras layout\)/);
});

test('diff: a fused layout without its gate order is a usage problem naming the flag', async () => {
  const r = await capture([join(MODELS, 'scratch_lstm_fused_ifog.npz'), join(MODELS, 'scratch_lstm_fused_ifog.npz')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--gate-order/);
  assert.equal(r.err.trim().split('\n').length, 1, 'one line, no stack');
});
