// Scenario 4: cancel a training run from the dashboard: no error, the checkpoint on disk is intact and
// loadable; "Developer: Reload Window": the dashboard comes back with the run's losses (read back from the
// checkpoint whose path the webview and the extension host kept), gradient norms and gate saturation (kept
// in the same checkpoint).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSession, scaled } from './harness';
import { chartPoints, dashboard, losses } from './gatescope';
import { CANCEL_SESSION, trainThenCancel } from './cancelRun';

test('cancel a run: no error, checkpoint intact; reload: the dashboard restores', { timeout: scaled(420_000) }, async () => {
  await withSession(CANCEL_SESSION, async (s) => {
    const { shown: before, charts } = await trainThenCancel(s);
    await s.reloadWindow();
    const restored = await dashboard(s, 120_000);
    const after = await losses(restored);
    await s.screenshot('restored');
    assert.equal(after.first, before.first, 'the restored dashboard shows a different first loss');
    assert.ok(Number.isFinite(after.last), 'the restored dashboard shows no last loss');
    // The gradient-norm and gate-saturation charts come back too (from the checkpoint).
    assert.deepEqual(await chartPoints(restored), charts, 'the restored charts differ from the cancelled run\'s');
  });
});
