// A measurement, not a test (scripts/test-e2e.sh does not pick up *.measure.ts; run it with
// `bash scripts/measure-host.sh`): trains and traces in code-server with the host probe on
// (src/extension/diagnostics/hostProbe.ts) and prints the extension host's event-loop delay (max, p99) and
// the longest stalls with the functions that ran in them, ours and code-server's. It asserts nothing about
// timing: it only fails when it cannot measure.
// GATESCOPE_MEASURE_CHARS (default 200000) sizes the traced document, GATESCOPE_MEASURE_STEPS the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportStateBinding, REPO, waitFor, withSession, scaled } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, dashboard, shakespeare, waitForRunStatus } from './gatescope';

interface FrameTime { frame: string; ms: number }
interface Report {
  eventLoop: { seconds: number; meanMs: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number };
  stallThresholdMs: number;
  stallCount: number;
  stalls?: { ms: number; atMs: number; sampledMs: number; ours: FrameTime[]; others: FrameTime[]; leaves: FrameTime[] }[];
  ourHandlers?: { frame: string; stalls: number; maxMs: number; totalMs: number }[];
}
interface State { traces: { uri: string; length: number }[] }

const PROBE_KEY = 'Control+Alt+Shift+F10';
const chars = Number(process.env.GATESCOPE_MEASURE_CHARS ?? 200_000);
const steps = Number(process.env.GATESCOPE_MEASURE_STEPS ?? 1500);

function print(name: string, report: Report): void {
  const l = report.eventLoop;
  console.log(`[${name}] event loop over ${l.seconds} s: max ${l.maxMs} ms, p99.9 ${l.p999Ms} ms, p99 ${l.p99Ms} ms, p50 ${l.p50Ms} ms, mean ${l.meanMs} ms`);
  console.log(`  stalls > ${report.stallThresholdMs} ms: ${report.stallCount}`);
  for (const st of (report.stalls ?? []).slice(0, 8)) {
    console.log(`  ${st.ms} ms at ${st.atMs} ms (sampled ${st.sampledMs} ms)`);
    console.log(`    ours:   ${st.ours.map((f) => `${f.frame} ${f.ms} ms`).join('; ') || '-'}`);
    console.log(`    others: ${st.others.map((f) => `${f.frame} ${f.ms} ms`).join('; ') || '-'}`);
    console.log(`    stacks: ${st.leaves.slice(0, 3).map((f) => `${f.frame} ${f.ms} ms`).join('; ') || '-'}`);
  }
  if (report.ourHandlers?.length) console.log('  our functions by their longest sampled time in one stall:');
  for (const h of (report.ourHandlers ?? []).slice(0, 8)) console.log(`    ${h.maxMs} ms max, ${h.totalMs} ms in ${h.stalls} stalls: ${h.frame}`);
}

test('extension host event loop while training and tracing (measurement)', { timeout: scaled(600_000) }, async () => {
  await withSession({
    name: 'host-latency', files: { 'play.txt': shakespeare(chars) },
    settings: { ...SMALL_TRAINING, 'gatescope.hiddenSize': 128, 'gatescope.batchSize': 32, 'gatescope.sequenceLength': 64, 'gatescope.steps': steps },
    env: { GATESCOPE_HOST_PROBE: '1', ...(process.env.GATESCOPE_HOST_PROBE_PROFILE ? { GATESCOPE_HOST_PROBE_PROFILE: process.env.GATESCOPE_HOST_PROBE_PROFILE } : {}) },
    bindings: [exportStateBinding(), { key: 'ctrl+alt+shift+f10', command: 'gatescope.writeHostProbe', args: '${workspace}/.host-probe.json' }],
  }, async (s) => {
    const file = join(s.workspace, '.host-probe.json');
    const phase = async (name: string): Promise<Report> => {
      // Each report covers the time since the previous one (activation, then each phase).
      const report = await s.pressUntilJson<Report>(PROBE_KEY, file, `the host probe report (${name})`, 120_000, 10_000);
      writeFileSync(join(REPO, `.cache/e2e/host-probe-${name}.json`), JSON.stringify(report, null, 2));
      print(name, report);
      return report;
    };
    await s.openFile('play.txt');
    await s.exportState(); // activates the extension (and with it the probe)
    await phase('startup');
    await s.runCommand(TRAIN_TITLE);
    await s.acceptPrompts();
    await waitForRunStatus(await dashboard(s), ['done'], 400_000);
    await phase('training');
    await s.openFile('play.txt');
    await s.runCommand('gatescope: Trace active document');
    await waitFor('the document trace', async () => (await s.exportState<State>()).traces.some((t) => t.uri.endsWith('play.txt')) || undefined, 300_000, 2000);
    // Scroll through the document and hover: window requests, hovers and the trace view following the cursor.
    await s.openFile('play.txt');
    for (const line of [40, 400, 1200, 2500, 4000]) {
      await s.goToPosition(line, 3);
      await s.hoverWithMouse(/t = \d+ of \d+/, 60_000).catch(() => undefined);
    }
    const l = (await phase('tracing')).eventLoop;
    console.log('reports: .cache/e2e/host-probe-{startup,training,tracing}.json');
    assert.ok(l.seconds > 0);
  });
});
