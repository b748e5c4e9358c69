// Real VS Code for end-to-end tests: code-server (the VS Code workbench served over HTTP, with a real
// Node extension host) driven by playwright-core through Debian's chromium.
// scripts/test-e2e.sh prepares code-server and installs the extension, then passes the paths in
// GATESCOPE_E2E_* variables. Each scenario opens a fresh workspace copy in its own temp directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';

export const REPO = resolve(__dirname, '../..');
export const SCREENSHOTS = join(REPO, '.cache/e2e/screenshots');

/** Chromium flags that keep it offline, quiet and runnable as root in a container. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync'];

/**
 * A key chord bound (in the scenario's keybindings.json) to a command with arguments; see `bindings`.
 * In args (strings, also nested) `${workspace}` becomes the scenario's workspace folder.
 */
export interface KeyBinding { key: string; command: string; args?: unknown }

/** The chord bound by `exportStateBinding` to `gatescope.exportTestState <workspace>/<file>`. */
export const EXPORT_STATE_KEY = 'Control+Alt+Shift+F12';
export const EXPORT_STATE_FILE = '.gatescope-test-state.json';
export function exportStateBinding(file = EXPORT_STATE_FILE): KeyBinding {
  return { key: 'ctrl+alt+shift+f12', command: 'gatescope.exportTestState', args: `\${workspace}/${file}` };
}

export interface SessionOptions {
  /** Scenario name: temp dir prefix and screenshot prefix. */
  name: string;
  /** Files for the workspace: relative path → source path (copied) or contents (written). */
  files?: Record<string, { copy: string } | { text: string } | { bytes: Uint8Array }>;
  /** Extra user settings merged over the test defaults. */
  settings?: Record<string, unknown>;
  /** Key chords bound to commands with arguments (the palette cannot pass arguments). */
  bindings?: KeyBinding[];
  /** Extra environment for code-server (and so for the extension host). */
  env?: Record<string, string>;
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the e2e tests through scripts/test-e2e.sh`);
  return v;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The most the waits stretch on a loaded machine. */
export const MAX_LOAD_FACTOR = 3;

/**
 * How much slower than idle the machine is now: the 1-minute load average per CPU, between 1 and
 * MAX_LOAD_FACTOR. Every wait of the harness is multiplied by it (a busy machine makes a slower VS Code, not a
 * failed scenario); GATESCOPE_E2E_LOAD_FACTOR overrides it.
 */
export function loadFactor(): number {
  const forced = Number(process.env.GATESCOPE_E2E_LOAD_FACTOR);
  if (Number.isFinite(forced) && forced > 0) return forced;
  const perCpu = loadavg()[0] / Math.max(1, availableParallelism());
  return Math.min(MAX_LOAD_FACTOR, Math.max(1, perCpu));
}

/** `ms` stretched by the machine's load (see loadFactor). */
export function scaled(ms: number): number {
  return Math.round(ms * loadFactor());
}

/** Thrown by a waitFor probe that knows the wait cannot succeed any more (a run failed): waitFor fails at once. */
export class WaitFailed extends Error {}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails with `what` and the last error
 * (at once when the probe throws WaitFailed). `timeoutMs` is for an idle machine: the deadline stretches with
 * the load while waiting (see loadFactor).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const start = Date.now();
  let factor = loadFactor();
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      if (err instanceof WaitFailed) throw new Error(`waiting for ${what}: ${err.message}`);
      lastError = err;
    }
    factor = Math.max(factor, loadFactor()); // never shrinks: a wait that started on a busy machine keeps its time
    if (Date.now() - start > timeoutMs * factor) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message.split('\n')[0]})` : '';
      const load = factor > 1 ? ` (${Math.round(timeoutMs / 1000)} s × load factor ${factor.toFixed(1)})` : '';
      throw new Error(`timed out after ${Math.round((Date.now() - start) / 1000)} s${load} waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** One code-server + chromium session on a fresh workspace. Always `close()` it (use `withSession`). */
export class Session {
  readonly root: string;
  readonly workspace: string;
  readonly userData: string;
  private server?: ChildProcess;
  private serverLog = '';
  private browser?: Browser;
  page!: Page;
  port = 0;
  private shots = 0;

  constructor(readonly opts: SessionOptions) {
    this.root = mkdtempSync(join(tmpdir(), `gatescope-e2e-${opts.name}-`));
    this.workspace = join(this.root, 'workspace');
    this.userData = join(this.root, 'user-data');
  }

  get url(): string { return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.workspace)}`; }

