// src/extension/services/runWatcher.ts on plain node: tailing events.jsonl as it is appended (a partial
// last line kept until its newline, truncation read again from the start), and ExternalRun's dashboard
// messages for a run the Python package writes (loss points, saturation, probe heatmaps, two-module diff,
// a stopped run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import type { RunRecord } from '../../src/core/run';
import { ExternalRun, RunTail } from '../../src/extension/services/runWatcher';
import type { ExternalRunInfo, ToWebviewMessage } from '../../src/protocol/webview';

const until = async (what: string, ok: () => boolean, ms = 10_000): Promise<void> => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('RunTail follows appends, keeps a partial line, starts over after truncation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-tail-'));
  const tail = new RunTail(dir);
  try {
    const got: RunRecord[] = [];
    let resets = 0;
    tail.onDidRecords((r) => got.push(...r));
    tail.onDidReset(() => resets++);
    await tail.start(); // no events.jsonl yet
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, '{"kind":"start","pid":1}\n{"kind":"scalar","step":1,"lo');
    await until('the start record', () => got.length === 1);
    appendFileSync(file, 'ss":2}\n');
    await until('the completed scalar line', () => got.length === 2);
    assert.deepEqual(got[1], { kind: 'scalar', step: 1, values: { loss: 2 } });
    truncateSync(file, 0);
    writeFileSync(file, '{"kind":"end","step":1,"status":"ok"}\n');
    await until('the record after truncation', () => got.length === 3);
    assert.equal(resets, 1);
    assert.equal(got[2].kind, 'end');
  } finally {
    tail.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

test('ExternalRun: a run the Python package wrote, as the dashboard sees it', { skip: !hasTorch && 'no torch for /usr/bin/python3', timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-extrun-'));
  const script = `
import sys, torch, torch.nn as nn, gatescope
torch.manual_seed(0)
ref = nn.LSTM(3, 4)
mine = nn.LSTM(3, 4)
mine.load_state_dict(ref.state_dict())
with torch.no_grad():
    mine.weight_hh_l0[4:8] += 0.5   # the forget gate's block differs
run = gatescope.Run(sys.argv[1])
run.watch(ref, name="ref")
run.watch(mine, name="mine")
run.probe("abcab", vocab={"a": 0, "b": 1, "c": 2})
run.log(1, loss=1.5, lr=0.1)
run.log(2, loss=1.25, lr=0.1)
run.snapshot("s1")
`;
  const r = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: resolve(__dirname, '../../python'), PYTHONDONTWRITEBYTECODE: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const posted: ToWebviewMessage[] = [];
  const run = new ExternalRun(dir, async (p) => parseSafetensors(readFileSync(p), p).tensors);
  run.onDidPost((m) => posted.push(m));
  try {
    await run.start();
    const info = (): ExternalRunInfo | undefined => (posted.filter((m) => m.type === 'runInfo').at(-1) as { info: ExternalRunInfo } | undefined)?.info;
    await until('the snapshot diff', () => (info()?.diffs.length ?? 0) === 1);
    const i = info()!;
    // The script never closed its Run and has exited: stopped, not running.
    assert.equal(i.phase, 'stopped');
    assert.equal(i.outcome, 'stopped at step 2, no end record');
    assert.deepEqual(i.snapshots.map((s) => s.tag), ['s1']);
    assert.deepEqual(i.scalars.map((s) => s.name), ['lr']);
    assert.deepEqual(i.probed.map((p) => p.name), ['ref', 'mine']);
    const d = i.diffs[0];
    assert.equal(d.ok, false);
    assert.match(d.verdict, /^DIFFERENT/);
    assert.ok(d.weights.some((w) => w.name.includes('weight_hh_l0') && w.gates?.some((g) => g.gate === 'f' && g.relErr > 0.01) && w.gates.some((g) => g.gate === 'i' && g.relErr === 0)), JSON.stringify(d.weights));
    assert.ok(d.traces.some((t) => t.name === 'trace_l0_gate_f' && !t.ok));
    const [history] = run.messages();
    assert.equal(history.type, 'dashboardHistory');
    if (history.type === 'dashboardHistory') {
      assert.deepEqual(Array.from(new Float64Array(history.train.values)), [1.5, 1.25]);
      assert.equal(history.run.status, 'failed');
      assert.equal(history.run.external, true);
      assert.equal(history.saturation.length, 1);
      assert.ok(history.saturation[0].entries.some((e) => e.gate === 'mine:f'));
    }
    const heat = await run.probe({ type: 'requestRunProbe', id: 7, runId: run.runId, tag: 's1', module: 'mine', layer: 0, reverse: false, tensor: 'gate_f', row: 0 });
    assert.equal(heat.rows, 5);
    assert.equal(heat.cols, 4);
    assert.deepEqual(heat.tokens, ['a', 'b', 'c', 'a', 'b']);
    const f = new Float32Array(heat.data);
    assert.ok(f.every((v) => v > 0 && v < 1));
    // The run goes on: a new line arrives as a runScalars message.
    appendFileSync(join(dir, 'events.jsonl'), '{"kind":"scalar","step":3,"loss":1.0,"time":1}\n');
    await until('the appended point', () => posted.some((m) => m.type === 'runScalars' && m.points.some((p) => p.step === 3 && p.name === 'loss')));
  } finally {
    run.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
