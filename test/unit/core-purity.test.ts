// The layering rules of eslint.config.mjs bite: src/core (which runs on plain node, in workers and in the
// webview) may not reach for vscode, Node built-ins, the layers above it or DOM globals, whichever way it
// imports. `npm run lint` applies the same rules to the whole tree; this checks the rules themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: join(__dirname, '../..'), allowInlineConfig: false });

/** `line: rule` for each problem ESLint finds in `text`, linted as if it were the file at `filePath`. */
async function problems(text: string, filePath = 'src/core/__lint_probe__.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath });
  return result.messages.map((m) => `${m.line}: ${m.ruleId ?? m.message}`);
}

test('src/core may not import fs or touch the DOM', async () => {
  assert.deepEqual(await problems("import * as fs from 'node:fs';\nexport const x = fs;\ndocument.title;\n"), [
    '1: no-restricted-imports',
    '3: no-restricted-globals',
  ]);
});

test('src/core may not import vscode, Node built-ins or other layers, statically, by import() or require()', async () => {
  const banned = [
    "import * as vscode from 'vscode';",
    "import type { Uri } from 'vscode';",
    "import { readFile } from 'fs/promises';",
    "export { spawn } from 'child_process';",
    "import { Worker } from 'node:worker_threads';",
    "import { join } from 'node:path';",
    "import { pickEngine } from '../engines/index';",
    "import type { TrainRequest } from '../../node/trainRun';",
    "import { settings } from '../extension/settings';",
    "export const w = import('node:worker_threads');",
    "export const cp = require('node:child_process');",
    "import fs = require('node:fs');",
    'export const n = navigator.hardwareConcurrency;',
    'export const api = acquireVsCodeApi();',
  ];
  for (const line of banned) assert.equal((await problems(line)).length, 1, line);
});

test('pure code passes, names in types and locals called window or document included', async () => {
  const clean = [
    "import { unzipSync } from 'fflate';",
    "import type { Tensor } from './tensor';",
    "import { gates } from '../reference/rnn';",
    'interface Trace { readonly window: number; document(start: number): Tensor; [navigator: string]: unknown }',
    'export function f(window: Float32Array, document: { uri: string }): string { return `${window.length} ${document.uri}`; }',
    'export const x = unzipSync;',
  ].join('\n');
  assert.deepEqual(await problems(clean), []);
});

test('the same imports are fine where the layering allows them', async () => {
  assert.deepEqual(await problems("import * as fs from 'node:fs';\nexport const x = fs;\n", 'src/node/__lint_probe__.ts'), []);
  assert.deepEqual(await problems("import * as vscode from 'vscode';\nexport const x = vscode;\n", 'src/extension/__lint_probe__.ts'), []);
  assert.deepEqual(await problems("import { parseViewState } from '../src/extension/logic/viewState';\nexport const t = document.title + String(parseViewState);\n", 'webview/__lint_probe__.ts'), []);
  assert.deepEqual(await problems("import { x } from '../src/extension/services/modelStore';\nexport const y = x;\n", 'webview/__lint_probe__.ts'), ['1: no-restricted-imports']);
});
