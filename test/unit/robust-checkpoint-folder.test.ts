// Checkpoint folders stay inside the workspace (issue 14): `gatescope.checkpointFolder` is resolved against
// the workspace folder and refused, with a message saying why and what to set, when it leads out of it —
// `..`, an absolute path elsewhere, a sibling whose name shares the workspace's prefix, a symlink inside the
// workspace that points out. Fresh file names never collide. Workspace Trust is declared in package.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkpointFileName, isWithin, resolveCheckpointFolder } from '../../src/extension/services/checkpointFolder';
import { untrustedRefusal } from '../../src/extension/logic/trust';

const ok = (r: ReturnType<typeof resolveCheckpointFolder>): string => {
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.path;
};
const refused = (r: ReturnType<typeof resolveCheckpointFolder>): string => {
  assert.ok(!r.ok, `expected a refusal, got ${r.ok ? r.path : ''}`);
  return r.message;
};

test('relative folders inside the workspace resolve; the default is .gatescope', () => {
  const root = '/work/ws';
  const none = (): string => { throw new Error('ENOENT'); }; // nothing exists: the lexical check decides
  assert.equal(ok(resolveCheckpointFolder(root, '.gatescope', none)), resolve('/work/ws/.gatescope'));
  assert.equal(ok(resolveCheckpointFolder(root, '', none)), resolve('/work/ws/.gatescope'));
  assert.equal(ok(resolveCheckpointFolder(root, undefined, none)), resolve('/work/ws/.gatescope'));
  assert.equal(ok(resolveCheckpointFolder(root, 'models/char', none)), resolve('/work/ws/models/char'));
  assert.equal(ok(resolveCheckpointFolder(root, 'a/../b', none)), resolve('/work/ws/b'), '.. that stays inside is fine');
  assert.equal(ok(resolveCheckpointFolder(root, '.', none)), resolve('/work/ws'));
  assert.equal(ok(resolveCheckpointFolder(root, '/work/ws/out', none)), resolve('/work/ws/out'), 'an absolute path inside');
});

test('folders that lead out of the workspace are refused with a clear message', () => {
  const root = '/work/ws';
  const none = (): string => { throw new Error('ENOENT'); };
  const m = refused(resolveCheckpointFolder(root, '../elsewhere', none));
  assert.equal(m, 'gatescope.checkpointFolder "../elsewhere" leads out of the workspace: checkpoints are only written inside the workspace folder /work/ws. '
    + 'Set it to a workspace-relative folder such as .gatescope.');
  assert.match(refused(resolveCheckpointFolder(root, '..', none)), /leads out of the workspace/);
  assert.match(refused(resolveCheckpointFolder(root, 'a/../../x', none)), /leads out/);
  assert.match(refused(resolveCheckpointFolder(root, '../ws2', none)), /leads out/, 'a sibling sharing the prefix');
  assert.match(refused(resolveCheckpointFolder(root, '/work/ws2/x', none)), /"\/work\/ws2\/x" is outside the workspace/);
  assert.match(refused(resolveCheckpointFolder(root, '/etc', none)), /is outside the workspace/);
  assert.match(refused(resolveCheckpointFolder(root, 'a\0b', none)), /NUL/);
  assert.ok(isWithin('/a/b', '/a/b') && isWithin('/a/b', '/a/b/c') && !isWithin('/a/b', '/a/bc') && !isWithin('/a/b', '/a'));
});

test('a symlink inside the workspace that leads out is refused; one that stays inside is fine', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'gatescope-ckfolder-')));
  try {
    const ws = join(base, 'ws');
    const outside = join(base, 'outside');
    mkdirSync(join(ws, 'inside'), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(ws, 'escape'));
    symlinkSync(join(ws, 'inside'), join(ws, 'alias'));
    assert.match(refused(resolveCheckpointFolder(ws, 'escape')), /goes through a link that leads out of the workspace/);
    assert.match(refused(resolveCheckpointFolder(ws, 'escape/deeper/new')), /link that leads out/, 'also below a missing folder');
    assert.equal(ok(resolveCheckpointFolder(ws, 'alias/new')), join(ws, 'alias/new'));
    assert.equal(ok(resolveCheckpointFolder(ws, 'not/yet/there')), join(ws, 'not/yet/there'));
    // The workspace itself reached through a link is fine.
    symlinkSync(ws, join(base, 'ws-link'));
    assert.equal(ok(resolveCheckpointFolder(join(base, 'ws-link'), '.gatescope')), join(base, 'ws-link', '.gatescope'));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('checkpoint names are fresh: two runs in one second never share a file', () => {
  const when = new Date('2026-03-04T05:06:07.890Z');
  const taken = new Set<string>();
  const a = checkpointFileName('char LSTM/1x128', when, (n) => taken.has(n));
  assert.equal(a, 'char_LSTM_1x128-20260304-050607.safetensors');
  taken.add(a);
  const b = checkpointFileName('char LSTM/1x128', when, (n) => taken.has(n));
  assert.equal(b, 'char_LSTM_1x128-20260304-050607-2.safetensors');
  taken.add(b);
  assert.equal(checkpointFileName('char LSTM/1x128', when, (n) => taken.has(n)), 'char_LSTM_1x128-20260304-050607-3.safetensors');
});

test('Workspace Trust: limited support declared with a description; the refusal says why and what still works', () => {
  const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as {
    capabilities: { untrustedWorkspaces: { supported: unknown; description: string; restrictedConfigurations: string[] } };
    contributes: { configuration: { properties: Record<string, { scope?: string; default?: unknown }> } };
  };
  const u = pkg.capabilities.untrustedWorkspaces;
  assert.equal(u.supported, 'limited');
  assert.match(u.description, /trac/);
  assert.match(u.description, /does not train or write files into the workspace until you trust it/);
  assert.ok(u.restrictedConfigurations.includes('gatescope.checkpointFolder'));
  const props = pkg.contributes.configuration.properties;
  assert.equal(props['gatescope.workerMemoryLimitMb'].scope, 'machine', 'a workspace cannot raise the memory limit');
  assert.equal(props['gatescope.workerMemoryLimitMb'].default, 0);
  assert.equal(untrustedRefusal('Training'), 'gatescope: Training is disabled in Restricted Mode: it writes files into the workspace. '
    + 'Trust this workspace to use it; opening, tracing and comparing models work without trust.');
});
