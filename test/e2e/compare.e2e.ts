// Scenario 3: a PyTorch .pt and a Keras-layout .h5 of the same LSTM weights in the diff view: EQUIVALENT;
// with the input and forget gate blocks swapped in the Keras file, DIFFERENT: the verdict names the swap and
// says to change the Keras file, in Keras' own names; a file that cannot be read then replaces that result
// with its error (no stale verdict).
// Fixtures: test/e2e/fixtures/make_compare_fixtures.py. Driven as a user does it: the palette command, the
// "Two model files…" choice, then VS Code's own file dialog (in code-server a path box) once per file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, waitFor, withSession, scaled } from './harness';

const FIXTURES = join(REPO, 'test/e2e/fixtures');

test('compare .pt with Keras .h5: match, then a named gate swap', { timeout: scaled(300_000) }, async () => {
  await withSession({
    name: 'compare',
    files: {
      ...Object.fromEntries(['lstm_dense.pt', 'lstm_dense.h5', 'lstm_dense_swapped.h5'].map((f) => [f, { copy: join(FIXTURES, f) }])),
      'broken.h5': { text: 'not an HDF5 file\n' },
    },
  }, async (s) => {
    /** The text of an element of the diff view (in whichever frame holds it), once `ready` accepts it. */
    const viewText = (selector: string, what: string, ready: (text: string, el: import('playwright-core').Locator) => Promise<boolean> | boolean) =>
      waitFor(what, async () => {
        for (const frame of s.page.frames()) {
          const el = frame.locator(selector);
          if (!(await el.count().catch(() => 0))) continue;
          const text = (await el.textContent().catch(() => null))?.trim() ?? '';
          if (await ready(text, el)) return text;
        }
        return undefined;
      }, 90_000, 500);
    const verdictOf = async (right: string, expectOk: boolean) => {
      await s.runCommand('gatescope: Compare implementations / weights');
      await s.pickQuickItem('Two model files');
      await s.pickFileInDialog(join(s.workspace, 'lstm_dense.pt'), '(1 of 2)');
      await s.pickFileInDialog(join(s.workspace, right), '(2 of 2)');
      return waitFor(`a diff verdict with ok=${expectOk}`, async () => {
        for (const frame of s.page.frames()) {
          const el = frame.locator('#diff-verdict');
          if (!(await el.count().catch(() => 0))) continue;
          if ((await el.getAttribute('data-ok')) === String(expectOk)) return (await el.textContent())?.trim();
        }
        return undefined;
      }, 90_000, 500);
    };
    const same = await verdictOf('lstm_dense.h5', true);
    await s.screenshot('match');
    assert.ok(same, 'empty verdict for matching weights');
    assert.doesNotMatch(same, /swap/i, `matching weights, yet: ${same}`);

    const swapped = await verdictOf('lstm_dense_swapped.h5', false);
    await s.screenshot('swapped');
    assert.match(swapped!, /swap/i, `the verdict does not name a swap: ${swapped}`);
    assert.match(swapped!, /\bi\b.*\bf\b|\bf\b.*\bi\b/, `the verdict does not name gates i and f: ${swapped}`);
    assert.match(swapped!, /^DIFFERENT/, swapped);
    // Which side to change, and how, in that file's own (Keras) names.
    const change = await viewText('#diff-changes', 'what to change, naming the Keras file', (t) => t.includes('lstm_dense_swapped.h5'));
    assert.match(change!, /file B \(lstm_dense_swapped\.h5\)/, change);
    assert.match(change!, /reorder your gate blocks f,i,c,o → Keras' i,f,c,o/, change);
    assert.match(change!, /\bkernel\b.*\brecurrent_kernel\b/, change);

    // A failed compare: the error replaces the swap's verdict, table and heatmap.
    await s.runCommand('gatescope: Compare implementations / weights');
    await s.pickQuickItem('Two model files');
    await s.pickFileInDialog(join(s.workspace, 'lstm_dense.pt'), '(1 of 2)');
    await s.pickFileInDialog(join(s.workspace, 'broken.h5'), '(2 of 2)');
    const failed = await viewText('#diff-verdict', 'the compare error in the diff view', async (t, el) => (await el.getAttribute('data-status')) === 'error' && t.length > 0);
    await s.screenshot('failed');
    assert.match(failed!, /^Compare failed: .*broken\.h5/, failed);
    assert.doesNotMatch(failed!, /swap/i, failed);
    await viewText('#diff-table', 'the previous table gone', async (_t, el) => (await el.locator('tbody tr').count()) === 0);
  });
});
