// The training dashboard panel: follows the current (or latest) training run. After a window reload
// (no run in this extension host yet) it shows the run the webview remembered, read back from its checkpoint.
import type * as vscode from 'vscode';
import type { TrainingState } from '../../core/checkpoint';
import type { DashboardHistoryMessage, FromWebviewMessage, TrainEvent } from '../../protocol/webview';
import { exactBuffer } from '../../protocol/webview';
import { MutableDisposable } from '../lifecycle';
import { restoredHistory } from '../logic/restoredRun';
import { Batcher, type SeriesBuilder } from '../logic/series';
import type { DashboardViewState } from '../logic/viewState';
import type { DashboardFeed } from '../services/runWatcher';
import type { TrainingRun } from '../services/trainingRun';
import type { TrainingService } from '../services/trainingService';
import { PanelHost } from './panelHost';

function buffers(s: SeriesBuilder): { steps: ArrayBuffer; values: ArrayBuffer } {
  return { steps: exactBuffer(s.steps()), values: exactBuffer(s.values()) };
}

/** Reads a checkpoint's training state (the loss histories). */
export type TrainingStateReader = (path: string) => Promise<TrainingState | undefined>;

/** Live events go to the webview in batches at most this often (a small model trains ~2000 steps/s). */
export const DASHBOARD_FLUSH_MS = 100;

export class DashboardPanel extends PanelHost {
  private readonly runListeners = this.register(new MutableDisposable<vscode.Disposable>());
  private followed: TrainingRun | undefined;
  /** A run directory written by another program (Open run…), shown instead of a training run. */
  private feed: DashboardFeed | undefined;
  private readonly feedListener = this.register(new MutableDisposable<vscode.Disposable>());
  /** The remembered run of a restored panel, once its checkpoint was read (until a run is followed). */
  private restored: DashboardHistoryMessage | undefined;
  /** Live events of the followed run, posted in batches (every point kept, in order). */
  private readonly events = this.register(new Batcher<TrainEvent>(DASHBOARD_FLUSH_MS, (events) => {
    if (this.followed) this.post({ type: 'trainEvents', runId: this.followed.runId, events });
  }));

  constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly training: TrainingService,
    remembered?: { state: DashboardViewState; read: TrainingStateReader },
  ) {
    super('dashboard', panel, extensionUri);
    this.register(training.onDidStartRun((run) => this.follow(run, true)));
    const latest = training.latest;
    if (latest) this.follow(latest, false);
    else if (remembered?.state.run) void this.restore(remembered.state, remembered.read);
  }

  private async restore(state: DashboardViewState, read: TrainingStateReader): Promise<void> {
    const run = state.run!;
    const samples = state.samples ?? [];
    let message: DashboardHistoryMessage;
    if (!run.checkpointPath) {
      message = restoredHistory(run, undefined, samples, 'the run saved no checkpoint');
    } else {
      try {
        message = restoredHistory(run, await read(run.checkpointPath), samples);
      } catch (err) {
        message = restoredHistory(run, undefined, samples, err instanceof Error ? err.message : String(err));
      }
    }
    if (this.isDisposed || this.followed) return; // a new run took the dashboard meanwhile
    this.restored = message;
    this.sendHistory();
  }

  /** Shows an external run (until the next training run starts or another run is shown). */
  showExternal(feed: DashboardFeed): void {
    this.followed = undefined;
    this.runListeners.value = undefined;
    this.feed = feed;
    this.feedListener.value = feed.onDidPost((m) => this.post(m));
    this.sendHistory();
  }

  /** Shows one of this session's runs (a click on an older run in the tree): its history, read-only once it ended. */
  showRun(runId: string): boolean {
    const run = this.training.runs.find((r) => r.runId === runId);
    if (!run) return false;
    if (run !== this.followed || this.feed) this.follow(run, false);
    this.sendHistory();
    return true;
  }

  private follow(run: TrainingRun, reset: boolean): void {
    this.feed = undefined;
    this.feedListener.value = undefined;
    this.followed = run;
    this.events.clear();
    const a = run.onDidEvent((e) => {
      // A hidden webview gets nothing: when it says "ready" again it gets the whole history, these events in it.
      if ((e.kind === 'step' || e.kind === 'eval' || e.kind === 'sample') && this.isReady) this.events.push(e);
    });
    const b = run.onDidChangeStatus(() => this.sendHistory());
    this.runListeners.value = { dispose: () => { a.dispose(); b.dispose(); } };
    if (reset) this.post({ type: 'dashboardReset', run: run.summary() });
  }

  private sendHistory(): void {
    if (this.feed) {
      for (const m of this.feed.messages()) this.post(m);
      return;
    }
    this.events.clear(); // the history holds them
    const run = this.followed;
    if (!run) {
      if (this.restored) this.post(this.restored);
      return;
    }
    this.post({
      type: 'dashboardHistory',
      run: run.summary(),
      train: buffers(run.train),
      validation: buffers(run.validation),
      gradNorm: buffers(run.gradNorm),
      accuracy: buffers(run.accuracy),
      validationAccuracy: buffers(run.validationAccuracy),
      ...(run.lastStep ? { lastStep: run.lastStep } : {}),
      ...(run.validationCover ? { validationCover: run.validationCover } : {}),
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
      case 'requestRunProbe': {
        const feed = this.feed;
        if (feed?.runId !== m.runId) this.reply({ type: 'error', id: m.id, message: 'that run is no longer shown' });
        else feed.probe(m).then((r) => this.reply(r), (e: unknown) => this.reply({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) }));
        break;
      }
      default: {
        const never: never = m;
        void never;
      }
    }
  }
}
