// Scenario 2: train a small model in the UI, trace the document, hover a character: the hover shows the
// gate values of that timestep, and they are the numbers the CLI computes for the same model and text
// (`gatescope trace MODEL --text FILE --out TRACE.safetensors`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { exportStateBinding, waitFor, withSession, scaled } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, cli, dashboard, shakespeare, waitForRunStatus } from './gatescope';

interface State {
  training: { checkpointPath: string | null; status: string } | null;
  traces: { uri: string; length: number }[];
  lastHover: { position: number; markdown: string } | null;
}

/** Parses `signed()` numbers as the hover prints them: explicit sign (U+2212 for minus), 2 decimals. */
const num = (s: string) => Number(s.trim().replace('−', '-').replace(/^\+/, ''));

/** The hover's table: column names and, per unit, the printed values. */
function hoverTable(markdown: string): { columns: string[]; rows: Map<number, number[]>; t: number } {
  const t = Number(/t = (\d+) of \d+/.exec(markdown)?.[1]);
  const lines = markdown.split('\n').filter((l) => l.startsWith('|'));
  const header = lines[0]?.split('|').map((c) => c.trim()).filter(Boolean) ?? [];
  assert.equal(header[0], 'unit', `no unit table in the hover:\n${markdown}`);
  const rows = new Map<number, number[]>();
  for (const line of lines.slice(2)) {
    const cells = line.split('|').map((c) => c.trim()).filter(Boolean);
    rows.set(Number(cells[0]), cells.slice(1).map((c) => num(c.split(' ')[0])));
  }
  return { columns: header.slice(1), rows, t };
}

test('hover over a traced character shows the CLI-computed gate values', { timeout: scaled(420_000) }, async () => {
  const doc = shakespeare(1500);
  const line = 5; // "Speak, speak." — hover the "a" of "Speak"
  const column = 4;
  await withSession({ name: 'trace-hover', files: { 'speech.txt': doc },
    settings: { ...SMALL_TRAINING, 'gatescope.steps': 40, 'gatescope.hover.topUnits': 6 },
    bindings: [exportStateBinding()] }, async (s) => {
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
    const shown = await s.hoverWithMouse(/t = \d+ of \d+/, 60_000);
    await s.screenshot('hover');
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
    assert.match(shown, new RegExp(`t = ${t} of`), 'the visible hover and the recorded one differ');

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
  });
});
