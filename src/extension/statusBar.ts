// Status bar item while training: step, loss and throughput; click opens the dashboard.
import * as vscode from 'vscode';
import { Disposable, MutableDisposable } from './lifecycle';
import type { TrainingRun } from './services/trainingRun';
import type { TrainingService } from './services/trainingService';

export class TrainingStatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('gatescope.training', vscode.StatusBarAlignment.Left, 50));
  private readonly runListener = this.register(new MutableDisposable<vscode.Disposable>());
  private lastUpdate = 0;

  constructor(training: TrainingService) {
    super();
    this.item.name = 'gatescope training';
    this.item.command = 'gatescope.showDashboard';
    this.register(training.onDidStartRun((run) => this.follow(run)));
  }

  private follow(run: TrainingRun): void {
    const a = run.onDidEvent((e) => {
      if (e.kind !== 'step') return;
      const now = Date.now();
      if (now - this.lastUpdate < 250 && e.step !== e.totalSteps) return; // throttle repaints
      this.lastUpdate = now;
      this.item.text = `$(sync~spin) ${run.label}: step ${e.step}/${e.totalSteps} · loss ${e.loss.toFixed(3)} · ${Math.round(e.tokensPerSecond)} tok/s`;
    });
    const b = run.onDidChangeStatus((s) => {
      if (s.status === 'training') return;
      this.item.text = s.status === 'done' ? `$(check) ${run.label}: done` : s.status === 'cancelled' ? `$(circle-slash) ${run.label}: cancelled` : `$(error) ${run.label}: failed`;
      this.item.tooltip = s.error ?? s.checkpointPath;
      setTimeout(() => { if (!this.isDisposed && run.status !== 'training') this.item.hide(); }, 15_000);
    });
    this.runListener.value = { dispose: () => { a.dispose(); b.dispose(); } };
    this.item.text = `$(sync~spin) ${run.label}: starting…`;
    this.item.tooltip = 'gatescope is training; click for the dashboard';
    this.item.show();
  }
}
