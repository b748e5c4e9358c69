// Starts and tracks training runs: one run trains at a time (starting another while one trains is refused:
// the Train command asks first and stops the current run with stopAndWait, logic/trainTwice.ts), a short
// history of finished runs for the tree view, and what happens when a run ends (checkpoint read, model
// registered — made current only as logic/trainTwice.ts's becomesCurrent says, so a cancelled or failed run
// never replaces the model in use — and a language model sampled at a few temperatures). Each time a run's
// checkpoint is (re)written, what the checkpoint lacks (gradient norms, gate saturation, samples) goes to its
// sidecar for a restored dashboard. A run whose worker died leaves its last checkpoint; the writer's
// leftover temp file next to it is removed.
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { taskOf } from '../../core/model';
import type { RunSummary } from '../../protocol/webview';
import { Disposable, Emitter, MutableDisposable } from '../lifecycle';
import { type BusyRun, becomesCurrent } from '../logic/trainTwice';
import type { Backend, ModelData, TrainOutcome, TrainSpec } from './backend';
import type { ModelStore } from './modelStore';
import { describeModel } from './modelStore';
import { TrainingRun } from './trainingRun';

const MAX_RUNS = 20;

/** start() while a run trains: stop it first (stopAndWait). */
export class TrainingBusyError extends Error {
  constructor(label: string) {
    super(`a training run is in progress (${label}): stop it before starting another`);
  }
}

/**
 * Temp files an interrupted atomic write of `path` left (src/node/atomicWrite.ts names them
 * `.<name>.<pid>.<time>.tmp` next to it): hidden, never taken for a model, removed once the writer is gone.
 */
export function removeStaleTemps(path: string): string[] {
  const name = basename(path);
  const dir = dirname(path);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const f of entries) {
    if (!f.startsWith(`.${name}.`) || !f.endsWith('.tmp')) continue;
    try {
      unlinkSync(join(dir, f));
      removed.push(f);
    } catch { /* gone already */ }
  }
  return removed;
}

export interface TrainingServiceOptions {
  /** Reads a checkpoint the run wrote. */
  readonly loadCheckpoint: (path: string) => Promise<ModelData>;
  readonly temperatures: () => readonly number[];
  readonly sampleLength: () => number;
}

export class TrainingService extends Disposable {
  private readonly currentRun = this.register(new MutableDisposable<TrainingRun>());
  private readonly history: TrainingRun[] = [];
  private counter = 0;

  private readonly onDidStartRunEmitter = this.register(new Emitter<TrainingRun>());
  /** A new run began (the dashboard resets and follows it). */
  readonly onDidStartRun = this.onDidStartRunEmitter.event;
  private readonly onDidChangeRunsEmitter = this.register(new Emitter<RunSummary>());
  /** A run changed status, got its checkpoint or its samples. */
  readonly onDidChangeRuns = this.onDidChangeRunsEmitter.event;

  constructor(
    private readonly backend: Backend,
    private readonly models: ModelStore,
    private readonly options: TrainingServiceOptions,
  ) {
    super();
  }

  get current(): TrainingRun | undefined {
    return this.currentRun.value;
  }

  /** The current run, or the most recent one. */
  get latest(): TrainingRun | undefined {
    return this.currentRun.value ?? this.history.at(-1);
  }

  get runs(): readonly TrainingRun[] {
    return this.history;
  }

  get isTraining(): boolean {
    return this.currentRun.value?.status === 'training';
  }

  /** The run in progress as logic/trainTwice.ts sees it, or undefined. */
  busy(): BusyRun | undefined {
    const run = this.currentRun.value;
    if (run?.status !== 'training') return undefined;
    return {
      runId: run.runId, label: run.label, stopping: run.stopping,
      ...(run.lastStep ? { step: run.lastStep.step, totalSteps: run.lastStep.totalSteps } : {}),
    };
  }

  /**
   * Stops run `runId` (when it is the one training) and resolves once it ended and was handled: its
   * checkpoint saved and read, its model registered (never made current over another, see becomesCurrent).
   */
  async stopAndWait(runId: string): Promise<void> {
    const run = this.currentRun.value;
    if (!run || run.runId !== runId) return;
    run.cancel();
    await run.finished;
    await run.settled;
  }

  /** Starts a run; refused (TrainingBusyError) while another trains: nothing is ever cancelled implicitly. */
  start(spec: TrainSpec, label: string): TrainingRun {
    const busy = this.currentRun.value;
    if (busy?.status === 'training') throw new TrainingBusyError(busy.label);
    const runId = `run-${Date.now().toString(36)}-${++this.counter}`;
    const run = new TrainingRun(runId, label, spec, this.backend);
    this.currentRun.value = run; // disposes the previous run (ended: nothing trains)
    this.history.push(run);
    if (this.history.length > MAX_RUNS) this.history.shift();
    run.onDidChangeStatus((s) => this.onDidChangeRunsEmitter.fire(s));
    this.onDidStartRunEmitter.fire(run);
    this.onDidChangeRunsEmitter.fire(run.summary());
    run.settled = run.finished.then((outcome) => this.finish(run, outcome));
    return run;
  }

  /** Drops an ended run from the list (the tree's "Remove from list"); a run that trains stays. */
  remove(runId: string): boolean {
    const k = this.history.findIndex((r) => r.runId === runId);
    const run = this.history[k];
    if (!run || run.status === 'training') return false;
    this.history.splice(k, 1);
    if (this.currentRun.value === run) this.currentRun.value = undefined; // ended: disposing it stops nothing
    this.onDidChangeRunsEmitter.fire(run.summary());
    return true;
  }

  cancel(runId?: string): void {
    const run = this.currentRun.value;
    if (run && (runId === undefined || run.runId === runId)) run.cancel();
  }

  private async finish(run: TrainingRun, outcome: TrainOutcome | undefined): Promise<void> {
    if (!outcome) {
      // Failed: its worker may have died mid-write; the previous checkpoint stands (the rename never happened).
      removeStaleTemps(run.spec.out);
      return;
    }
    if (this.isDisposed) return;
    let model: ModelData;
    try {
      model = await this.options.loadCheckpoint(outcome.path);
    } catch (err) {
      run.fail(`could not read the checkpoint ${outcome.path}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const makeCurrent = becomesCurrent(outcome.status, this.models.current !== undefined);
    this.models.add({
      id: outcome.path,
      label: `${run.label}${outcome.status === 'cancelled' ? ' (cancelled)' : ''}`,
      path: outcome.path,
      origin: 'trained',
      data: model,
      engine: outcome.engine,
      runId: run.runId,
      ...(run.train.last() !== undefined ? { loss: run.train.last()! } : {}),
    }, makeCurrent);
    run.touch();
    if (taskOf(model.config) === 'lm') await this.sampleTemperatures(run, model, outcome.steps); // a classifier generates nothing
  }

  private async sampleTemperatures(run: TrainingRun, model: ModelData, step: number): Promise<void> {
    const temps = this.options.temperatures();
    try {
      const texts = await Promise.all(temps.map((temperature, k) =>
        this.backend.sample(model, { prime: '', length: this.options.sampleLength(), temperature, seed: 1000 + k })));
      run.addSamples(temps.map((temperature, k) => ({ step, temperature, text: texts[k] })));
      run.touch();
    } catch (err) {
      console.error(`gatescope: sampling ${describeModel({ data: model })} failed`, err);
    }
  }
}
