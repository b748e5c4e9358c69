// The dashboard after a window reload: the training run is gone with the old extension host, but its
// checkpoint keeps the run's histories (loss, validation, gradient norm, gate saturation, samples). This
// rebuilds the dashboard's history message from those plus what the webview remembered (the run's summary
// and the samples made after training). Pure: no vscode, no fs.
import type { LossPoint, TrainingState } from '../../core/checkpoint';
import { type DashboardHistoryMessage, float64Buffer, type RunStatus, type RunSummary, type SampleAtTemperature, type SeriesBuffers } from '../../protocol/webview';
import { mergeSamples } from './samples';

function seriesOf(points: readonly { readonly step: number; readonly loss: number }[]): SeriesBuffers {
  return { steps: float64Buffer(points.map((p) => p.step)), values: float64Buffer(points.map((p) => p.loss)) };
}

/** A classifier's accuracy at the points that carry one. */
function accuracyOf(points: readonly LossPoint[]): SeriesBuffers {
  const scored = points.filter((p) => p.accuracy !== undefined);
  return { steps: float64Buffer(scored.map((p) => p.step)), values: float64Buffer(scored.map((p) => p.accuracy!)) };
}

/** Evaluation and sample intervals and the clip: the checkpoint's settings, else what the webview remembered. */
function scheduleOf(run: RunSummary, training: TrainingState | undefined): Pick<RunSummary, 'evalEvery' | 'sampleEvery' | 'clip'> {
  const st = training?.settings;
  if (!st) return { ...(run.evalEvery !== undefined ? { evalEvery: run.evalEvery } : {}), ...(run.sampleEvery !== undefined ? { sampleEvery: run.sampleEvery } : {}), ...(run.clip !== undefined ? { clip: run.clip } : {}) };
  return { evalEvery: st.evalEvery, sampleEvery: st.sampleEvery, ...(st.clip > 0 ? { clip: st.clip } : {}) };
}

const EMPTY: readonly LossPoint[] = [];

/**
 * A run that was still training when the window went away cannot go on (its worker died with the old
 * extension host): it ended where its checkpoint stops, done if that is the last step, else cancelled.
 */
export function restoredStatus(remembered: RunStatus, training: TrainingState | undefined): RunStatus {
  if (remembered !== 'training') return remembered;
  if (!training) return 'cancelled';
  return training.step >= training.settings.steps ? 'done' : 'cancelled';
}

/**
 * The history message of a restored run. `training` is the checkpoint's training state (undefined when the
 * checkpoint could not be read: then `readError` says why and the run shows without curves). `samples`
 * (the webview's) join the checkpoint's, each listed once.
 */
export function restoredHistory(
  run: RunSummary,
  training: TrainingState | undefined,
  samples: readonly SampleAtTemperature[],
  readError?: string,
): DashboardHistoryMessage {
  const status = restoredStatus(run.status, training);
  const error = readError ?? run.error;
  const last = training?.lossHistory.at(-1);
  const withGradNorm = (training?.lossHistory ?? EMPTY).filter((p) => p.gradNorm !== undefined);
  const summary: RunSummary = {
    runId: run.runId, label: run.label, status,
    totalSteps: training?.settings.steps ?? run.totalSteps,
    ...(run.engine ? { engine: run.engine } : {}),
    ...(run.checkpointPath ? { checkpointPath: run.checkpointPath } : {}),
    ...(error ? { error } : {}),
    ...(run.task ? { task: run.task } : {}),
    ...(run.model ? { model: run.model } : {}),
    ...(run.classes ? { classes: run.classes } : {}),
    ...(run.tokenLevel ? { tokenLevel: run.tokenLevel } : {}),
    ...scheduleOf(run, training),
  };
  return {
    type: 'dashboardHistory',
    run: summary,
    train: seriesOf(training?.lossHistory ?? EMPTY),
    validation: seriesOf(training?.validationHistory ?? EMPTY),
    gradNorm: { steps: float64Buffer(withGradNorm.map((p) => p.step)), values: float64Buffer(withGradNorm.map((p) => p.gradNorm!)) },
    accuracy: accuracyOf(training?.lossHistory ?? EMPTY),
    validationAccuracy: accuracyOf(training?.validationHistory ?? EMPTY),
    ...(training && last ? {
      lastStep: {
        kind: 'step', step: training.step, totalSteps: training.settings.steps, epoch: training.epoch, loss: last.loss,
        gradNorm: last.gradNorm ?? NaN, lr: training.settings.optimizer.lr, tokensPerSecond: NaN, elapsedSeconds: training.elapsedSeconds,
        ...(last.accuracy !== undefined ? { accuracy: last.accuracy } : {}),
      },
    } : {}),
    saturation: (training?.validationHistory ?? EMPTY).filter((p) => p.saturation).map((p) => ({ step: p.step, entries: p.saturation! })),
    samples: mergeSamples(training?.samples ?? [], samples),
  };
}

/**
 * The run a restored dashboard shows: the webview's own memory, unless the extension host remembered a run
 * with a checkpoint that the webview lacks (webview state may be persisted before the run's last update).
 */
export function runToRestore(fromWebview: RunSummary | undefined, fromHost: RunSummary | undefined): RunSummary | undefined {
  if (!fromHost?.checkpointPath) return fromWebview;
  if (!fromWebview || fromWebview.runId === fromHost.runId || !fromWebview.checkpointPath) return fromHost;
  return fromWebview;
}
