import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MAIN = resolve(__dirname, '../../src/cli/main.ts');

test('gatescope compare reference,tfjs: per-step loss and weight errors at float32 level', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-compare-'));
  try {
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ module: 'LSTM', hidden_size: 8, vocab_size: 12, dtype: 'float32', batch_size: 3, seq_len: 6, optimizer: { kind: 'sgd', lr: 0.5, momentum: 0.9 }, clip_max_norm: 1 }));
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'compare', '--config', cfg, '--engines', 'reference,tfjs', '--steps', '3', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { steps: { losses: number[]; lossRelErr: number[]; weightRelErr: number[] }[] };
    assert.equal(out.steps.length, 3);
    for (const s of out.steps) {
      assert.ok(s.lossRelErr[0] < 1e-5, `loss ${s.lossRelErr[0]}`);
      assert.ok(s.weightRelErr[0] < 1e-5, `weights ${s.weightRelErr[0]}`);
    }
    const bad = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'compare', '--config', cfg, '--engines', 'reference,nope'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown engine "nope"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
