// Scenario 4 (first half): cancel a training run from the dashboard: no error, the checkpoint on disk is
// intact and loadable. The reload half is in pending/cancel-reload.e2e.ts (see its header).
import { test } from 'node:test';
import { withSession } from './harness';
import { CANCEL_SESSION, trainThenCancel } from './cancelRun';

test('cancel a run: no error, checkpoint intact', { timeout: 420_000 }, async () => {
  await withSession(CANCEL_SESSION, async (s) => {
    await trainThenCancel(s);
  });
});
