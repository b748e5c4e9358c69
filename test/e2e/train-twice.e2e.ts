// Scenario "Train twice" (issue 14: runs are never lost): start "Train char LSTM" from the palette, and while
// it trains start it again. The second request asks (a modal naming the running run); "Stop it and start the
// new run" stops the first run, which saves its checkpoint (on disk, loadable, with its steps) and stays in
// the Models list, and then the second run trains. Nothing fails, nothing is lost. A click on the stopped run
// in the tree shows that run on the dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parseCheckpoint } from '../../src/core/checkpoint';
import { WaitFailed, exportStateBinding, scaled, waitFor, withSession } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, dashboard, shakespeare, stepShown } from './gatescope';

interface Run { runId: string; label: string; status: string; checkpointPath?: string; error?: string; lastStep?: number }
interface State { runs: Run[]; models: { id: string; path?: string }[]; currentModelPath: string | null }

test('Train twice: the second Train asks; stopping the first saves its checkpoint, then the second trains', { timeout: scaled(150_000) }, async () => {
  await withSession({
    name: 'train-twice', files: { 'shakespeare.txt': shakespeare() },
    // A model big enough that steps come at a human pace (a 1×32 LSTM posts ~2000 step events a second to the
    // dashboard, which slows the whole workbench down on a two-core machine).
    settings: { ...SMALL_TRAINING, 'gatescope.steps': 50_000, 'gatescope.hiddenSize': 128, 'gatescope.sequenceLength': 64, 'gatescope.batchSize': 32 },
    bindings: [exportStateBinding()],
  }, async (s) => {
    const t0 = Date.now();
    await s.openFile('shakespeare.txt');
    await s.runCommand(TRAIN_TITLE);
    await s.acceptPrompts();
    const frame = await dashboard(s);
    await waitFor('the first run to train a few steps', async () => (await stepShown(frame)) > 5 || undefined, 60_000, 300);

    // Train again while it trains: the question comes first, before the prompts.
    await s.runCommand(TRAIN_TITLE);
    const question = await s.answerDialog('Stop it and start the new run');
    assert.match(question, /gatescope is training .* \(step \d+\/50000\)\. Stop it and start a new run\?/, `the question: ${question}`);
    assert.match(question, /saves its checkpoint first/);
    await s.acceptPrompts();

    const state = await waitFor('the first run stopped with its checkpoint and the second one training', async () => {
      const st = await s.exportState<State>();
      const [a, b] = st.runs;
      if (a?.status === 'failed' || b?.status === 'failed') throw new WaitFailed(`a run failed: ${JSON.stringify(st.runs)}`);
      return st.runs.length === 2 && a.status === 'cancelled' && a.checkpointPath && b.status === 'training' && (b.lastStep ?? 0) > 0 ? st : undefined;
    }, 60_000, 500);
    await s.screenshot('second-run-training');
    const [first, second] = state.runs;
    // The first run's checkpoint: on disk, a whole gatescope model, with the steps it trained.
    assert.ok(existsSync(first.checkpointPath!), `no checkpoint at ${first.checkpointPath}`);
    const ck = parseCheckpoint(new Uint8Array(readFileSync(first.checkpointPath!)), first.checkpointPath!);
    assert.ok(ck.params.has('rnn.weight_hh_l0') && ck.params.has('head.weight'), 'the checkpoint lacks parameters');
    assert.ok((ck.training?.step ?? 0) > 5, `the checkpoint records ${ck.training?.step} steps`);
    assert.ok(state.models.some((m) => m.path === first.checkpointPath), 'the stopped run is in the Models list');
    assert.notEqual(second.checkpointPath ?? '', first.checkpointPath, 'the second run writes its own file');
    // A click on the stopped run in the Models and runs tree shows that run, not the newest one.
    await s.runCommand('Focus on Models and runs View');
    const row = s.page.locator('.monaco-list-row', { hasText: /cancelled/ }).first();
    await row.waitFor({ state: 'visible', timeout: scaled(30_000) });
    await row.click();
    const shown = await dashboard(s);
    await waitFor('the dashboard to show the stopped run', async () => /cancelled/.test((await shown.locator('#run-status').textContent()) ?? '') || undefined, 30_000, 250);
    await s.screenshot('first-run-shown');
    const errors = (await s.notifications()).filter((n) => /error|fail|already in progress/i.test(n));
    assert.deepEqual(errors, [], `error notifications: ${errors.join(' | ')}`);
    console.log(`[train-twice] scenario body took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
});
