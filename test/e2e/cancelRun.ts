// Scenario 4's first half (cancel-reload.e2e.ts): train from the palette,
// cancel from the dashboard, then check there is no error and the checkpoint on disk is intact and loadable.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { Frame } from 'playwright-core';
import { parseCheckpoint } from '../../src/core/checkpoint';
import { exportStateBinding, type Session, type SessionOptions, waitFor } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, chartPoints, dashboard, losses, shakespeare, stepShown, waitForRunStatus } from './gatescope';

interface State { training: { status: string; checkpointPath: string | null; error: string | null; lastLoss: number | null } | null }

export const CANCEL_SESSION: SessionOptions = {
  name: 'cancel-reload', files: { 'shakespeare.txt': shakespeare() },
  settings: { ...SMALL_TRAINING, 'gatescope.steps': 20_000, 'gatescope.hiddenSize': 64 },
  bindings: [exportStateBinding()],
};

/** Returns the dashboard, the losses it showed after the cancel and its chart sizes. */
export async function trainThenCancel(s: Session): Promise<{ frame: Frame; shown: { first: number; last: number }; charts: { gradNorm: number; saturation: number } }> {
  await s.openFile('shakespeare.txt');
  await s.runCommand(TRAIN_TITLE);
  await s.acceptPrompts();
  const frame = await dashboard(s);
  // Past the first evaluation (every 1000 steps here), so the gate-saturation chart has a point.
  await waitFor('training to pass step 20 and its first evaluation', async () => {
    const step = await stepShown(frame);
    return (step > 20 && (await chartPoints(frame)).saturation > 0) || undefined;
  }, 120_000, 500);
  await frame.locator('#cancel-run').click();
  await waitForRunStatus(frame, ['cancelled']);
  await s.screenshot('cancelled');

  const errors = (await s.notifications()).filter((n) => /error|fail/i.test(n));
  assert.deepEqual(errors, [], `error notifications after cancelling: ${errors.join(' | ')}`);
  const state = await waitFor('the cancelled run with its checkpoint in the extension state', async () => {
    const st = await s.exportState<State>();
    return st.training?.status === 'cancelled' && st.training.checkpointPath ? st.training : undefined;
  }, 60_000, 1000);
  assert.equal(state.error, null, `the run reports an error: ${state.error}`);
  assert.ok(existsSync(state.checkpointPath!), `no checkpoint at ${state.checkpointPath}`);
  const ck = parseCheckpoint(new Uint8Array(readFileSync(state.checkpointPath!)), state.checkpointPath!);
  assert.ok(ck.params.has('rnn.weight_ih_l0') && ck.params.has('head.weight'), 'the checkpoint lacks parameters');
  assert.ok((ck.training?.step ?? 0) > 0, 'the checkpoint records no training steps');
  const shown = await losses(frame);
  assert.ok(shown.last < shown.first, `the cancelled run's loss did not go down: ${shown.first} -> ${shown.last}`);
  const charts = await chartPoints(frame);
  assert.ok(charts.gradNorm >= 20 && charts.saturation >= 1, `the dashboard charts are short: ${JSON.stringify(charts)}`);
  return { frame, shown, charts };
}
