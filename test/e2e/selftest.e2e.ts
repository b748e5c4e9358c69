// The @vscode/test-cli suite (test/extension/*.test.ts) run inside code-server's real extension host,
// through the gatescope.selfTest command (src/extension/selfTest.ts), since VS Code itself cannot be
// downloaded here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, withSession, exportStateBinding, scaled } from './harness';

interface Report { passed: number; failed: number; results: { name: string; ok: boolean; error?: string }[] }

test('extension API suite passes inside code-server', { timeout: scaled(300_000) }, async () => {
  const { buildExtensionTests } = await import(pathToFileURL(join(REPO, 'test/extension/build.mjs')).href) as
    { buildExtensionTests(): string[] };
  const bundles = buildExtensionTests();
  await withSession({
    name: 'selftest',
    files: { 'sample.txt': { text: 'To be, or not to be, that is the question.\n' } },
    env: { GATESCOPE_SELF_TEST: '1' },
    bindings: [exportStateBinding(), { key: 'ctrl+alt+shift+f11', command: 'gatescope.selfTest', args: { bundles, out: '${workspace}/.selftest.json' } }],
  }, async (s) => {
    await s.openFile('sample.txt');
    await s.exportState(); // the extension is active
    const report = await s.pressUntilJson<Report>('Control+Alt+Shift+F11', join(s.workspace, '.selftest.json'),
      'the self-test report (is gatescope.selfTest registered? see src/extension/selfTest.ts)', 180_000, 60_000);
    for (const r of report.results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.error ? `\n${r.error}` : ''}`);
    assert.ok(report.results.length >= 4, `only ${report.results.length} tests ran`);
    assert.equal(report.failed, 0, `${report.failed} extension-host test(s) failed (listed above)`);
  });
});
