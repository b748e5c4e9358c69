// Scenario: "Open model…" on a file another program wrote. char-rnn.pytorch's torch.save(model) does not
// record its vocabulary: the extension asks in a quick pick (string.printable, the program's own), loads
// the model, offers to save a gatescope model file next to it (answered Save), and the next "Open model…" of
// the same file opens that file without asking. A bare recurrent state_dict (no head: weights for
// comparisons only) then opens without taking over from the traceable current model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, exportStateBinding, scaled, waitFor, withSession } from './harness';

const OPEN = 'gatescope: Open model…';
const DIALOG = 'Open model:';

interface State {
  currentModel: { path?: string; vocabSize?: number; module?: string } | null;
  models: { id: string; path?: string }[];
}

test('Open model asks for the vocabulary, saves it next to the file, asks nothing the next time', { timeout: scaled(300_000) }, async () => {
  await withSession({
    name: 'open-model',
    files: {
      'char/model.pt': { copy: join(REPO, 'test/fixtures/programs/char_rnn_lstm/model.pt') },
      'gru_bi.pt': { copy: join(REPO, 'test/fixtures/diff/gru_bi.pt') },
    },
    bindings: [exportStateBinding()],
  }, async (s) => {
    const model = join(s.workspace, 'char/model.pt');
    const saved = join(s.workspace, 'char/model.gatescope.safetensors');
    const stateWhere = (what: string, ok: (st: State) => boolean) =>
      waitFor(what, async () => {
        const st = await s.exportState<State>();
        return ok(st) ? st : undefined;
      }, 90_000, 1000);

    await s.runCommand(OPEN);
    await s.pickFileInDialog(model, DIALOG);
    // The question: the file does not record its vocabulary.
    const title = s.page.locator('.quick-input-widget .quick-input-title');
    await waitFor('the vocabulary question', async () => /model\.pt: the vocabulary/.test(await title.innerText().catch(() => '')) || undefined, 90_000, 300);
    await s.screenshot('vocabulary-question');
    await s.pickQuickItem("Python's string.printable");
    // The offer to save the answer with the model, next to the original.
    const toast = s.page.locator('.notification-toast', { hasText: 'model.gatescope.safetensors' });
    await toast.waitFor({ state: 'visible', timeout: scaled(90_000) });
    await s.screenshot('save-offer');
    await toast.locator('.monaco-button').filter({ hasText: /^Save$/ }).click();
    await waitFor('the saved gatescope model file', async () => existsSync(saved) || undefined, 60_000, 300);
    const first = await stateWhere('the opened model as the current one', (st) => st.currentModel?.vocabSize === 100);
    assert.equal(first.currentModel!.module, 'LSTM');

    // Again: the saved file is used, no question.
    await s.runCommand(OPEN);
    await s.pickFileInDialog(model, DIALOG);
    const again = await stateWhere('the saved model file opened', (st) => st.currentModel?.path === saved);
    assert.equal(again.currentModel!.vocabSize, 100);
    assert.equal(await s.page.locator('.quick-input-widget').isVisible(), false, 'a question was asked again');

    // Weights without a vocabulary or head: listed, but the traceable model stays current.
    await s.runCommand(OPEN);
    await s.pickFileInDialog(join(s.workspace, 'gru_bi.pt'), DIALOG);
    const last = await stateWhere('the bare weights in the model list', (st) => st.models.some((m) => m.path?.endsWith('gru_bi.pt')));
    await s.screenshot('weights-opened');
    assert.equal(last.currentModel!.path, saved, 'imported weights without a vocabulary took over from a usable model');
  });
});
