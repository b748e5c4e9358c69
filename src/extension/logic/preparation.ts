// How far the worker's preparation of a traced document got, on the host: the trace is usable while it
// prepares (windows the sweep has passed), so readers wait for their part instead of for the whole document.
import { Emitter } from '../lifecycle';

export type PreparationState = 'preparing' | 'ready' | 'cancelled' | 'failed';

export interface PreparationSnapshot {
  readonly state: PreparationState;
  /** Work done out of `total` (tokens for one sweep; bidirectional stacks sweep several times). */
  readonly done: number;
  readonly total: number;
  /** Windows starting before this token can be computed now (the document's length once ready). */
  readonly available: number;
}

export class PreparationCancelledError extends Error {
  constructor() {
    super('the trace preparation was cancelled');
  }
}

interface Waiter {
  readonly start: number;
  resolve(): void;
  reject(e: Error): void;
}

export class PreparationProgress {
  private snapshot: PreparationSnapshot;
  private error: Error | undefined;
  private waiters: Waiter[] = [];
  private readonly onDidChangeEmitter = new Emitter<PreparationSnapshot>();
  readonly onDidChange = this.onDidChangeEmitter.event;
  /** Resolves when the whole document is prepared; rejects when preparation is cancelled or fails. */
  readonly finished: Promise<void>;
  private settle!: { resolve(): void; reject(e: Error): void };

  constructor(readonly length: number, total = length) {
    this.snapshot = { state: 'preparing', done: 0, total, available: 0 };
    this.finished = new Promise<void>((resolve, reject) => { this.settle = { resolve, reject }; });
    this.finished.catch(() => undefined); // observed by whoever awaits it
  }

  get current(): PreparationSnapshot {
    return this.snapshot;
  }

  get fraction(): number {
    return this.snapshot.total > 0 ? Math.min(1, this.snapshot.done / this.snapshot.total) : 1;
  }

  /** Whether a window starting at `start` can be computed now. */
  isAvailable(start: number): boolean {
    return this.snapshot.state === 'ready' || start < this.snapshot.available;
  }

  /** Resolves once a window starting at `start` can be computed; rejects if preparation stops first. */
  whenAvailable(start: number): Promise<void> {
    if (this.isAvailable(start)) return Promise.resolve();
    if (this.error) return Promise.reject(this.error);
    return new Promise<void>((resolve, reject) => this.waiters.push({ start, resolve, reject }));
  }

  update(done: number, total: number, available: number): void {
    if (this.snapshot.state !== 'preparing') return;
    // Messages arrive in order, but never let the available prefix shrink.
    this.snapshot = { state: 'preparing', done, total, available: Math.max(this.snapshot.available, Math.min(available, this.length)) };
    this.release();
    this.onDidChangeEmitter.fire(this.snapshot);
  }

  finish(): void {
    if (this.snapshot.state !== 'preparing') return;
    this.snapshot = { state: 'ready', done: this.snapshot.total, total: this.snapshot.total, available: this.length };
    this.release();
    this.settle.resolve();
    this.onDidChangeEmitter.fire(this.snapshot);
  }

  /** Preparation stopped: waiting readers get `error` (a PreparationCancelledError when cancelled). */
  fail(error: Error): void {
    if (this.snapshot.state !== 'preparing') return;
    this.error = error;
    this.snapshot = { ...this.snapshot, state: error instanceof PreparationCancelledError ? 'cancelled' : 'failed' };
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(error);
    this.settle.reject(error);
    this.onDidChangeEmitter.fire(this.snapshot);
  }

  dispose(): void {
    this.fail(new PreparationCancelledError());
    this.onDidChangeEmitter.dispose();
  }

  private release(): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.isAvailable(w.start)) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
