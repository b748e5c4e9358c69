// src/core must run anywhere (plain node, worker, webview): no vscode, DOM or file-system access.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const forbiddenModule = /(?:from\s+|require\(\s*|import\(\s*)['"](vscode|fs|node:fs|fs\/promises|node:fs\/promises|child_process|node:child_process|worker_threads|node:worker_threads)['"]/;
const domGlobal = /\b(document|window|navigator|localStorage|acquireVsCodeApi)\s*\./;

test('src/core imports no vscode, fs, child_process or worker_threads and touches no DOM', () => {
  const offenders: string[] = [];
  for (const file of filesUnder('src/core')) {
    const text = readFileSync(file, 'utf8');
    const m = forbiddenModule.exec(text) ?? domGlobal.exec(text);
    if (m) offenders.push(`${file}: ${m[0]}`);
  }
  assert.deepEqual(offenders, []);
});
