// Smoke: the real workbench loads with the packaged extension, the extension activates in the Node
// extension host, and its commands are in the command palette.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { REPO, withSession, exportStateBinding, scaled, waitFor } from './harness';
import { TRAIN_TITLE } from './gatescope';

interface CommandContribution { command: string; title: string; category?: string }

const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  contributes?: { commands?: CommandContribution[]; menus?: { commandPalette?: { command: string; when?: string }[] } };
};

test('workbench loads, gatescope activates, its commands are in the palette', { timeout: scaled(240_000) }, async () => {
  const commands = manifest.contributes?.commands ?? [];
  const hidden = new Set((manifest.contributes?.menus?.commandPalette ?? []).filter((m) => m.when === 'false').map((m) => m.command));
  const visible = commands.filter((c) => !hidden.has(c.command));
  for (const id of ['gatescope.trainCharLstm', 'gatescope.traceActiveDocument', 'gatescope.compare']) {
    assert.ok(commands.some((c) => c.command === id), `package.json contributes no command ${id}`);
  }
  await withSession({ name: 'smoke', files: { 'notes.txt': { text: 'To be, or not to be.\n' }, 'empty.txt': { text: '' } },
    bindings: [exportStateBinding()] }, async (s) => {
    await s.screenshot('workbench');
    const labels = await s.paletteCommands('gatescope', visible.length);
    for (const c of visible) {
      const label = c.category ? `${c.category}: ${c.title}` : c.title;
      assert.ok(labels.includes(label), `palette lacks "${label}"; it lists: ${labels.join(' | ')}`);
    }
    await s.openFile('notes.txt');
    const state = await s.exportState();
    assert.equal(typeof state, 'object', 'gatescope.exportTestState wrote no JSON object');
    await s.screenshot('activated');

    // Train on an empty file: refused at once, before any prompt, the file named once.
    await s.openFile('empty.txt');
    await s.runCommand(TRAIN_TITLE);
    const refusal = await waitFor('the refusal of an empty file', async () => (await s.notifications()).find((n) => /empty\.txt is empty/.test(n)), 30_000, 300);
    assert.match(refusal, /nothing to train on/);
    assert.equal(await s.page.locator('.quick-input-widget').isVisible(), false, 'a prompt opened for an empty file');
    await s.screenshot('empty-file-refused');
  });
});
