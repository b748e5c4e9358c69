// Traces an edited document again once typing pauses: the latest edit restarts the wait, and a document is
// never re-traced twice at once (an edit made while one is starting schedules one more after it).

export class EditFollower {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly starting = new Set<string>();
  private readonly again = new Set<string>();
  private disposed = false;

  /** `retrace(key)` resolves once the new trace has started (its preparation may still run). */
  constructor(private readonly retrace: (key: string) => Promise<void>, private readonly quietMs: number) {}

  /** The document `key` was edited. */
  edited(key: string): void {
    if (this.disposed) return;
    const pending = this.timers.get(key);
    if (pending) clearTimeout(pending);
    this.timers.set(key, setTimeout(() => this.fire(key), this.quietMs));
  }

  /** The document closed or its trace went away: nothing more for it. */
  forget(key: string): void {
    const pending = this.timers.get(key);
    if (pending) clearTimeout(pending);
    this.timers.delete(key);
    this.again.delete(key);
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.again.clear();
  }

  private fire(key: string): void {
    this.timers.delete(key);
    if (this.starting.has(key)) {
      this.again.add(key);
      return;
    }
    this.starting.add(key);
    this.retrace(key).catch(() => undefined).finally(() => {
      this.starting.delete(key);
      if (this.again.delete(key)) this.edited(key);
    });
  }
}