  /** Lines the code-server process printed (for failure messages). */
  get log(): string { return this.serverLog; }

  /** Error lines of the extension host logs (an extension that failed to activate says why there). */
  extensionHostErrors(): string[] {
    const logs = join(this.userData, 'logs');
    if (!existsSync(logs)) return [];
    const files = readdirSync(logs, { recursive: true, encoding: 'utf8' }).filter((f) => /exthost\d*\/remoteexthost\.log$/.test(f));
    return files.flatMap((f) => {
      const lines = readFileSync(join(logs, f), 'utf8').split('\n');
      return lines.flatMap((l, k) => (l.includes('[error]') ? [l, ...lines.slice(k + 1, k + 3).filter((x) => /^\s+at /.test(x))] : []));
    }).slice(0, 20);
  }

  async start(): Promise<void> {
    mkdirSync(this.workspace, { recursive: true });
    for (const [rel, src] of Object.entries(this.opts.files ?? {})) {
      const dest = join(this.workspace, rel);
      mkdirSync(join(dest, '..'), { recursive: true });
      if ('copy' in src) cpSync(src.copy, dest, { recursive: true });
      else if ('text' in src) writeFileSync(dest, src.text);
      else writeFileSync(dest, src.bytes);
    }
    this.writeUserConfig();
    await this.startServer();
    await this.openBrowser();
  }

