// One panel per view kind: created on demand, revealed when it exists, restored after a window reload
// by a WebviewPanelSerializer (the webview's own getState keeps its view settings).
import * as vscode from 'vscode';
import type { ViewKind } from '../../protocol/webview';
import { Disposable, Emitter, MutableDisposable } from '../lifecycle';
import { runToRestore } from '../logic/restoredRun';
import { type DashboardViewState, parseRunSummary, parseViewState } from '../logic/viewState';
import { readTrainingState } from '../services/checkpointHistory';
import type { TraceService } from '../services/traceService';
import type { TrainingService } from '../services/trainingService';
import { DashboardPanel } from './dashboardPanel';
import { DiffPanel } from './diffPanel';
import { createPanel, type PanelHost, VIEW_TYPES } from './panelHost';
import { type TraceEditorBridge, TracePanel } from './tracePanel';

export class PanelManager extends Disposable {
  private readonly dashboard = this.register(new MutableDisposable<DashboardPanel>());
  private readonly trace = this.register(new MutableDisposable<TracePanel>());
  private readonly diff = this.register(new MutableDisposable<DiffPanel>());
  private readonly onDidRestoreExternalRunEmitter = this.register(new Emitter<string>());
  /** A reloaded dashboard was following a PyTorch run directory: follow it again (fired with the directory). */
  readonly onDidRestoreExternalRun = this.onDidRestoreExternalRunEmitter.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly training: TrainingService,
    private readonly traces: TraceService,
    private readonly bridge: TraceEditorBridge,
    /** The last run the extension host saw (kept in workspace state), for restoring the dashboard. */
    private readonly lastRun: () => unknown = () => undefined,
  ) {
    super();
    for (const view of ['dashboard', 'trace', 'diff'] as const) {
      this.register(vscode.window.registerWebviewPanelSerializer(VIEW_TYPES[view], {
        deserializeWebviewPanel: async (panel, state: unknown) => { this.adopt(view, panel, state); },
      }));
    }
  }

  /** Kinds of the panels open now, with their titles (for the test-state snapshot). */
  openPanels(): { view: ViewKind; title: string; visible: boolean; ready: boolean }[] {
    const all: (PanelHost | undefined)[] = [this.dashboard.value, this.trace.value, this.diff.value];
    return all.filter((p): p is PanelHost => !!p).map((p) => ({ view: p.view, title: p.panel.title, visible: p.panel.visible, ready: p.isReady }));
  }

  showDashboard(): DashboardPanel {
    return this.dashboard.value ?? this.adopt('dashboard', createPanel('dashboard', this.extensionUri)) as DashboardPanel;
  }

  showTrace(): TracePanel {
    const p = this.trace.value ?? this.adopt('trace', createPanel('trace', this.extensionUri)) as TracePanel;
    p.reveal();
    return p;
  }

  get tracePanel(): TracePanel | undefined {
    return this.trace.value;
  }

  get diffPanel(): DiffPanel | undefined {
    return this.diff.value;
  }

  showDiff(): DiffPanel {
    const p = this.diff.value ?? this.adopt('diff', createPanel('diff', this.extensionUri)) as DiffPanel;
    p.reveal();
    return p;
  }

  /** `state`: what the webview saved before a window reload (only restored panels have one). */
  private adopt(view: ViewKind, panel: vscode.WebviewPanel, state?: unknown): PanelHost {
    switch (view) {
      case 'dashboard': {
        const saved = parseViewState('dashboard', state) as DashboardViewState;
        const run = runToRestore(saved.run, parseRunSummary(this.lastRun()));
        // An external run has no checkpoint to restore from: its directory is followed again instead.
        const external = run?.external ? run.runDir : undefined;
        const remembered = external ? undefined : { state: { ...saved, ...(run ? { run } : {}) }, read: readTrainingState };
        const p = new DashboardPanel(panel, this.extensionUri, this.training, remembered);
        this.dashboard.value = p;
        p.onDidDispose(() => this.dashboard.clearIfSame(p));
        if (external) this.onDidRestoreExternalRunEmitter.fire(external);
        return p;
      }
      case 'trace': {
        const p = new TracePanel(panel, this.extensionUri, this.traces, this.bridge);
        this.trace.value = p;
        p.onDidDispose(() => this.trace.clearIfSame(p));
        return p;
      }
      case 'diff': {
        const p = new DiffPanel(panel, this.extensionUri);
        this.diff.value = p;
        p.onDidDispose(() => this.diff.clearIfSame(p));
        return p;
      }
    }
  }
}
