// The diff panel: shows one comparison report (pushed by the compare command).
import type * as vscode from 'vscode';
import type { DiffViewModel, FromWebviewMessage } from '../../protocol/webview';
import { PanelHost } from './panelHost';

export class DiffPanel extends PanelHost {
  private report: DiffViewModel | undefined;

  constructor(panel: vscode.WebviewPanel, extensionUri: vscode.Uri) {
    super('diff', panel, extensionUri);
  }

  get current(): DiffViewModel | undefined {
    return this.report;
  }

  show(report: DiffViewModel): void {
    this.report = report;
    this.panel.title = `gatescope: ${report.title}`;
    this.post({ type: 'diffReport', report });
  }

  protected onReady(): void {
    if (this.report) this.post({ type: 'diffReport', report: this.report });
  }

  protected onMessage(_m: Exclude<FromWebviewMessage, { type: 'ready' }>): void {
    // The diff view only displays; it sends nothing but "ready".
  }
}
