// Every view in a light and a dark theme, in a 1600 px and a 900 px window: the dashboard of a finished
// run, the trace view, the editor hover and the diff view, each screenshot with the view filling the editor
// area (one editor group), saved as views-<theme>-<width>-<view>.png. Checks that each view renders
// (its key element is there and nothing overflows the window sideways); the pictures are for people.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Frame } from 'playwright-core';
import { REPO, exportStateBinding, scaled, waitFor, withSession, type Session } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, dashboard, shakespeare, waitForRunStatus } from './gatescope';

const FIXTURES = join(REPO, 'test/e2e/fixtures');
const THEMES = [['light', 'Default Light Modern'], ['dark', 'Default Dark Modern']] as const;
const WIDTHS = [1600, 900] as const;

interface State { traces: { uri: string; length: number }[] }

async function showTab(s: Session, title: string): Promise<void> {
  const tab = s.page.locator(`.tab[aria-label*="${title}"]`).first();
  await tab.waitFor({ timeout: scaled(30_000) });
  await tab.click();
}

/** The view's document is no wider than its frame (nothing cut off at the right edge). */
async function assertNoSidewaysOverflow(frame: Frame, what: string): Promise<void> {
  const { scroll, client } = await frame.evaluate<{ scroll: number; client: number }>(
    '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })');
  assert.ok(scroll <= client + 1, `${what} overflows sideways: ${scroll} px of content in ${client} px`);
}

test('every view in light and dark themes at 1600 and 900 px', { timeout: scaled(480_000) }, async () => {
  await withSession({
    name: 'views',
    files: {
      'speech.txt': shakespeare(3000),
      ...Object.fromEntries(['lstm_dense.pt', 'lstm_dense_swapped.h5'].map((f) => [f, { copy: join(FIXTURES, f) }])),
    },
    settings: { ...SMALL_TRAINING, 'gatescope.steps': 300, 'workbench.colorTheme': THEMES[0][1] },
    bindings: [exportStateBinding()],
  }, async (s) => {
    // A finished run, a trace of the document and a comparison: the three webviews.
    await s.openFile('speech.txt');
    await s.runCommand(TRAIN_TITLE);
    await s.acceptPrompts();
    await waitForRunStatus(await dashboard(s), ['done']);
    await s.openFile('speech.txt');
    await s.runCommand('gatescope: Trace active document');
    await waitFor('the document trace', async () => (await s.exportState<State>()).traces.some((t) => t.uri.endsWith('speech.txt')) || undefined, 120_000, 1000);
    await s.webviewFrame('#trace-heatmap', 'the trace view');
    await s.runCommand('gatescope: Compare implementations / weights');
    await s.pickQuickItem('Two model files');
    await s.pickFileInDialog(join(s.workspace, 'lstm_dense.pt'), '(1 of 2)');
    await s.pickFileInDialog(join(s.workspace, 'lstm_dense_swapped.h5'), '(2 of 2)');
    await s.webviewFrame('#diff-verdict[data-ok="false"]', 'the diff verdict');
    // All in one editor group, so each view gets the whole editor area.
    await s.runCommand('View: Single Column Editor Layout');

    for (const [theme, themeName] of THEMES) {
      if (theme !== THEMES[0][0]) {
        await s.runCommand('Preferences: Color Theme');
        await s.pickQuickItem(themeName);
        await s.page.waitForTimeout(1000);
      }
      for (const width of WIDTHS) {
        await s.page.setViewportSize({ width, height: 1000 });
        await s.page.waitForTimeout(500);
        const name = (view: string) => `${theme}-${width}-${view}`;

        // A hidden webview is torn down and rebuilt when shown: its frame is looked up again each time.
        for (const [title, view, selector] of [['gatescope: Training', 'dashboard', '#loss-chart'], ['gatescope: Trace', 'trace', '#trace-heatmap'],
          ['gatescope: Weights', 'diff', '#diff-verdict']] as const) {
          await showTab(s, title);
          const frame = await s.webviewFrame(selector, `the ${view} view`);
          await frame.locator(selector).first().waitFor({ state: 'visible', timeout: scaled(30_000) });
          await s.page.waitForTimeout(500); // charts and heatmaps draw after layout
          await assertNoSidewaysOverflow(frame, `the ${view} view (${theme}, ${width} px)`);
          await s.screenshot(name(view));
        }

        await showTab(s, 'speech.txt');
        await s.goToPosition(5, 4);
        await s.hoverWithMouse(/t = [\d,]+ of [\d,]+/, 60_000);
        await s.screenshot(name('hover'));
        await s.page.mouse.move(5, 500);
        await s.page.keyboard.press('Escape');
      }
    }
  });
});
