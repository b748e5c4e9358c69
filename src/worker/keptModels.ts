// Which models the compute worker keeps, known on both sides of the boundary without a reply: the client and
// the worker apply the same uses in the same order (requests are handled in the order they are posted).
import { KEPT_MODELS } from '../protocol/worker';

/** The KEPT_MODELS keys used last. */
export class KeptKeys {
  private readonly keys: number[] = [];

  has(key: number): boolean {
    return this.keys.includes(key);
  }

  /** Marks `key` as used last; returns the key that this pushes out, if any. */
  use(key: number): number | undefined {
    const at = this.keys.indexOf(key);
    if (at >= 0) this.keys.splice(at, 1);
    this.keys.push(key);
    return this.keys.length > KEPT_MODELS ? this.keys.shift() : undefined;
  }
}
