// What a run directory's event stream says so far: the latest session's scalars, snapshots, watched
// modules and probe, and how it ended (or that it did not). Fed records as the tail delivers them; pure.
import type { EndRecord, ModuleDescription, ModuleInfo, RunRecord, SnapshotRecord, StartRecord } from './events';

export interface ScalarPoint {
  readonly name: string;
  readonly step: number;
  readonly value: number;
}

export interface RunSnapshot extends Omit<SnapshotRecord, 'kind'> {
  /** Position in the order the snapshots were (last) written. */
  readonly index: number;
}

export type RunPhase = 'waiting' | 'running' | 'ended' | 'stopped';

export interface RunOutcome {
  readonly phase: RunPhase;
  /** ok | error | interrupted | superseded (an end record), stopped (none, and its writer is gone). */
  readonly status?: string;
  /** The step it ended or stopped at (the last logged step when the end record has none). */
  readonly step?: number;
  /** One line for the view: "running, step 120", "stopped at step 120, no end record". */
  readonly text: string;
  readonly error?: string;
}

/** What one apply() changed: scalar points to append, or something that needs a full refresh. */
export interface RunChange {
  readonly points: ScalarPoint[];
  /** A session started (everything before it is dropped from the view). */
  readonly reset: boolean;
  /** Modules, probe, snapshots or the end changed. */
  readonly structure: boolean;
  readonly snapshots: RunSnapshot[];
}

export class RunState {
  /** Sessions seen (start records); the state below is the latest one's. */
  sessions = 0;
  /** Earlier sessions that have no end record (crashed, killed). */
  stoppedSessions = 0;
  start: StartRecord | undefined;
  readonly models = new Map<string, ModuleDescription>();
  readonly modules = new Map<string, ModuleInfo>();
  readonly scalars = new Map<string, { steps: number[]; values: number[] }>();
  /** By tag: a tag written again replaces the earlier snapshot. */
  readonly snapshots = new Map<string, RunSnapshot>();
  /** The probe's module names (null: all watched ones), once a probe record came. */
  probeNames: readonly string[] | null | undefined;
  probeText: unknown;
  lastStep: number | undefined;
  end: EndRecord | undefined;
  /** Lines that were not records (reported once in the view, never fatal). */
  badLines = 0;
  private nextIndex = 0;

  apply(records: readonly RunRecord[]): RunChange {
    const points: ScalarPoint[] = [];
    const snapshots: RunSnapshot[] = [];
    let reset = false;
    let structure = false;
    for (const r of records) {
      switch (r.kind) {
        case 'start':
          if (this.start && !this.end) this.stoppedSessions++;
          this.sessions++;
          this.clearSession();
          this.start = r;
          this.merge(r.models, r.modules);
          points.length = 0;
          snapshots.length = 0;
          reset = structure = true;
          break;
        case 'watch':
          this.merge(r.models, r.modules);
          structure = true;
          break;
        case 'probe':
          this.probeNames = r.names;
          this.probeText = r.text;
          structure = true;
          break;
        case 'scalar':
          this.lastStep = r.step;
          for (const [name, v] of Object.entries(r.values)) {
            if (v === null) continue;
            let s = this.scalars.get(name);
            if (!s) this.scalars.set(name, s = { steps: [], values: [] });
            s.steps.push(r.step);
            s.values.push(v);
            points.push({ name, step: r.step, value: v });
          }
          break;
        case 'snapshot': {
          const { kind: _kind, ...rest } = r;
          void _kind;
          const snap: RunSnapshot = { ...rest, index: this.nextIndex++ };
          this.snapshots.delete(r.tag);
          this.snapshots.set(r.tag, snap);
          snapshots.push(snap);
          if (r.step !== null) this.lastStep = Math.max(this.lastStep ?? r.step, r.step);
          structure = true;
          break;
        }
        case 'epoch':
          if (r.step !== null) this.lastStep = Math.max(this.lastStep ?? r.step, r.step);
          break;
        case 'end':
          this.end = r;
          structure = true;
          break;
        case 'other':
          break;
      }
    }
    return { points, reset, structure, snapshots };
  }

  /** Snapshots in the order they were written. */
  snapshotList(): RunSnapshot[] {
    return [...this.snapshots.values()].sort((a, b) => a.index - b.index);
  }

  /** The modules the probe feeds (all watched ones unless the probe record names some). */
  probedModules(): string[] {
    const all = [...this.models.keys()];
    return this.probeNames ? this.probeNames.filter((n) => all.includes(n) || !all.length) : all;
  }

  /**
   * How the latest session stands. `writerAlive`: whether the process that writes it still runs (false:
   * it is gone without an end record; undefined: not known, e.g. written on another machine).
   */
  outcome(writerAlive?: boolean): RunOutcome {
    if (!this.start) return { phase: 'waiting', text: 'waiting for the run to start' };
    const e = this.end;
    if (e) {
      const step = e.step ?? this.lastStep;
      const at = step === undefined ? '' : ` at step ${step}`;
      const text = e.status === 'ok' ? `ended${at}`
        : e.status === 'error' ? `failed${at}: ${e.error ?? 'error'}`
          : `${e.status}${at}`;
      return { phase: 'ended', status: e.status, ...(step === undefined ? {} : { step }), text, ...(e.error ? { error: e.error } : {}) };
    }
    const step = this.lastStep;
    if (writerAlive === false) {
      return { phase: 'stopped', status: 'stopped', ...(step === undefined ? {} : { step }), text: `stopped at ${step === undefined ? 'the start' : `step ${step}`}, no end record` };
    }
    return { phase: 'running', ...(step === undefined ? {} : { step }), text: step === undefined ? 'running' : `running, step ${step}` };
  }

  private merge(models: Readonly<Record<string, ModuleDescription>>, modules: Readonly<Record<string, ModuleInfo>>): void {
    for (const [k, v] of Object.entries(models)) this.models.set(k, v);
    for (const [k, v] of Object.entries(modules)) this.modules.set(k, v);
  }

  private clearSession(): void {
    this.start = undefined;
    this.end = undefined;
    this.models.clear();
    this.modules.clear();
    this.scalars.clear();
    this.snapshots.clear();
    this.probeNames = undefined;
    this.probeText = undefined;
    this.lastStep = undefined;
  }
}

/** The dashboard chart a scalar belongs on (its main loss charts), or undefined: shown among the others. */
export function dashboardSeries(name: string): 'train' | 'validation' | 'gradNorm' | undefined {
  const n = name.toLowerCase();
  if (n === 'loss' || n === 'train_loss' || n === 'training_loss') return 'train';
  if (n === 'val_loss' || n === 'validation_loss' || n === 'valid_loss' || n === 'eval_loss') return 'validation';
  if (n === 'grad_norm' || n === 'gradnorm' || n === 'gradient_norm') return 'gradNorm';
  return undefined;
}
