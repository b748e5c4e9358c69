// Scenario 3: a PyTorch .pt and a Keras-layout .h5 of the same LSTM weights in the diff view: they match;
// with the input and forget gate blocks swapped in the Keras file, the verdict names the swap.
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
    files: Object.fromEntries(['lstm_dense.pt', 'lstm_dense.h5', 'lstm_dense_swapped.h5'].map((f) => [f, { copy: join(FIXTURES, f) }])),
  }, async (s) => {
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
  });
});
