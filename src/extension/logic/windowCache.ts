// A least-recently-used cache of fixed-size timestep blocks with in-flight de-duplication: hovers and
// the trace view ask for windows of a long document; the worker is asked once per block.

export interface BlockRange {
  readonly block: number;
  readonly start: number;
  readonly end: number; // exclusive
}

/** The aligned blocks that cover [start, end) of a sequence of `length` timesteps. */
export function blocksCovering(start: number, end: number, blockSize: number, length: number): BlockRange[] {
  if (blockSize < 1) throw new Error(`block size must be positive, got ${blockSize}`);
  const lo = Math.max(0, Math.min(start, length));
  const hi = Math.max(lo, Math.min(end, length));
  const out: BlockRange[] = [];
  if (hi === lo) return out;
  for (let b = Math.floor(lo / blockSize); b * blockSize < hi; b++) {
    out.push({ block: b, start: b * blockSize, end: Math.min(length, (b + 1) * blockSize) });
  }
  return out;
}

export class WindowCache<T> {
  private readonly entries = new Map<number, T>();
  private readonly pending = new Map<number, Promise<T>>();
  private generation = 0;

  constructor(
    readonly blockSize: number,
    private readonly maxBlocks: number,
    private readonly load: (range: BlockRange) => Promise<T>,
  ) {
    if (maxBlocks < 1) throw new Error(`cache must hold at least one block, got ${maxBlocks}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached block, refreshed as most recently used; undefined when not loaded yet. */
  peek(block: number): T | undefined {
    const v = this.entries.get(block);
    if (v !== undefined) {
      this.entries.delete(block);
      this.entries.set(block, v);
    }
    return v;
  }

  /** The block, loading it once however many callers ask at the same time. */
  get(range: BlockRange): Promise<T> {
    const hit = this.peek(range.block);
    if (hit !== undefined) return Promise.resolve(hit);
    const inFlight = this.pending.get(range.block);
    if (inFlight) return inFlight;
    const generation = this.generation;
    const p = this.load(range).then(
      (value) => {
        this.pending.delete(range.block);
        if (generation === this.generation) this.store(range.block, value);
        return value;
      },
      (err: unknown) => {
        this.pending.delete(range.block);
        throw err;
      },
    );
    this.pending.set(range.block, p);
    return p;
  }

  /** Forget everything (e.g. the model changed); loads already running do not refill the cache. */
  clear(): void {
    this.generation++;
    this.entries.clear();
    this.pending.clear();
  }

  private store(block: number, value: T): void {
    this.entries.delete(block);
    this.entries.set(block, value);
    while (this.entries.size > this.maxBlocks) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
    }
  }
}
