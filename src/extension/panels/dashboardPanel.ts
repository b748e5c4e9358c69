// The training dashboard panel: follows the current (or latest) training run.
import type * as vscode from 'vscode';
import type { FromWebviewMessage } from '../../protocol/webview';
import { exactBuffer } from '../../protocol/webview';
import { MutableDisposable } from '../lifecycle';
import type { SeriesBuilder } from '../logic/series';
import type { TrainingRun } from '../services/trainingRun';
import type { TrainingService } from '../services/trainingService';
import { PanelHost } from './panelHost';

function buffers(s: SeriesBuilder): { steps: ArrayBuffer; values: ArrayBuffer } {
  return { steps: exactBuffer(s.steps()), values: exactBuffer(s.values()) };
}

export class DashboardPanel extends PanelHost {
  private readonly runListeners = this.register(new MutableDisposable<vscode.Disposable>());
  private followed: TrainingRun | undefined;

  constructor(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, private readonly training: TrainingService) {
    super('dashboard', panel, extensionUri);
    this.register(training.onDidStartRun((run) => this.follow(run, true)));
    const latest = training.latest;
    if (latest) this.follow(latest, false);
  }

  private follow(run: TrainingRun, reset: boolean): void {
    this.followed = run;
    const a = run.onDidEvent((e) => {
      if (e.kind === 'step' || e.kind === 'eval' || e.kind === 'sample') this.post({ type: 'trainEvent', runId: run.runId, event: e });
    });
    const b = run.onDidChangeStatus(() => this.sendHistory());
    this.runListeners.value = { dispose: () => { a.dispose(); b.dispose(); } };
    if (reset) this.post({ type: 'dashboardReset', run: run.summary() });
  }

  private sendHistory(): void {
    const run = this.followed;
    if (!run) return;
    this.post({
      type: 'dashboardHistory',
      run: run.summary(),
      train: buffers(run.train),
      validation: buffers(run.validation),
      gradNorm: buffers(run.gradNorm),
      ...(run.lastStep ? { lastStep: run.lastStep } : {}),
      saturation: run.saturation,
      samples: run.samples,
    });
  }

  protected onReady(): void {
    this.sendHistory();
  }

  protected onMessage(m: Exclude<FromWebviewMessage, { type: 'ready' }>): void {
    switch (m.type) {
      case 'cancelRun':
        this.training.cancel(m.runId);
        break;
      case 'requestWindow':
      case 'selectUnit':
      case 'findSpans':
      case 'revealInEditor':
      case 'webviewError':
        break; // not sent by this view
      default: {
        const never: never = m;
        void never;
      }
    }
  }
}
