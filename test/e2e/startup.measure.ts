// A measurement, not a test (scripts/test-e2e.sh does not pick up *.measure.ts; run it with
// `bash scripts/test-e2e.sh test/e2e/startup.measure.ts`): how long after the last Train prompt the first
// loss point shows on the dashboard, for the default model (LSTM 1×128) on the sample text. Prints the
// times of each stage seen from the page (dashboard frame, run status, first loss); asserts nothing about them.
import { test } from 'node:test';
import { scaled, waitFor, withSession } from './harness';
import { TRAIN_TITLE, dashboard, shakespeare } from './gatescope';

const ROUNDS = Number(process.env.GATESCOPE_MEASURE_ROUNDS ?? 3);

test('start-up: the last prompt to the first loss point', { timeout: scaled(600_000) }, async () => {
  await withSession({ name: 'startup', files: { 'shakespeare.txt': shakespeare(200_000) }, settings: { 'gatescope.steps': 200 } }, async (s) => {
    await s.openFile('shakespeare.txt');
    for (let r = 0; r < ROUNDS; r++) {
      await s.runCommand(TRAIN_TITLE);
      if (r > 0) await s.answerDialog('Stop it and start the new run').catch(() => undefined);
      await s.acceptPrompts(2); // cell, size: the steps prompt is answered below, timed from its Enter
      const input = s.page.locator('.quick-input-widget input.input');
      await input.waitFor({ state: 'visible' });
      const t0 = Date.now();
      await s.page.keyboard.press('Enter');
      const frame = await dashboard(s);
      const tFrame = Date.now() - t0;
      // The new run's first point (the dashboard may still show the previous run's last loss).
      await waitFor('the first loss point', async () => {
        const status = (await frame.locator('#run-status').textContent()) ?? '';
        const v = Number(await frame.locator('#last-loss').getAttribute('data-value'));
        const step = Number(((await frame.locator('#step').textContent()) ?? '').split('/')[0].replaceAll(',', ''));
        return /training/.test(status) && Number.isFinite(v) && v > 0 && step >= 1 && step < 50 || undefined;
      }, 60_000, 20);
      const tLoss = Date.now() - t0;
      console.log(`[startup] round ${r + 1}: dashboard frame after ${tFrame} ms, first loss point after ${tLoss} ms`);
      await waitFor('the run to end', async () => /done/.test((await frame.locator('#run-status').textContent()) ?? '') || undefined, 120_000, 250);
    }
  });
});
