// @vscode/test-cli configuration, for machines that can download VS Code:
//   npm run build && npx --yes @vscode/test-cli
// (test-cli and test-electron are deliberately not dependencies: they download VS Code at test time.)
// The suite (test/extension/*.test.ts) is bundled here first; it runs in the extension host against the
// built extension (dist/), in a workspace holding the bundled sample text.
import { mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExtensionTests, root } from './test/extension/build.mjs';

buildExtensionTests();
const workspace = mkdtempSync(join(tmpdir(), 'gatescope-test-cli-'));
copyFileSync(join(root, 'samples/tinyshakespeare.txt'), join(workspace, 'tinyshakespeare.txt'));

// A plain object (what defineConfig returns): test-cli is run through npx, not installed here.
export default {
  files: 'out/test/extension/**/*.test.js',
  workspaceFolder: workspace,
  mocha: { ui: 'tdd', timeout: 120_000 },
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
};
