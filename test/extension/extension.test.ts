// The extension API inside a real extension host, mocha TDD style. Runs two ways:
//  - `npx @vscode/test-cli` (.vscode-test.mjs) in downloaded VS Code, on machines that can download it;
//  - in code-server via the `gatescope.selfTest` command (test/e2e/selftest.e2e.ts), which provides
//    the same suite/test globals.
import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';

declare function suite(name: string, fn: () => void): void;
declare function test(name: string, fn: () => Promise<void> | void): void;

const EXTENSION_ID = 'gatescope.gatescope';

interface Manifest { contributes?: { commands?: { command: string }[] } }

function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in this VS Code`);
  return ext;
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

suite('gatescope extension', () => {
  test('activates', async () => {
    const ext = extension();
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test('registers every command it contributes', async () => {
    await extension().activate();
    const contributed = ((extension().packageJSON as Manifest).contributes?.commands ?? []).map((c) => c.command);
    for (const id of ['gatescope.trainCharLstm', 'gatescope.traceActiveDocument', 'gatescope.compare']) {
      assert.ok(contributed.includes(id), `package.json does not contribute ${id}`);
    }
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  test('hover provider answers on a plain text document without a trace (no gatescope hover, no error)', async () => {
    await extension().activate();
    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: 'To be, or not to be.\n' });
    await vscode.window.showTextDocument(doc);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(0, 3));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.doesNotMatch(text, /gatescope/, 'a gatescope hover appeared on a document that was never traced');
  });

  test('exportTestState writes the extension state as JSON', async () => {
    await extension().activate();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.ok(folder, 'the test needs an open folder');
    const out = vscode.Uri.joinPath(folder, '.gatescope-selftest-state.json');
    await vscode.commands.executeCommand('gatescope.exportTestState', out.fsPath);
    const bytes = await waitUntil('the state file', async () => { try { return await vscode.workspace.fs.readFile(out); } catch { return undefined; } });
    const state = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    assert.equal(typeof state, 'object');
    await vscode.workspace.fs.delete(out);
  });
});
