// VS Code-style lifecycle without importing vscode (so services can be unit-tested on plain node):
// disposables, a store of them, a holder whose new value disposes the old, and typed event emitters.

export interface IDisposable {
  dispose(): void;
}

export function toDisposable(fn: () => void): IDisposable {
  let done = false;
  return { dispose: () => { if (!done) { done = true; fn(); } } };
}

export class DisposableStore implements IDisposable {
  private readonly items = new Set<IDisposable>();
  private disposed = false;

  get isDisposed(): boolean {
    return this.disposed;
  }

  add<T extends IDisposable>(item: T): T {
    if (this.disposed) item.dispose(); // adding to a dead store would leak: dispose at once
    else this.items.add(item);
    return item;
  }

  delete(item: IDisposable): void {
    if (this.items.delete(item)) item.dispose();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    for (const item of [...this.items].reverse()) {
      try { item.dispose(); } catch (e) { errors.push(e); }
    }
    this.items.clear();
    if (errors.length) throw errors[0];
  }
}

export abstract class Disposable implements IDisposable {
  private readonly store = new DisposableStore();

  protected register<T extends IDisposable>(item: T): T {
    return this.store.add(item);
  }

  protected get isDisposed(): boolean {
    return this.store.isDisposed;
  }

  dispose(): void {
    this.store.dispose();
  }
}

/** Holds at most one disposable; assigning a new value disposes the previous one (the current run). */
export class MutableDisposable<T extends IDisposable> implements IDisposable {
  private current: T | undefined;
  private disposed = false;

  get value(): T | undefined {
    return this.current;
  }

  set value(next: T | undefined) {
    if (this.disposed) {
      next?.dispose();
      return;
    }
    if (next === this.current) return;
    const old = this.current;
    this.current = next;
    old?.dispose();
  }

  /** Forget the value without disposing it (it disposed itself, or someone else owns it now). */
  clearIfSame(item: T): void {
    if (this.current === item) this.current = undefined;
  }

  dispose(): void {
    this.disposed = true;
    const old = this.current;
    this.current = undefined;
    old?.dispose();
  }
}

/** The shape of vscode.Event, so VS Code APIs accept our events. */
export type Event<T> = (listener: (e: T) => unknown, thisArgs?: unknown, disposables?: IDisposable[]) => IDisposable;

export class Emitter<T> implements IDisposable {
  private listeners = new Set<(e: T) => unknown>();
  private disposed = false;

  readonly event: Event<T> = (listener, thisArgs, disposables) => {
    const bound = thisArgs === undefined ? listener : listener.bind(thisArgs);
    if (this.disposed) return toDisposable(() => undefined);
    this.listeners.add(bound);
    const d = toDisposable(() => this.listeners.delete(bound));
    disposables?.push(d);
    return d;
  };

  get listenerCount(): number {
    return this.listeners.size;
  }

  fire(e: T): void {
    for (const l of [...this.listeners]) {
      try { l(e); } catch (err) { console.error('gatescope: event listener failed', err); }
    }
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}