  private writeUserConfig(): void {
    const user = join(this.userData, 'User');
    mkdirSync(user, { recursive: true });
    writeFileSync(join(user, 'settings.json'), JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'security.workspace.trust.enabled': false,
      'extensions.autoUpdate': false,
      'extensions.autoCheckUpdates': false,
      'extensions.ignoreRecommendations': true,
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'editor.hover.delay': 200,
      'window.confirmBeforeClose': 'never',
      'files.hotExit': 'off',
      ...this.opts.settings,
    }, null, 2));
    const withWorkspace = (args: unknown): unknown => args === undefined ? undefined
      : JSON.parse(JSON.stringify(args).replaceAll('${workspace}', JSON.stringify(this.workspace).slice(1, -1)));
    const bindings = (this.opts.bindings ?? []).map((b) => ({ key: b.key, command: b.command, args: withWorkspace(b.args) }));
    writeFileSync(join(user, 'keybindings.json'), JSON.stringify(bindings, null, 2));
  }

  private async startServer(): Promise<void> {
    this.port = await freePort();
    const codeServer = env('GATESCOPE_E2E_CODE_SERVER');
    const args = ['--auth', 'none', '--bind-addr', `127.0.0.1:${this.port}`, '--disable-telemetry',
      '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
      '--user-data-dir', this.userData, '--extensions-dir', env('GATESCOPE_E2E_EXTENSIONS'), this.workspace];
    const server = spawn(codeServer, args, {
      // Own process group: close() kills code-server and everything it started (extension host, workers).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CONFIG_HOME: join(this.root, 'xdg-config'), XDG_DATA_HOME: join(this.root, 'xdg-data'),
        XDG_CACHE_HOME: join(this.root, 'xdg-cache'), ...this.opts.env },
    });
    this.server = server;
    const onData = (d: Buffer) => { this.serverLog += d.toString(); };
    server.stdout!.on('data', onData);
    server.stderr!.on('data', onData);
    let exited = false;
    server.once('exit', () => { exited = true; });
    await waitFor(`code-server to listen on port ${this.port}\n${this.serverLog}`, () => {
      if (exited) throw new Error(`code-server exited early:\n${this.serverLog}`);
      return /HTTP server listening on/.test(this.serverLog);
    }, 60_000);
  }

  private async openBrowser(): Promise<void> {
    this.browser = await chromium.launch({ executablePath: process.env.GATESCOPE_E2E_CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS, timeout: scaled(60_000) });
    const context = await this.browser.newContext({ viewport: { width: 1400, height: 900 } });
    this.page = await context.newPage();
    this.page.setDefaultTimeout(scaled(30_000));
    await this.page.goto(this.url, { waitUntil: 'domcontentloaded', timeout: scaled(60_000) });
    await this.waitForWorkbench();
  }

  async waitForWorkbench(): Promise<void> {
    await this.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: scaled(90_000) });
    // The explorer shows the folder once the remote file system answers.
    await this.page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: scaled(60_000) }).catch(() => undefined);
  }

  async screenshot(label: string): Promise<string> {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = join(SCREENSHOTS, `${this.opts.name}-${String(++this.shots).padStart(2, '0')}-${label}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  // --- Workbench actions -----------------------------------------------------------------------------

  /**
   * Opens the command palette and runs the command whose label contains `title`. Retries while the
   * workbench is still registering contributions (just after start the palette may not list them yet).
   */
  async runCommand(title: string, timeoutMs = 60_000): Promise<void> {
    const row = this.page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    await waitFor(`command "${title}" in the command palette`, async () => {
      const input = await this.openPalette();
      await input.fill(`>${title}`);
      if (await row.waitFor({ state: 'visible', timeout: 5000 }).then(() => true, () => false)) return true;
      await this.page.keyboard.press('Escape');
      return false;
    }, timeoutMs, 1000);
    await row.click();
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: scaled(10_000) }).catch(() => undefined);
  }

  /** Picks the row of the open quick pick whose text contains `label`. */
  async pickQuickItem(label: string, timeoutMs = 30_000): Promise<void> {
    const row = this.page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first();
    await row.waitFor({ state: 'visible', timeout: scaled(timeoutMs) });
    await row.click();
  }

  /**
   * Answers a modal message (vscode.window.show*Message with `modal: true`, a dialog over the workbench) by
   * clicking its button `label`; returns the dialog's text (message and detail).
   */
  async answerDialog(label: string, timeoutMs = 30_000): Promise<string> {
    const dialog = this.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: scaled(timeoutMs) });
    const text = (await dialog.innerText()).replace(/\s+/g, ' ').trim();
    await dialog.locator('.monaco-button', { hasText: label }).first().click();
    await dialog.waitFor({ state: 'hidden', timeout: scaled(10_000) });
    return text;
  }

  /**
   * Answers VS Code's own open-file dialog (in code-server a quick input holding a path, VS Code's "simple
   * file dialog") with an absolute path, as a user types it.
   */
  async pickFileInDialog(path: string, title: string, timeoutMs = 30_000): Promise<void> {
    // The dialog is found by its title: under load the previous dialog can still be on screen, and a
    // path typed into it would be taken as the wrong file.
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('input.input');
    const titleNow = () => widget.locator('.quick-input-title').innerText().catch(() => '');
    await waitFor(`the file dialog "${title}"`, async () => {
      if (!(await input.isVisible().catch(() => false))) return undefined;
      if (!(await titleNow()).includes(title)) return undefined;
      return (await input.inputValue()).startsWith('/') || undefined; // it opens on the workspace folder
    }, timeoutMs, 200);
    // The dialog may still be resolving its first folder and set its own value over the typed one: type the
    // path until it stays there (the listing settles as the path is typed), then accept it.
    await waitFor(`the file dialog to keep ${path}`, async () => {
      if ((await input.inputValue()) !== path) await input.fill(path);
      await sleep(scaled(800));
      return (await input.inputValue()) === path || undefined;
    }, timeoutMs, 100);
    await this.page.keyboard.press('Enter');
    await waitFor(`the file dialog "${title}" to take the path`, async () => {
      if (!(await input.isVisible().catch(() => false))) return true;
      return !(await titleNow()).includes(title) || undefined;
    }, timeoutMs, 200);
  }

  /** Labels of palette commands matching `filter`, once at least `atLeast` are listed. */
  async paletteCommands(filter: string, atLeast = 1, timeoutMs = 60_000): Promise<string[]> {
    const rows = this.page.locator('.quick-input-widget .monaco-list-row .label-name');
    const labels = await waitFor(`${atLeast}+ commands matching "${filter}" in the palette`, async () => {
      const input = await this.openPalette();
      await input.fill(`>${filter}`);
      await sleep(1000);
      const found = (await rows.allInnerTexts()).map((l) => l.replace(/\s+/g, ' ').trim());
      if (found.length >= atLeast) return found;
      await this.page.keyboard.press('Escape');
      return undefined;
    }, timeoutMs, 1000);
    await this.page.keyboard.press('Escape');
    return labels;
  }

  private async openPalette() {
    const input = this.page.locator('.quick-input-widget input.input');
    await waitFor('the command palette to open', async () => {
      if (await input.isVisible()) return true;
      await this.page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } }).catch(() => undefined);
      await this.page.keyboard.press('F1');
      await sleep(300);
      return input.isVisible();
    }, 20_000);
    return input;
  }

  /**
   * Answers quick picks / input boxes a command opens by accepting their default (Enter), for up to
   * `maxPrompts` prompts; returns the prompts' titles/placeholders seen (to name them in failures).
   */
  async acceptPrompts(maxPrompts = 3, waitMs = 2500): Promise<string[]> {
    const widget = this.page.locator('.quick-input-widget');
    const seen: string[] = [];
    for (let i = 0; i < maxPrompts; i++) {
      const shown = await widget.waitFor({ state: 'visible', timeout: scaled(waitMs) }).then(() => true, () => false);
      if (!shown) break;
      const title = await widget.locator('.quick-input-title').innerText().catch(() => '');
      const placeholder = await widget.locator('input.input').getAttribute('placeholder').catch(() => '');
      seen.push([title, placeholder].filter(Boolean).join(' / '));
      await this.page.keyboard.press('Enter');
      await sleep(500);
    }
    return seen;
  }

  /** Opens a workspace file in an editor (Quick Open). */
  async openFile(relPath: string): Promise<void> {
    const input = await this.openPalette();
    await input.fill(relPath);
    const name = relPath.split('/').pop()!;
    const exact = new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
    const row = this.page.locator('.quick-input-widget .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exact }) }).first();
    await waitFor(`"${relPath}" in Quick Open`, () => row.isVisible(), 30_000);
    await row.click();
    await this.page.locator(`.tab[aria-label*="${name}"]`).first().waitFor({ timeout: scaled(30_000) });
  }

  /** Moves the cursor of the active text editor to a 1-based line and column (Go to Line). */
  async goToPosition(line: number, column: number): Promise<void> {
    await this.page.locator('.monaco-editor textarea').first().focus();
    await this.page.keyboard.press('Control+G');
    const input = this.page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`:${line}:${column}`); // Go to Line is Quick Open with the ":" prefix
    await sleep(200);
    await this.page.keyboard.press('Enter');
    await sleep(200);
  }

  /**
   * Rests the mouse on the character right after the cursor, as a user points at it, and returns the text
   * of the hover that appears. The pointer goes a quarter of a character past the cursor, so the editor
   * resolves the same position as the cursor's.
   */
  async hoverWithMouse(expect: RegExp, timeoutMs = 30_000): Promise<string> {
    const hover = this.page.locator('.monaco-hover:not(.hidden)');
    const cursor = this.page.locator('.monaco-editor.focused .cursors-layer .cursor').first();
    return waitFor(`an editor hover matching ${expect}`, async () => {
      const box = await cursor.boundingBox();
      if (!box) return undefined;
      await this.page.mouse.move(box.x + 200, box.y + 120); // away first: the hover appears on arrival
      await sleep(200);
      await this.page.mouse.move(box.x + 2, box.y + box.height / 2, { steps: 4 });
      await sleep(900); // the editor's hover delay is 300 ms
      const texts = await hover.allInnerTexts();
      return texts.find((t) => expect.test(t));
    }, timeoutMs, 1000);
  }

  /** Presses a chord (e.g. one bound with `bindings`) with the workbench focused. */
  async press(chord: string): Promise<void> {
    await this.page.keyboard.press(chord);
  }

  /**
   * The extension's state as JSON, via the chord of `exportStateBinding()` (which the session must have
   * in its bindings): the extension host writes it into the workspace.
   */
  async exportState<T = Record<string, unknown>>(file = EXPORT_STATE_FILE): Promise<T> {
    return this.pressUntilJson<T>(EXPORT_STATE_KEY, join(this.workspace, file),
      'gatescope.exportTestState to write the extension state (is the extension active?)');
  }

  /**
   * Presses `chord` (bound to a command that writes JSON to `path`) until `path` holds valid JSON; a
   * press before the extension registered its command does nothing, hence the retries.
   */
  async pressUntilJson<T>(chord: string, path: string, what: string, timeoutMs = 60_000, retryMs = 5000): Promise<T> {
    rmSync(path, { force: true });
    let lastPress = 0;
    return waitFor(what, async () => {
      if (!existsSync(path) && Date.now() - lastPress > retryMs) {
        await this.page.keyboard.press(chord);
        lastPress = Date.now();
      }
      if (!existsSync(path)) return undefined;
      try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch { return undefined; }
    }, timeoutMs, 300);
  }

  /** The frame (webview content) in which `selector` exists. Webviews are nested iframes. */
  async webviewFrame(selector: string, what: string, timeoutMs = 60_000): Promise<Frame> {
    return waitFor(`${what} (selector ${selector} in a webview)`, async () => {
      for (const frame of this.page.frames()) {
        if (frame === this.page.mainFrame()) continue;
        if (await frame.locator(selector).count().catch(() => 0)) return frame;
      }
      return undefined;
    }, timeoutMs, 500);
  }

  /** Waits until `selector` in `frame` has non-empty text; returns it. */
  async waitForText(frame: Frame, selector: string, what: string, timeoutMs = 60_000): Promise<string> {
    return waitFor(what, async () => ((await frame.locator(selector).first().textContent()) ?? '').trim() || undefined, timeoutMs, 500);
  }

  /** Text of notifications currently shown (toasts and the notification center). */
  async notifications(): Promise<string[]> {
    return this.page.locator('.notification-list-item').allInnerTexts().catch(() => []);
  }

  /**
   * Runs "Developer: Reload Window" and waits for the reloaded workbench. Not `page.reload()`: in VS Code
   * for the web the command first awaits the storage flush (open editors, webview states, workspace state go
   * to IndexedDB), whereas a browser reload only starts that flush from `beforeunload` and the page may go
   * before the writes land; the reloaded workbench then shows the state of the last periodic flush (every
   * ~5 s, and only while the page has focus): a stale webview state or no panel at all.
   */
  async reloadWindow(): Promise<void> {
    const navigated = this.page.waitForEvent('framenavigated', { predicate: (f) => f === this.page.mainFrame(), timeout: scaled(60_000) });
    await this.runCommand('Developer: Reload Window');
    await navigated;
    await this.page.waitForLoadState('domcontentloaded');
    await this.waitForWorkbench();
  }

  async close(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    this.browser = undefined;
    const server = this.server;
    this.server = undefined;
    if (server?.pid && server.exitCode === null) {
      const gone = new Promise((r) => server.once('exit', r));
      try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
      await Promise.race([gone, sleep(5000)]);
      try { process.kill(-server.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    if (!process.env.GATESCOPE_E2E_KEEP) rmSync(this.root, { recursive: true, force: true });
  }
}

/** Runs `body` in a fresh session; on failure saves a screenshot and appends the code-server log. */
export async function withSession(opts: SessionOptions, body: (s: Session) => Promise<void>): Promise<void> {
  const session = new Session(opts);
  const cleanup = () => { void session.close(); };
  process.once('SIGINT', cleanup);
  process.once('SIGTERM', cleanup);
  try {
    await session.start();
    await body(session);
  } catch (err) {
    const shot = await session.screenshot('failure').catch(() => '(no screenshot)');
    const log = session.log.split('\n').slice(-30).join('\n');
    const hostErrors = session.extensionHostErrors();
    const host = hostErrors.length ? `\n  extension host errors:\n${hostErrors.join('\n')}` : '';
    if (err instanceof Error) err.message += `\n  screenshot: ${shot}${host}\n  code-server log (tail):\n${log}`;
    throw err;
  } finally {
    process.off('SIGINT', cleanup);
    process.off('SIGTERM', cleanup);
    await session.close();
  }
}

/** Reads a JSON file once it exists and parses (the extension writes it asynchronously). */
export async function readJsonWhenReady<T>(path: string, what: string, timeoutMs = 30_000): Promise<T> {
  return waitFor(what, () => {
    if (!existsSync(path)) return undefined;
    try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch { return undefined; }
  }, timeoutMs, 250);
}
