// Scenario 2: train a small model in the UI, trace the document, hover a character: the hover shows the
// gate values of that timestep, and they are the numbers the CLI computes for the same model and text
// (`gatescope trace MODEL --text FILE --out TRACE.safetensors`). Then an edit: the document is traced again by
// itself once typing pauses, and the hover shows values again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { exportStateBinding, waitFor, withSession, scaled } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, cli, dashboard, shakespeare, waitForRunStatus } from './gatescope';

interface State {
  training: { checkpointPath: string | null; status: string } | null;
  traces: { uri: string; traceId: string; length: number }[];
  lastHover: { position: number; markdown: string } | null;
}

/** Parses `signed()` numbers as the hover prints them: explicit sign (U+2212 for minus), 2 decimals. */
const num = (s: string) => Number(s.trim().replace('−', '-').replace(/^\+/, ''));

/** The hover's table: column names and, per unit, the printed values. */
function hoverTable(markdown: string): { columns: string[]; rows: Map<number, number[]>; t: number } {
  const t = Number(/t = ([\d,]+) of [\d,]+/.exec(markdown)?.[1].replaceAll(',', ''));
  const lines = markdown.split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0]?.split('|').map((c) => c.trim()).filter(Boolean) ?? [];
  assert.equal(header[0], 'unit', `no unit table in the hover:\n${markdown}`);
  const rows = new Map<number, number[]>();
  for (const line of lines.slice(2)) {
    const cells = line.split('|').map((c) => c.trim()).filter(Boolean);
    // A cell is one code span: "` −0.42 ██│   `" (no-break spaces inside).
    rows.set(Number(cells[0]), cells.slice(1).map((c) => num(c.replaceAll('`', '').trim().split(/\s+/)[0])));
  }
  return { columns: header.slice(1), rows, t };
}

