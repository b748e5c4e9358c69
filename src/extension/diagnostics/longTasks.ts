// Who blocked the extension host: attributes event-loop stalls (found by a timer that fires late) to the
// functions a V8 CPU profile sampled during each stall. Pure: takes the profile and the stall windows
// (both in microseconds of the same monotonic clock), returns a report. Used by the host probe
// (hostProbe.ts), a diagnostic that exists only when the extension host runs with GATESCOPE_HOST_PROBE.

/** The parts of a `Profiler.stop` result (Chrome DevTools protocol CPU profile) this reads. */
export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }; readonly children?: readonly number[] }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface StallWindow {
  /** Microseconds, same clock as the profile. */
  readonly start: number;
  readonly end: number;
}

export interface FrameTime {
  readonly frame: string;
  readonly ms: number;
}

export interface StallReport {
  readonly ms: number;
  readonly atMs: number; // since the profile started
  /** Sampled time per function on the stack (inclusive), ours first: the innermost frame of our bundle. */
  readonly ours: readonly FrameTime[];
  /** Sampled time by the innermost frame outside our code (code-server, Node, the GC). */
  readonly others: readonly FrameTime[];
  /** Sampled time by stack tail (leaf < caller < caller's caller): what the time went into. */
  readonly leaves: readonly FrameTime[];
  readonly sampledMs: number;
}

export interface HandlerStats {
  readonly frame: string;
  readonly stalls: number;
  readonly maxMs: number;
  readonly totalMs: number;
}

const label = (f: { functionName: string; url: string; lineNumber: number }): string => {
  const file = f.url ? f.url.split(/[\\/]/).pop() : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
};

function top(map: Map<string, number>, n: number): FrameTime[] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([frame, us]) => ({ frame, ms: Math.round(us / 100) / 10 }));
}

/**
 * For each stall: which of our functions were on the stack (the innermost frame from a URL for which
 * `isOurs` holds, e.g. the extension bundle) and what else ran. Also per our function: how many stalls it
 * was in and the longest sampled time in one stall.
 */
export function attributeStalls(profile: CpuProfile, stalls: readonly StallWindow[], isOurs: (url: string) => boolean, topN = 5):
  { stalls: StallReport[]; ourHandlers: HandlerStats[] } {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Per sample node: our innermost frame and the leaf outside our code.
  const ourFrame = new Map<number, string | null>();
  const ourFrameOf = (id: number): string | null => {
    if (ourFrame.has(id)) return ourFrame.get(id)!;
    const node = byId.get(id);
    let result: string | null = null;
    if (node) {
      if (isOurs(node.callFrame.url)) result = label(node.callFrame);
      else {
        const p = parent.get(id);
        result = p === undefined ? null : ourFrameOf(p);
      }
    }
    ourFrame.set(id, result);
    return result;
  };
  const tails = new Map<number, string>();
  const tailOf = (id: number): string => {
    let t = tails.get(id);
    if (t === undefined) {
      const names: string[] = [];
      for (let n: number | undefined = id; n !== undefined && names.length < 3; n = parent.get(n)) {
        const f = byId.get(n)?.callFrame;
        if (f && f.functionName !== '(root)') names.push(label(f));
      }
      t = names.join(' < ');
      tails.set(id, t);
    }
    return t;
  };
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const times: number[] = [];
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) times.push((t += deltas[i] ?? 0));

  const reports: StallReport[] = [];
  const handlers = new Map<string, { stalls: number; maxUs: number; totalUs: number }>();
  for (const w of stalls) {
    const ours = new Map<string, number>();
    const others = new Map<string, number>();
    const leaves = new Map<string, number>();
    let sampledUs = 0;
    for (let i = 0; i < samples.length; i++) {
      if (times[i] < w.start || times[i] > w.end) continue;
      // A sample stands for the time until the next one.
      const us = Math.min((times[i + 1] ?? times[i]) - times[i], w.end - times[i]);
      const node = byId.get(samples[i]);
      if (!node || node.callFrame.functionName === '(idle)') continue;
      sampledUs += us;
      leaves.set(tailOf(samples[i]), (leaves.get(tailOf(samples[i])) ?? 0) + us);
      const mine = ourFrameOf(samples[i]);
      if (mine) ours.set(mine, (ours.get(mine) ?? 0) + us);
      else others.set(label(node.callFrame), (others.get(label(node.callFrame)) ?? 0) + us);
    }
    for (const [frame, us] of ours) {
      const h = handlers.get(frame) ?? { stalls: 0, maxUs: 0, totalUs: 0 };
      h.stalls++;
      h.maxUs = Math.max(h.maxUs, us);
      h.totalUs += us;
      handlers.set(frame, h);
    }
    reports.push({
      ms: Math.round((w.end - w.start) / 100) / 10, atMs: Math.round((w.start - profile.startTime) / 1000),
      ours: top(ours, topN), others: top(others, topN), leaves: top(leaves, topN), sampledMs: Math.round(sampledUs / 100) / 10,
    });
  }
  const ourHandlers = [...handlers.entries()].map(([frame, h]) => ({ frame, stalls: h.stalls, maxMs: Math.round(h.maxUs / 100) / 10, totalMs: Math.round(h.totalUs / 100) / 10 }))
    .sort((a, b) => b.maxMs - a.maxMs);
  return { stalls: reports.sort((a, b) => b.ms - a.ms), ourHandlers };
}
