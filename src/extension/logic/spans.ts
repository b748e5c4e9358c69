// LSTMVis-style selection: the units that are "on" (above a threshold) over a whole selected span, and
// the other spans of the document where all those units are on together.
// Windows are Float32 row-major [timesteps, hiddenSize] of one tensor (e.g. layer 0's c).

export function unitsOnOverSpan(window: ArrayLike<number>, hiddenSize: number, from: number, to: number, threshold: number): number[] {
  const steps = window.length / hiddenSize;
  if (!(from >= 0 && to > from && to <= steps)) throw new Error(`span ${from}..${to} is outside the window of ${steps} steps`);
  const units: number[] = [];
  for (let u = 0; u < hiddenSize; u++) {
    let on = true;
    for (let t = from; t < to && on; t++) on = window[t * hiddenSize + u] > threshold;
    if (on) units.push(u);
  }
  return units;
}

export interface Span {
  readonly start: number;
  readonly end: number; // exclusive
}

/**
 * Feeds consecutive windows in order; reports maximal runs where every selected unit is above the
 * threshold, at least `minLength` long. Runs may cross window boundaries.
 */
export class SpanScanner {
  private runStart = -1;
  private readonly found: Span[] = [];
  private next = 0;

  constructor(
    private readonly units: readonly number[],
    private readonly hiddenSize: number,
    private readonly threshold: number,
    private readonly minLength: number,
    private readonly maxMatches = 200,
  ) {}

  get full(): boolean {
    return this.found.length >= this.maxMatches;
  }

  /** A window starting at timestep `start`; windows must be fed contiguously. */
  feed(start: number, window: ArrayLike<number>): void {
    if (start !== this.next) throw new Error(`span scanner expected timestep ${this.next}, got ${start}`);
    const steps = window.length / this.hiddenSize;
    for (let t = 0; t < steps; t++) {
      let on = this.units.length > 0;
      for (const u of this.units) {
        if (!(window[t * this.hiddenSize + u] > this.threshold)) {
          on = false;
          break;
        }
      }
      if (on && this.runStart < 0) this.runStart = start + t;
      if (!on && this.runStart >= 0) this.close(start + t);
    }
    this.next = start + steps;
  }

  /** All runs, closing one still open at the end. */
  finish(): Span[] {
    if (this.runStart >= 0) this.close(this.next);
    return this.found.slice();
  }

  private close(end: number): void {
    if (end - this.runStart >= this.minLength && !this.full) this.found.push({ start: this.runStart, end });
    this.runStart = -1;
  }
}

/** What a matching span shows: its text, and the rest of the words it starts and ends inside of. */
export interface SpanSnippet {
  readonly before: string;
  readonly text: string;
  readonly after: string;
}

const WORD = /[\p{L}\p{N}_'’-]/u;

/**
 * The text of document offsets [from, to) for the list of matches, never cut mid-word: the words the span
 * starts or ends inside of are completed in `before`/`after` (at most `context` characters each), and a span
 * longer than `max` characters is cut at a space (then ends with "…").
 */
export function spanSnippet(doc: string, from: number, to: number, max = 80, context = 24): SpanSnippet {
  let a = from;
  while (a > 0 && from - a < context && WORD.test(doc[a - 1]) && WORD.test(doc[a])) a--;
  let text = doc.slice(from, to);
  let b = to;
  if (text.length > max) {
    const cut = text.lastIndexOf(' ', max);
    text = `${text.slice(0, cut > max / 2 ? cut : max).trimEnd()}…`;
    b = from; // no "after": the text ends with the ellipsis
  } else {
    while (b < doc.length && b - to < context && WORD.test(doc[b]) && to > 0 && WORD.test(doc[b - 1])) b++;
  }
  return { before: doc.slice(a, from), text, after: b > to ? doc.slice(to, b) : '' };
}
