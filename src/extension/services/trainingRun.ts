// One training run as the extension sees it: the job in the worker, its live histories (what the
// dashboard replays after a reload) and its status. Disposing a run cancels its job.
import type { TrainSettings } from '../../core/checkpoint';
import type { StepEvent } from '../../core/train/events';
import { trainSettings } from '../../core/train/settings';
import type { TrainRunEvent } from '../../node/trainRun';
import type { RunStatus, RunSummary, SampleAtTemperature, SaturationPoint, Task, ValidationCover } from '../../protocol/webview';
import { Disposable, Emitter } from '../lifecycle';
import { MAX_SAMPLES, mergeSamples } from '../logic/samples';
import { SeriesBuilder } from '../logic/series';
import { runFailureText } from '../logic/workerLimits';
import type { Backend, TrainJob, TrainOutcome, TrainSpec } from './backend';


/** What the dashboard says about a run's schedule: when the first evaluation and sample come, the clip line. */
function settingsSummary(settings: Partial<TrainSettings>): Pick<RunSummary, 'evalEvery' | 'sampleEvery' | 'clip'> {
  const st = trainSettings(settings);
  return { evalEvery: st.evalEvery, sampleEvery: st.sampleEvery, ...(st.clip > 0 ? { clip: st.clip } : {}) };
}

export class TrainingRun extends Disposable {
  readonly train = new SeriesBuilder();
  readonly validation = new SeriesBuilder();
  readonly gradNorm = new SeriesBuilder();
  /** Classifier: each step's batch accuracy, and the validation accuracy per evaluation. */
  readonly accuracy = new SeriesBuilder();
  readonly validationAccuracy = new SeriesBuilder();
  readonly saturation: SaturationPoint[] = [];
  /** What the latest evaluation read of the validation split. */
  validationCover: ValidationCover | undefined;
  samples: SampleAtTemperature[] = [];
  lastStep: StepEvent | undefined;
  private statusValue: RunStatus = 'training';
  private errorText: string | undefined;
  engine: string | undefined;
  checkpointPath: string | undefined;
  /** The last checkpoint the run wrote (it survives a failure: writes are atomic). */
  lastSaved: { readonly path: string; readonly step: number } | undefined;
  /** A stop was asked for; the run is saving its checkpoint and ending. */
  stopping = false;
  /** A language model (from text) or a sequence classifier (from labelled examples). */
  readonly task: Task;
  /** The model in one line and a classifier's class names, from the run's start. */
  model: string | undefined;
  classes: readonly string[] | undefined;
  private readonly job: TrainJob;
  /** Settles when the job ends: the outcome, or undefined when it failed. */
  readonly finished: Promise<TrainOutcome | undefined>;
  /** Settles after the service handled the end (checkpoint read, model registered, samples taken). */
  settled: Promise<void>;

  private readonly onDidEventEmitter = this.register(new Emitter<TrainRunEvent>());
  readonly onDidEvent = this.onDidEventEmitter.event;
  private readonly onDidChangeStatusEmitter = this.register(new Emitter<RunSummary>());
  readonly onDidChangeStatus = this.onDidChangeStatusEmitter.event;

  constructor(
    readonly runId: string,
    readonly label: string,
    readonly spec: TrainSpec,
    backend: Backend,
  ) {
    super();
    this.task = spec.classify ? 'classify' : 'lm';
    this.job = backend.train(spec, (e) => this.accept(e));
    this.register(this.job);
    this.settled = Promise.resolve();
    this.finished = this.job.done.then(
      (outcome) => {
        this.engine = outcome.engine;
        this.checkpointPath = outcome.path;
        this.setStatus(outcome.status);
        return outcome;
      },
      (err: unknown) => {
        this.errorText = runFailureText(err instanceof Error ? err.message : String(err), this.lastSaved);
        this.setStatus('failed');
        return undefined;
      },
    );
  }

  get status(): RunStatus {
    return this.statusValue;
  }

  get error(): string | undefined {
    return this.errorText;
  }

  summary(): RunSummary {
    return {
      runId: this.runId,
      label: this.label,
      status: this.statusValue,
      totalSteps: this.lastStep?.totalSteps ?? this.spec.settings.steps ?? 0,
      ...(this.engine ? { engine: this.engine } : {}),
      ...(this.checkpointPath ? { checkpointPath: this.checkpointPath } : {}),
      ...(this.errorText ? { error: this.errorText } : {}),
      task: this.task,
      ...(this.model ? { model: this.model } : {}),
      ...(this.classes ? { classes: this.classes } : {}),
      ...(this.spec.level ? { tokenLevel: this.spec.level } : {}),
      ...settingsSummary(this.spec.settings),
    };
  }

  /** Stops the job (the trainer keeps the weights of the last finished step). */
  cancel(): void {
    if (this.statusValue === 'training') this.stopping = true;
    this.job.dispose();
  }

  addSamples(samples: readonly SampleAtTemperature[]): void {
    this.samples = mergeSamples(this.samples, samples, MAX_SAMPLES);
  }

  /** The run ended but its result is unusable (e.g. the checkpoint cannot be read). */
  fail(message: string): void {
    this.errorText = message;
    this.statusValue = 'failed';
    this.onDidChangeStatusEmitter.fire(this.summary());
  }

  /** Announce a change that is not a status change (e.g. the checkpoint got written). */
  touch(): void {
    this.onDidChangeStatusEmitter.fire(this.summary());
  }

  private accept(e: TrainRunEvent): void {
    if (this.isDisposed) return;
    switch (e.kind) {
      case 'start':
        this.engine = e.engine;
        this.model = e.model;
        if (e.classification) this.classes = e.classification.classes;
        this.onDidChangeStatusEmitter.fire(this.summary()); // the views learn the model
        break;
      case 'saved':
        // Views remember the run by its checkpoint: tell them it exists (it may land after the status change).
        this.checkpointPath = e.path;
        this.lastSaved = { path: e.path, step: e.step };
        this.onDidChangeStatusEmitter.fire(this.summary());
        break;
      case 'done':
        break;
      case 'step':
        this.lastStep = e;
        this.train.push(e.step, e.loss);
        this.gradNorm.push(e.step, e.gradNorm);
        if (e.accuracy !== undefined) this.accuracy.push(e.step, e.accuracy);
        break;
      case 'eval':
        this.validation.push(e.step, e.validationLoss);
        if (e.validationAccuracy !== undefined) this.validationAccuracy.push(e.step, e.validationAccuracy);
        this.saturation.push({ step: e.step, entries: e.gateSaturation });
        this.validationCover = { batches: e.validationBatches, of: e.validationBatchesTotal };
        break;
      case 'sample':
        this.addSamples([{ step: e.step, temperature: e.temperature, text: e.text }]);
        break;
      default: {
        const never: never = e;
        void never;
      }
    }
    this.onDidEventEmitter.fire(e);
  }

  private setStatus(status: RunStatus): void {
    if (this.statusValue !== 'training') return;
    this.statusValue = status;
    this.onDidChangeStatusEmitter.fire(this.summary());
  }

  override dispose(): void {
    if (this.statusValue === 'training') this.job.dispose();
    super.dispose();
  }
}
