// Shared machinery of a gatescope webview panel: HTML, the ready handshake, validated incoming
// messages and disposal. Until the webview says "ready" (again, after it was hidden and reloaded)
// nothing is posted: on "ready" the subclass sends the complete state, so nothing is lost or replayed.
import * as vscode from 'vscode';
import { isFromWebviewMessage, type FromWebviewMessage, type ToWebviewMessage, type ViewKind } from '../../protocol/webview';
import { Disposable, Emitter } from '../lifecycle';
import { renderWebviewHtml, webviewOptions } from './webviewHtml';

export const VIEW_TYPES: Record<ViewKind, string> = {
  dashboard: 'gatescope.dashboard',
  trace: 'gatescope.trace',
  diff: 'gatescope.diff',
};

export const VIEW_TITLES: Record<ViewKind, string> = {
  dashboard: 'gatescope: Training',
  trace: 'gatescope: Trace',
  diff: 'gatescope: Diff',
};

export function createPanel(view: ViewKind, extensionUri: vscode.Uri, column = vscode.ViewColumn.Beside): vscode.WebviewPanel {
  return vscode.window.createWebviewPanel(VIEW_TYPES[view], VIEW_TITLES[view], { viewColumn: column, preserveFocus: true }, webviewOptions(extensionUri));
}

function themeKind(): 'light' | 'dark' | 'high-contrast' {
  switch (vscode.window.activeColorTheme.kind) {
    case vscode.ColorThemeKind.Light: return 'light';
    case vscode.ColorThemeKind.HighContrast:
    case vscode.ColorThemeKind.HighContrastLight: return 'high-contrast';
    default: return 'dark';
  }
}

export abstract class PanelHost extends Disposable {
  private ready = false;
  private readonly onDidDisposeEmitter = this.register(new Emitter<void>());
  readonly onDidDispose = this.onDidDisposeEmitter.event;

  constructor(readonly view: ViewKind, readonly panel: vscode.WebviewPanel, extensionUri: vscode.Uri) {
    super();
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = renderWebviewHtml(panel.webview, extensionUri, view, VIEW_TITLES[view]);
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)));
    this.register(panel.onDidChangeViewState(() => {
      // A hidden webview is torn down; it says "ready" again when shown.
      if (!panel.visible) this.ready = false;
    }));
    this.register(panel.onDidDispose(() => this.dispose()));
  }

  get isReady(): boolean {
    return this.ready;
  }

  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  /** Posts when the webview is listening; otherwise drops (the next "ready" resends the state). */
  protected post(message: ToWebviewMessage): void {
    if (this.ready && !this.isDisposed) void this.panel.webview.postMessage(message);
  }

  /** Posts a response even if the view is about to hide (the request came from a live webview). */
  protected reply(message: ToWebviewMessage): void {
    if (!this.isDisposed) void this.panel.webview.postMessage(message);
  }

  protected abstract onReady(): void;
  protected abstract onMessage(message: Exclude<FromWebviewMessage, { type: 'ready' }>): void | Promise<void>;

  private receive(raw: unknown): void {
    if (!isFromWebviewMessage(raw)) {
      console.warn(`gatescope: ${this.view} webview sent an invalid message`, raw);
      return;
    }
    if (raw.type === 'ready') {
      this.ready = true;
      this.post({ type: 'init', view: this.view, theme: themeKind() });
      this.onReady();
      return;
    }
    if (raw.type === 'webviewError') {
      console.error(`gatescope: ${this.view} webview error: ${raw.message}`);
      return;
    }
    Promise.resolve(this.onMessage(raw)).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      this.reply({ type: 'error', ...('id' in raw ? { id: raw.id } : {}), message });
    });
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.onDidDisposeEmitter.fire();
    super.dispose();
    this.panel.dispose();
  }
}