test('hover over a traced character shows the CLI-computed gate values', { timeout: scaled(420_000) }, async () => {
  const doc = shakespeare(1500);
  const line = 5; // "Speak, speak." — hover the "a" of "Speak"
  const column = 4;
  await withSession({ name: 'trace-hover', files: { 'speech.txt': doc },
    settings: { ...SMALL_TRAINING, 'gatescope.steps': 40, 'gatescope.hover.topUnits': 6, 'workbench.colorTheme': 'Default Light Modern' },
    bindings: [exportStateBinding()] }, async (s) => {
    // Onboarding: with no models or runs the Models view shows its welcome content; it opens the bundled
    // sample, and the walkthrough lists its steps.
    await s.runCommand('Focus on Models and runs View');
    const welcome = s.page.locator('.welcome-view-content', { hasText: 'Open sample text' }).first();
    await welcome.waitFor({ state: 'visible', timeout: scaled(30_000) });
    await s.screenshot('welcome');
    await welcome.locator('a, .monaco-button', { hasText: 'Open sample text' }).first().click();
    await s.page.locator('.tab[aria-label*="tinyshakespeare.txt"]').first().waitFor({ timeout: scaled(30_000) });
    await s.runCommand('Welcome: Open Walkthrough...');
    await s.pickQuickItem('See inside a recurrent network');
    const steps = s.page.locator('.getting-started-step', { hasText: 'Train a small model' }).first();
    await steps.waitFor({ state: 'visible', timeout: scaled(30_000) });
    await s.screenshot('walkthrough');
    await s.runCommand('View: Close All Editors');

    await s.openFile('speech.txt');
    await s.runCommand(TRAIN_TITLE);
    await s.acceptPrompts();
    await waitForRunStatus(await dashboard(s), ['done']);
    const trained = await waitFor('the checkpoint path in the extension state', async () => {
      const st = await s.exportState<State>();
      return st.training?.checkpointPath ?? undefined;
    }, 60_000, 1000);

    await s.openFile('speech.txt');
    await s.runCommand('gatescope: Trace active document');
    await waitFor('the document trace in the extension state', async () => {
      const st = await s.exportState<State>();
      return st.traces.some((t) => t.uri.endsWith('speech.txt')) || undefined;
    }, 120_000, 1000);
    await s.screenshot('traced');

    // Point the mouse at the character in the editor (found through the cursor placed before it).
    await s.openFile('speech.txt');
    await s.goToPosition(line, column);
    const shown = await s.hoverWithMouse(/t = [\d,]+ of [\d,]+/, 60_000);
    await s.screenshot('hover');
    // The layout: predictions before the unit table (visible without scrolling), signed bars in the cells.
    assert.ok(shown.indexOf('next token') >= 0 && shown.indexOf('next token') < shown.indexOf('unit'), `predictions not at the top:\n${shown}`);
    assert.match(shown, /│/, 'no signed bars in the hover');

    // What the prediction depended on: the hover lists the top earlier positions, and the editor highlights them
    // (decorations drawn in the DOM as overlays with the contributed gatescope.saliency* backgrounds).
    const depends = await s.hoverWithMouse(/depends on:[^\n]*t−\d/, 60_000);
    const listed = /depends on:([^\n]*)/.exec(depends)![1].split(' · ');
    assert.ok(listed.length >= 3 && listed.length <= 5, `the hover lists ${listed.length} positions: ${depends}`);
    const highlighted = await waitFor('saliency highlights in the editor', async () => {
      // The light theme's default colours are #E0780F with alpha (package.json contributes.colors).
      const n = await s.page.evaluate<number>(`[...document.querySelectorAll('.monaco-editor .view-overlays div, .monaco-editor .view-lines span')]
        .filter((el) => /rgba\\(224, 120, 15, /.test(getComputedStyle(el).backgroundColor)).length`);
      return n > 0 ? n : undefined;
    }, 10_000, 250);
    await s.screenshot('hover-depends-on');
    const hoverState = await s.exportState<{ lastHover: { saliency?: { millis: number; computeMs: number; positions: number } } | null }>();
    const lat = hoverState.lastHover?.saliency;
    assert.ok(lat && lat.positions > 0, `no saliency recorded with the hover: ${JSON.stringify(hoverState.lastHover)}`);
    console.log(`saliency: ${highlighted} highlighted spans; request round trip ${lat.millis.toFixed(1)} ms, worker compute ${lat.computeMs.toFixed(1)} ms, ${lat.positions} positions`);

    // The trace view: pick a unit (its row outlined), Enter colours the text by it, select a span and find
    // the units active over it (numbered from 1, in the matches list).
    await s.page.mouse.move(5, 400);
    await s.page.keyboard.press('Escape');
    const view = await s.webviewFrame('#trace-heatmap', 'the trace view');
    const heat = view.locator('#trace-heatmap');
    // The trace view's "depends on" row: the cursor's token (placed above) and the earlier tokens it depended on.
    const dependsRow = view.locator('#trace-depends');
    const dependsCells = await waitFor('the trace view\'s "depends on" row', async () => {
      const n = Number(await dependsRow.getAttribute('data-cells'));
      return n > 0 ? n : undefined;
    }, 30_000, 250);
    assert.match(await view.locator('#trace-depends-caption').innerText(), /^Depends on: how strongly each of the \d+ tokens up to t [\d,]+ influenced/);
    assert.ok(dependsCells >= 3, `only ${dependsCells} cells in the "depends on" row`);
    await heat.click({ position: { x: 40 + 30, y: 16 + 20 } }); // the second row (13 px rows for 32 units)
    await waitFor('a selected heatmap row', async () => Number(await heat.getAttribute('data-selected-row')) >= 0 || undefined, 30_000, 250);
    await heat.press('ArrowDown');
    await heat.press('Enter');
    assert.match(await view.locator('#selected-unit').innerText(), /^Unit \d+ of c, layer 1: /);
    await s.screenshot('trace-unit');
    await heat.dragTo(heat, { sourcePosition: { x: 40 + 12 * 2 + 6, y: 16 + 6 }, targetPosition: { x: 40 + 12 * 6 + 6, y: 16 + 6 } });
    await view.locator('#find-spans').click();
    const summary = await waitFor('the span search summary', async () => {
      const t = await view.locator('#span-summary').innerText();
      return /units? above/.test(t) ? t : undefined;
    }, 60_000, 500);
    const items = await view.locator('#span-results > li').count();
    assert.ok(summary.includes(`${items} matching`), `the summary "${summary}" does not count the ${items} listed matches`);
    await view.locator('#colour-bar').scrollIntoViewIfNeeded();
    await s.screenshot('trace-view');
    const state = await s.exportState<State>();
    assert.ok(state.lastHover, 'the extension recorded no hover');
    const { columns, rows, t } = hoverTable(state.lastHover.markdown);

    // Which timestep: the token under the cursor (char model: one token per UTF-16 char here).
    const offset = doc.text.split('\n').slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + (column - 1);
    const oracle = join(s.workspace, 'trace.safetensors');
    await cli(['trace', trained, '--text', join(s.workspace, 'speech.txt'), '--out', oracle]);
    const trace = parseSafetensors(new Uint8Array(readFileSync(oracle)), oracle).tensors;
    const offsets = trace.get('offsets')!.data as ArrayLike<number>;
    let expectedT = -1;
    for (let k = 0; k + 1 < offsets.length; k++) if (offsets[k] <= offset && offset < offsets[k + 1]) expectedT = k;
    assert.equal(t, expectedT, `the hover is for t = ${t}, the cursor is on token ${expectedT} (offset ${offset}, "${doc.text[offset]}")`);
    assert.match(shown, new RegExp(`t = ${t.toLocaleString('en-US')} of`), 'the visible hover and the recorded one differ');

    // Every printed value (2 decimals) matches the CLI trace at that timestep.
    assert.ok(columns.includes('i') && columns.includes('f') && columns.includes('o'), `LSTM gates missing: ${columns.join(', ')}`);
    assert.ok(rows.size >= 1, 'the hover lists no units');
    const H = SMALL_TRAINING['gatescope.hiddenSize'];
    let compared = 0;
    for (const [unit, values] of rows) {
      columns.forEach((col, k) => {
        const name = col === 'h' || col === 'c' ? `trace_l0_${col}` : `trace_l0_gate_${col}`;
        const tensor = trace.get(name);
        assert.ok(tensor, `the CLI trace has no ${name} (has ${[...trace.keys()].join(', ')})`);
        const expected = (tensor.data as ArrayLike<number>)[t * H + unit];
        assert.ok(Math.abs(values[k] - expected) <= 0.005 + 1e-6,
          `unit ${unit} ${col} at t=${t}: hover shows ${values[k]}, the CLI trace has ${expected}`);
        compared++;
      });
    }
    assert.ok(compared >= 6, `compared only ${compared} values`);
    // The numbers the user sees are the recorded ones.
    const firstRow = [...rows.values()][0];
    assert.ok(shown.includes(firstRow[0] < 0 ? `−${Math.abs(firstRow[0]).toFixed(2)}` : `+${firstRow[0].toFixed(2)}`),
      `the visible hover lacks ${firstRow[0]}:\n${shown}`);

    // Editing the traced document: once typing pauses it is traced again by itself (gatescope.trace.followEdits),
    // and the same character, one token later now, hovers with values again.
    const before = state.traces.find((d) => d.uri.endsWith('speech.txt'))!;
    await s.openFile('speech.txt');
    await s.goToPosition(2, 1);
    await s.page.keyboard.type('X');
    const after = await waitFor('the edited document traced again', async () => {
      const st = await s.exportState<State>();
      const d = st.traces.find((x) => x.uri.endsWith('speech.txt'));
      return d && d.traceId !== before.traceId ? d : undefined;
    }, 60_000, 500);
    assert.equal(after.length, before.length + 1, 'the new trace does not have the typed character');
    await s.goToPosition(line, column);
    await s.hoverWithMouse(new RegExp(`t = ${(t + 1).toLocaleString('en-US')} of`), 60_000);
    await s.screenshot('hover-after-edit');
  });
});
