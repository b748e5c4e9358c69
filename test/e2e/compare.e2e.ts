// Scenario 3: a PyTorch .pt and a Keras-layout .h5 of the same LSTM weights in the diff view: they match;
// with the input and forget gate blocks swapped in the Keras file, the verdict names the swap.
// Fixtures: test/e2e/fixtures/make_compare_fixtures.py. The palette cannot pass arguments, so the two
// files go to gatescope.compare through key bindings with args (as a keybindings.json entry would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, waitFor, withSession } from './harness';

const FIXTURES = join(REPO, 'test/e2e/fixtures');

test('compare .pt with Keras .h5: match, then a named gate swap', { timeout: 300_000 }, async () => {
  const compare = (key: string, right: string) => ({ key, command: 'gatescope.compare',
    args: { left: '${workspace}/lstm_dense.pt', right: `\${workspace}/${right}` } });
  await withSession({
    name: 'compare',
    files: Object.fromEntries(['lstm_dense.pt', 'lstm_dense.h5', 'lstm_dense_swapped.h5'].map((f) => [f, { copy: join(FIXTURES, f) }])),
    bindings: [compare('ctrl+alt+shift+f9', 'lstm_dense.h5'), compare('ctrl+alt+shift+f8', 'lstm_dense_swapped.h5')],
  }, async (s) => {
    const verdictOf = async (chord: string, expectOk: boolean) => {
      let lastPress = 0;
      return waitFor(`a diff verdict with ok=${expectOk}`, async () => {
        if (Date.now() - lastPress > 15_000) { await s.press(chord); lastPress = Date.now(); }
        for (const frame of s.page.frames()) {
          const el = frame.locator('#diff-verdict');
          if (!(await el.count().catch(() => 0))) continue;
          if ((await el.getAttribute('data-ok')) === String(expectOk)) return (await el.textContent())?.trim();
        }
        return undefined;
      }, 90_000, 500);
    };
    const same = await verdictOf('Control+Alt+Shift+F9', true);
    await s.screenshot('match');
    assert.ok(same, 'empty verdict for matching weights');
    assert.doesNotMatch(same, /swap/i, `matching weights, yet: ${same}`);

    const swapped = await verdictOf('Control+Alt+Shift+F8', false);
    await s.screenshot('swapped');
    assert.match(swapped!, /swap/i, `the verdict does not name a swap: ${swapped}`);
    assert.match(swapped!, /\bi\b.*\bf\b|\bf\b.*\bi\b/, `the verdict does not name gates i and f: ${swapped}`);
  });
});
