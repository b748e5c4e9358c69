// "gatescope: Open run…" (a run directory that python/gatescope writes, followed live in the dashboard),
// the discovery of run folders in the workspace (a prompt once per folder when its events.jsonl appears or
// grows), and "gatescope: Open terminal with the gatescope Python package" (python/ on PYTHONPATH).
import * as vscode from 'vscode';
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import type { Gatescope } from '../context';
import { DisposableStore, MutableDisposable, type IDisposable } from '../lifecycle';
import { EVENTS_FILE, ExternalRun, processAlive } from '../services/runWatcher';

const PROMPTED_KEY = 'gatescope.promptedRuns';
const MAX_PROMPTED = 200;

/** The run folder an argument names: a folder, its events.jsonl, a Uri of either. */
function runDirOf(arg: unknown): string | undefined {
  const p = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
  if (!p) return undefined;
  return basename(p) === EVENTS_FILE || (existsSync(p) && statSync(p).isFile()) ? dirname(p) : p;
}

/**
 * A run being written now: its last record is not an end record and the writer of its last start record
 * (pid, on this host) still runs. Reads the file's last 64 KiB only.
 */
async function isLive(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const n = Math.min(size, 64 << 10);
      const buf = new Uint8Array(n);
      await fh.read(buf, 0, n, size - n);
      const lines = new TextDecoder().decode(buf).split('\n').filter((l) => l.startsWith('{') && l.endsWith('}'));
      const records = lines.map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } });
      const last = records.at(-1);
      const start = [...records].reverse().find((r) => r.kind === 'start');
      if (!last || last.kind === 'end' || !start || typeof start.pid !== 'number') return false;
      return (start.host === undefined || start.host === hostname()) && processAlive(start.pid);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/** The first line of events.jsonl is a start record of a gatescope run (not any events.jsonl). */
async function looksLikeRun(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'r');
    try {
      const buf = new Uint8Array(4096);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const first = new TextDecoder().decode(buf.subarray(0, bytesRead)).split('\n')[0];
      return /^\{"kind":\s*"start"/.test(first) || /"producer":\s*"gatescope/.test(first);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

export class Runs implements IDisposable {
  private readonly store = new DisposableStore();
  private readonly current = this.store.add(new MutableDisposable<ExternalRun>());
  private readonly asking = new Set<string>();

  constructor(private readonly g: Gatescope) {
    this.watchFolders();
    this.store.add(vscode.workspace.onDidChangeWorkspaceFolders(() => { this.watchFolders(); void this.scan(); }));
    void this.scan();
  }

  /** Runs already being written when the extension starts (or a folder is added) are offered too. */
  private async scan(): Promise<void> {
    const files = await vscode.workspace.findFiles(`**/${EVENTS_FILE}`, '**/node_modules/**', 100);
    for (const uri of files) if (await isLive(uri.fsPath)) void this.discovered(uri);
  }

  private readonly folderWatchers = this.store.add(new MutableDisposable<DisposableStore>());

  /** One watcher per workspace folder (a RelativePattern: its own recursive watch, not only the workbench's). */
  private watchFolders(): void {
    const store = new DisposableStore();
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const watcher = store.add(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, `**/${EVENTS_FILE}`), false, false, true));
      store.add(watcher.onDidCreate((uri) => void this.discovered(uri)));
      store.add(watcher.onDidChange((uri) => void this.discovered(uri)));
    }
    this.folderWatchers.value = store;
  }

  get run(): ExternalRun | undefined {
    return this.current.value;
  }

  /** Follows `dir` in the dashboard (replacing the run followed before). */
  async open(dir: string): Promise<ExternalRun> {
    const run = new ExternalRun(dir, (path) => this.g.backend.readTensors(path));
    this.current.value = run;
    this.remember(dir);
    await run.start();
    const panel = this.g.panels.showDashboard();
    panel.showExternal(run);
    panel.reveal();
    this.g.output.info(`following run ${dir}: ${run.outcome.text}`);
    return run;
  }

  private prompted(): string[] {
    return this.g.extension.workspaceState.get<string[]>(PROMPTED_KEY, []);
  }

  private remember(dir: string): void {
    const list = this.prompted().filter((d) => d !== dir);
    void this.g.extension.workspaceState.update(PROMPTED_KEY, [...list, dir].slice(-MAX_PROMPTED));
  }

  /** A run folder appeared or grew: asks once whether to open it (never again for that folder). */
  private async discovered(uri: vscode.Uri): Promise<void> {
    this.g.output.trace(`run folder activity: ${uri.toString()}`);
    if (uri.scheme !== 'file') return;
    const dir = dirname(uri.fsPath);
    if (this.current.value?.dir === dir || this.asking.has(dir) || this.prompted().includes(dir)) return;
    this.asking.add(dir);
    try {
      if (!(await looksLikeRun(uri.fsPath))) {
        this.g.output.trace(`${uri.fsPath} does not start with a gatescope start record (yet)`);
        return;
      }
      this.g.output.info(`found a run folder: ${dir}`);
      this.remember(dir);
      const rel = vscode.workspace.asRelativePath(dir);
      const OPEN = 'Open run';
      const pick = await vscode.window.showInformationMessage(`gatescope: Open run ${rel}? A PyTorch run is being recorded there.`, OPEN, 'Not now');
      if (pick === OPEN) await this.open(dir);
    } finally {
      this.asking.delete(dir);
    }
  }

  dispose(): void {
    this.store.dispose();
  }
}

export async function openRun(g: Gatescope, runs: Runs, arg?: unknown): Promise<string | undefined> {
  let dir = runDirOf(arg);
  if (!dir) {
    const uris = await vscode.window.showOpenDialog({
      canSelectFolders: true, canSelectFiles: true, canSelectMany: false, openLabel: 'Open run',
      title: 'Open run (a folder with events.jsonl)', filters: { 'Run events': ['jsonl'], 'All files': ['*'] },
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    dir = runDirOf(uris?.[0]);
  }
  if (!dir) return undefined;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`gatescope: ${dir} is not a folder`);
  if (!existsSync(join(dir, EVENTS_FILE))) {
    g.output.info(`${dir} has no ${EVENTS_FILE} yet: waiting for the run to start`);
  }
  await runs.open(dir);
  return dir;
}

/** The folder that holds the gatescope Python package shipped with the extension. */
export function pythonPackageDir(g: Gatescope): string {
  return vscode.Uri.joinPath(g.extension.extensionUri, 'python').fsPath;
}

export function openPythonTerminal(g: Gatescope): vscode.Terminal {
  const dir = pythonPackageDir(g);
  const prior = process.env.PYTHONPATH;
  const terminal = vscode.window.createTerminal({
    name: 'gatescope Python',
    env: { PYTHONPATH: prior ? `${dir}${delimiter}${prior}` : dir },
    message: `gatescope: \`import gatescope\` works in this terminal (PYTHONPATH has ${dir}).`,
  });
  terminal.show();
  return terminal;
}
