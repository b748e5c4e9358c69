// Scenario 5: a CSV of labelled examples open in the editor: "Train char LSTM" proposes a sequence
// classifier (numbered prompts, Enter through the defaults); the dashboard shows accuracy and no samples;
// tracing a text shows the classifier's prediction in the trace view, and the hover the classes had the text
// ended at that word — both the numbers `gatescope trace MODEL --text FILE` prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { exportStateBinding, waitFor, withSession, scaled } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, cli, dashboard, text, waitForRunStatus } from './gatescope';

/** Two topics, a few hundred short examples (deterministic). */
function reviewsCsv(): { text: string } {
  const topics: Record<string, string[]> = { sports: ['game', 'team', 'win', 'coach', 'score', 'match'], tech: ['chip', 'cloud', 'phone', 'code', 'startup', 'software'] };
  const filler = ['the', 'a', 'today', 'and'];
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const rows = ['text,label'];
  for (let i = 0; i < 200; i++) {
    const label = i % 2 ? 'tech' : 'sports';
    const words = Array.from({ length: 4 + Math.floor(rand() * 10) }, () => {
      const pool = rand() < 0.6 ? topics[label] : filler;
      return pool[Math.floor(rand() * pool.length)];
    });
    rows.push(`${words.join(' ')},${label}`);
  }
  return { text: rows.join('\n') + '\n' };
}

interface State {
  training: { checkpointPath: string | null; status: string; validationAccuracies: number[]; samples: unknown[] } | null;
  currentModel: { task?: string; classes?: string[] } | null;
  traces: { uri: string; length: number }[];
  lastHover: { position: number; markdown: string } | null;
}

test('Train on a CSV: a classifier with accuracy; its trace shows the prediction', { timeout: scaled(300_000) }, async () => {
  const doc = 'the team will win the game today\n';
  await withSession({ name: 'classify', files: { 'reviews.csv': reviewsCsv(), 'match.txt': { text: doc } },
    settings: { ...SMALL_TRAINING, 'gatescope.steps': 30 }, bindings: [exportStateBinding()] }, async (s) => {
    await s.openFile('reviews.csv');
    await s.runCommand(TRAIN_TITLE);
    const prompts = await s.acceptPrompts(4);
    assert.equal(prompts.length, 4, `expected four prompts, saw: ${prompts.join('; ')}`);
    assert.match(prompts[0], /reviews\.csv \(1\/4\): what to train/);
    assert.match(prompts[3], /Train classifier \(4\/4\): optimizer steps/);
    const frame = await dashboard(s);
    await waitForRunStatus(frame, ['done']);
    await s.screenshot('trained');
    assert.match(await text(frame, '#run-model'), /^Sequence classifier: Embedding\(\d+→64\) → LSTM 1×32 → last → Linear\(32→2\) · 2 classes: sports, tech$/);
    const accuracy = await s.waitForText(frame, '#val-accuracy', 'the validation accuracy on the dashboard');
    assert.match(accuracy, /^\d+\.\d%$/);
    assert.match(await text(frame, '#samples-note'), /classifier labels a text, it does not generate one/);
    const state = await waitFor('the trained classifier in the extension state', async () => {
      const st = await s.exportState<State>();
      return st.training?.checkpointPath && st.currentModel?.task === 'classify' ? st : undefined;
    }, 60_000, 1000);
    assert.deepEqual(state.currentModel!.classes, ['sports', 'tech']);
    assert.equal(state.training!.validationAccuracies.length, 3);
    assert.deepEqual(state.training!.samples, [], 'a classifier is not sampled');

    await s.openFile('match.txt');
    await s.runCommand('gatescope: Trace active document');
    const view = await s.webviewFrame('#trace-prediction li.prediction', 'the prediction in the trace view', 120_000);
    await s.screenshot('traced');
    const shownTop = await view.locator('#trace-prediction').getAttribute('data-top');
    const shownProbs = new Map<string, number>();
    for (const li of await view.locator('#trace-prediction li.prediction').all()) {
      shownProbs.set((await li.getAttribute('data-class'))!, Number(await li.getAttribute('data-probability')));
    }
    assert.match(await text(view, '#trace-title'), /match\.txt — LSTM classifier, 1 layer × 32 units, 7 words/);

    // The oracle: the CLI's trace of the same model and text.
    const oracle = join(s.workspace, 'trace.safetensors');
    await cli(['trace', state.training!.checkpointPath!, '--text', join(s.workspace, 'match.txt'), '--out', oracle]);
    const trace = parseSafetensors(new Uint8Array(readFileSync(oracle)), oracle);
    const probs = trace.tensors.get('class_probs')!.data as ArrayLike<number>;
    const classes = ['sports', 'tech'];
    for (const [k, name] of classes.entries()) {
      assert.ok(Math.abs(shownProbs.get(name)! - probs[k]) < 1e-5, `${name}: the view shows ${shownProbs.get(name)}, the CLI ${probs[k]}`);
    }
    assert.equal(shownTop, classes[probs[0] >= probs[1] ? 0 : 1]);

    // Hover the last word: a last-readout classifier's classes had the text ended there = the prediction.
    await s.openFile('match.txt');
    await s.goToPosition(1, doc.indexOf('today') + 2);
    const hover = await s.hoverWithMouse(/if the text ended here/, 60_000);
    await s.screenshot('hover');
    assert.match(hover, /sports/);
    const recorded = (await s.exportState<State>()).lastHover;
    assert.ok(recorded, 'the extension recorded no hover');
    assert.match(recorded.markdown, /t = 6 of 7 · ` today `/);
    const ended = new RegExp(`classes if the text ended here:\\n\\n- \` ${shownTop} \` (\\d+\\.\\d)%`).exec(recorded.markdown);
    assert.ok(ended, `the hover does not lead with ${shownTop}:\n${recorded.markdown}`);
    assert.ok(Math.abs(Number(ended[1]) - 100 * Math.max(probs[0], probs[1])) <= 0.051, `the hover says ${ended[1]}%, the CLI ${probs[0]}, ${probs[1]}`);
  });
});
