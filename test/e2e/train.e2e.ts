// Scenario 1: train a char LSTM from the command palette on a workspace text; the dashboard shows a loss
// curve that went down and a sample of generated text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSession, scaled } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, dashboard, losses, shakespeare, waitForRunStatus } from './gatescope';

test('Train char LSTM: loss goes down, a sample appears', { timeout: scaled(420_000) }, async () => {
  await withSession({ name: 'train', files: { 'shakespeare.txt': shakespeare() }, settings: SMALL_TRAINING }, async (s) => {
    await s.openFile('shakespeare.txt');
    await s.runCommand(TRAIN_TITLE);
    const prompts = await s.acceptPrompts();
    const frame = await dashboard(s);
    await s.screenshot('training');
    await waitForRunStatus(frame, ['done']);
    const { first, last } = await losses(frame);
    assert.ok(last < first, `the loss did not go down: first ${first}, last ${last} (prompts: ${prompts.join('; ') || 'none'})`);
    await frame.locator('#loss-chart').waitFor({ state: 'visible' });
    const sample = await s.waitForText(frame, '#sample-text', 'a generated sample on the dashboard', 120_000);
    assert.ok(sample.length >= 20, `sample too short: "${sample}"`);
    await frame.locator('#sample-text').scrollIntoViewIfNeeded();
    await s.screenshot('done');
  });
});
